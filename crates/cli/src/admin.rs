//! `vitalis admin create`: the first supervisor and admin accounts of a node, created on
//! the command line by the operator (there is no default account and no default
//! password). Output is `key=value` lines, like every provisioning command.
//!
//! The password is read from the first line of `--password-file`, or else generated (16
//! random bytes, URL-safe base64: 22 characters) and printed once; the store keeps only
//! its Argon2id hash.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, ValueEnum};
use rand::RngCore;
use vitalis_access::Role;
use vitalis_store::StoreError;
use vitalis_store::directory::{AccountStatus, Directory, NewAccount};
use zeroize::Zeroizing;

use crate::config::{ChainArgs, Config, StoreArgs};

/// Shortest password accepted from a file.
const MIN_PASSWORD_CHARS: usize = 12;

/// Random bytes in a generated password.
const GENERATED_PASSWORD_BYTES: usize = 16;

/// The roles created from the command line; every other role signs up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AdminRole {
    /// The regulator and operator of the consortium: approves institutions, audits.
    Supervisor,
    /// The operator of this node: configuration, backups; no access to health data.
    Admin,
}

impl AdminRole {
    fn role(self) -> Role {
        match self {
            AdminRole::Supervisor => Role::Supervisor,
            AdminRole::Admin => Role::Admin,
        }
    }

    fn default_name(self) -> &'static str {
        match self {
            AdminRole::Supervisor => "Supervisor",
            AdminRole::Admin => "Administrator",
        }
    }
}

/// `vitalis admin create` flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct CreateArgs {
    /// The account's role.
    #[arg(long, value_enum)]
    role: AdminRole,
    /// Sign-in email (unique).
    #[arg(long)]
    email: String,
    /// Display name. Default: the role's name.
    #[arg(long)]
    name: Option<String>,
    /// File whose first line is the password (at least 12 characters). Default: generate
    /// a random password and print it once.
    #[arg(long)]
    password_file: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

/// `vitalis admin create`.
pub(crate) async fn create(args: CreateArgs) -> Result<()> {
    let email = args.email.trim().to_lowercase();
    if !plausible_email(&email) {
        bail!("--email {:?}: not an email address", args.email);
    }
    let name = args
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(args.role.default_name())
        .to_owned();
    let (password, generated) = match &args.password_file {
        Some(path) => (read_password(path)?, false),
        None => (generate_password(), true),
    };
    let config = Config::resolve(&args.store, None, &ChainArgs::default())?;
    let store = config.open_store().await?;
    let password_hash = vitalis_crypto::seal::hash_password(&password, &mut rand::rng())
        .context("hashing the password")?;
    let account = match store
        .create_account(NewAccount {
            role: args.role.role(),
            email: email.clone(),
            name,
            password_hash: Some(password_hash),
            status: AccountStatus::Active,
            institution: None,
            key: None,
        })
        .await
    {
        Ok(account) => account,
        Err(StoreError::Conflict(what)) if what == "email" => {
            bail!("an account with email {email} exists already; nothing was created")
        }
        Err(e) => return Err(e).context("creating the account"),
    };
    println!("account={}", account.id);
    println!("role={}", account.role.name());
    println!("email={}", account.email);
    if generated {
        // Shown this once; only its hash is stored.
        println!("password={}", password.as_str());
    }
    Ok(())
}

/// Something with one `@`, text on both sides, and no spaces or control characters.
fn plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// The first line of `path`, trimmed; refused when shorter than [`MIN_PASSWORD_CHARS`].
fn read_password(path: &Path) -> Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("--password-file {}: cannot read it", path.display()))?,
    );
    let line = Zeroizing::new(text.lines().next().unwrap_or("").trim().to_owned());
    if line.is_empty() {
        bail!(
            "--password-file {}: the first line is empty; write the password there",
            path.display()
        );
    }
    if line.chars().count() < MIN_PASSWORD_CHARS {
        bail!(
            "--password-file {}: the password is shorter than {MIN_PASSWORD_CHARS} characters",
            path.display()
        );
    }
    Ok(line)
}

/// A random password: URL-safe base64 of [`GENERATED_PASSWORD_BYTES`] random bytes.
pub(crate) fn generate_password() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; GENERATED_PASSWORD_BYTES]);
    rand::rng().fill_bytes(bytes.as_mut());
    Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_url_safe_and_different() {
        let (a, b) = (generate_password(), generate_password());
        assert!(a.len() >= 20, "{}", a.as_str());
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a.as_str(), b.as_str());
    }

    #[test]
    fn emails_are_checked_loosely() {
        assert!(plausible_email("ops@node.invalid"));
        for bad in ["", "ops", "@x", "ops@", "a b@x", "a@b@c"] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }

    #[test]
    fn the_password_is_the_first_line_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "  correct horse battery  \nsecond line\n").unwrap();
        assert_eq!(
            read_password(&path).unwrap().as_str(),
            "correct horse battery"
        );
    }
}
