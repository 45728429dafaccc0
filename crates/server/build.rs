//! Embeds the web interface into the binary.
//!
//! `npm run build:web` writes the bundled front end to `web/dist/` (see `web/build.mjs`).
//! When that folder holds an `index.html`, this script lists every file in it and writes
//! `$OUT_DIR/web_assets.rs`: a static table of `(path, bytes)` pairs, each filled with
//! `include_bytes!`, which `src/routes/ui.rs` serves. Without it the table is empty and
//! the server answers `/` with a page saying how to build the interface, so the crate
//! builds and tests without Node.js.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let web = manifest.join("../../web");
    let dist = web.join("dist");
    println!("cargo:rerun-if-changed=build.rs");

    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        // A directory is scanned whole: any file added, changed or removed reruns this.
        println!("cargo:rerun-if-changed={}", dist.display());
        collect(&dist, &dist, &mut files);
        files.sort();
    } else if web.is_dir() {
        // Watching a missing path would rerun this on every build; watch its parent, whose
        // contents change when `dist` appears.
        println!("cargo:rerun-if-changed={}", web.display());
    }

    let mut out = String::from(
        "/// The built web interface: path under `web/dist/` and contents.\n\
         pub(crate) static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (relative, absolute) in &files {
        out.push_str(&format!(
            "    ({relative:?}, include_bytes!({:?})),\n",
            absolute.display().to_string()
        ));
    }
    out.push_str("];\n");
    let target = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("web_assets.rs");
    fs::write(&target, out).expect("writing web_assets.rs");
}

/// Every file under `dir`, as (path relative to `root` with `/` separators, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.is_file() {
            let relative = path
                .strip_prefix(root)
                .expect("under root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let absolute = fs::canonicalize(&path).unwrap_or(path);
            files.push((relative, absolute));
        }
    }
}
