//! What a device publishes, and what the server answers when it refuses a message.
//!
//! A message is the HTTP upload body, `{"readings": [...]}`, with two optional members:
//! `signature`, the base64 Ed25519 signature over the exact bytes of the `readings`
//! value as they appear in the message (from `[` to `]`), and `patient`, the id of the
//! device's patient (needed on an external broker, where no token names the device).

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use serde_json::value::RawValue;
use vitalis_ingest::IngestError;
use vitalis_store::AppendReceipt;

/// Why a message was refused, in the shape of the HTTP error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable machine-readable code (`error.code`).
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The field at fault, if one can be named.
    pub field: Option<String>,
    /// The index of the reading at fault, if any.
    pub index: Option<usize>,
}

/// The two kinds of refusal the server counts apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The payload: not JSON, wrong shape, a reading out of range, too many readings.
    Malformed,
    /// The sender: unknown device, missing or wrong signature, another device's topic.
    Unauthorized,
}

impl Refusal {
    /// A refusal of the sender.
    pub fn unauthorized(code: &str, message: &str) -> Refusal {
        Refusal {
            code: code.to_owned(),
            message: message.to_owned(),
            field: None,
            index: None,
        }
    }

    /// Which counter the refusal goes to.
    pub fn kind(&self) -> RefusalKind {
        match self.code.as_str() {
            "unknown_device" | "signature_required" | "invalid_signature" | "wrong_topic"
            | "unsigned_device" => RefusalKind::Unauthorized,
            _ => RefusalKind::Malformed,
        }
    }

    /// The JSON published on the device's errors topic, as `{"error": {...}}`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "field": self.field,
                "index": self.index,
            }
        }))
        .unwrap_or_default()
    }
}

impl From<IngestError> for Refusal {
    fn from(err: IngestError) -> Refusal {
        Refusal {
            code: err.code().to_owned(),
            message: err.message(),
            field: err.field(),
            index: err.index(),
        }
    }
}

/// The JSON published on the device's receipts topic: the HTTP answer to an upload.
pub fn receipt_json(receipt: &AppendReceipt, upload_interval_s: u32) -> Vec<u8> {
    let mut answer = serde_json::to_value(receipt).unwrap_or_default();
    answer["upload_interval_s"] = serde_json::json!(upload_interval_s);
    serde_json::to_vec(&answer).unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    #[serde(borrow)]
    readings: &'a RawValue,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    patient: Option<String>,
}

/// A decoded message: the readings still as the bytes that were signed.
#[derive(Debug)]
pub struct Message<'a> {
    readings: &'a RawValue,
    signature: Option<String>,
    /// The patient the message names, if any.
    pub patient: Option<String>,
}

impl<'a> Message<'a> {
    /// Decodes the envelope; the readings themselves are checked by the pipeline.
    pub fn parse(payload: &'a [u8]) -> Result<Message<'a>, Refusal> {
        let wire: Wire<'a> = serde_json::from_slice(payload).map_err(|err| {
            let message = err.to_string();
            Refusal::from(if err.is_data() {
                IngestError::InvalidField {
                    field: None,
                    index: None,
                    message,
                }
            } else {
                IngestError::MalformedJson { message }
            })
        })?;
        Ok(Message {
            readings: wire.readings,
            signature: wire.signature,
            patient: wire.patient,
        })
    }

    /// Checks the Ed25519 signature over the exact bytes of the `readings` value.
    pub fn verify(&self, public_key: &[u8; 32]) -> Result<(), Refusal> {
        use base64::Engine;
        let text = self.signature.as_deref().ok_or_else(|| {
            Refusal::unauthorized(
                "signature_required",
                "this device signs its uploads: the message has no signature",
            )
        })?;
        let bad = |message: &str| Refusal::unauthorized("invalid_signature", message);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or_else(|| bad("signature is not a base64 Ed25519 signature"))?;
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| bad("the device's public key is unusable"))?;
        key.verify_strict(
            self.readings.get().as_bytes(),
            &Signature::from_bytes(&bytes),
        )
        .map_err(|_| bad("the signature does not match the readings"))
    }

    /// The upload body the pipeline takes: `{"readings": …}` with the readings as sent.
    pub fn upload_body(&self) -> Vec<u8> {
        let readings = self.readings.get().as_bytes();
        let mut body = Vec::with_capacity(readings.len() + 14);
        body.extend_from_slice(b"{\"readings\":");
        body.extend_from_slice(readings);
        body.push(b'}');
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn a_signature_covers_the_readings_as_sent() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let readings = r#"[ {"metric":"heart_rate","t":1,"value":60} ]"#;
        let sig = base64::engine::general_purpose::STANDARD
            .encode(key.sign(readings.as_bytes()).to_bytes());
        let payload = format!(r#"{{"patient":"p","readings":{readings},"signature":"{sig}"}}"#);
        let message = Message::parse(payload.as_bytes()).unwrap();
        message.verify(&key.verifying_key().to_bytes()).unwrap();
        assert_eq!(message.patient.as_deref(), Some("p"));
        assert_eq!(
            message.upload_body(),
            format!(r#"{{"readings":{readings}}}"#).into_bytes()
        );

        // The same readings with other spacing are other bytes.
        let respaced = payload.replace("[ {", "[{");
        let err = Message::parse(respaced.as_bytes())
            .unwrap()
            .verify(&key.verifying_key().to_bytes())
            .unwrap_err();
        assert_eq!(err.code, "invalid_signature");
        assert_eq!(err.kind(), RefusalKind::Unauthorized);
    }

    #[test]
    fn bad_envelopes_are_refused_with_the_http_codes() {
        assert_eq!(Message::parse(b"{nope").unwrap_err().code, "malformed_json");
        let err = Message::parse(br#"{"readings":[],"extra":1}"#).unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.kind()),
            ("invalid_field", RefusalKind::Malformed)
        );
        let json: serde_json::Value = serde_json::from_slice(&err.to_json()).unwrap();
        assert_eq!(json["error"]["code"], "invalid_field");
        let unsigned = Message::parse(br#"{"readings":[]}"#).unwrap();
        assert_eq!(
            unsigned.verify(&[1; 32]).unwrap_err().code,
            "signature_required"
        );
    }
}
