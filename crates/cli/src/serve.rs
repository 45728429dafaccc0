//! `vitalis serve`: the store, the ingest pipeline and the HTTP API in one process.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;
use vitalis_ingest::{BatchLimits, Pipeline, PipelineConfig};
use vitalis_server::{ApiConfig, AppState};
use vitalis_store::Store;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use vitalis_chain::contracts::Anchors;
use vitalis_chain::genesis::Deployment;
use vitalis_chain::ledger::{RpcLedger, deploy_permissions};
use vitalis_chain::node::{BlockTime, DEFAULT_CHAIN_ID, DEFAULT_GAS_LIMIT, Node, NodeConfig};
use vitalis_chain::permissions::PermissionLedger;
use vitalis_chain::rpc::RpcServer;
use vitalis_ingest::access_log::{AccessLogCommitter, AccessLogConfig};
use vitalis_ingest::anchoring::{Anchorer, AnchoringConfig};
use vitalis_ingest::verify::Verifier;

use crate::config::{Config, MqttMode, redact};
use crate::keys::Keys;

/// A running server.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The embedded chain, unless anchoring goes to an external node.
    pub(crate) embedded: Option<EmbeddedChain>,
    /// The JSON-RPC URL of the chain anchors go to.
    pub(crate) ledger_url: String,
    /// The anchors contract there.
    pub(crate) anchors: Address,
    _anchorer: tokio::task::JoinHandle<()>,
    _access_log: tokio::task::JoinHandle<()>,
    _alerts: tokio::task::JoinHandle<()>,
    /// The MQTT way in, if any (stops when dropped).
    _mqtt: Option<Mqtt>,
}

/// The running MQTT way in; held only to keep it running.
pub(crate) enum Mqtt {
    Embedded {
        _broker: vitalis_mqtt::EmbeddedBroker,
    },
    External {
        _consumer: vitalis_mqtt::ExternalConsumer,
    },
}

/// Starts the MQTT way in `config` asks for, with a task that logs its counters.
async fn start_mqtt(
    config: &Config,
    pipeline: &Pipeline,
    store: &Arc<dyn Store>,
) -> Result<Option<Mqtt>> {
    let ingestor = Arc::new(vitalis_mqtt::Ingestor::new(pipeline.clone(), store.clone()));
    let mqtt = match &config.mqtt {
        MqttMode::Off => return Ok(None),
        MqttMode::External { url } => {
            tracing::info!(broker = %redact(url), "consuming device readings from an MQTT broker");
            Mqtt::External {
                _consumer: vitalis_mqtt::ExternalConsumer::start(url, ingestor.clone())?,
            }
        }
        MqttMode::Embedded { listen, explicit } => {
            let broker_config = vitalis_mqtt::BrokerConfig {
                listen: *listen,
                max_packet_bytes: config.max_body_bytes + 1024,
                ..vitalis_mqtt::BrokerConfig::default()
            };
            match vitalis_mqtt::EmbeddedBroker::start(broker_config, ingestor.clone()).await {
                Ok(broker) => {
                    tracing::info!(addr = %broker.local_addr(), "MQTT endpoint for devices");
                    Mqtt::Embedded { _broker: broker }
                }
                // Only the default address gives way, so that a second server on the
                // same machine still starts; an address asked for must be had.
                Err(err) if !explicit && err.kind() == std::io::ErrorKind::AddrInUse => {
                    tracing::warn!(%listen, "MQTT endpoint not started: the default address is in use (set --mqtt-listen)");
                    return Ok(None);
                }
                Err(err) => {
                    return Err(err)
                        .with_context(|| format!("binding the MQTT endpoint on {listen}"));
                }
            }
        }
    };
    tokio::spawn(log_mqtt_counters(ingestor));
    Ok(Some(mqtt))
}

/// Logs the MQTT counters once a minute when they moved (refusals at warn level).
async fn log_mqtt_counters(ingestor: Arc<vitalis_mqtt::Ingestor>) {
    let mut last = vitalis_mqtt::StatsSnapshot::default();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        // Ends with the server: nobody else holds the ingestor then.
        if Arc::strong_count(&ingestor) == 1 {
            return;
        }
        let now = ingestor.stats().snapshot();
        if now == last {
            continue;
        }
        let refused = now.malformed + now.unauthorized > last.malformed + last.unauthorized;
        let counters = serde_json::to_string(&now).unwrap_or_default();
        if refused {
            tracing::warn!(%counters, "MQTT counters (messages refused since the last report)");
        } else {
            tracing::info!(%counters, "MQTT counters");
        }
        last = now;
    }
}

/// The embedded chain of a running server.
pub(crate) struct EmbeddedChain {
    _node: Node,
    /// Its JSON-RPC server (stops when dropped).
    _rpc: RpcServer,
    _miner: tokio::task::JoinHandle<()>,
}

/// The store setting that remembers the anchors contract on an external chain (written
/// by every version; the only one older versions wrote).
pub(crate) const EXTERNAL_ANCHORS_SETTING: &str = "external_anchors_address";

