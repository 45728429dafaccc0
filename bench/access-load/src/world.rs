//! The server under load and the parties that use it.
//!
//! A [`World`] is what `crates/server/tests/permissions.rs` builds, served on a real
//! socket: a SQLite store in a temporary directory, the embedded chain (consent contract,
//! identity registry and access log deployed by its genesis) with its miner and JSON-RPC
//! on 127.0.0.1, `RpcLedger`s for the node and the supervisor, a `PermissionLedger`, the
//! ingest pipeline, and `vitalis_server::router` bound to 127.0.0.1:0 with `axum::serve`
//! (client addresses passed on, as `vitalis serve` does). Unless told otherwise the
//! access-log committer runs at the block time, as in `vitalis serve`.
//!
//! [`Parties`] are set up through the API where the API does it: the patient signs up,
//! pairs a device and uploads readings through it; the hospital signs up and is approved
//! by a supervisor whose account is created in the store directly (as
//! `vitalis admin create` does); both get API tokens of their own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result, anyhow, ensure};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use vitalis_access::Role;
use vitalis_chain::ledger::RpcLedger;
use vitalis_chain::node::{BlockTime, Node, NodeConfig};
use vitalis_chain::permissions::PermissionLedger;
use vitalis_chain::rpc::{self, RpcServer};
use vitalis_crypto::chameleon::ChameleonPublicKey;
use vitalis_crypto::seal;
use vitalis_ingest::access_log::{AccessLogCommitter, AccessLogConfig};
use vitalis_ingest::{Pipeline, PipelineConfig};
use vitalis_server::{ApiConfig, AppState, router};
use vitalis_store::directory::{AccountStatus, NewAccount};
use vitalis_store::{SqlStore, Store};

/// The password of every account made here.
pub(crate) const PASSWORD: &str = "a long enough password";
/// The patient's email.
pub(crate) const PATIENT_EMAIL: &str = "patient@vitalis.invalid";
/// A day, in milliseconds.
const DAY_MS: i64 = 86_400_000;

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A signed-in caller: a session (cookie and CSRF token) or a bearer token.
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller {
    cookie: Option<String>,
    csrf: Option<String>,
    bearer: Option<String>,
}

impl Caller {
    /// A caller presenting `token` as its bearer token.
    fn bearer(token: &str) -> Caller {
        Caller {
            bearer: Some(token.to_owned()),
            ..Caller::default()
        }
    }
}

/// An answer of the API.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
    cookie: Option<String>,
}

impl Reply {
    /// The body's string at `pointer` (a JSON pointer).
    fn text(&self, pointer: &str) -> Result<String> {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("no {pointer} in {}", self.body))
    }

    /// The session this reply started.
    fn session(&self) -> Result<Caller> {
        Ok(Caller {
            cookie: Some(self.cookie.clone().context("no session cookie")?),
            csrf: Some(self.text("/csrf_token")?),
            bearer: None,
        })
    }

    fn expect(self, status: StatusCode, what: &str) -> Result<Reply> {
        ensure!(
            self.status == status,
            "{what}: {} (expected {status}): {}",
            self.status,
            self.body
        );
        Ok(self)
    }
}

/// An HTTP client of one server.
#[derive(Clone)]
pub(crate) struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    /// A request to `path` as `who`, ready to send.
    pub(crate) fn request(
        &self,
        who: &Caller,
        method: Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = &who.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(csrf) = &who.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(token) = &who.bearer {
            request = request.bearer_auth(token);
        }
        request
    }

    /// Sends a request with an optional JSON body; reads the whole answer.
    pub(crate) async fn call(
        &self,
        who: &Caller,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply> {
        let mut request = self.request(who, method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| path.to_owned())?;
        let status = response.status();
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let bytes = response.bytes().await?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            body,
            cookie,
        })
    }

    /// Signs in with email and password; the reply is checked by the caller.
    pub(crate) async fn sign_in(&self, email: &str, password: &str) -> Result<Reply> {
        self.call(
            &Caller::default(),
            Method::POST,
            "/api/v1/auth/signin",
            Some(json!({ "email": email, "password": password })),
        )
        .await
    }

    /// Signs in and returns the session.
    async fn session(&self, email: &str, password: &str) -> Result<Caller> {
        self.sign_in(email, password)
            .await?
            .expect(StatusCode::OK, "sign-in")?
            .session()
    }

    async fn sign_up(&self, role: &str, email: &str) -> Result<Reply> {
        self.call(
            &Caller::default(),
            Method::POST,
            "/api/v1/auth/signup",
            Some(json!({
                "role": role, "email": email, "password": PASSWORD, "name": email,
                "institution_name": format!("{email} institution"),
            })),
        )
        .await?
        .expect(StatusCode::CREATED, "sign-up")
    }

    /// A new read-only API token of the session's account.
    async fn api_token(&self, session: &Caller) -> Result<Caller> {
        let reply = self
            .call(
                session,
                Method::POST,
                "/api/v1/auth/tokens",
                Some(json!({ "name": "access-load", "scopes": ["read"] })),
            )
            .await?
            .expect(StatusCode::CREATED, "API token")?;
        Ok(Caller::bearer(&reply.text("/token")?))
    }
}

