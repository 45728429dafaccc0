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
    #[command(flatten)]
    pub(crate) chain: ServeNetArgs,
}

/// What `serve` adds to the chain's flags: how devices reach it over MQTT.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ServeNetArgs {
    #[command(flatten)]
    pub(crate) chain: ChainArgs,
    #[command(flatten)]
    pub(crate) mqtt: MqttArgs,
}

/// The MQTT flags.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct MqttArgs {
    /// Address of the embedded MQTT endpoint for devices, or `off`. Default: 127.0.0.1:1884
    /// (not 1883, which a local Mosquitto may hold).
    #[arg(long, env = "VITALIS_MQTT_LISTEN", value_parser = parse_mqtt_listen)]
    pub(crate) mqtt_listen: Option<MqttListen>,
    /// Consume device readings from this external broker instead
    /// (mqtt://[user[:password]@]host[:port][?client_id=ID]); no embedded endpoint then.
    #[arg(long, env = "VITALIS_MQTT_URL")]
    pub(crate) mqtt_url: Option<String>,
}

/// `--mqtt-listen`: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MqttListen {
    Off,
    At(SocketAddr),
}

fn parse_mqtt_listen(text: &str) -> Result<MqttListen, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(MqttListen::Off);
    }
    text.parse()
        .map(MqttListen::At)
        .map_err(|e| format!("{e} (an address such as 127.0.0.1:1884, or off)"))
}

/// The network flags a command brings to [`Config::resolve`]: every command has the
/// chain's; `serve` adds MQTT's.
pub(crate) trait NetArgs {
    fn chain_args(&self) -> &ChainArgs;
    fn mqtt_args(&self) -> Option<&MqttArgs> {
        None
    }
}

impl NetArgs for ChainArgs {
    fn chain_args(&self) -> &ChainArgs {
        self
    }
}

impl NetArgs for ServeNetArgs {
    fn chain_args(&self) -> &ChainArgs {
        &self.chain
    }
    fn mqtt_args(&self) -> Option<&MqttArgs> {
        Some(&self.mqtt)
    }
}

/// The embedded chain's flags.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ChainArgs {
    /// Address of the embedded chain's Ethereum JSON-RPC. Default: 127.0.0.1:8545
    #[arg(long, env = "VITALIS_CHAIN_LISTEN")]
    pub(crate) chain_listen: Option<SocketAddr>,
    /// Time between blocks of the embedded chain (and between anchors), e.g. 1s or 200ms.
    /// Default: 1s
    #[arg(long, env = "VITALIS_BLOCK_TIME", value_parser = crate::parse_duration)]
    pub(crate) block_time: Option<std::time::Duration>,
    /// Anchor on this Ethereum JSON-RPC node instead of the embedded chain. The node's key
    /// (DATA_DIR/keys/node.key, or --chain-key-file) signs and pays for the anchors.
    #[arg(long, env = "VITALIS_CHAIN_RPC")]
    pub(crate) chain_rpc: Option<String>,
    /// File with the hex secp256k1 key to use on --chain-rpc.
    #[arg(long, env = "VITALIS_CHAIN_KEY_FILE")]
    pub(crate) chain_key_file: Option<PathBuf>,
    /// Anchors contract already deployed on --chain-rpc (the node's key must be one of its
    /// registry's anchoring nodes). Default: deploy the contracts on first start and keep
    /// their address in the store.
    #[arg(long, env = "VITALIS_ANCHORS_ADDRESS")]
    pub(crate) anchors_address: Option<alloy::primitives::Address>,
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
    chain_listen: Option<SocketAddr>,
    chain_rpc: Option<String>,
    chain_key_file: Option<PathBuf>,
    anchors_address: Option<alloy::primitives::Address>,
    secure_cookies: Option<bool>,
    /// An address or "off".
    mqtt_listen: Option<String>,
    mqtt_url: Option<String>,
    #[serde(default, with = "humantime_serde_opt")]
    block_time: Option<std::time::Duration>,
}

