//! Shared by the end-to-end tests of the `vitalis` binary: running commands, reading
//! their `key=value` output, and starting `vitalis serve`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

/// Runs `vitalis ARGS` and returns its output, whatever its exit status.
pub(crate) fn vitalis(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitalis"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// Runs `vitalis ARGS`, requires success, and returns its standard output.
pub(crate) fn vitalis_ok(args: &[&str]) -> String {
    let out = vitalis(args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The value of a `key=value` line.
pub(crate) fn field(output: &str, key: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {output}"))
        .to_owned()
}

/// Starts `vitalis serve ARGS`; returns the child and the base URL from its first line.
pub(crate) fn spawn_serve(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitalis"))
        .arg("serve")
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "unexpected first line {line:?}"
    );
    (child, url)
}
