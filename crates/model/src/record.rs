//! Records: the unit of storage and proof (DESIGN.md §2).
//!
//! A record is a batch of one patient's readings from one source over one interval, in
//! one section. Its payload is encoded canonically ([`encode_payload`]), addressed by a
//! CIDv1 (raw codec, sha2-256) over the stored bytes ([`ContentId::of`]), and bound to
//! its header by a [`Commitment`]. Each record's header carries the patient's sequence
//! number and the previous record's commitment, so the records of one patient form a
//! hash chain in which a gap, a reordering or an altered record is detectable
//! ([`verify_chain`]).
//!
//! The commitment is SHA-256 over a domain-separated, length-prefixed encoding of the
//! header, whose last field is the [`PayloadHash`]: a chameleon hash of the payload's
//! SHA-256 digest under the supervisor's public key (computed by `vitalis-crypto`; this
//! crate treats it as 32 opaque bytes). Anyone can check that a payload opens its
//! payload hash with the record's stored randomness; only the supervisor's trapdoor can
//! find randomness that opens it to a corrected payload. So a correction changes the
//! payload, its CID and the randomness, and never the commitment, the chain links or any
//! anchored Merkle root.

use std::fmt;

use cid::Cid;
use multihash::Multihash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{DeviceId, PatientId};
use crate::metric::Metric;
use crate::reading::{Reading, Timestamp, Value};
use crate::section::Section;

/// Version of [`encode_payload`]'s format, stored with every record.
pub const ENCODING_V1: u16 = 1;

/// Bit of a record's `encoding` that says its stored payload is sealed (encrypted under
/// the record's own data key); the other bits name the plaintext's format. The
/// commitment binds the whole field, so the bit cannot be removed unnoticed.
pub const ENCODING_SEALED: u16 = 0x8000;

/// Whether a record of this `encoding` stores a sealed payload.
pub const fn is_sealed(encoding: u16) -> bool {
    encoding & ENCODING_SEALED != 0
}

/// The format of a record's plaintext payload (its `encoding` without the sealed bit).
pub const fn plaintext_encoding(encoding: u16) -> u16 {
    encoding & !ENCODING_SEALED
}

/// Domain separator of [`sealing_context`].
const SEALING_DOMAIN: &[u8] = b"vitalis/sealed-record/v1";

/// The associated data a sealed record's payload (and its wrapped data key) is bound to:
/// the patient, sequence number, section and time range, so a ciphertext moved to another
/// record, or a header changed, fails to open.
pub fn sealing_context(
    patient: &PatientId,
    seq: u64,
    section: Section,
    t_from: Timestamp,
    t_to: Timestamp,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEALING_DOMAIN.len() + 64);
    out.extend_from_slice(SEALING_DOMAIN);
    for field in [patient.as_str(), section.name()] {
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&t_from.millis().to_be_bytes());
    out.extend_from_slice(&t_to.millis().to_be_bytes());
    out
}

/// Multicodec code of the `raw` codec.
const RAW_CODEC: u64 = 0x55;
/// Multihash code of sha2-256.
const SHA2_256: u64 = 0x12;

/// Domain separator of record commitments.
const COMMITMENT_DOMAIN: &[u8] = b"vitalis/record-commitment/v2";

/// The content id of a record's stored bytes: CIDv1, raw codec, sha2-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentId(Cid);

impl ContentId {
    /// The CID of `bytes`.
    pub fn of(bytes: &[u8]) -> ContentId {
        let digest = Sha256::digest(bytes);
        ContentId::from_sha256(digest.into())
    }

    fn from_sha256(digest: [u8; 32]) -> ContentId {
        // A 32-byte digest always fits the 64-byte multihash.
        let mh = Multihash::<64>::wrap(SHA2_256, &digest).expect("32-byte digest fits");
        ContentId(Cid::new_v1(RAW_CODEC, mh))
    }

