//! The node's keys, kept in `DATA_DIR/keys/` (created on first start, mode 0600).
//!
//! - `node.key`: the secp256k1 key of this node; on the embedded chain it is the sealer
//!   and the anchoring node.
//! - `supervisor.key`: the supervisor's secp256k1 account (owner of the identity registry).
//! - `supervisor-chameleon.key`: the supervisor's chameleon-hash trapdoor; its public key
//!   is what every record's payload hash is made with, fixed at genesis.
//! - `supervisor-abe.key`: the attribute authority's CP-ABE master key (the supervisor
//!   issues institutions' attribute keys with it).
//! - `rollup.key`: this node's key for the minute rollups of sealed readings; kept here,
//!   never in the database, so that a copy of the database alone reveals no protected
//!   value (every node of one database needs the same file).
//!
//! On one machine the operator is the supervisor, so the supervisor's keys live here too;
//! a consortium keeps them with the supervisor instead. Each file holds one hex line.

use std::io::Write;
use std::path::Path;

use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result, bail};
use vitalis_crypto::chameleon::{ChameleonPublicKey, ChameleonTrapdoor};
use vitalis_crypto::envelope::DataKey;

/// The keys of one node.
pub(crate) struct Keys {
    /// This node's chain key.
    pub(crate) node: PrivateKeySigner,
    /// The supervisor's chain account.
    pub(crate) supervisor: PrivateKeySigner,
    /// The supervisor's chameleon-hash trapdoor.
    pub(crate) chameleon: ChameleonTrapdoor,
    /// The attribute authority's CP-ABE master key.
    pub(crate) abe: vitalis_abe::MasterKey,
    /// The key of sealed readings' rollups.
    pub(crate) rollup: DataKey,
}

impl Keys {
    /// Reads the keys under `data_dir/keys`, creating the missing ones.
    pub(crate) fn load_or_create(data_dir: &Path) -> Result<Keys> {
        let dir = data_dir.join("keys");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating key directory {}", dir.display()))?;
        let node = secp256k1_key(&dir.join("node.key"))?;
        let supervisor = secp256k1_key(&dir.join("supervisor.key"))?;
        let path = dir.join("supervisor-chameleon.key");
        let chameleon = match read_hex32(&path)? {
            Some(bytes) => ChameleonTrapdoor::from_bytes(bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            None => {
                let trapdoor = ChameleonTrapdoor::generate(&mut rand::rng());
                write_secret(&path, &hex::encode(*trapdoor.to_bytes()))?;
                trapdoor
            }
        };
        let path = dir.join("rollup.key");
        let rollup = match read_hex32(&path)? {
            Some(bytes) => DataKey::from_bytes(bytes),
            None => {
                let key = DataKey::generate(&mut rand::rng());
                write_secret(&path, &hex::encode(key.as_bytes()))?;
                key
            }
        };
        let abe = abe_master_key(&dir.join("supervisor-abe.key"))?;
        Ok(Keys {
            node,
            supervisor,
            chameleon,
            abe,
            rollup,
        })
    }

    /// The supervisor's chameleon-hash public key.
    pub(crate) fn payload_key(&self) -> ChameleonPublicKey {
        self.chameleon.public_key()
    }
}

/// Reads a secp256k1 key from a one-line hex file that must exist.
pub(crate) fn read_secp256k1(path: &Path) -> Result<PrivateKeySigner> {
    let bytes = read_hex32(path)?.with_context(|| format!("{}: no such file", path.display()))?;
    secp256k1_from(path, bytes)
}

fn secp256k1_from(path: &Path, bytes: [u8; 32]) -> Result<PrivateKeySigner> {
    PrivateKeySigner::from_bytes(&bytes.into())
        .with_context(|| format!("{}: line 1: not a valid secp256k1 key", path.display()))
}

/// The key in `path`, or a new one written there.
fn secp256k1_key(path: &Path) -> Result<PrivateKeySigner> {
    match read_hex32(path)? {
        Some(bytes) => secp256k1_from(path, bytes),
        None => {
            let key = PrivateKeySigner::random();
            write_secret(path, &hex::encode(key.to_bytes()))?;
            Ok(key)
        }
    }
}

/// The CP-ABE master key in `path`, or a new one (a new attribute authority) written there.
fn abe_master_key(path: &Path) -> Result<vitalis_abe::MasterKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes =
                zeroize::Zeroizing::new(hex::decode(text.trim()).map_err(|_| {
                    anyhow::anyhow!("{}: line 1: expected hex digits", path.display())
                })?);
            vitalis_abe::MasterKey::from_bytes(&bytes).map_err(|e| {
                anyhow::anyhow!("{}: line 1: not a CP-ABE master key: {e}", path.display())
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (_, master) = vitalis_abe::setup(&mut rand::rng());
            write_secret(path, &hex::encode(&*master.to_bytes()))?;
            Ok(master)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The 32 bytes in a one-line hex file, or `None` when there is no file.
fn read_hex32(path: &Path) -> Result<Option<[u8; 32]>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut out = [0u8; 32];
    if hex::decode_to_slice(text.trim().trim_start_matches("0x"), &mut out).is_err() {
        bail!("{}: line 1: expected 64 hex digits", path.display());
    }
    Ok(Some(out))
}

/// Writes a new secret file readable by its owner only; never overwrites one.
fn write_secret(path: &Path, hex: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{hex}")?;
    file.sync_all()?;
    Ok(())
}
