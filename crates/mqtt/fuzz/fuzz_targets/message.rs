//! Fuzz target: the envelope of a device's MQTT message (`{"readings": [...]}` with an
//! optional `signature` and `patient`) must decode or be refused, never panic; and what
//! decodes must keep the readings as the exact bytes that were signed.

#![no_main]

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;
use vitalis_mqtt::message::Message;

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_bytes(&[7; 32]);
    let message = match Message::parse(data) {
        Ok(message) => message,
        Err(refusal) => {
            let _ = refusal.kind();
            let json: serde_json::Value =
                serde_json::from_slice(&refusal.to_json()).expect("a refusal is published as JSON");
            assert_eq!(json["error"]["code"], refusal.code.as_str());
            return;
        }
    };
    // Whatever signature text came with it, checking it ends in yes or no.
    let _ = message.verify(&key.verifying_key().to_bytes());
    let _ = message.verify(&[0; 32]);

    // The pipeline's body is JSON with the readings as sent.
    let body = message.upload_body();
    let value: serde_json::Value = serde_json::from_slice(&body).expect("the upload body is JSON");
    assert!(value.get("readings").is_some());
    let readings = &body[b"{\"readings\":".len()..body.len() - 1];

    // Signed again over those bytes, the message verifies.
    let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(readings).to_bytes());
    let mut signed = b"{\"signature\":\"".to_vec();
    signed.extend_from_slice(signature.as_bytes());
    signed.extend_from_slice(b"\",\"readings\":");
    signed.extend_from_slice(readings);
    signed.push(b'}');
    let resigned = Message::parse(&signed).expect("the readings of a decoded message decode");
    resigned
        .verify(&key.verifying_key().to_bytes())
        .expect("a signature over the readings as sent verifies");
    assert_eq!(resigned.upload_body(), body);
});
