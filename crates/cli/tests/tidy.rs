//! House rules as tests: every source file opens with a `//!` doc, and the pure crates
//! stay pure (no I/O, no async runtime, no database or HTTP in their dependency tree).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "node_modules")
            {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_has_a_module_doc() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["crates", "bench"] {
        if root.join(dir).exists() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    assert!(
        files.len() > 10,
        "found only {} files under {}",
        files.len(),
        root.display()
    );
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text
                .lines()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.starts_with("//!"))
        })
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading `//!` doc: {missing:#?}"
    );
}

/// Crates that must stay pure, and what may never appear in their dependency tree.
const PURE_CRATES: &[&str] = &[
    "vitalis-model",
    "vitalis-crypto",
    "vitalis-access",
    "vitalis-analytics",
    "vitalis-abe",
];
const IMPURE: &[&str] = &[
    "tokio",
    "async-std",
    "smol",
    "mio",
    "futures",
    "futures-util",
    "async-trait",
    "sqlx",
    "rusqlite",
    "libsqlite3-sys",
    "postgres",
    "tokio-postgres",
    "axum",
    "hyper",
    "reqwest",
    "tower",
    "socket2",
];

#[test]
fn pure_crates_have_no_io_or_async_dependencies() {
    // Resolved for this machine's platform: dependencies that exist only on other targets
    // (wasm's js-sys behind getrandom, say) are never built here.
    let rustc = Command::new("rustc").arg("-vV").output().unwrap();
    let host = String::from_utf8(rustc.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .unwrap();
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &host,
        ])
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    // Normal (non-dev, non-build) dependency edges of the resolved graph.
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let deps = node["deps"].as_array().unwrap().iter().filter(|d| {
            d["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null())
        });
        edges.insert(
            node["id"].as_str().unwrap(),
            deps.map(|d| d["pkg"].as_str().unwrap()).collect(),
        );
    }
    for pure in PURE_CRATES {
        let start = names
            .iter()
            .find(|(_, n)| *n == pure)
            .map(|(id, _)| *id)
            .unwrap();
        let mut seen = HashSet::new();
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            if seen.insert(id) {
                stack.extend(edges.get(id).into_iter().flatten());
            }
        }
        let bad: Vec<_> = seen
            .iter()
            .map(|id| names[id])
            .filter(|n| IMPURE.contains(n))
            .collect();
        assert!(
            bad.is_empty(),
            "{pure} depends (perhaps indirectly) on {bad:?}"
        );

        let src = workspace_root()
            .join("crates")
            .join(pure.trim_start_matches("vitalis-"))
            .join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for needle in [
                "std::fs",
                "std::net",
                "std::process",
                "async fn",
                "SystemTime::now",
            ] {
                assert!(!text.contains(needle), "{} uses {needle}", file.display());
            }
        }
    }
}