/// `block_time = "1s"` in the file, in the same notation as the flag.
mod humantime_serde_opt {
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<std::time::Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| crate::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) data_dir: PathBuf,
    pub(crate) database_url: String,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_batch_readings: usize,
    /// The embedded chain's JSON-RPC address.
    pub(crate) chain_listen: SocketAddr,
    /// The embedded chain's block interval, and the anchoring interval.
    pub(crate) block_time: std::time::Duration,
    /// An external chain to anchor on instead of the embedded one.
    pub(crate) chain_rpc: Option<String>,
    /// The key to use on the external chain (default: the node key).
    pub(crate) chain_key_file: Option<PathBuf>,
    /// Anchors contract already deployed on the external chain.
    pub(crate) anchors_address: Option<alloy::primitives::Address>,
    /// Session cookies carry `Secure` (served over TLS, directly or behind a proxy).
    pub(crate) secure_cookies: bool,
    /// How devices reach the server over MQTT.
    pub(crate) mqtt: MqttMode,
}

/// How devices reach the server over MQTT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MqttMode {
    /// No MQTT.
    Off,
    /// The embedded endpoint. When the address is only the default (`explicit` false) and
    /// something else holds it, the server starts without MQTT and says so in the log.
    Embedded { listen: SocketAddr, explicit: bool },
    /// Readings consumed from an external broker.
    External { url: String },
}

impl MqttMode {
    fn resolve(flags: Option<&MqttArgs>, file: &FileConfig) -> Result<MqttMode> {
        let listen = match flags.and_then(|f| f.mqtt_listen) {
            Some(listen) => Some(listen),
            None => file
                .mqtt_listen
                .as_deref()
                .map(parse_mqtt_listen)
                .transpose()
                .map_err(|e| anyhow::anyhow!("mqtt_listen: {e}"))?,
        };
        let url = flags
            .and_then(|f| f.mqtt_url.clone())
            .or_else(|| file.mqtt_url.clone());
        Ok(match (listen, url) {
            (Some(MqttListen::At(addr)), Some(_)) => anyhow::bail!(
                "the MQTT listen address {addr} and an MQTT URL exclude each other: \
                 the embedded endpoint runs only without an external broker"
            ),
            (_, Some(url)) => {
                vitalis_mqtt::external::options_from_url(&url)?;
                MqttMode::External { url }
            }
            (Some(MqttListen::Off), None) => MqttMode::Off,
            (Some(MqttListen::At(listen)), None) => MqttMode::Embedded {
                listen,
                explicit: true,
            },
            (None, None) => MqttMode::Embedded {
                listen: SocketAddr::from(([127, 0, 0, 1], vitalis_mqtt::broker::DEFAULT_PORT)),
                explicit: false,
            },
        })
    }
}

impl Config {
    pub(crate) fn resolve(
        store: &StoreArgs,
        listen: Option<SocketAddr>,
        net: &impl NetArgs,
    ) -> Result<Config> {
        let chain = net.chain_args();
        let file = match &store.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let mqtt = MqttMode::resolve(net.mqtt_args(), &file)?;
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
            chain_listen: chain
                .chain_listen
                .or(file.chain_listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8545))),
            block_time: chain
                .block_time
                .or(file.block_time)
                .unwrap_or(std::time::Duration::from_secs(1)),
            chain_rpc: chain.chain_rpc.clone().or(file.chain_rpc),
            chain_key_file: chain.chain_key_file.clone().or(file.chain_key_file),
            anchors_address: chain.anchors_address.or(file.anchors_address),
            secure_cookies: file.secure_cookies.unwrap_or(api.secure_cookies),
            mqtt,
        })
    }

    /// Reads the node's keys from the data directory, creating it and them if needed.
    pub(crate) fn keys(&self) -> Result<crate::keys::Keys> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating data directory {}", self.data_dir.display()))?;
        crate::keys::Keys::load_or_create(&self.data_dir)
    }

    /// Opens the store under the supervisor's chameleon-hash key from the data directory.
    pub(crate) async fn open_store(&self) -> Result<vitalis_store::SqlStore> {
        let keys = self.keys()?;
        Ok(
            vitalis_store::SqlStore::open(&self.database_url, &keys.payload_key())
                .await
                .with_context(|| format!("opening the store at {}", redact(&self.database_url)))?
                .with_rollup_key(keys.rollup.clone()),
        )
    }

    /// The sealer of protected records, and the attribute authority's master key when
    /// it is this data directory's (the first node to open the store records the
    /// authority's public key; a node with another master key seals under the recorded
    /// one and issues no attribute keys).
    pub(crate) async fn sealing(
        &self,
        store: std::sync::Arc<dyn vitalis_store::Store>,
    ) -> Result<vitalis_server::sealing::Sealing> {
        let keys = self.keys()?;
        let local = keys.abe.public_key().to_bytes();
        let recorded = store
            .put_setting_once(ABE_AUTHORITY_SETTING, &local)
            .await
            .context("recording the attribute authority's public key")?;
        let public = vitalis_abe::PublicKey::from_bytes(&recorded)
            .map_err(|e| anyhow::anyhow!("the store's attribute authority key: {e}"))?;
        let authority = (recorded == local).then(|| std::sync::Arc::new(keys.abe));
        Ok(vitalis_server::sealing::Sealing {
            sealer: std::sync::Arc::new(vitalis_ingest::sealer::Sealer::new(store, public)),
            authority,
        })
    }
}

