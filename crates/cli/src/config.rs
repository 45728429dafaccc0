//! Typed configuration: defaults, overridden by a TOML file, overridden by environment
//! variables and flags (clap reads `VITALIS_*` variables for every flag). Nothing else in
//! the program reads the environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;

/// Where the data lives; shared by every command that opens the store.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// TOML configuration file.
    #[arg(long, env = "VITALIS_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory (holds the SQLite database). Default: ./vitalis-data
    #[arg(long, env = "VITALIS_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB. Default: SQLite in the data directory.
    #[arg(long, env = "VITALIS_DATABASE_URL")]
    pub(crate) database_url: Option<String>,
}

/// Server flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Address to listen on. Default: 127.0.0.1:8080
    #[arg(long, env = "VITALIS_LISTEN")]
    pub(crate) listen: Option<SocketAddr>,
}

/// The configuration file's shape; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    max_body_bytes: Option<usize>,
    max_batch_readings: Option<usize>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) data_dir: PathBuf,
    pub(crate) database_url: String,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_batch_readings: usize,
}

impl Config {
    pub(crate) fn resolve(store: &StoreArgs, listen: Option<SocketAddr>) -> Result<Config> {
        let file = match &store.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let data_dir = store
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("vitalis-data"));
        let database_url = store
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("vitalis.db").display()));
        let api = vitalis_server::ApiConfig::default();
        let ingest = vitalis_ingest::BatchLimits::default();
        Ok(Config {
            listen: listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir,
            database_url,
            max_body_bytes: file.max_body_bytes.unwrap_or(api.max_body_bytes),
            max_batch_readings: file.max_batch_readings.unwrap_or(ingest.max_readings),
        })
    }

    /// Opens the store, creating the data directory for SQLite.
    pub(crate) async fn open_store(&self) -> Result<vitalis_store::SqlStore> {
        if self.database_url.starts_with("sqlite://") {
            std::fs::create_dir_all(&self.data_dir)
                .with_context(|| format!("creating data directory {}", self.data_dir.display()))?;
        }
        vitalis_store::SqlStore::open(&self.database_url)
            .await
            .with_context(|| format!("opening the store at {}", redact(&self.database_url)))
    }
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{}: invalid configuration", path.display()))
}

/// A database URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vitalis.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/v\"\nmax_batch_readings = 50\n",
        )
        .unwrap();
        let args = StoreArgs {
            config: Some(path.clone()),
            data_dir: None,
            database_url: None,
        };
        let c = Config::resolve(&args, None).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.database_url, "sqlite:///srv/v/vitalis.db");
        assert_eq!(c.max_batch_readings, 50);

        let args = StoreArgs {
            data_dir: Some("/tmp/x".into()),
            ..args
        };
        let c = Config::resolve(&args, Some("127.0.0.1:1".parse().unwrap())).unwrap();
        assert_eq!(
            (c.listen.port(), c.data_dir.as_path()),
            (1, Path::new("/tmp/x"))
        );
    }

    #[test]
    fn a_bad_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "listen = 5\n").unwrap();
        let args = StoreArgs {
            config: Some(path.clone()),
            data_dir: None,
            database_url: None,
        };
        let err = format!("{:#}", Config::resolve(&args, None).unwrap_err());
        assert!(err.contains("bad.toml") && err.contains("listen"), "{err}");
    }

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite:///a/b.db"), "sqlite:///a/b.db");
    }
}