/// The store setting that remembers every contract deployed on an external chain: the
/// addresses of the registry, anchors, consent and access-log contracts, 20 bytes each.
pub(crate) const EXTERNAL_DEPLOYMENT_SETTING: &str = "external_deployment";

fn encode_deployment(d: &Deployment) -> Vec<u8> {
    [d.registry, d.anchors, d.consent, d.access_log]
        .iter()
        .flat_map(|a| a.0)
        .collect()
}

fn decode_deployment(bytes: &[u8]) -> Result<Deployment> {
    let [registry, anchors, consent, access_log] = <[u8; 80]>::try_from(bytes)
        .map(|b| [0, 20, 40, 60].map(|at| Address::from_slice(&b[at..at + 20])))
        .map_err(|_| {
            anyhow::anyhow!(
                "stored setting {EXTERNAL_DEPLOYMENT_SETTING}: {} bytes, expected 80",
                bytes.len()
            )
        })?;
    Ok(Deployment {
        registry,
        anchors,
        consent,
        access_log,
    })
}

/// The anchors contract remembered for the external chain, if any.
pub(crate) async fn remembered_anchors(store: &dyn Store) -> Result<Option<Address>> {
    if let Some(bytes) = store.setting(EXTERNAL_DEPLOYMENT_SETTING).await? {
        return Ok(Some(decode_deployment(&bytes)?.anchors));
    }
    match store.setting(EXTERNAL_ANCHORS_SETTING).await? {
        Some(bytes) => Ok(Some(
            Address::try_from(bytes.as_slice()).context("stored anchors address")?,
        )),
        None => Ok(None),
    }
}

/// Remembers `deployment` for good; if another node remembered one first, that one wins
/// and is returned.
async fn remember(store: &dyn Store, deployment: &Deployment) -> Result<Deployment> {
    let kept = decode_deployment(
        &store
            .put_setting_once(EXTERNAL_DEPLOYMENT_SETTING, &encode_deployment(deployment))
            .await?,
    )?;
    // What older versions read.
    store
        .put_setting_once(EXTERNAL_ANCHORS_SETTING, kept.anchors.as_slice())
        .await?;
    Ok(kept)
}

/// The contracts on an external chain: remembered in the store; or, when only the anchors
/// contract is known (given by --anchors-address, or remembered by an older version), its
/// registry with the consent and access-log contracts deployed over it now; or all of them
/// deployed now. What is deployed is remembered (if another node deployed first, its
/// deployment wins). `ledger` signs with the deploying key.
async fn external_deployment(
    config: &Config,
    store: &dyn Store,
    url: &str,
    ledger: &RpcLedger,
    key: &PrivateKeySigner,
    keys: &Keys,
) -> Result<Deployment> {
    if let Some(bytes) = store.setting(EXTERNAL_DEPLOYMENT_SETTING).await? {
        let deployment = decode_deployment(&bytes)?;
        if let Some(given) = config.anchors_address
            && given != deployment.anchors
        {
            bail!(
                "--anchors-address {given} is not the anchors contract this store uses on {} ({})",
                redact(url),
                deployment.anchors
            );
        }
        return Ok(deployment);
    }
    let anchors = match config.anchors_address {
        Some(address) => Some(address),
        None => match store.setting(EXTERNAL_ANCHORS_SETTING).await? {
            Some(bytes) => {
                Some(Address::try_from(bytes.as_slice()).context("stored anchors address")?)
            }
            None => None,
        },
    };
    let deployment = match anchors {
        Some(anchors) => {
            let registry = Anchors::new(anchors, ledger.provider())
                .registry()
                .call()
                .await
                .with_context(|| {
                    format!(
                        "reading the registry of the anchors contract {anchors} on {}",
                        redact(url)
                    )
                })?;
            let (consent, access_log) = deploy_permissions(ledger.provider(), registry)
                .await
                .with_context(|| {
                    format!(
                        "deploying the consent and access-log contracts on {}",
                        redact(url)
                    )
                })?;
            Deployment {
                registry,
                anchors,
                consent,
                access_log,
            }
        }
        None => {
            vitalis_chain::ledger::deploy(url, key.clone(), keys.payload_key().to_bytes().into())
                .await
                .with_context(|| format!("deploying the contracts on {}", redact(url)))?
        }
    };
    tracing::info!(
        registry = %deployment.registry,
        anchors = %deployment.anchors,
        consent = %deployment.consent,
        access_log = %deployment.access_log,
        "contracts deployed"
    );
    remember(store, &deployment).await
}

/// Opens the embedded chain in the data directory and serves its JSON-RPC.
async fn start_chain(
    config: &Config,
    keys: &Keys,
) -> Result<(Node, RpcServer, tokio::task::JoinHandle<()>)> {
    let node_config = NodeConfig {
        chain_id: DEFAULT_CHAIN_ID,
        block_time: BlockTime::Interval(config.block_time),
        gas_limit: DEFAULT_GAS_LIMIT,
        sealer: keys.node.clone(),
        supervisor: keys.supervisor.address(),
        chameleon_public_key: keys.payload_key().to_bytes().into(),
        alloc: Vec::new(),
    };
    let path = config.data_dir.join("chain.db");
    let node = Node::open(&path, node_config)
        .await
        .with_context(|| format!("opening the chain at {}", path.display()))?;
    let miner = node.spawn_miner();
    let rpc = vitalis_chain::rpc::serve(node.clone(), config.chain_listen)
        .await
        .with_context(|| format!("binding the chain's JSON-RPC on {}", config.chain_listen))?;
    tracing::info!(
        rpc = %rpc.url(),
        block_time = ?config.block_time,
        anchors = %node.deployment().anchors,
        head = node.head().header.number,
        "embedded chain"
    );
    Ok((node, rpc, miner))
}