/// The `settings` key of the attribute authority's CP-ABE public key.
const ABE_AUTHORITY_SETTING: &str = "abe_authority_public_key";

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
        let c = Config::resolve(&args, None, &ChainArgs::default()).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.database_url, "sqlite:///srv/v/vitalis.db");
        assert_eq!(c.max_batch_readings, 50);

        let args = StoreArgs {
            data_dir: Some("/tmp/x".into()),
            ..args
        };
        let c = Config::resolve(
            &args,
            Some("127.0.0.1:1".parse().unwrap()),
            &ChainArgs::default(),
        )
        .unwrap();
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
        let err = format!(
            "{:#}",
            Config::resolve(&args, None, &ChainArgs::default()).unwrap_err()
        );
        assert!(err.contains("bad.toml") && err.contains("listen"), "{err}");
    }

    #[test]
    fn mqtt_defaults_to_the_embedded_endpoint_and_flags_beat_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vitalis.toml");
        let store = |path: Option<PathBuf>| StoreArgs {
            config: path,
            data_dir: None,
            database_url: None,
        };
        let resolve = |path: Option<PathBuf>, mqtt: MqttArgs| {
            let net = ServeNetArgs {
                chain: ChainArgs::default(),
                mqtt,
            };
            Config::resolve(&store(path), None, &net).map(|c| c.mqtt)
        };
        assert_eq!(
            resolve(None, MqttArgs::default()).unwrap(),
            MqttMode::Embedded {
                listen: "127.0.0.1:1884".parse().unwrap(),
                explicit: false
            }
        );
        std::fs::write(&path, "mqtt_listen = \"off\"\n").unwrap();
        assert_eq!(
            resolve(Some(path.clone()), MqttArgs::default()).unwrap(),
            MqttMode::Off
        );
        let flag = MqttArgs {
            mqtt_listen: Some(MqttListen::At("127.0.0.1:1999".parse().unwrap())),
            mqtt_url: None,
        };
        assert!(matches!(
            resolve(Some(path.clone()), flag).unwrap(),
            MqttMode::Embedded { explicit: true, .. }
        ));
        std::fs::write(&path, "mqtt_url = \"mqtt://127.0.0.1:1883\"\n").unwrap();
        assert!(matches!(
            resolve(Some(path.clone()), MqttArgs::default()).unwrap(),
            MqttMode::External { .. }
        ));
        let both = MqttArgs {
            mqtt_listen: Some(MqttListen::At("127.0.0.1:1999".parse().unwrap())),
            mqtt_url: None,
        };
        assert!(resolve(Some(path.clone()), both).is_err());
        std::fs::write(&path, "mqtt_url = \"mqtts://h\"\n").unwrap();
        assert!(resolve(Some(path), MqttArgs::default()).is_err());
        // Commands other than serve have no MQTT flags; they take the default.
        assert!(parse_mqtt_listen("nowhere").is_err());
    }

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite:///a/b.db"), "sqlite:///a/b.db");
    }
}
