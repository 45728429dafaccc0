//! Accounts, the permission matrix, consent on chain and the access log, end to end: the
//! real router over a real SQLite store and the embedded chain (consent contract, identity
//! registry and access log deployed by its genesis).
//!
//! The matrix test is generated from `vitalis_access::MATRIX`: every role against the
//! routes of each action, on its own patient and on someone else's, before and after
//! consent, and after revocation; the expected answer is worked out from the table's rule
//! here, independently of the server's decision code.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use sqlx::Connection;
use tower::ServiceExt;
use vitalis_access::{Action, MATRIX, Role, Rule};
use vitalis_chain::foundry::{self, Anvil};
use vitalis_chain::ledger::{self, RpcLedger};
use vitalis_chain::node::{BlockTime, Node, NodeConfig};
use vitalis_chain::permissions::{PermissionLedger, sign_digest};
use vitalis_chain::rpc::{self, RpcServer};
use vitalis_crypto::chameleon::ChameleonPublicKey;
use vitalis_crypto::seal;
use vitalis_ingest::{Pipeline, PipelineConfig};
use vitalis_model::PatientId;
use vitalis_server::{ApiConfig, AppState, router};
use vitalis_store::directory::{AccountStatus, NewAccount};
use vitalis_store::{AnchorOnChain, SqlStore, Store};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The chain a world runs on; dropped with it.
#[allow(dead_code)]
enum Chain {
    Embedded(Node, RpcServer, tokio::task::JoinHandle<()>),
    Anvil(Anvil),
}

struct World {
    app: Router,
    store: Arc<dyn Store>,
    ledger: Arc<PermissionLedger>,
    _chain: Chain,
    _dir: tempfile::TempDir,
}

/// A signed-in caller: a session (cookie + CSRF token) or a bearer token.
#[derive(Clone, Default)]
struct Caller {
    cookie: Option<String>,
    csrf: Option<String>,
    bearer: Option<String>,
}

struct Reply {
    status: StatusCode,
    body: Value,
    cookie: Option<String>,
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let supervisor = PrivateKeySigner::random();
        let mut config = NodeConfig::dev(BlockTime::Instant);
        config.supervisor = supervisor.address();
        let payload_key = ChameleonPublicKey::from_bytes(config.chameleon_public_key.0).unwrap();
        let url = format!("sqlite://{}", dir.path().join("v.db").display());
        let store: Arc<dyn Store> = Arc::new(
            SqlStore::open(&url, &payload_key)
                .await
                .unwrap()
                .with_rollup_key(vitalis_crypto::envelope::DataKey::generate(&mut rand::rng())),
        );
        let node = Node::open(&dir.path().join("chain.db"), config.clone())
            .await
            .unwrap();
        let miner = node.spawn_miner();
        let rpc = rpc::serve(node.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let deployment = node.deployment();
        let node_ledger =
            RpcLedger::new(&rpc.url(), config.sealer.clone(), deployment.anchors).unwrap();
        let supervisor_ledger = RpcLedger::new(&rpc.url(), supervisor, deployment.anchors).unwrap();
        let ledger = Arc::new(
            PermissionLedger::connect(node_ledger, supervisor_ledger, deployment)
                .await
                .unwrap(),
        );
        World::with(store, ledger, Chain::Embedded(node, rpc, miner), dir)
    }