/// A server with its store and chain; everything stops when it is dropped.
pub(crate) struct World {
    pub(crate) api: Api,
    /// The server's permission ledger (for timing its consent check alone).
    pub(crate) ledger: Arc<PermissionLedger>,
    pub(crate) store: Arc<dyn Store>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    committer: Option<tokio::task::JoinHandle<()>>,
    miner: tokio::task::JoinHandle<()>,
    _rpc: RpcServer,
    _node: Node,
    _dir: tempfile::TempDir,
}

impl Drop for World {
    fn drop(&mut self) {
        self.server.abort();
        self.miner.abort();
        if let Some(committer) = &self.committer {
            committer.abort();
        }
    }
}

/// `Instant` for a zero block time, else one block per `block_time`.
pub(crate) fn block_time(block_time: Duration) -> BlockTime {
    if block_time.is_zero() {
        BlockTime::Instant
    } else {
        BlockTime::Interval(block_time)
    }
}

impl World {
    /// A fresh world whose chain makes blocks at `block_time` (zero: a block per
    /// transaction); the access-log committer runs at the block time (1 s for instant
    /// blocks) when `committer` says so.
    pub(crate) async fn new(block_time: Duration, committer: bool) -> Result<World> {
        let dir = tempfile::tempdir()?;
        let supervisor = PrivateKeySigner::random();
        let mut config = NodeConfig::dev(self::block_time(block_time));
        config.supervisor = supervisor.address();
        let payload_key = ChameleonPublicKey::from_bytes(config.chameleon_public_key.0)
            .map_err(|e| anyhow!("chameleon key: {e}"))?;
        let url = format!("sqlite://{}", dir.path().join("v.db").display());
        let store: Arc<dyn Store> = Arc::new(SqlStore::open(&url, &payload_key).await?);
        let node = Node::open(&dir.path().join("chain.db"), config.clone()).await?;
        let miner = node.spawn_miner();
        let rpc = rpc::serve(node.clone(), "127.0.0.1:0".parse()?).await?;
        let deployment = node.deployment();
        let node_ledger = RpcLedger::new(&rpc.url(), config.sealer.clone(), deployment.anchors)?;
        let supervisor_ledger = RpcLedger::new(&rpc.url(), supervisor, deployment.anchors)?;
        let ledger =
            Arc::new(PermissionLedger::connect(node_ledger, supervisor_ledger, deployment).await?);
        let committer = committer.then(|| {
            let interval = if block_time.is_zero() {
                Duration::from_secs(1)
            } else {
                block_time
            };
            AccessLogCommitter::new(
                store.clone(),
                ledger.clone(),
                AccessLogConfig {
                    interval,
                    ..AccessLogConfig::default()
                },
            )
            .spawn()
        });
        let pipeline = Pipeline::spawn(store.clone(), PipelineConfig::default());
        let app = router(AppState::new(
            store.clone(),
            pipeline,
            ApiConfig::default(),
            None,
            Some(ledger.clone()),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .build()?;
        Ok(World {
            api: Api {
                client,
                base: format!("http://{addr}"),
            },
            ledger,
            store,
            server,
            committer,
            miner,
            _rpc: rpc,
            _node: node,
            _dir: dir,
        })
    }

    /// A supervisor account as `vitalis admin create` makes it, signed in.
    async fn supervisor(&self) -> Result<Caller> {
        let email = "supervisor@vitalis.invalid";
        let hash = seal::hash_password(PASSWORD, &mut rand::rng())?;
        self.store
            .create_account(NewAccount {
                role: Role::Supervisor,
                email: email.to_owned(),
                name: email.to_owned(),
                password_hash: Some(hash),
                status: AccountStatus::Active,
                institution: None,
                key: None,
            })
            .await?;
        self.api.session(email, PASSWORD).await
    }
}

/// The patient and the hospital, with what the measurements need.
pub(crate) struct Parties {
    pub(crate) patient_id: String,
    /// The patient's session (for consent grants).
    pub(crate) patient_session: Caller,
    /// The patient's read-only API token.
    pub(crate) patient_token: Caller,
    /// The approved hospital's institution id.
    pub(crate) hospital_id: String,
    /// The hospital's read-only API token.
    pub(crate) hospital_token: Caller,
    /// The time of the first reading (the `from` of every read).
    pub(crate) first_t: i64,
}

/// What [`Parties::set_up`] stored.
pub(crate) struct Stored {
    pub(crate) readings: usize,
    pub(crate) took: Duration,
}

impl Parties {
    /// Signs up a patient and a hospital, approves the hospital, and gives both an API
    /// token. Uploads `readings` readings (half heart rate, half steps, at the same
    /// instants spread over the last day) from a paired device.
    pub(crate) async fn set_up(world: &World, readings: usize) -> Result<(Parties, Stored)> {
        let api = &world.api;
        let signup = api.sign_up("patient", PATIENT_EMAIL).await?;
        let patient_session = signup.session()?;
        let patient_id = signup.text("/account/patient_id")?;
        let patient_token = api.api_token(&patient_session).await?;

        let hospital_email = "hospital@vitalis.invalid";
        let signup = api.sign_up("hospital", hospital_email).await?;
        let hospital_id = signup.text("/account/institution_id")?;
        let supervisor = world.supervisor().await?;
        api.call(
            &supervisor,
            Method::POST,
            &format!("/api/v1/institutions/{hospital_id}/approve"),
            None,
        )
        .await?
        .expect(StatusCode::OK, "approving the hospital")?;
        let hospital_session = api.session(hospital_email, PASSWORD).await?;
        let hospital_token = api.api_token(&hospital_session).await?;

        let started = std::time::Instant::now();
        let paired = api
            .call(
                &patient_session,
                Method::POST,
                &format!("/api/v1/patients/{patient_id}/devices"),
                Some(json!({ "name": "watch", "upload_interval_s": 30 })),
            )
            .await?
            .expect(StatusCode::CREATED, "pairing a device")?;
        let device = Caller::bearer(&paired.text("/token")?);
        let instants = (readings / 2).max(1);
        let step = DAY_MS / instants as i64;
        let first_t = now_ms() - DAY_MS + step;
        let mut stored = 0;
        // Uploads of 500 instants (1,000 readings).
        for chunk in (0..instants).collect::<Vec<_>>().chunks(500) {
            let mut batch = Vec::with_capacity(chunk.len() * 2);
            for &i in chunk {
                let t = first_t + i as i64 * step;
                batch.push(json!({ "metric": "heart_rate", "t": t, "value": 55 + (i % 60), "unit": "/min" }));
                batch.push(
                    json!({ "metric": "steps", "t": t, "value": i % 120, "unit": "{steps}" }),
                );
            }
            stored += batch.len();
            api.call(
                &device,
                Method::POST,
                "/api/v1/readings",
                Some(json!({ "readings": batch })),
            )
            .await?
            .expect(StatusCode::OK, "uploading readings")?;
        }
        let took = started.elapsed();
        Ok((
            Parties {
                patient_id,
                patient_session,
                patient_token,
                hospital_id,
                hospital_token,
                first_t,
            },
            Stored {
                readings: stored,
                took,
            },
        ))
    }

    /// The body of a consent grant to the hospital: read, both sections, for a day.
    pub(crate) fn grant_body(&self) -> Value {
        json!({
            "institution_id": self.hospital_id, "access": ["read"],
            "sections": ["open", "protected"], "purpose": "care",
            "expires_at": now_ms() + DAY_MS,
        })
    }

    /// The path of the patient's consents.
    pub(crate) fn consents_path(&self) -> String {
        format!("/api/v1/patients/{}/consents", self.patient_id)
    }

    /// The measured read: a page of `limit` readings of `metric` from the first one.
    pub(crate) fn read_path(&self, metric: &str, limit: u32) -> String {
        format!(
            "/api/v1/patients/{}/readings?metric={metric}&from={}&limit={limit}",
            self.patient_id, self.first_t
        )
    }
}
