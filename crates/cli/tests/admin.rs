//! `vitalis admin create` through the real binary: it creates an active supervisor or
//! admin account with an Argon2id password (from a file, or generated and printed once),
//! refuses an email that is taken, and refuses a password file that is empty or too
//! short, naming the file.

mod support;

use sqlx::{Connection, Row};
use support::{field, vitalis, vitalis_ok};

/// The stored role, status and password hash of the account with `email`.
async fn stored(dir: &tempfile::TempDir, email: &str) -> (String, String, String) {
    let url = format!("sqlite://{}", dir.path().join("vitalis.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let row = sqlx::query("SELECT role, status, password_hash FROM accounts WHERE email = $1")
        .bind(email)
        .fetch_one(&mut db)
        .await
        .unwrap();
    (row.get("role"), row.get("status"), row.get("password_hash"))
}

#[tokio::test]
async fn a_generated_password_is_printed_once_and_only_its_hash_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = vitalis_ok(&[
        "admin",
        "create",
        "--role",
        "supervisor",
        "--email",
        "Regulator@Node.invalid",
        "--data-dir",
        data,
    ]);
    let password = field(&out, "password");
    assert!(password.len() >= 20, "{password}");
    assert!(
        password
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{password}"
    );
    assert!(!field(&out, "account").is_empty());
    assert_eq!(field(&out, "email"), "regulator@node.invalid");
    assert_eq!(field(&out, "role"), "supervisor");

    let (role, status, hash) = stored(&dir, "regulator@node.invalid").await;
    assert_eq!((role.as_str(), status.as_str()), ("supervisor", "active"));
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(&password));
    assert!(vitalis_crypto::seal::verify_password(&hash, &password).unwrap());

    // A second account gets another password.
    let other = vitalis_ok(&[
        "admin",
        "create",
        "--role",
        "admin",
        "--email",
        "ops@node.invalid",
        "--data-dir",
        data,
    ]);
    assert_ne!(field(&other, "password"), password);
    assert_eq!(stored(&dir, "ops@node.invalid").await.0, "admin");
}

#[tokio::test]
async fn a_password_file_is_used_and_nothing_is_printed_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let file = dir.path().join("admin.password");
    std::fs::write(&file, "  a long enough secret \nignored\n").unwrap();
    let out = vitalis_ok(&[
        "admin",
        "create",
        "--role",
        "admin",
        "--email",
        "ops@node.invalid",
        "--name",
        "Night shift",
        "--password-file",
        file.to_str().unwrap(),
        "--data-dir",
        data,
    ]);
    assert!(!out.contains("password="), "{out}");
    assert!(!out.contains("secret"), "{out}");
    assert_eq!(field(&out, "email"), "ops@node.invalid");
    let (role, status, hash) = stored(&dir, "ops@node.invalid").await;
    assert_eq!((role.as_str(), status.as_str()), ("admin", "active"));
    assert!(vitalis_crypto::seal::verify_password(&hash, "a long enough secret").unwrap());
}

#[test]
fn a_taken_email_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let create = |role: &str, email: &str| {
        vitalis(&[
            "admin",
            "create",
            "--role",
            role,
            "--email",
            email,
            "--data-dir",
            data,
        ])
    };
    assert!(create("supervisor", "ops@node.invalid").status.success());
    // Emails are compared without regard to case.
    let again = create("admin", "OPS@node.invalid");
    assert!(!again.status.success());
    assert!(again.stdout.is_empty(), "nothing is printed");
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("ops@node.invalid") && err.contains("exists already"),
        "{err}"
    );
}

#[test]
fn a_short_or_empty_password_file_is_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    for (name, text) in [
        ("short.password", "elevenchars\n"),
        ("empty.password", "\n"),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let out = vitalis(&[
            "admin",
            "create",
            "--role",
            "supervisor",
            "--email",
            "regulator@node.invalid",
            "--password-file",
            file.to_str().unwrap(),
            "--data-dir",
            data,
        ]);
        assert!(!out.status.success(), "{name} accepted");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{err}");
    }
    // Nothing was created: the email is still free.
    let out = vitalis_ok(&[
        "admin",
        "create",
        "--role",
        "supervisor",
        "--email",
        "regulator@node.invalid",
        "--data-dir",
        data,
    ]);
    assert!(!field(&out, "password").is_empty());
}

#[test]
fn only_supervisor_and_admin_are_created_here() {
    let dir = tempfile::tempdir().unwrap();
    let out = vitalis(&[
        "admin",
        "create",
        "--role",
        "hospital",
        "--email",
        "h@node.invalid",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("supervisor"));
}
