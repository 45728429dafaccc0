//! Foundry's `anvil` and `cast` as installed from npm (`@foundry-rs/anvil`,
//! `@foundry-rs/cast`, pinned in the workspace's `package-lock.json`): finding their native
//! binaries, and running anvil as a child process. Used by the tests and benchmarks that
//! run Vitalis against an external Ethereum node.
//!
//! The npm packages' JavaScript launchers exit 0 even when the tool fails, and killing a
//! launcher leaves the tool running, so this module runs the native binaries directly.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The native binary of a Foundry tool under `root/node_modules/@foundry-rs/`, if installed.
pub fn tool_path(root: &Path, name: &str) -> Option<PathBuf> {
    let scope = root.join("node_modules/@foundry-rs");
    std::fs::read_dir(scope).ok()?.find_map(|entry| {
        let path = entry.ok()?.path();
        let dir_name = path.file_name()?.to_str()?.to_owned();
        let bin = path.join("bin").join(name);
        (dir_name.starts_with(&format!("{name}-")) && bin.is_file()).then_some(bin)
    })
}

/// A running anvil, killed and reaped when dropped.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    url: String,
    keys: Vec<String>,
}

/// Why anvil did not start.
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    /// The process could not be started or its output read.
    #[error("anvil: {0}")]
    Io(#[from] std::io::Error),
    /// It exited or stayed silent before listening.
    #[error("anvil did not start listening: {0}")]
    NotListening(String),
}

impl Anvil {
    /// Starts `bin` on a free loopback port with interval mining (`block_time`), the Cancun
    /// rules the contracts are compiled for, and a gas limit that holds many anchors; waits
    /// until it listens. Extra arguments are appended.
    pub fn spawn(bin: &Path, block_time: Duration, extra: &[&str]) -> Result<Anvil, AnvilError> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut child = Command::new(bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--hardfork",
                "cancun",
                "--gas-limit",
                "1000000000",
                "--block-time",
                &format!("{}", block_time.as_secs_f64()),
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| AnvilError::NotListening("no standard output".into()))?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Read anvil's output for its whole life (it logs every request; a full pipe
        // would stall it), passing on the dev keys and the listening line.
        std::thread::spawn(move || {
            // The keys are the "(n) 0x…" lines of the "Private Keys" section.
            let mut in_keys = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("Private Keys") {
                    in_keys = true;
                } else if line.contains("Listening on") {
                    let _ = tx.send(None);
                } else if in_keys && line.trim_start().starts_with('(') {
                    if let Some(key) = line.split_whitespace().nth(1) {
                        let _ = tx.send(Some(key.to_owned()));
                    }
                } else if in_keys && line.contains("Wallet") {
                    in_keys = false;
                }
            }
        });
        let mut keys = Vec::new();
        let mut anvil = Anvil {
            child,
            url: format!("http://127.0.0.1:{port}"),
            keys: Vec::new(),
        };
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(Some(key)) => keys.push(key),
                Ok(None) => break,
                Err(e) => return Err(AnvilError::NotListening(e.to_string())),
            }
        }
        anvil.keys = keys;
        Ok(anvil)
    }

    /// Its JSON-RPC URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The private keys (hex) of its funded development accounts.
    pub fn dev_keys(&self) -> &[String] {
        &self.keys
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
