//! `vitalis serve`: the store, the ingest pipeline and the HTTP API in one process.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use vitalis_ingest::{BatchLimits, Pipeline, PipelineConfig};
use vitalis_server::{ApiConfig, AppState};
use vitalis_store::Store;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use vitalis_chain::ledger::RpcLedger;
use vitalis_chain::node::{BlockTime, DEFAULT_CHAIN_ID, DEFAULT_GAS_LIMIT, Node, NodeConfig};
use vitalis_chain::rpc::RpcServer;
use vitalis_ingest::anchoring::{Anchorer, AnchoringConfig};
use vitalis_ingest::verify::Verifier;

use crate::config::{Config, redact};
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
}

/// The embedded chain of a running server.
pub(crate) struct EmbeddedChain {
    _node: Node,
    /// Its JSON-RPC server (stops when dropped).
    _rpc: RpcServer,
    _miner: tokio::task::JoinHandle<()>,
}

/// The store setting that remembers where the contracts were deployed on an external chain.
pub(crate) const EXTERNAL_ANCHORS_SETTING: &str = "external_anchors_address";

/// The anchors contract on an external chain: given, remembered, or deployed now (and
/// remembered; if another node deployed first, its deployment wins).
async fn external_anchors(
    config: &Config,
    store: &dyn Store,
    url: &str,
    key: &PrivateKeySigner,
    keys: &Keys,
) -> Result<Address> {
    if let Some(address) = config.anchors_address {
        return Ok(address);
    }
    if let Some(bytes) = store.setting(EXTERNAL_ANCHORS_SETTING).await? {
        return Address::try_from(bytes.as_slice()).context("stored anchors address");
    }
    let deployment =
        vitalis_chain::ledger::deploy(url, key.clone(), keys.payload_key().to_bytes().into())
            .await
            .with_context(|| format!("deploying the contracts on {url}"))?;
    tracing::info!(registry = %deployment.registry, anchors = %deployment.anchors, "contracts deployed");
    let kept = store
        .put_setting_once(EXTERNAL_ANCHORS_SETTING, deployment.anchors.as_slice())
        .await?;
    Address::try_from(kept.as_slice()).context("stored anchors address")
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
    let (embedded, ledger_url, anchors, key) = match &config.chain_rpc {
        None => {
            let (node, rpc, miner) = start_chain(config, &keys).await?;
            let (url, anchors) = (rpc.url(), node.deployment().anchors);
            let chain = EmbeddedChain {
                _node: node,
                _rpc: rpc,
                _miner: miner,
            };
            (Some(chain), url, anchors, keys.node.clone())
        }
        Some(url) => {
            let key = match &config.chain_key_file {
                Some(path) => crate::keys::read_secp256k1(path)?,
                None => keys.node.clone(),
            };
            let anchors = external_anchors(config, store.as_ref(), url, &key, &keys).await?;
            tracing::info!(rpc = %redact(url), %anchors, account = %key.address(), "anchoring on an external chain");
            (None, url.clone(), anchors, key)
        }
    };
    let ledger = Arc::new(RpcLedger::new(&ledger_url, key, anchors)?);
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
    let pipeline = Pipeline::spawn(
        store.clone(),
        PipelineConfig {
            limits: BatchLimits {
                max_readings: config.max_batch_readings,
            },
            ..PipelineConfig::default()
        },
    );
    let state = AppState {
        store: store.clone(),
        pipeline,
        config: ApiConfig {
            max_body_bytes: config.max_body_bytes,
        },
        verifier: Some(verifier),
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, store = %redact(&config.database_url), "serving");
    let app = vitalis_server::router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
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
