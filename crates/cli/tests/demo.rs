//! `vitalis demo` end to end: it starts, creates its accounts through the API (approvals
//! and consent on the embedded chain included), runs its watches and stops on time.

mod support;

use std::net::TcpListener;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_demo_creates_its_accounts_and_consent_and_runs_its_watches() {
    let listen = format!("127.0.0.1:{}", free_port());
    let chain = format!("127.0.0.1:{}", free_port());
    let out = support::vitalis_ok(&[
        "demo",
        "--listen",
        &listen,
        "--chain-listen",
        &chain,
        "--patients",
        "2",
        "--backfill",
        "5m",
        "--duration",
        "6s",
    ]);
    assert!(
        out.contains("Supervisor: supervisor@demo.invalid / "),
        "{out}"
    );
    assert!(out.contains("Patient 2: patient2@demo.invalid / "), "{out}");
    assert_eq!(out.matches("granted it").count(), 2, "{out}");
    assert!(
        out.contains(r#"granted it ["open","protected"] on chain"#),
        "{out}"
    );
    assert!(out.contains(r#"granted it ["open"] on chain"#), "{out}");
    assert!(out.contains("Bearer vtk_"), "{out}");
}
