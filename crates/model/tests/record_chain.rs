//! Property tests of record payloads and the per-patient hash chain.

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use vitalis_crypto::chameleon::{
    self, ChameleonDigest, ChameleonPublicKey, ChameleonTrapdoor, Randomness,
};
use vitalis_model::{
    ChainError, ChainLink, Commitment, ContentId, DeviceId, ENCODING_V1, Metric, Opening,
    PatientId, PayloadHash, Reading, RecordHeader, Section, Timestamp, Value, decode_payload,
    encode_payload, verify_chain,
};

const NOW: i64 = 1_763_900_000_000;

fn reading() -> impl Strategy<Value = Reading> {
    (0i64..NOW, 30.0f64..200.0, 0u32..3).prop_map(|(t, v, m)| {
        let metric = [Metric::HeartRate, Metric::Steps, Metric::Spo2][m as usize];
        let v = if metric == Metric::Spo2 {
            50.0 + v / 4.0
        } else {
            v
        };
        Reading::new(
            metric,
            Timestamp::new(t).unwrap(),
            Value::Scalar(v),
            Timestamp::new(NOW).unwrap(),
        )
        .unwrap()
    })
}

/// The supervisor's chameleon-hash key of these tests (fixed seed: reproducible cases).
fn key() -> ChameleonPublicKey {
    ChameleonTrapdoor::generate(&mut ChaCha20Rng::seed_from_u64(7)).public_key()
}

/// A payload hash and its opening for a payload digest, as the store makes them.
fn payload_hash(digest: &[u8; 32], seed: u64) -> (PayloadHash, Opening) {
    let (hash, randomness) = chameleon::hash(&key(), digest, &mut ChaCha20Rng::seed_from_u64(seed));
    (PayloadHash(hash.to_bytes()), Opening(randomness.to_bytes()))
}

fn opens(digest: &[u8; 32], opening: &Opening, hash: &PayloadHash) -> bool {
    let (Ok(randomness), Ok(hash)) = (
        Randomness::from_bytes(&opening.0),
        ChameleonDigest::from_bytes(hash.0),
    ) else {
        return false;
    };
    chameleon::check(&key(), digest, &randomness, &hash)
}

fn build_chain(batches: &[Vec<Reading>]) -> Vec<ChainLink> {
    let mut prev = Commitment::GENESIS;
    let mut links = Vec::new();
    for (i, readings) in batches.iter().enumerate() {
        let payload = encode_payload(readings);
        let (hash, opening) = payload_hash(&ContentId::of(&payload).digest(), i as u64);
        let ts = || readings.iter().map(|r| r.t());
        let header = RecordHeader {
            patient: PatientId::new("p1").unwrap(),
            source: DeviceId::new("d1").unwrap(),
            section: Section::Protected,
            encoding: ENCODING_V1,
            t_from: ts().min().unwrap_or(Timestamp::new(0).unwrap()),
            t_to: ts().max().unwrap_or(Timestamp::new(0).unwrap()),
            seq: i as u64 + 1,
            prev,
            payload_hash: hash,
        };
        let commitment = header.commitment();
        prev = commitment;
        links.push(ChainLink {
            header,
            cid: ContentId::of(&payload),
            opening,
            commitment,
            payload,
        });
    }
    links
}

proptest! {
    #[test]
    fn payload_round_trips(readings in prop::collection::vec(reading(), 0..50)) {
        let bytes = encode_payload(&readings);
        prop_assert_eq!(encode_payload(&readings), bytes.clone(), "encoding is deterministic");
        let back = decode_payload(&bytes, Timestamp::new(NOW).unwrap()).unwrap();
        prop_assert_eq!(back, readings);
    }

    #[test]
    fn an_intact_chain_verifies(batches in prop::collection::vec(prop::collection::vec(reading(), 1..5), 1..8)) {
        prop_assert_eq!(verify_chain(&build_chain(&batches), opens), Ok(()));
    }

    #[test]
    fn any_tampering_is_detected(
        batches in prop::collection::vec(prop::collection::vec(reading(), 1..5), 2..8),
        victim in any::<prop::sample::Index>(),
        kind in 0u8..6,
    ) {
        let mut links = build_chain(&batches);
        let i = victim.index(links.len());
        let seq = i as u64 + 1;
        let expected = match kind {
            0 => {
                links.remove(i);
                if i == links.len() { return Ok(()); } // dropping the tail is not a gap
                ChainError::Gap { expected: seq, found: seq + 1 }
            }
            1 => {
                // Swapping neighbours: the first of the pair arrives out of order.
                let j = if i + 1 == links.len() { i - 1 } else { i + 1 };
                links.swap(i, j);
                let first = i.min(j) as u64 + 1;
                ChainError::Gap { expected: first, found: first + 1 }
            }
            2 => {
                links[i].payload.push(b' ');
                ChainError::PayloadMismatch { seq }
            }
            3 => {
                // A new payload with a matching CID, but the old payload hash.
                links[i].payload.push(b' ');
                links[i].cid = ContentId::of(&links[i].payload);
                ChainError::PayloadHashMismatch { seq }
            }
            4 => {
                links[i].opening.0[0] ^= 1;
                ChainError::PayloadHashMismatch { seq }
            }
            _ => {
                links[i].header.t_to = Timestamp::new(links[i].header.t_to.millis() + 1).unwrap();
                ChainError::CommitmentMismatch { seq }
            }
        };
        prop_assert_eq!(verify_chain(&links, opens), Err(expected));
    }
}
