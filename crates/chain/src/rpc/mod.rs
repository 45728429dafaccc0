//! Ethereum JSON-RPC over HTTP for the embedded node.
//!
//! This layer only translates: it parses JSON-RPC 2.0 requests (single or batch),
//! dispatches `eth_*`, `net_*` and `web3_*` methods to [`methods`], and renders results
//! and errors. Error codes follow the JSON-RPC 2.0 specification (-32700 parse error,
//! -32600 invalid request, -32601 method not found, -32602 invalid params) and common
//! Ethereum nodes (3 with revert data for a reverted call, -32000 for a refused
//! transaction or a server-side condition). No request can crash the server.

mod convert;
mod methods;

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::node::Node;

/// Most requests in one batch.
const MAX_BATCH: usize = 1_000;
/// Largest request body (a raw transaction deploying a large contract fits easily).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The error code.
    pub code: i64,
    /// A message for people.
    pub message: String,
    /// Extra data (revert data for code 3).
    pub data: Option<Value>,
}

impl RpcError {
    /// -32602: the parameters do not fit the method.
    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError {
            code: -32602,
            message: message.into(),
            data: None,
        }
    }

    /// -32000: a server-side condition (refused transaction, unavailable data, …).
    pub fn server(message: impl Into<String>) -> RpcError {
        RpcError {
            code: -32000,
            message: message.into(),
            data: None,
        }
    }

    /// -32603: an internal failure (the block store could not be read).
    pub fn internal(message: impl Into<String>) -> RpcError {
        RpcError {
            code: -32603,
            message: message.into(),
            data: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        error
    }
}

/// The axum router serving JSON-RPC at `/`.
pub fn router(node: Node) -> axum::Router {
    axum::Router::new()
        .route("/", post(handle))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(node)
}

/// A running JSON-RPC server; dropping it stops the server.
#[derive(Debug)]
pub struct RpcServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RpcServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URL (`http://ADDR`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves JSON-RPC for `node` on `addr` (port 0 picks a free port).
pub async fn serve(node: Node, addr: SocketAddr) -> std::io::Result<RpcServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = router(node);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "JSON-RPC server stopped");
        }
    });
    Ok(RpcServer { addr, task })
}

async fn handle(State(node): State<Node>, body: Bytes) -> Response {
    let response = match serde_json::from_slice::<Value>(&body) {
        Err(e) => error_response(Value::Null, &parse_error(e)),
        Ok(Value::Array(calls)) if calls.is_empty() => {
            error_response(Value::Null, &invalid_request("empty batch"))
        }
        Ok(Value::Array(calls)) if calls.len() > MAX_BATCH => error_response(
            Value::Null,
            &invalid_request(format!("batch of more than {MAX_BATCH} requests")),
        ),
        Ok(Value::Array(calls)) => {
            let mut out = Vec::with_capacity(calls.len());
            for call in calls {
                if let Some(r) = handle_one(&node, call).await {
                    out.push(r);
                }
                // A call may run for tens of microseconds without awaiting anything (a
                // raw transaction's signer recovery); let other tasks, such as the miner
                // storing a block, run between calls rather than after the whole batch.
                tokio::task::yield_now().await;
            }
            if out.is_empty() {
                return StatusCode::NO_CONTENT.into_response();
            }
            Value::Array(out)
        }
        Ok(call) => match handle_one(&node, call).await {
            Some(r) => r,
            None => return StatusCode::NO_CONTENT.into_response(),
        },
    };
    let mut response = axum::Json(response).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Handles one request object; `None` for a notification (no `id`).
async fn handle_one(node: &Node, call: Value) -> Option<Value> {
    let Value::Object(mut call) = call else {
        return Some(error_response(
            Value::Null,
            &invalid_request("a request must be an object"),
        ));
    };
    let id = call.remove("id");
    let is_notification = id.is_none();
    let id = id.unwrap_or(Value::Null);
    if !matches!(id, Value::Null | Value::Number(_) | Value::String(_)) {
        return Some(error_response(
            Value::Null,
            &invalid_request("id must be a number, a string or null"),
        ));
    }
    if call.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(error_response(
            id,
            &invalid_request("jsonrpc must be \"2.0\""),
        ));
    }
    let Some(method) = call
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Some(error_response(
            id,
            &invalid_request("method must be a string"),
        ));
    };
    let params = match call.remove("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(params)) => params,
        Some(_) => {
            return Some(error_response(
                id,
                &RpcError::invalid_params("params must be an array"),
            ));
        }
    };
    let result = methods::dispatch(node, &method, params).await;
    if is_notification {
        return None;
    }
    Some(match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(e) => error_response(id, &e),
    })
}

fn error_response(id: Value, error: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": error.to_json()})
}

fn parse_error(e: serde_json::Error) -> RpcError {
    RpcError {
        code: -32700,
        message: format!("parse error: {e}"),
        data: None,
    }
}

fn invalid_request(message: impl Into<String>) -> RpcError {
    RpcError {
        code: -32600,
        message: format!("invalid request: {}", message.into()),
        data: None,
    }
}