    /// The same world on anvil, where one dev key deploys the contracts and so is both the
    /// supervisor and the anchoring node. `None` (a skip) when anvil is not installed.
    async fn on_anvil() -> Option<World> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .unwrap();
        let Some(bin) = foundry::tool_path(root, "anvil") else {
            let message = "anvil is not installed (run `npm ci` in the workspace root)";
            if std::env::var("VITALIS_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("{message}");
            }
            eprintln!("SKIPPED: {message}");
            return None;
        };
        let anvil = Anvil::spawn(&bin, std::time::Duration::from_millis(200), &[]).unwrap();
        let key: PrivateKeySigner = anvil.dev_keys()[0].parse().unwrap();
        let trapdoor = vitalis_crypto::chameleon::ChameleonTrapdoor::generate(&mut rand::rng());
        let payload_key = trapdoor.public_key();
        let deployment = ledger::deploy(anvil.url(), key.clone(), payload_key.to_bytes().into())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("v.db").display());
        let store: Arc<dyn Store> = Arc::new(
            SqlStore::open(&url, &payload_key)
                .await
                .unwrap()
                .with_rollup_key(vitalis_crypto::envelope::DataKey::generate(&mut rand::rng())),
        );
        let sender = RpcLedger::new(anvil.url(), key, deployment.anchors).unwrap();
        let ledger = Arc::new(
            PermissionLedger::connect(sender.clone(), sender, deployment)
                .await
                .unwrap(),
        );
        Some(World::with(store, ledger, Chain::Anvil(anvil), dir))
    }

    fn with(
        store: Arc<dyn Store>,
        ledger: Arc<PermissionLedger>,
        chain: Chain,
        dir: tempfile::TempDir,
    ) -> World {
        // Protected records are sealed, as `vitalis serve` seals them: every read below
        // of protected data opens them with the reader's keys.
        let (authority, master) = vitalis_abe::setup(&mut rand::rng());
        let sealing = vitalis_server::sealing::Sealing {
            sealer: Arc::new(vitalis_ingest::sealer::Sealer::new(
                store.clone(),
                authority,
            )),
            authority: Some(Arc::new(master)),
        };
        let pipeline = Pipeline::spawn(store.clone(), PipelineConfig::default())
            .with_sealer(sealing.sealer.clone());
        let app = router(
            AppState::new(
                store.clone(),
                pipeline,
                ApiConfig::default(),
                None,
                Some(ledger.clone()),
            )
            .with_sealing(sealing),
        );
        World {
            app,
            store,
            ledger,
            _chain: chain,
            _dir: dir,
        }
    }

    async fn call(&self, who: &Caller, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(cookie) = &who.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(csrf) = &who.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(token) = &who.bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            cookie,
        }
    }

    async fn sign_up(&self, role: &str, email: &str) -> (Reply, String) {
        let reply = self
            .call(
                &Caller::default(),
                Method::POST,
                "/api/v1/auth/signup",
                Some(json!({
                    "role": role, "email": email, "password": "a long enough password",
                    "name": email, "institution_name": format!("{email} institution"),
                })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{role}: {}", reply.body);
        let recovery = reply.body["recovery_key"].as_str().unwrap().to_owned();
        (reply, recovery)
    }

    async fn sign_in(&self, email: &str, password: &str) -> (Reply, Caller) {
        let reply = self
            .call(
                &Caller::default(),
                Method::POST,
                "/api/v1/auth/signin",
                Some(json!({ "email": email, "password": password })),
            )
            .await;
        let caller = Caller {
            cookie: reply.cookie.clone(),
            csrf: reply.body["csrf_token"].as_str().map(str::to_owned),
            bearer: None,
        };
        (reply, caller)
    }

    /// A supervisor or admin account as `vitalis admin create` makes it.
    async fn staff(&self, role: Role, email: &str) -> Caller {
        let hash = seal::hash_password("staff password 1234", &mut rand::rng()).unwrap();
        self.store
            .create_account(NewAccount {
                role,
                email: email.to_owned(),
                name: email.to_owned(),
                password_hash: Some(hash),
                status: AccountStatus::Active,
                institution: None,
                key: None,
            })
            .await
            .unwrap();
        let (reply, caller) = self.sign_in(email, "staff password 1234").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        caller
    }

    /// Commits the access log's pending entries to the chain, as the committer task does.
    async fn commit_access_log(&self) {
        while let Some(batch) = self.store.claim_access_batch(10_000).await.unwrap() {
            let on_chain = self
                .ledger
                .commit_access(B256::from(batch.root), batch.first_entry, batch.entry_count)
                .await
                .unwrap();
            self.store
                .confirm_access_batch(
                    batch.id,
                    &AnchorOnChain {
                        index: on_chain.index,
                        block_number: on_chain.location.block_number,
                        tx_hash: on_chain.location.tx_hash.0,
                    },
                )
                .await
                .unwrap();
        }
    }
}

fn readings_body(t: i64) -> Value {
    json!({ "readings": [
        { "metric": "heart_rate", "t": t, "value": 72, "unit": "/min" },
        { "metric": "steps", "t": t, "value": 120, "unit": "{steps}" },
    ]})
}

struct Parties {
    patient: Caller,
    patient_id: String,
    other_id: String,
    device: Caller,
    institutions: Vec<(Role, Caller, String)>,
    supervisor: Caller,
    admin: Caller,
}

async fn parties(w: &World) -> Parties {
    let (signup, _) = w.sign_up("patient", "pat@example.org").await;
    let patient = Caller {
        cookie: signup.cookie.clone(),
        csrf: signup.body["csrf_token"].as_str().map(str::to_owned),
        bearer: None,
    };
    let patient_id = signup.body["account"]["patient_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (other, _) = w.sign_up("patient", "other@example.org").await;
    let other_id = other.body["account"]["patient_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let supervisor = w.staff(Role::Supervisor, "sup@example.org").await;
    let admin = w.staff(Role::Admin, "admin@example.org").await;

    let mut institutions = Vec::new();
    for (role, name) in [
        (Role::Hospital, "hospital"),
        (Role::Researcher, "researcher"),
        (Role::Enterprise, "enterprise"),
    ] {
        let email = format!("{name}@example.org");
        let (signup, _) = w.sign_up(name, &email).await;
        assert_eq!(signup.body["account"]["status"], "pending");
        let (refused, _) = w.sign_in(&email, "a long enough password").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(refused.body["error"]["code"], "account_pending");
        let id = signup.body["account"]["institution_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let approved = w
            .call(
                &supervisor,
                Method::POST,
                &format!("/api/v1/institutions/{id}/approve"),
                None,
            )
            .await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
        let (reply, caller) = w.sign_in(&email, "a long enough password").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        institutions.push((role, caller, id));
    }

    let paired = w
        .call(
            &patient,
            Method::POST,
            &format!("/api/v1/patients/{patient_id}/devices"),
            Some(json!({ "name": "watch", "upload_interval_s": 30 })),
        )
        .await;
    assert_eq!(paired.status, StatusCode::CREATED, "{}", paired.body);
    let device = Caller {
        bearer: paired.body["token"].as_str().map(str::to_owned),
        ..Caller::default()
    };
    let uploaded = w
        .call(
            &device,
            Method::POST,
            "/api/v1/readings",
            Some(readings_body(now_ms() - 60_000)),
        )
        .await;
    assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.body);
    assert_eq!(uploaded.body["upload_interval_s"], 30);
    Parties {
        patient,
        patient_id,
        other_id,
        device,
        institutions,
        supervisor,
        admin,
    }
}

/// The request exercising `action` on `patient` for a caller, if a route does it.
fn request_for(
    action: Action,
    role: Role,
    patient: &str,
    t: i64,
) -> Option<(Method, String, Option<Value>)> {
    let p = format!("/api/v1/patients/{patient}");
    Some(match action {
        Action::ReadOpen => (
            Method::GET,
            format!("{p}/readings?metric=steps&from=0"),
            None,
        ),
        Action::ReadProtected => (
            Method::GET,
            format!("{p}/readings?metric=heart_rate&from=0"),
            None,
        ),
        Action::WriteReadings if role == Role::Device => {
            // A device writes only for its bound patient: the upload names no patient.
            return None;
        }
        Action::WriteReadings => (
            Method::POST,
            format!("{p}/entries"),
            Some(
                json!({ "readings": [{ "metric": "steps", "t": t, "value": 10, "unit": "{steps}" }] }),
            ),
        ),
        Action::WriteClinical => (
            Method::POST,
            format!("{p}/clinical"),
            Some(
                json!({ "readings": [{ "metric": "blood_pressure_systolic", "t": t, "value": 121, "unit": "mm[Hg]" }] }),
            ),
        ),
        Action::ManageConsent => (Method::GET, format!("{p}/consents"), None),
        Action::ManageDevices => (Method::GET, format!("{p}/devices"), None),
        Action::ManageSettings => (Method::GET, format!("{p}/settings"), None),
        Action::ReadAudit => (Method::GET, format!("{p}/access-log"), None),
        // Corrections are not built yet: no route to exercise.
        Action::CorrectRecord => return None,
    })
}

/// What the table says, worked out here from the rule alone.
fn expected(rule: Rule, action: Action, own: bool, consent_active: bool, role: Role) -> bool {
    match rule {
        Rule::Never | Rule::RequestOnly => false,
        Rule::Own => own,
        Rule::Always => true,
        // Researchers get de-identified data only, never through a per-patient route.
        Rule::Deidentified => false,
        Rule::WithConsent => {
            consent_active
                && match action {
                    Action::WriteClinical => role == Role::Hospital,
                    Action::ReadProtected => role != Role::Enterprise,
                    _ => true,
                }
        }
    }
}

async fn check_matrix(w: &World, parties: &Parties, consent_active: bool, stage: &str) {
    let mut t = now_ms() - 50_000;
    for (action, rules) in MATRIX {
        for (role, rule) in Role::ALL.into_iter().zip(rules) {
            let caller = match role {
                Role::Patient => parties.patient.clone(),
                Role::Device => parties.device.clone(),
                Role::Supervisor => parties.supervisor.clone(),
                Role::Admin => parties.admin.clone(),
                inst => parties
                    .institutions
                    .iter()
                    .find(|(r, _, _)| *r == inst)
                    .map(|(_, c, _)| c.clone())
                    .unwrap(),
            };
            for (patient, own) in [(&parties.patient_id, true), (&parties.other_id, false)] {
                t += 1;
                let Some((method, path, body)) = request_for(action, role, patient, t) else {
                    continue;
                };
                // Consent exists only for the first patient.
                let want = expected(rule, action, own, consent_active && own, role);
                let reply = w.call(&caller, method.clone(), &path, body).await;
                let allowed = reply.status.is_success();
                assert_eq!(
                    allowed,
                    want,
                    "{stage}: {role:?} {action:?} {} patient: {} {}",
                    if own {
                        "own/consenting"
                    } else {
                        "someone else's"
                    },
                    reply.status,
                    reply.body
                );
                if !allowed {
                    assert!(
                        matches!(
                            reply.status,
                            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED
                        ),
                        "{stage}: {role:?} {action:?}: refusal must be 401/403, got {} {}",
                        reply.status,
                        reply.body
                    );
                    assert!(reply.body["error"]["code"].is_string());
                }
            }
        }
    }
}

#[tokio::test]
async fn the_matrix_holds_in_every_cell_before_during_and_after_consent() {
    let w = World::new().await;
    let parties = parties(&w).await;
    check_matrix(&w, &parties, false, "no consent").await;

    // The patient grants each institution what its role may have, signed with their key.
    let mut grants = Vec::new();
    for (role, _, id) in &parties.institutions {
        let (access, sections) = match role {
            Role::Hospital => (json!(["read", "write"]), json!(["open", "protected"])),
            Role::Researcher => (json!(["read"]), json!(["open", "protected"])),
            _ => (json!(["read"]), json!(["open"])),
        };
        let reply = w
            .call(
                &parties.patient,
                Method::POST,
                &format!("/api/v1/patients/{}/consents", parties.patient_id),
                Some(json!({
                    "institution_id": id, "access": access, "sections": sections,
                    "purpose": "care", "expires_at": now_ms() + 86_400_000,
                })),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{role:?}: {}",
            reply.body
        );
        grants.push(reply.body["grant_id"].as_str().unwrap().to_owned());
    }
    check_matrix(&w, &parties, true, "consent in force").await;

    for grant in &grants {
        let reply = w
            .call(
                &parties.patient,
                Method::POST,
                &format!(
                    "/api/v1/patients/{}/consents/{grant}/revoke",
                    parties.patient_id
                ),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["status"], "revoked");
    }
    check_matrix(&w, &parties, false, "consent revoked").await;
}

#[tokio::test]
async fn consent_is_the_patients_own_act_and_every_institution_read_is_logged_on_chain() {
    consent_scenario(World::new().await).await;
}

#[tokio::test]
async fn consent_on_anvil_too() {
    if let Some(world) = World::on_anvil().await {
        consent_scenario(world).await;
    }
}

async fn consent_scenario(w: World) {
    let parties = parties(&w).await;
    let (_, hospital, hospital_id) = parties.institutions[0].clone();
    let (_, enterprise, enterprise_id) = parties.institutions[2].clone();
    let consents = format!("/api/v1/patients/{}/consents", parties.patient_id);
    let grant_body = |id: &str, sections: Value| {
        json!({ "institution_id": id, "access": ["read"], "sections": sections,
                "purpose": "check-up", "expires_at": now_ms() + 86_400_000 })
    };

    // A grant signed by another key is refused by the contract, and nothing is recorded.
    let prepared = w
        .call(
            &parties.patient,
            Method::POST,
            &format!("{consents}/prepare"),
            Some(grant_body(&hospital_id, json!(["protected"]))),
        )
        .await;
    assert_eq!(prepared.status, StatusCode::OK, "{}", prepared.body);
    let digest: B256 = prepared.body["digest"].as_str().unwrap().parse().unwrap();
    let forged = sign_digest(&PrivateKeySigner::random(), digest).unwrap();
    let mut body = grant_body(&hospital_id, json!(["protected"]));
    body["signature"] = json!(hex::encode(forged));
    body["nonce"] = prepared.body["nonce"].clone();
    let refused = w
        .call(&parties.patient, Method::POST, &consents, Some(body))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "invalid_signature");
    let listed = w.call(&parties.patient, Method::GET, &consents, None).await;
    assert_eq!(listed.body["consents"].as_array().unwrap().len(), 0);

    // Enterprise may never be granted the protected section; its open grant works.
    let beyond = w
        .call(
            &parties.patient,
            Method::POST,
            &consents,
            Some(grant_body(&enterprise_id, json!(["protected"]))),
        )
        .await;
    assert_eq!(beyond.status, StatusCode::FORBIDDEN);
    assert_eq!(beyond.body["error"]["code"], "beyond_role");
    let granted = w
        .call(
            &parties.patient,
            Method::POST,
            &consents,
            Some(grant_body(&enterprise_id, json!(["open"]))),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    let aggregate = w
        .call(
            &enterprise,
            Method::GET,
            &format!(
                "/api/v1/query/aggregate?metric=steps&from=0&to={}",
                now_ms()
            ),
            None,
        )
        .await;
    assert_eq!(aggregate.status, StatusCode::OK, "{}", aggregate.body);
    assert_eq!(aggregate.body["consenting_patients"], 1);
    assert_eq!(aggregate.body["groups"][0]["total"], 120.0);
    let all = w
        .call(
            &enterprise,
            Method::GET,
            &format!("/api/v1/patients/{}/readings?from=0", parties.patient_id),
            None,
        )
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let metrics: Vec<&str> = all.body["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metric"].as_str().unwrap())
        .collect();
    assert_eq!(metrics, ["steps"], "enterprise sees the open section only");

    // The hospital, granted the protected section, reads it; the read is logged.
    let granted = w
        .call(
            &parties.patient,
            Method::POST,
            &consents,
            Some(grant_body(&hospital_id, json!(["protected"]))),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    let grant_id = granted.body["grant_id"].as_str().unwrap().to_owned();
    let read = w
        .call(
            &hospital,
            Method::GET,
            &format!(
                "/api/v1/patients/{}/readings?from=0&metric=heart_rate",
                parties.patient_id
            ),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["readings"].as_array().unwrap().len(), 1);
    assert_eq!(read.body["readings"][0]["value"], 72.0);
    // It was sealed before the grant; the grant wrapped its epoch for the hospital.
    let patient_id = PatientId::new(parties.patient_id.clone()).unwrap();
    let records = w.store.records(&patient_id, 0, 100).await.unwrap();
    let protected: Vec<_> = records
        .iter()
        .filter(|r| r.header.section == vitalis_model::Section::Protected)
        .collect();
    assert!(!protected.is_empty());
    assert!(
        protected
            .iter()
            .all(|r| vitalis_model::is_sealed(r.header.encoding))
    );
    let sealing = w
        .call(
            &parties.patient,
            Method::GET,
            &format!("/api/v1/patients/{}/sealing", parties.patient_id),
            None,
        )
        .await;
    assert_eq!(sealing.status, StatusCode::OK, "{}", sealing.body);
    assert_eq!(sealing.body["sealed"], true);
    assert_eq!(
        sealing.body["rewrap"]["done"],
        sealing.body["rewrap"]["total"]
    );
    assert!(
        sealing.body["policy"]
            .as_str()
            .unwrap()
            .contains(&format!("org:{hospital_id}")),
        "{}",
        sealing.body
    );
    // Institutions without the grant's keys are refused the sealed record's payload too.
    let researcher_read = w
        .call(
            &parties.institutions[1].1,
            Method::GET,
            &format!(
                "/api/v1/patients/{}/readings?from=0&metric=heart_rate",
                parties.patient_id
            ),
            None,
        )
        .await;
    assert_eq!(researcher_read.status, StatusCode::FORBIDDEN);

    // Revocation takes effect on the next request.
    let revoked = w
        .call(
            &parties.patient,
            Method::POST,
            &format!("{consents}/{grant_id}/revoke"),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(!w.ledger.is_active(grant_id.parse().unwrap()).await.unwrap());
    let after = w
        .call(
            &hospital,
            Method::GET,
            &format!(
                "/api/v1/patients/{}/readings?from=0&metric=heart_rate",
                parties.patient_id
            ),
            None,
        )
        .await;
    assert_eq!(after.status, StatusCode::FORBIDDEN);
    assert_eq!(after.body["error"]["code"], "consent_revoked");

    // The access log lists the institutions' reads, and each entry verifies on chain.
    w.commit_access_log().await;
    let log = w
        .call(
            &parties.patient,
            Method::GET,
            &format!("/api/v1/patients/{}/access-log", parties.patient_id),
            None,
        )
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let entries = log.body["entries"].as_array().unwrap();
    let hospital_reads: Vec<&Value> = entries
        .iter()
        .filter(|e| e["institution_id"] == hospital_id.as_str() && e["action"] == "read_protected")
        .collect();
    assert_eq!(hospital_reads.len(), 1, "{entries:#?}");
    assert!(
        entries
            .iter()
            .any(|e| e["institution_id"] == enterprise_id.as_str())
    );
    for e in entries {
        assert_eq!(e["verified"], true, "{e}");
    }
    // The supervisor audits the same log; others may not.
    let audit = w
        .call(
            &parties.supervisor,
            Method::GET,
            "/api/v1/audit/access-log",
            None,
        )
        .await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(audit.body["entries"].as_array().unwrap().len() >= entries.len());
    let denied = w
        .call(&hospital, Method::GET, "/api/v1/audit/access-log", None)
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sign_in_sessions_tokens_devices_and_recovery() {
    let w = World::new().await;
    let (signup, _recovery) = w.sign_up("patient", "p@example.org").await;
    let patient_id = signup.body["account"]["patient_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let session = Caller {
        cookie: signup.cookie.clone(),
        csrf: signup.body["csrf_token"].as_str().map(str::to_owned),
        bearer: None,
    };
    let devices = format!("/api/v1/patients/{patient_id}/devices");

    // A state change on a session without the CSRF token is refused and changes nothing.
    let no_csrf = Caller {
        csrf: None,
        ..session.clone()
    };
    let refused = w
        .call(
            &no_csrf,
            Method::POST,
            &devices,
            Some(json!({ "name": "w" })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["error"]["code"], "csrf");
    assert_eq!(
        w.call(&session, Method::GET, &devices, None).await.body["devices"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Scoped API tokens: read-only may read, not write.
    let token = w
        .call(
            &session,
            Method::POST,
            "/api/v1/auth/tokens",
            Some(json!({ "name": "script", "scopes": ["read"] })),
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.body);
    let reader = Caller {
        bearer: token.body["token"].as_str().map(str::to_owned),
        ..Caller::default()
    };
    assert_eq!(
        w.call(&reader, Method::GET, &devices, None).await.status,
        StatusCode::OK
    );
    let write = w
        .call(
            &reader,
            Method::POST,
            &devices,
            Some(json!({ "name": "w" })),
        )
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(write.body["error"]["code"], "insufficient_scope");

    // Pair, change the interval, revoke: the revoked token is refused at once.
    let paired = w
        .call(
            &session,
            Method::POST,
            &devices,
            Some(json!({ "name": "watch" })),
        )
        .await;
    assert_eq!(paired.status, StatusCode::CREATED);
    let device_id = paired.body["device"].as_str().unwrap().to_owned();
    let device = Caller {
        bearer: paired.body["token"].as_str().map(str::to_owned),
        ..Caller::default()
    };
    let changed = w
        .call(
            &session,
            Method::PATCH,
            &format!("{devices}/{device_id}"),
            Some(json!({ "upload_interval_s": 120 })),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT);
    let up = w
        .call(
            &device,
            Method::POST,
            "/api/v1/readings",
            Some(readings_body(now_ms() - 1000)),
        )
        .await;
    assert_eq!(up.body["upload_interval_s"], 120);
    let listed = w.call(&session, Method::GET, &devices, None).await;
    assert!(listed.body["devices"][0]["last_upload_at"].is_i64());
    assert_eq!(
        w.call(
            &session,
            Method::DELETE,
            &format!("{devices}/{device_id}"),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let after = w
        .call(
            &device,
            Method::POST,
            "/api/v1/readings",
            Some(readings_body(now_ms() - 500)),
        )
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);

    // Wrong passwords are refused, then rate limited.
    for _ in 0..5 {
        let (reply, _) = w.sign_in("p@example.org", "wrong password!!").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body["error"]["code"], "invalid_credentials");
    }
    let (limited, _) = w.sign_in("p@example.org", "a long enough password").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);

    // Recovery with the recovery key shown at sign-up sets a new password; the old
    // session ends.
    let bad = w
        .call(&Caller::default(), Method::POST, "/api/v1/auth/recover",
            Some(json!({ "email": "p@example.org", "recovery_key": "00".repeat(32), "new_password": "another long password" })))
        .await;
    assert_eq!(
        bad.status,
        StatusCode::TOO_MANY_REQUESTS,
        "still limited: {}",
        bad.body
    );
}

#[tokio::test]
async fn recovery_and_password_change_keep_the_consent_key() {
    let w = World::new().await;
    let (signup, recovery) = w.sign_up("patient", "r@example.org").await;
    let address = signup.body["account"]["address"].clone();
    // Sign-up records the patient's public key for sealing records.
    let patient = PatientId::new(signup.body["account"]["patient_id"].as_str().unwrap()).unwrap();
    let seal_key = w.store.seal_public_key(&patient).await.unwrap();
    assert!(seal_key.is_some(), "no seal key after sign-up");
    let session = Caller {
        cookie: signup.cookie.clone(),
        csrf: signup.body["csrf_token"].as_str().map(str::to_owned),
        bearer: None,
    };
    let changed = w
        .call(&session, Method::POST, "/api/v1/auth/password",
            Some(json!({ "current_password": "a long enough password", "new_password": "a new long password" })))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let old = w
        .call(&session, Method::GET, "/api/v1/auth/session", None)
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    assert_eq!(old.body["error"]["code"], "session_expired");

    let wrong = w
        .call(&Caller::default(), Method::POST, "/api/v1/auth/recover",
            Some(json!({ "email": "r@example.org", "recovery_key": "11".repeat(32), "new_password": "recovered password" })))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["error"]["code"], "invalid_recovery_key");
    let recovered = w
        .call(&Caller::default(), Method::POST, "/api/v1/auth/recover",
            Some(json!({ "email": "r@example.org", "recovery_key": recovery, "new_password": "recovered password" })))
        .await;
    assert_eq!(
        recovered.status,
        StatusCode::NO_CONTENT,
        "{}",
        recovered.body
    );
    let (reply, _) = w.sign_in("r@example.org", "recovered password").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body["account"]["address"], address,
        "the same consent key"
    );
    // The same seal key too (a different one would have been refused), and an account
    // without one gets it back, unchanged, at its next sign-in.
    assert_eq!(w.store.seal_public_key(&patient).await.unwrap(), seal_key);
    let db = w._dir.path().join("v.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE patients SET seal_public_key = NULL")
        .execute(&mut conn)
        .await
        .unwrap();
    let (reply, _) = w.sign_in("r@example.org", "recovered password").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(w.store.seal_public_key(&patient).await.unwrap(), seal_key);
}

#[tokio::test]
async fn a_hospital_with_write_consent_records_clinical_results_the_patient_cannot_alter() {
    let w = World::new().await;
    let parties = parties(&w).await;
    let (_, hospital, hospital_id) = parties.institutions[0].clone();
    let base = format!("/api/v1/patients/{}", parties.patient_id);
    let checkup = |loinc: &str| {
        json!({
            "readings": [
                { "metric": "blood_pressure_systolic", "t": now_ms() - 5_000, "value": 128, "unit": "mm[Hg]" },
                { "metric": "blood_pressure_diastolic", "t": now_ms() - 5_000, "value": 82, "unit": "mm[Hg]" },
            ],
            "results": [
                { "loinc": loinc, "display": "Glucose [Moles/volume] in Serum or Plasma", "value": 5.4, "unit": "mmol/L" },
                { "loinc": "4548-4", "display": "Hemoglobin A1c", "value": 5.6, "unit": "%" },
            ],
            "note": "Annual check-up; fasting sample.",
        })
    };
    // Read consent alone does not allow writing.
    let read_only = w
        .call(&parties.patient, Method::POST, &format!("{base}/consents"),
            Some(json!({ "institution_id": hospital_id, "access": ["read"], "sections": ["protected"],
                         "purpose": "care", "expires_at": now_ms() + 86_400_000 })))
        .await;
    assert_eq!(read_only.status, StatusCode::CREATED);
    let refused = w
        .call(
            &hospital,
            Method::POST,
            &format!("{base}/clinical"),
            Some(checkup("2345-7")),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    let write = w
        .call(&parties.patient, Method::POST, &format!("{base}/consents"),
            Some(json!({ "institution_id": hospital_id, "access": ["read", "write"], "sections": ["open", "protected"],
                         "purpose": "check-up", "expires_at": now_ms() + 86_400_000 })))
        .await;
    assert_eq!(write.status, StatusCode::CREATED, "{}", write.body);

    // A wrong LOINC check digit is named, and nothing of the check-up is stored.
    let bad = w
        .call(
            &hospital,
            Method::POST,
            &format!("{base}/clinical"),
            Some(checkup("2345-8")),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("results[0].loinc")
    );
    let systolic = format!("{base}/readings?from=0&metric=blood_pressure_systolic");
    assert_eq!(
        w.call(&parties.patient, Method::GET, &systolic, None)
            .await
            .body["readings"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let written = w
        .call(
            &hospital,
            Method::POST,
            &format!("{base}/clinical"),
            Some(checkup("2345-7")),
        )
        .await;
    assert_eq!(written.status, StatusCode::CREATED, "{}", written.body);
    let source = written.body["source"].as_str().unwrap().to_owned();

    // The patient reads both the readings and the note, with the hospital as their source.
    let readings = w.call(&parties.patient, Method::GET, &systolic, None).await;
    assert_eq!(readings.body["readings"][0]["device"], source.as_str());
    let notes = w
        .call(
            &parties.patient,
            Method::GET,
            &format!("{base}/clinical"),
            None,
        )
        .await;
    assert_eq!(notes.status, StatusCode::OK);
    let note = &notes.body["notes"][0];
    assert_eq!(note["source"], source.as_str());
    assert_eq!(note["note"]["institution"], hospital_id.as_str());
    assert_eq!(note["note"]["results"][1]["loinc"], "4548-4");
    // The note is a record of the patient's chain like any other.
    let records = w
        .call(
            &parties.patient,
            Method::GET,
            &format!("{base}/records"),
            None,
        )
        .await;
    assert!(
        records.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == note["record"])
    );

    // The patient cannot write clinical results (nor alter any: no route changes a record).
    let patient_write = w
        .call(
            &parties.patient,
            Method::POST,
            &format!("{base}/clinical"),
            Some(checkup("2345-7")),
        )
        .await;
    assert_eq!(patient_write.status, StatusCode::FORBIDDEN);
    assert_eq!(patient_write.body["error"]["code"], "not_permitted");
}

#[tokio::test]
async fn a_patient_signing_with_their_own_wallet_cannot_be_replayed_or_used_on_another_patient() {
    let w = World::new().await;
    let parties = parties(&w).await;
    let (_, hospital, hospital_id) = parties.institutions[0].clone();

    // A patient whose key the test holds, as a wallet would.
    let wallet = PrivateKeySigner::random();
    let (sealed, _) = vitalis_server::accounts::seal_account_key(
        "wallet@example.org",
        "wallet password 123",
        &wallet,
    )
    .unwrap();
    let hash = seal::hash_password("wallet password 123", &mut rand::rng()).unwrap();
    w.store
        .create_account(NewAccount {
            role: Role::Patient,
            email: "wallet@example.org".into(),
            name: "w".into(),
            password_hash: Some(hash),
            status: AccountStatus::Active,
            institution: None,
            key: Some(sealed),
        })
        .await
        .unwrap();
    let (reply, patient) = w.sign_in("wallet@example.org", "wallet password 123").await;
    let patient_id = reply.body["account"]["patient_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let consents = format!("/api/v1/patients/{patient_id}/consents");
    let body = json!({ "institution_id": hospital_id, "access": ["read"], "sections": ["open"],
                       "purpose": "study", "expires_at": now_ms() + 86_400_000 });

    let prepared = w
        .call(
            &patient,
            Method::POST,
            &format!("{consents}/prepare"),
            Some(body.clone()),
        )
        .await;
    let digest: B256 = prepared.body["digest"].as_str().unwrap().parse().unwrap();
    let mut signed = body.clone();
    signed["signature"] = json!(hex::encode(sign_digest(&wallet, digest).unwrap()));
    signed["nonce"] = prepared.body["nonce"].clone();
    let granted = w
        .call(&patient, Method::POST, &consents, Some(signed.clone()))
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    assert_eq!(
        granted.body["grant_id"].as_str().unwrap(),
        format!("{digest}")
    );
    let read = w
        .call(
            &hospital,
            Method::GET,
            &format!("/api/v1/patients/{patient_id}/readings?from=0"),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);

    // The same signature again is a replay: the contract has used its nonce.
    let replayed = w
        .call(&patient, Method::POST, &consents, Some(signed.clone()))
        .await;
    assert_eq!(replayed.status, StatusCode::CONFLICT, "{}", replayed.body);
    assert_eq!(replayed.body["error"]["code"], "stale_nonce");

    // A consent for someone else's data is refused before anything is signed.
    let others = w
        .call(
            &patient,
            Method::POST,
            &format!("/api/v1/patients/{}/consents", parties.patient_id),
            Some(signed),
        )
        .await;
    assert_eq!(others.status, StatusCode::FORBIDDEN);
    assert_eq!(others.body["error"]["code"], "not_own_data");
    let listed = w.call(&patient, Method::GET, &consents, None).await;
    assert_eq!(
        listed.body["consents"].as_array().unwrap().len(),
        1,
        "nothing recorded twice"
    );
}

#[tokio::test]
async fn a_device_paired_with_a_key_must_sign_its_uploads() {
    use base64::Engine;
    use ed25519_dalek::Signer;
    let w = World::new().await;
    let (signup, _) = w.sign_up("patient", "signer@example.org").await;
    let patient = Caller {
        cookie: signup.cookie.clone(),
        csrf: signup.body["csrf_token"].as_str().map(str::to_owned),
        bearer: None,
    };
    let patient_id = signup.body["account"]["patient_id"].as_str().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let paired = w
        .call(&patient, Method::POST, &format!("/api/v1/patients/{patient_id}/devices"),
            Some(json!({ "name": "signed watch", "public_key": hex::encode(key.verifying_key().as_bytes()) })))
        .await;
    assert_eq!(paired.status, StatusCode::CREATED, "{}", paired.body);
    let token = paired.body["token"].as_str().unwrap().to_owned();
    let body = readings_body(now_ms() - 2_000).to_string();
    let upload = |signature: Option<String>| {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/readings")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(sig) = signature {
            request = request.header("x-vitalis-signature", sig);
        }
        request.body(Body::from(body.clone())).unwrap()
    };
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);

    let unsigned = w.app.clone().oneshot(upload(None)).await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let other_key = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let wrong = w
        .app
        .clone()
        .oneshot(upload(Some(b64(&other_key
            .sign(body.as_bytes())
            .to_bytes()))))
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let readings = format!("/api/v1/patients/{patient_id}/readings?from=0");
    assert_eq!(
        w.call(&patient, Method::GET, &readings, None).await.body["readings"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let signed = w
        .app
        .clone()
        .oneshot(upload(Some(b64(&key.sign(body.as_bytes()).to_bytes()))))
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::OK);
    assert_eq!(
        w.call(&patient, Method::GET, &readings, None).await.body["readings"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_metric_moved_to_the_protected_section_leaves_the_open_sections_readers() {
    let w = World::new().await;
    let parties = parties(&w).await;
    let (_, enterprise, enterprise_id) = parties.institutions[2].clone();
    let base = format!("/api/v1/patients/{}", parties.patient_id);
    let granted = w
        .call(
            &parties.patient,
            Method::POST,
            &format!("{base}/consents"),
            Some(
                json!({ "institution_id": enterprise_id, "access": ["read"], "sections": ["open"],
                         "purpose": "statistics", "expires_at": now_ms() + 86_400_000 }),
            ),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED);
    w.call(
        &parties.patient,
        Method::PUT,
        &format!("{base}/settings"),
        Some(json!({ "region": "North" })),
    )
    .await;
    let by_region = w
        .call(
            &enterprise,
            Method::GET,
            &format!(
                "/api/v1/query/aggregate?metric=steps&from=0&to={}&group=region",
                now_ms()
            ),
            None,
        )
        .await;
    assert_eq!(
        by_region.body["groups"][0]["region"], "North",
        "{}",
        by_region.body
    );

    // Bad settings are named and change nothing.
    let bad = w
        .call(
            &parties.patient,
            Method::PUT,
            &format!("{base}/settings"),
            Some(json!({ "sections": { "steps": "secret" } })),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"]["field"], "sections");
    let moved = w
        .call(
            &parties.patient,
            Method::PUT,
            &format!("{base}/settings"),
            Some(json!({ "sections": { "steps": "protected" } })),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["sections"]["steps"], "protected");

    // Steps stored from now on are protected: the open-section reader sees only the old ones.
    let t = now_ms() - 1_000;
    let up = w
        .call(&parties.device, Method::POST, "/api/v1/readings",
            Some(json!({ "readings": [{ "metric": "steps", "t": t, "value": 50, "unit": "{steps}" }] })))
        .await;
    assert_eq!(up.body["records"][0]["section"], "protected", "{}", up.body);
    let seen = w
        .call(
            &enterprise,
            Method::GET,
            &format!("{base}/readings?from=0"),
            None,
        )
        .await;
    let times: Vec<i64> = seen.body["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["t"].as_i64().unwrap())
        .collect();
    assert_eq!(times.len(), 1, "only the earlier open steps: {}", seen.body);
    assert!(!times.contains(&t));
    // Asking for steps by name is now refused outright.
    let named = w
        .call(
            &enterprise,
            Method::GET,
            &format!("{base}/readings?from=0&metric=steps"),
            None,
        )
        .await;
    assert_eq!(named.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_phone_pairs_with_a_single_use_code_and_sends_steps() {
    let w = World::new().await;
    let (signup, _) = w.sign_up("patient", "phone@example.org").await;
    let patient = Caller {
        cookie: signup.cookie.clone(),
        csrf: signup.body["csrf_token"].as_str().map(str::to_owned),
        bearer: None,
    };
    let patient_id = signup.body["account"]["patient_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = w
        .app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/phone")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    // Its inline script and style run by their hashes, nothing else inline does.
    let policy = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("script-src 'sha256-") && !policy.contains("unsafe-inline"),
        "{policy}"
    );
    let html = String::from_utf8(
        to_bytes(page.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(html.contains("name=\"viewport\"") && html.contains("/api/v1/pair"));
    let script = &html[html.find("<script>").unwrap() + 8..html.find("</script>").unwrap()];
    let hash = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script))
    };
    assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");

    let code = w
        .call(
            &patient,
            Method::POST,
            &format!("/api/v1/patients/{patient_id}/pairing-codes"),
            Some(json!({ "name": "my phone" })),
        )
        .await;
    assert_eq!(code.status, StatusCode::CREATED, "{}", code.body);
    let code = code.body["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);
    let anyone = Caller::default();
    let wrong = w
        .call(
            &anyone,
            Method::POST,
            "/api/v1/pair",
            Some(json!({ "code": "00000000" })),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let paired = w
        .call(
            &anyone,
            Method::POST,
            "/api/v1/pair",
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(paired.status, StatusCode::CREATED, "{}", paired.body);
    assert_eq!(paired.body["patient_id"], patient_id.as_str());
    let again = w
        .call(
            &anyone,
            Method::POST,
            "/api/v1/pair",
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "a code pairs once");

    let phone = Caller {
        bearer: paired.body["token"].as_str().map(str::to_owned),
        ..Caller::default()
    };
    let sent = w
        .call(
            &phone,
            Method::POST,
            "/api/v1/readings",
            Some(
                json!({ "readings": [{ "metric": "steps", "t": now_ms() - 1000, "value": 4321 }] }),
            ),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let devices = w
        .call(
            &patient,
            Method::GET,
            &format!("/api/v1/patients/{patient_id}/devices"),
            None,
        )
        .await;
    assert_eq!(devices.body["devices"][0]["name"], "my phone");
    let steps = w
        .call(
            &patient,
            Method::GET,
            &format!("/api/v1/patients/{patient_id}/readings?from=0&metric=steps"),
            None,
        )
        .await;
    assert_eq!(steps.body["readings"][0]["value"], 4321.0);
}

/// Sealing end to end: what a copy of the database file shows, the patient's own access
/// policy (refused when malformed or unsatisfiable), and a hospital that holds consent
/// but whose attributes the policy leaves out.
#[tokio::test]
async fn a_copied_database_reveals_no_protected_reading_and_the_policy_binds_institutions() {
    let w = World::new().await;
    let parties = parties(&w).await;
    let (_, hospital, hospital_id) = parties.institutions[0].clone();
    let (_, _, researcher_id) = parties.institutions[1].clone();
    let patient_id = parties.patient_id.clone();
    let odd = |i: i64| 61.0 + i as f64 * 1.5 + 0.3125;
    let t0 = now_ms() - 3_600_000;
    let readings: Vec<Value> = (0..20)
        .map(|i| json!({ "metric": "heart_rate", "t": t0 + i * 1000, "value": odd(i), "unit": "/min" }))
        .chain([json!({ "metric": "steps", "t": t0, "value": 4321, "unit": "{steps}" })])
        .collect();
    let uploaded = w
        .call(
            &parties.device,
            Method::POST,
            "/api/v1/readings",
            Some(json!({ "readings": readings })),
        )
        .await;
    assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.body);

    // The patient reads their own protected values through the session's key.
    let heart = |who: Caller| {
        let w = &w;
        let path = format!("/api/v1/patients/{patient_id}/readings?from={t0}&metric=heart_rate");
        async move { w.call(&who, Method::GET, &path, None).await }
    };
    let own = heart(parties.patient.clone()).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    let values: Vec<f64> = own.body["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_f64().unwrap())
        .collect();
    // The 20 values, then the 72 `parties` uploaded a minute ago.
    assert_eq!(values[..20], (0..20).map(odd).collect::<Vec<_>>());

    // Policies: a malformed one names the position, one nobody satisfies is refused.
    let policy = format!("/api/v1/patients/{patient_id}/access-policy");
    let set = |text: Value| {
        let (w, policy, patient) = (&w, policy.clone(), parties.patient.clone());
        async move {
            w.call(
                &patient,
                Method::PUT,
                &policy,
                Some(json!({ "policy": text })),
            )
            .await
        }
    };
    let malformed = set(json!("role:hospital AND (org:x OR")).await;
    assert_eq!(
        malformed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        malformed.body
    );
    assert_eq!(malformed.body["error"]["code"], "invalid_policy");
    assert_eq!(malformed.body["error"]["field"], "policy");
    assert!(
        malformed.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("column 28"),
        "{}",
        malformed.body
    );
    let nobody = set(json!("role:hospital AND org:nowhere")).await;
    assert_eq!(
        nobody.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        nobody.body
    );
    assert_eq!(nobody.body["error"]["code"], "unsatisfiable_policy");

    // Consent to the hospital: it reads the sealed values.
    let consents = format!("/api/v1/patients/{patient_id}/consents");
    let granted = w
        .call(
            &parties.patient,
            Method::POST,
            &consents,
            Some(json!({ "institution_id": hospital_id, "access": ["read"],
                "sections": ["protected"], "purpose": "care",
                "expires_at": now_ms() + 86_400_000 })),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    let read = heart(hospital.clone()).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["readings"].as_array().unwrap().len(), 21);

    // The patient narrows the policy to the researcher: the hospital's consent stands,
    // but its attributes no longer open the records.
    let narrowed = set(json!(format!("role:researcher AND org:{researcher_id}"))).await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
    let refused = heart(hospital.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "sealed");
    let back = set(Value::Null).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(heart(hospital).await.status, StatusCode::OK);

    // A copy of the database file (with its write-ahead log) holds none of the values,
    // in any form SQLite or a payload would store them; the open steps value is there.
    let mut bytes = std::fs::read(w._dir.path().join("v.db")).unwrap();
    if let Ok(wal) = std::fs::read(w._dir.path().join("v.db-wal")) {
        bytes.extend(wal);
    }
    let holds = |v: f64| {
        [
            v.to_be_bytes().to_vec(),
            v.to_le_bytes().to_vec(),
            format!("{v}").into_bytes(),
        ]
        .iter()
        .any(|form| bytes.windows(form.len()).any(|w| w == form.as_slice()))
    };
    assert!(holds(4321.0), "the open steps value is in the file");
    for i in 0..20 {
        assert!(
            !holds(odd(i)),
            "heart rate {} found in the database file",
            odd(i)
        );
    }
}

#[tokio::test]
async fn the_explorer_lists_the_newest_blocks_and_anchors() {
    let w = World::new().await;
    let parties = parties(&w).await;
    // One anchor claimed, not yet sent: listed as pending.
    let claimed = w.store.claim_for_anchor(1000).await.unwrap().unwrap();
    let reply = w
        .call(
            &parties.patient,
            Method::GET,
            "/api/v1/chain/explorer?limit=5",
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let blocks = reply.body["blocks"].as_array().unwrap();
    assert!(!blocks.is_empty() && blocks.len() <= 5, "{}", reply.body);
    let numbers: Vec<u64> = blocks
        .iter()
        .map(|b| b["number"].as_u64().unwrap())
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[0] == w[1] + 1),
        "newest first: {numbers:?}"
    );
    assert!(
        blocks
            .iter()
            .any(|b| b["transactions"].as_u64().unwrap() > 0)
    );
    let anchors = reply.body["anchors"].as_array().unwrap();
    assert_eq!(anchors.len(), 1);
    assert_eq!(
        anchors[0]["root"],
        format!("0x{}", hex::encode(claimed.root))
    );
    assert_eq!(anchors[0]["records"], claimed.record_count);
    assert!(anchors[0]["block"].is_null(), "pending");
    assert!(
        reply.body["contracts"]["anchors"]
            .as_str()
            .unwrap()
            .starts_with("0x")
    );

    let bad = w
        .call(
            &parties.patient,
            Method::GET,
            "/api/v1/chain/explorer?limit=0",
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"]["field"], "limit");
    let device = w
        .call(&parties.device, Method::GET, "/api/v1/chain/explorer", None)
        .await;
    assert_eq!(device.status, StatusCode::FORBIDDEN);

    // The records page opens on the newest records.
    let records = format!("/api/v1/patients/{}/records", parties.patient_id);
    let newest = w
        .call(
            &parties.patient,
            Method::GET,
            &format!("{records}?newest=true&limit=1"),
            None,
        )
        .await;
    assert_eq!(newest.status, StatusCode::OK, "{}", newest.body);
    let head = newest.body["head"].as_u64().unwrap();
    assert!(head >= 2);
    assert_eq!(newest.body["records"].as_array().unwrap().len(), 1);
    assert_eq!(newest.body["records"][0]["seq"], head);
    assert_eq!(newest.body["after_seq"], head - 1);
    let both = w
        .call(
            &parties.patient,
            Method::GET,
            &format!("{records}?newest=true&after_seq=1"),
            None,
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert_eq!(both.body["error"]["field"], "newest");
}

/// Deleting an account erases what is stored and keeps the commitments: the chain of
/// record headers and the anchored roots stay, payloads, readings and credentials go,
/// and consents end on the ledger too.
#[tokio::test]
async fn a_patient_deletes_their_account_and_only_commitments_remain() {
    let w = World::new().await;
    let parties = parties(&w).await;
    let (_, hospital, hospital_id) = parties.institutions[0].clone();
    let patient_id = PatientId::new(parties.patient_id.clone()).unwrap();
    let consents = format!("/api/v1/patients/{}/consents", parties.patient_id);
    let granted = w
        .call(
            &parties.patient,
            Method::POST,
            &consents,
            Some(json!({ "institution_id": hospital_id, "access": ["read"],
                "sections": ["open", "protected"], "purpose": "care",
                "expires_at": now_ms() + 86_400_000 })),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    let grant_id: B256 = granted.body["grant_id"].as_str().unwrap().parse().unwrap();
    let token = w
        .call(
            &parties.patient,
            Method::POST,
            "/api/v1/auth/tokens",
            Some(json!({ "name": "script", "scopes": ["read"] })),
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.body);
    let script = Caller {
        bearer: token.body["token"].as_str().map(str::to_owned),
        ..Caller::default()
    };
    let readings = format!("/api/v1/patients/{}/readings?from=0", parties.patient_id);
    assert_eq!(
        w.call(&script, Method::GET, &readings, None).await.status,
        StatusCode::OK,
        "the token opens the patient's sealed readings"
    );
    let before = w.store.records(&patient_id, 0, 100).await.unwrap();
    assert!(before.len() >= 2);

    let wrong = w
        .call(
            &parties.patient,
            Method::DELETE,
            "/api/v1/auth/account",
            Some(json!({ "password": "not the password at all" })),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["error"]["field"], "password");
    let deleted = w
        .call(
            &parties.patient,
            Method::DELETE,
            "/api/v1/auth/account",
            Some(json!({ "password": "a long enough password" })),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body["erased"]["records_kept"], before.len());
    assert!(deleted.body["erased"]["payloads"].as_u64().unwrap() >= 2);
    assert!(deleted.body["erased"]["readings"].as_u64().unwrap() >= 2);

    // The commitments are all there, unchanged; the payloads and readings are not.
    let after = w.store.records(&patient_id, 0, 100).await.unwrap();
    assert_eq!(
        after.iter().map(|r| r.commitment).collect::<Vec<_>>(),
        before.iter().map(|r| r.commitment).collect::<Vec<_>>()
    );
    for r in &after {
        assert!(w.store.blob(&r.cid).await.unwrap().is_none());
    }
    assert!(w.store.seal_epochs(&patient_id).await.unwrap().is_empty());
    // Consent ended on the ledger as well as in the store.
    assert!(!w.ledger.is_active(grant_id).await.unwrap());

    // Nobody gets in any more: not the patient, the token, the device or the hospital.
    let (again, _) = w.sign_in("pat@example.org", "a long enough password").await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        w.call(&parties.patient, Method::GET, &readings, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        w.call(&script, Method::GET, &readings, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let upload = w
        .call(
            &parties.device,
            Method::POST,
            "/api/v1/readings",
            Some(readings_body(now_ms() - 1_000)),
        )
        .await;
    assert_eq!(upload.status, StatusCode::UNAUTHORIZED);
    let read = w.call(&hospital, Method::GET, &readings, None).await;
    assert_eq!(read.status, StatusCode::FORBIDDEN, "{}", read.body);
}

/// The supervisor issues attribute keys with more attributes; a patient's policy can then
/// name them, and the hospital's open session picks the new key up.
#[tokio::test]
async fn the_supervisor_issues_attributes_a_patients_policy_can_name() {
    let w = World::new().await;
    let parties = parties(&w).await;
    let (_, hospital, hospital_id) = parties.institutions[0].clone();
    let patient = parties.patient_id.clone();
    let issue = |attributes: Value| {
        let (w, sup, id) = (&w, parties.supervisor.clone(), hospital_id.clone());
        async move {
            w.call(
                &sup,
                Method::POST,
                &format!("/api/v1/institutions/{id}/attribute-keys"),
                Some(json!({ "attributes": attributes })),
            )
            .await
        }
    };
    let bad = issue(json!(["dept:cardiology", "2nd"])).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert_eq!(bad.body["error"]["field"], "attributes");
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("attribute 2")
    );
    let reserved = issue(json!(["org:elsewhere"])).await;
    assert_eq!(reserved.body["error"]["code"], "reserved_attribute");
    let by_patient = w
        .call(
            &parties.patient,
            Method::POST,
            &format!("/api/v1/institutions/{hospital_id}/attribute-keys"),
            Some(json!({ "attributes": ["dept:cardiology"] })),
        )
        .await;
    assert_eq!(by_patient.status, StatusCode::FORBIDDEN);

    // An enterprise never reads protected records: no key for it, and a policy only it
    // would satisfy is refused like one nobody satisfies.
    let (_, _, enterprise_id) = parties.institutions[2].clone();
    let to_enterprise = w
        .call(
            &parties.supervisor,
            Method::POST,
            &format!("/api/v1/institutions/{enterprise_id}/attribute-keys"),
            Some(json!({ "attributes": ["dept:claims"] })),
        )
        .await;
    assert_eq!(to_enterprise.status, StatusCode::CONFLICT);
    assert_eq!(to_enterprise.body["error"]["code"], "never_reads_protected");
    let enterprise_only = w
        .call(
            &parties.patient,
            Method::PUT,
            &format!("/api/v1/patients/{patient}/access-policy"),
            Some(json!({ "policy": format!("role:enterprise AND org:{enterprise_id}") })),
        )
        .await;
    assert_eq!(enterprise_only.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Nobody holds dept:cardiology yet: a policy naming it is refused.
    let policy = format!("/api/v1/patients/{patient}/access-policy");
    let cardiology = json!({ "policy": "role:hospital AND dept:cardiology" });
    let early = w
        .call(
            &parties.patient,
            Method::PUT,
            &policy,
            Some(cardiology.clone()),
        )
        .await;
    assert_eq!(
        early.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        early.body
    );

    let issued = issue(json!(["dept:cardiology"])).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    assert_eq!(issued.body["issued"], 1);
    let listed = w
        .call(
            &parties.supervisor,
            Method::GET,
            "/api/v1/attribute-keys",
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let key = listed.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["institution"] == hospital_id.as_str())
        .unwrap()
        .clone();
    assert!(
        key["attributes"]
            .as_array()
            .unwrap()
            .contains(&json!("dept:cardiology"))
    );

    let set = w
        .call(&parties.patient, Method::PUT, &policy, Some(cardiology))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let granted = w
        .call(
            &parties.patient,
            Method::POST,
            &format!("/api/v1/patients/{patient}/consents"),
            Some(json!({ "institution_id": hospital_id, "access": ["read"],
                "sections": ["protected"], "purpose": "care",
                "expires_at": now_ms() + 86_400_000 })),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    let read = w
        .call(
            &hospital,
            Method::GET,
            &format!("/api/v1/patients/{patient}/readings?from=0&metric=heart_rate"),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["readings"].as_array().unwrap().len(), 1);

    // Attributes set for an institution reach an account issued later, at its first read.
    let (_, researcher, researcher_id) = parties.institutions[1].clone();
    w.store
        .set_institution_key_attributes(&researcher_id, &["cert:gcp".to_owned()])
        .await
        .unwrap();
    let research = w
        .call(
            &researcher,
            Method::GET,
            &format!(
                "/api/v1/research/readings?metric=heart_rate&from=0&to={}",
                now_ms()
            ),
            None,
        )
        .await;
    assert_eq!(research.status, StatusCode::OK, "{}", research.body);
    let listed = w
        .call(
            &parties.supervisor,
            Method::GET,
            "/api/v1/attribute-keys",
            None,
        )
        .await;
    let researcher_key = listed.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["institution"] == researcher_id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{}", listed.body));
    assert_eq!(
        researcher_key["attributes"],
        json!([
            "role:researcher",
            format!("org:{researcher_id}"),
            "cert:gcp"
        ])
    );
}

/// A researcher's dataset request: patients see it, accept it with a consent or decline
/// it, once; the researcher sees the counts.
#[tokio::test]
async fn patients_answer_a_researchers_dataset_request() {
    let w = World::new().await;
    let parties = parties(&w).await;
    let (_, researcher, researcher_id) = parties.institutions[1].clone();
    let (_, enterprise, _) = parties.institutions[2].clone();
    let ask = |body: Value| {
        let (w, researcher) = (&w, researcher.clone());
        async move {
            w.call(
                &researcher,
                Method::POST,
                "/api/v1/research/requests",
                Some(body),
            )
            .await
        }
    };
    let until = now_ms() + 30 * 86_400_000;
    let good = json!({ "title": "Sleep and resting heart rate", "purpose": "a cohort study",
        "metrics": ["heart_rate", "sleep_stage"], "sections": ["protected"], "expires_at": until });
    let mut bad = good.clone();
    bad["title"] = json!(" ");
    assert_eq!(ask(bad).await.body["error"]["field"], "title");
    let mut bad = good.clone();
    bad["metrics"] = json!(["heart_rate", "pulse_wave"]);
    let refused = ask(bad).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("metric 2")
    );
    let mut bad = good.clone();
    bad["expires_at"] = json!(now_ms() - 1);
    assert_eq!(ask(bad).await.body["error"]["field"], "expires_at");
    let created = ask(good).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let request_id = created.body["id"].as_str().unwrap().to_owned();

    // The patient sees it, unanswered, without others' answers.
    let seen = w
        .call(
            &parties.patient,
            Method::GET,
            "/api/v1/research/requests",
            None,
        )
        .await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    let request = &seen.body["requests"][0];
    assert_eq!(request["id"], request_id.as_str());
    assert!(request["answer"].is_null() && request["accepted"].is_null());
    assert_eq!(
        w.call(&enterprise, Method::GET, "/api/v1/research/requests", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Accepting names the consent granted for it.
    let answer = format!(
        "/api/v1/patients/{}/research-requests/{request_id}",
        parties.patient_id
    );
    let unnamed = w
        .call(
            &parties.patient,
            Method::POST,
            &answer,
            Some(json!({ "answer": "accepted" })),
        )
        .await;
    assert_eq!(unnamed.body["error"]["field"], "grant_id");
    let granted = w
        .call(
            &parties.patient,
            Method::POST,
            &format!("/api/v1/patients/{}/consents", parties.patient_id),
            Some(json!({ "institution_id": researcher_id, "access": ["read"],
                "sections": ["protected"], "metrics": ["heart_rate", "sleep_stage"],
                "purpose": "Sleep and resting heart rate", "expires_at": until })),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    let accepted = w
        .call(
            &parties.patient,
            Method::POST,
            &answer,
            Some(json!({ "answer": "accepted", "grant_id": granted.body["grant_id"] })),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let twice = w
        .call(
            &parties.patient,
            Method::POST,
            &answer,
            Some(json!({ "answer": "declined" })),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    // The other patient declines; the researcher sees one of each.
    let (other, _) = w
        .sign_in("other@example.org", "a long enough password")
        .await;
    let other = Caller {
        cookie: other.cookie.clone(),
        csrf: other.body["csrf_token"].as_str().map(str::to_owned),
        bearer: None,
    };
    let declined = w
        .call(
            &other,
            Method::POST,
            &format!(
                "/api/v1/patients/{}/research-requests/{request_id}",
                parties.other_id
            ),
            Some(json!({ "answer": "declined" })),
        )
        .await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.body);
    let mine = w
        .call(&researcher, Method::GET, "/api/v1/research/requests", None)
        .await;
    assert_eq!(mine.body["requests"][0]["accepted"], 1, "{}", mine.body);
    assert_eq!(mine.body["requests"][0]["declined"], 1);
    // A patient cannot answer for another.
    let foreign = w
        .call(
            &parties.patient,
            Method::POST,
            &format!(
                "/api/v1/patients/{}/research-requests/{request_id}",
                parties.other_id
            ),
            Some(json!({ "answer": "declined" })),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
}