/// Opens the store and the chain and starts serving on `config.listen`; returns once the
/// sockets are bound.
pub(crate) async fn start(config: &Config) -> Result<Running> {
    let keys = config.keys()?;
    let store: Arc<dyn Store> = Arc::new(config.open_store().await?);
    // The node's ledger (anchors, access-log batches, consent transactions) and the
    // supervisor's (the identity registry). Clones share one send lock per key.
    let (embedded, ledger_url, deployment, node_ledger, supervisor_ledger) = match &config.chain_rpc
    {
        None => {
            let (node, rpc, miner) = start_chain(config, &keys).await?;
            let (url, deployment) = (rpc.url(), node.deployment());
            let chain = EmbeddedChain {
                _node: node,
                _rpc: rpc,
                _miner: miner,
            };
            let node_ledger = RpcLedger::new(&url, keys.node.clone(), deployment.anchors)?;
            let supervisor_ledger =
                RpcLedger::new(&url, keys.supervisor.clone(), deployment.anchors)?;
            (Some(chain), url, deployment, node_ledger, supervisor_ledger)
        }
        Some(url) => {
            let key = match &config.chain_key_file {
                Some(path) => crate::keys::read_secp256k1(path)?,
                None => keys.node.clone(),
            };
            // Signs the deployments, before the anchors contract is known.
            let deployer = RpcLedger::new(url, key.clone(), Address::ZERO)?;
            let deployment =
                external_deployment(config, store.as_ref(), url, &deployer, &key, &keys).await?;
            // The deploying key is both supervisor and anchoring node: one ledger, one
            // send lock.
            let ledger = RpcLedger::new(url, key.clone(), deployment.anchors)?;
            tracing::info!(
                rpc = %redact(url),
                anchors = %deployment.anchors,
                account = %key.address(),
                "anchoring on an external chain"
            );
            (None, url.clone(), deployment, ledger.clone(), ledger)
        }
    };
    let anchors = deployment.anchors;
    let permissions = Arc::new(
        PermissionLedger::connect(node_ledger.clone(), supervisor_ledger, deployment)
            .await
            .with_context(|| format!("connecting to the ledger at {}", redact(&ledger_url)))?,
    );
    let ledger = Arc::new(node_ledger);
    let verifier = Arc::new(Verifier::new(
        store.clone(),
        ledger.clone(),
        keys.payload_key(),
    ));
    let anchorer = Anchorer::new(
        store.clone(),
        ledger,
        AnchoringConfig {
            interval: config.block_time,
            ..AnchoringConfig::default()
        },
    )
    .spawn();
    let access_log = AccessLogCommitter::new(
        store.clone(),
        permissions.clone(),
        AccessLogConfig {
            interval: config.block_time,
            ..AccessLogConfig::default()
        },
    )
    .spawn();
    let sealing = config.sealing(store.clone()).await?;
    let pipeline = Pipeline::spawn(
        store.clone(),
        PipelineConfig {
            limits: BatchLimits {
                max_readings: config.max_batch_readings,
            },
            ..PipelineConfig::default()
        },
    )
    .with_sealer(sealing.sealer.clone());
    // Alert rules: thresholds on every stored batch, device silence on a timer.
    let alerter = vitalis_ingest::alerts::Alerter::new(
        store.clone(),
        vitalis_ingest::alerts::AlertConfig::default(),
    );
    let alerts = alerter.clone().spawn(&pipeline);
    let mqtt = start_mqtt(config, &pipeline, &store).await?;
    let state = AppState::new(
        store.clone(),
        pipeline,
        ApiConfig {
            max_body_bytes: config.max_body_bytes,
            secure_cookies: config.secure_cookies,
        },
        Some(verifier),
        Some(permissions),
    )
    .with_alerter(alerter)
    .with_sealing(sealing);
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, store = %redact(&config.database_url), "serving");
    let app = vitalis_server::router(state);
    let task = tokio::spawn(async move {
        // Client addresses reach the handlers for per-address sign-in rate limits.
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
    });
    Ok(Running {
        addr,
        store,
        task,
        embedded,
        ledger_url,
        anchors,
        _anchorer: anchorer,
        _alerts: alerts,
        _access_log: access_log,
        _mqtt: mqtt,
    })
}

/// `vitalis serve`.
pub(crate) async fn run(config: Config) -> Result<()> {
    let running = start(&config).await?;
    // One line on stdout (scripts read it); the chain's address is in the log.
    println!("vitalis: listening on http://{}", running.addr);
    running.task.await??;
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
