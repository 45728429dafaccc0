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
    let found = vitalis_chain::foundry::tool_path(&workspace_root(), name);
    if found.is_none() {
        let message = format!(
            "{name} is not installed under node_modules/@foundry-rs (run `npm ci` in the workspace root)"
        );
        if std::env::var("VITALIS_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
    }
    found
}