    /// The sha2-256 digest inside the CID.
    pub fn digest(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.hash().digest());
        out
    }

    /// Parses the textual (base32) form, accepting only CIDv1 raw sha2-256.
    pub fn parse(text: &str) -> Option<ContentId> {
        let cid = Cid::try_from(text).ok()?;
        let ok = cid.version() == cid::Version::V1
            && cid.codec() == RAW_CODEC
            && cid.hash().code() == SHA2_256
            && cid.hash().digest().len() == 32;
        ok.then_some(ContentId(cid))
    }

    /// Binary form (version, codec, multihash).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }
}

impl fmt::Display for ContentId {
    /// Base32 lower-case multibase text, as IPFS tools print it (`bafkrei…`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A record commitment (32 bytes), shown as lower-case hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Commitment(pub [u8; 32]);

impl Commitment {
    /// The `prev` of a patient's first record.
    pub const GENESIS: Commitment = Commitment([0u8; 32]);

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Commitment> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Commitment(out))
    }
}

impl fmt::Debug for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Commitment({})", self.to_hex())
    }
}

impl fmt::Display for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The chameleon hash of a record payload's SHA-256 digest (32 bytes, lower-case hex):
/// what a commitment binds of the payload.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PayloadHash(pub [u8; 32]);

impl PayloadHash {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<PayloadHash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(PayloadHash(out))
    }
}

impl fmt::Debug for PayloadHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayloadHash({})", self.to_hex())
    }
}

/// The randomness that opens a [`PayloadHash`] to a payload (64 bytes: a ristretto255
/// point and a scalar, see `vitalis-crypto`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Opening(pub [u8; 64]);

impl Opening {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Opening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Opening({})", self.to_hex())
    }
}

/// Everything a commitment binds.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordHeader {
    /// Whose readings.
    pub patient: PatientId,
    /// Which device sent them.
    pub source: DeviceId,
    /// Which section.
    pub section: Section,
    /// Payload format version.
    pub encoding: u16,
    /// Earliest reading.
    pub t_from: Timestamp,
    /// Latest reading.
    pub t_to: Timestamp,
    /// Position in the patient's chain, from 1.
    pub seq: u64,
    /// Commitment of the patient's record `seq - 1` ([`Commitment::GENESIS`] for seq 1).
    pub prev: Commitment,
    /// Chameleon hash of the payload's digest.
    pub payload_hash: PayloadHash,
}

impl RecordHeader {
    /// `SHA-256(domain ‖ len-prefixed fields ‖ payload hash)`.
    pub fn commitment(&self) -> Commitment {
        let mut h = Sha256::new();
        h.update(COMMITMENT_DOMAIN);
        for field in [
            self.patient.as_str(),
            self.source.as_str(),
            self.section.name(),
        ] {
            h.update((field.len() as u32).to_be_bytes());
            h.update(field.as_bytes());
        }
        h.update(self.encoding.to_be_bytes());
        h.update(self.t_from.millis().to_be_bytes());
        h.update(self.t_to.millis().to_be_bytes());
        h.update(self.seq.to_be_bytes());
        h.update(self.prev.0);
        h.update(self.payload_hash.0);
        Commitment(h.finalize().into())
    }
}

/// One reading inside a payload. Field names are short: the payload is stored per record.
#[derive(Serialize, Deserialize)]
struct PayloadReading {
    m: Metric,
    t: Timestamp,
    v: Value,
}

/// Canonical payload bytes (format [`ENCODING_V1`]): a JSON array of `{"m","t","v"}` in the
/// given order. Deterministic: the same readings always give the same bytes.
pub fn encode_payload(readings: &[Reading]) -> Vec<u8> {
    let rows: Vec<PayloadReading> = readings
        .iter()
        .map(|r| PayloadReading {
            m: r.metric(),
            t: r.t(),
            v: r.value(),
        })
        .collect();
    // Serializing plain structs of numbers and enums into a Vec cannot fail.
    serde_json::to_vec(&rows).expect("payload serializes")
}

