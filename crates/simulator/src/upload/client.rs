//! One upload attempt: a batch posted to `POST /api/v1/readings`, and what the answer
//! means for the batch (acknowledged, rejected for good, or worth retrying).

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Client, StatusCode, Url};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vitalis_model::RawReading;

/// The longest part of a rejection body that is logged.
const MAX_LOGGED_BODY_CHARS: usize = 1_000;

/// A batch ready to send: serialized once, with the idempotency key it keeps across
/// retries so the server can recognise a repeat.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub(crate) key: Uuid,
    pub(crate) len: usize,
    body: Vec<u8>,
}

#[derive(Serialize)]
struct UploadBody<'a> {
    readings: &'a [RawReading],
}

impl Batch {
    pub(crate) fn new(readings: &[RawReading]) -> serde_json::Result<Batch> {
        let body = serde_json::to_vec(&UploadBody { readings })?;
        Ok(Batch {
            key: Uuid::new_v4(),
            len: readings.len(),
            body,
        })
    }
}

/// The part of a 200 answer the simulator uses; other fields are ignored.
#[derive(Debug, Deserialize)]
struct UploadAnswer {
    accepted: u64,
    duplicates: u64,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server stored or recognised this many readings.
    Acknowledged(u64),
    /// The server refused the batch for good; retrying would not help.
    Rejected { status: StatusCode, body: String },
    /// A transient failure: send the same batch again later.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
}

/// How a status code is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Success,
    Retry,
    Reject,
}

/// 2xx succeeds; 5xx, 408 (timeout) and 429 (too many requests) are transient; anything
/// else is the sender's problem and final.
pub(crate) fn verdict(status: StatusCode) -> Verdict {
    if status.is_success() {
        Verdict::Success
    } else if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Verdict::Retry
    } else {
        Verdict::Reject
    }
}

/// Posts batches for one device.
#[derive(Debug, Clone)]
pub(crate) struct Uploader {
    client: Client,
    endpoint: Url,
    authorization: HeaderValue,
    device: usize,
}

impl Uploader {
    /// `None` when the token cannot travel in a header.
    pub(crate) fn new(
        client: Client,
        endpoint: Url,
        token: &str,
        device: usize,
    ) -> Option<Uploader> {
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
        authorization.set_sensitive(true);
        Some(Uploader {
            client,
            endpoint,
            authorization,
            device,
        })
    }

    pub(crate) fn device(&self) -> usize {
        self.device
    }

    /// One attempt to deliver `batch`.
    pub(crate) async fn post(&self, batch: &Batch) -> Outcome {
        let request = self
            .client
            .post(self.endpoint.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header("Idempotency-Key", batch.key.to_string())
            .header(CONTENT_TYPE, "application/json")
            .body(batch.body.clone());
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return Outcome::Retry {
                    reason: describe(&e),
                    retry_after: None,
                };
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers().get(RETRY_AFTER));
        match verdict(status) {
            Verdict::Success => self.acknowledged(batch, response).await,
            Verdict::Retry => Outcome::Retry {
                reason: format!("server answered {status}"),
                retry_after,
            },
            Verdict::Reject => {
                let body = response.text().await.unwrap_or_default();
                Outcome::Rejected {
                    status,
                    body: body.chars().take(MAX_LOGGED_BODY_CHARS).collect(),
                }
            }
        }
    }

    async fn acknowledged(&self, batch: &Batch, response: reqwest::Response) -> Outcome {
        match response.json::<UploadAnswer>().await {
            Ok(answer) => Outcome::Acknowledged(answer.accepted + answer.duplicates),
            Err(e) => {
                // The server took the batch; only its summary is unreadable.
                tracing::warn!(device = self.device, key = %batch.key, error = %e, "unreadable upload answer");
                Outcome::Acknowledged(batch.len as u64)
            }
        }
    }
}

/// A network error in a few words, with its root cause (reqwest's display omits it).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut root: &dyn std::error::Error = e;
    while let Some(cause) = root.source() {
        root = cause;
    }
    format!("{kind}: {root}")
}

/// `Retry-After` in whole seconds (the HTTP-date form is not used by our server).
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let seconds: u64 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_statuses_are_retried_and_client_errors_are_final() {
        let cases = [
            (200, Verdict::Success),
            (201, Verdict::Success),
            (400, Verdict::Reject),
            (401, Verdict::Reject),
            (404, Verdict::Reject),
            (408, Verdict::Retry),
            (413, Verdict::Reject),
            (422, Verdict::Reject),
            (429, Verdict::Retry),
            (500, Verdict::Retry),
            (503, Verdict::Retry),
        ];
        for (code, expected) in cases {
            assert_eq!(
                verdict(StatusCode::from_u16(code).unwrap()),
                expected,
                "{code}"
            );
        }
    }

    #[test]
    fn retry_after_takes_whole_seconds() {
        assert_eq!(
            retry_after(Some(&HeaderValue::from_static("3"))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(retry_after(Some(&HeaderValue::from_static("soon"))), None);
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn batch_body_is_the_wire_form() {
        let reading: RawReading =
            serde_json::from_str(r#"{"metric":"heart_rate","t":5000,"value":61.0,"unit":"/min"}"#)
                .unwrap();
        let batch = Batch::new(std::slice::from_ref(&reading)).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&batch.body).unwrap();
        assert_eq!(body, serde_json::json!({"readings": [reading]}));
        assert_eq!(batch.len, 1);
        assert_ne!(
            Batch::new(&[]).unwrap().key,
            batch.key,
            "a fresh key per batch"
        );
    }
}
