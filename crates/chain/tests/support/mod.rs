//! Shared by the chain's integration tests: finding the Foundry tools that `npm ci`
//! installs (`@foundry-rs/cast`, `@foundry-rs/anvil`), and skipping clearly without them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The workspace root.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// The native binary of a Foundry tool installed by npm (the package's JavaScript
/// launcher is bypassed: it exits 0 even when the tool fails). `None` when it is not
/// installed, after saying so — or a failure when `VITALIS_REQUIRE_SERVICES=1`.
pub(crate) fn foundry_tool(name: &str) -> Option<PathBuf> {
    let scope = workspace_root().join("node_modules/@foundry-rs");
    let found = std::fs::read_dir(&scope).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{name}-")))
            })
            .map(|p| p.join("bin").join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let message = format!(
            "{name} is not installed under {} (run `npm ci` in the workspace root)",
            scope.display()
        );
        if std::env::var("VITALIS_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
    }
    found
}