/// A payload that is not valid [`ENCODING_V1`].
#[derive(Debug, thiserror::Error)]
#[error("payload is not a valid v1 encoding: {0}")]
pub struct PayloadError(String);

/// Decodes [`encode_payload`]'s output, re-validating every reading (against `now`).
pub fn decode_payload(bytes: &[u8], now: Timestamp) -> Result<Vec<Reading>, PayloadError> {
    let rows: Vec<PayloadReading> =
        serde_json::from_slice(bytes).map_err(|e| PayloadError(e.to_string()))?;
    rows.into_iter()
        .map(|r| Reading::new(r.m, r.t, r.v, now).map_err(|e| PayloadError(e.to_string())))
        .collect()
}

/// A stored record as the chain check needs it.
#[derive(Debug, Clone)]
pub struct ChainLink {
    /// The header.
    pub header: RecordHeader,
    /// The stored content id of the payload.
    pub cid: ContentId,
    /// The randomness that opens the header's payload hash to the payload.
    pub opening: Opening,
    /// The stored commitment.
    pub commitment: Commitment,
    /// The stored payload bytes.
    pub payload: Vec<u8>,
}

/// What is wrong with a patient's chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A sequence number is missing or repeated.
    #[error("expected seq {expected}, found {found}")]
    Gap {
        /// The next number expected.
        expected: u64,
        /// The number found.
        found: u64,
    },
    /// A record's `prev` is not its predecessor's commitment.
    #[error("record {seq} does not link to its predecessor")]
    BrokenLink {
        /// The record.
        seq: u64,
    },
    /// The payload's CID does not match the stored CID.
    #[error("record {seq}: payload does not match its content id")]
    PayloadMismatch {
        /// The record.
        seq: u64,
    },
    /// The payload hash does not open to the payload's digest with the stored randomness.
    #[error("record {seq}: payload hash does not open to the payload")]
    PayloadHashMismatch {
        /// The record.
        seq: u64,
    },
    /// The stored commitment is not the header's commitment.
    #[error("record {seq}: commitment does not match its header")]
    CommitmentMismatch {
        /// The record.
        seq: u64,
    },
}

/// Checks a patient's records in order, starting at `seq 1`: sequence, link, payload
/// against its CID, payload hash against the payload (`opens(payload digest, opening,
/// payload hash)`, the chameleon-hash check of `vitalis-crypto` under the supervisor's
/// public key), and the commitment.
pub fn verify_chain<'a>(
    links: impl IntoIterator<Item = &'a ChainLink>,
    opens: impl Fn(&[u8; 32], &Opening, &PayloadHash) -> bool,
) -> Result<(), ChainError> {
    let mut prev = Commitment::GENESIS;
    for (expected, link) in (1u64..).zip(links) {
        let h = &link.header;
        if h.seq != expected {
            return Err(ChainError::Gap {
                expected,
                found: h.seq,
            });
        }
        if h.prev != prev {
            return Err(ChainError::BrokenLink { seq: h.seq });
        }
        let cid = ContentId::of(&link.payload);
        if cid != link.cid {
            return Err(ChainError::PayloadMismatch { seq: h.seq });
        }
        if !opens(&cid.digest(), &link.opening, &h.payload_hash) {
            return Err(ChainError::PayloadHashMismatch { seq: h.seq });
        }
        if h.commitment() != link.commitment {
            return Err(ChainError::CommitmentMismatch { seq: h.seq });
        }
        prev = link.commitment;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_is_cidv1_raw_sha256() {
        // The CID of the empty byte string, as `ipfs add --raw-leaves --cid-version 1` gives it.
        let cid = ContentId::of(b"");
        assert_eq!(
            cid.to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
        assert_eq!(ContentId::parse(&cid.to_string()), Some(cid));
        assert_eq!(cid.to_bytes()[..4], [0x01, 0x55, 0x12, 0x20]);
    }
}
