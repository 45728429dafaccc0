//! `vitalis serve`: the store, the ingest pipeline and the HTTP API in one process.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use vitalis_ingest::{BatchLimits, Pipeline, PipelineConfig};
use vitalis_server::{ApiConfig, AppState};
use vitalis_store::Store;

use crate::config::{Config, redact};

/// A running server.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Opens the store and starts serving on `config.listen`; returns once the socket is bound.
pub(crate) async fn start(config: &Config) -> Result<Running> {
    let store: Arc<dyn Store> = Arc::new(config.open_store().await?);
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
    Ok(Running { addr, store, task })
}

/// `vitalis serve`.
pub(crate) async fn run(config: Config) -> Result<()> {
    let running = start(&config).await?;
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
