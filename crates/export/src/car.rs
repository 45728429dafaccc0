//! CAR v1 export (the IPLD Content Addressable aRchive format, ipld.io/specs/transport/car/carv1):
//! a patient's stored record payloads, each under its own CIDv1 (raw codec, sha2-256 of
//! the stored bytes, as the store names them), and a manifest block that is the
//! archive's one root.
//!
//! Layout: `varint(len) ‖ header` then, per block, `varint(len) ‖ CID bytes ‖ data`. The
//! header is DAG-CBOR `{"roots": [manifest CID], "version": 1}`; the manifest is a
//! DAG-CBOR block ([`Manifest`], codec `0x71`) that links every payload by CID and carries
//! each record's header fields, commitment, chameleon-hash opening and anchor proof, so
//! the archive is enough to check every record against the chain without the server.
//!
//! Because the header names the manifest's CID, the manifest is built (from the records'
//! metadata, not their payloads) before the first byte is written; payloads are then
//! streamed one by one.

use std::io::Write;

use ipld_core::cid::Cid;
use ipld_core::cid::multihash::Multihash;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{ExportError, Result};

/// Multicodec of DAG-CBOR.
pub const DAG_CBOR: u64 = 0x71;
/// Multicodec of sha2-256.
const SHA2_256: u64 = 0x12;

/// Version of the manifest's layout.
pub const MANIFEST_VERSION: u64 = 1;

/// The root block: what the archive holds.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Layout version ([`MANIFEST_VERSION`]).
    pub vitalis_car: u64,
    /// The patient's pseudonymous id.
    pub patient: String,
    /// When the archive was made (ms since the Unix epoch).
    pub created_at: i64,
    /// Every record, by sequence.
    pub records: Vec<ManifestRecord>,
}

/// One record in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestRecord {
    /// Record id.
    pub id: String,
    /// Position in the patient's chain, from 1.
    pub seq: u64,
    /// Source (device or institution id).
    pub source: String,
    /// `open` or `protected`.
    pub section: String,
    /// Payload format version.
    pub encoding: u64,
    /// Earliest reading (ms).
    pub t_from: i64,
    /// Latest reading (ms).
    pub t_to: i64,
    /// Number of readings.
    pub readings: u64,
    /// The stored payload, by CID (a link to its block in this archive).
    pub payload: Cid,
    /// Commitment of the previous record.
    #[serde(with = "serde_bytes")]
    pub prev: Vec<u8>,
    /// The chameleon hash of the payload digest.
    #[serde(with = "serde_bytes")]
    pub payload_hash: Vec<u8>,
    /// Randomness that opens `payload_hash` to the payload digest.
    #[serde(with = "serde_bytes")]
    pub opening: Vec<u8>,
    /// The record's commitment.
    #[serde(with = "serde_bytes")]
    pub commitment: Vec<u8>,
    /// The anchor, once the record is in one.
    pub anchor: Option<ManifestAnchor>,
}

/// Where a record is anchored.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestAnchor {
    /// Merkle root on chain.
    #[serde(with = "serde_bytes")]
    pub root: Vec<u8>,
    /// Inclusion proof (leaf index, tree size, audit path).
    #[serde(with = "serde_bytes")]
    pub proof: Vec<u8>,
    /// The anchor's index in the anchors contract, once on chain.
    pub index: Option<u64>,
    /// Block number, once on chain.
    pub block: Option<u64>,
    /// Transaction hash, once on chain.
    #[serde(with = "serde_bytes")]
    pub tx: Option<Vec<u8>>,
}

/// A CID of the raw codec from its binary form (as `ContentId::to_bytes` gives it).
pub fn cid_from_bytes(bytes: &[u8]) -> Result<Cid> {
    Cid::try_from(bytes).map_err(|e| ExportError::Car(format!("CID: {e}")))
}

fn dag_cbor<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_ipld_dagcbor::to_vec(value).map_err(|e| ExportError::Car(format!("DAG-CBOR: {e}")))
}

fn write_varint(sink: &mut impl Write, mut n: u64) -> Result<()> {
    // Unsigned LEB128, as multiformats' unsigned-varint.
    let mut buf = [0u8; 10];
    let mut i = 0;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf[i] = byte;
            i += 1;
            break;
        }
        buf[i] = byte | 0x80;
        i += 1;
    }
    sink.write_all(&buf[..i])?;
    Ok(())
}

/// Writes a CAR v1 archive: header and manifest first, then each payload block.
pub struct CarWriter<W: Write> {
    sink: W,
    blocks: u64,
}

impl<W: Write> CarWriter<W> {
    /// Writes the header (rooted at the manifest) and the manifest block.
    pub fn new(mut sink: W, manifest: &Manifest) -> Result<CarWriter<W>> {
        let manifest_bytes = dag_cbor(manifest)?;
        let digest = Sha256::digest(&manifest_bytes);
        let hash = Multihash::<64>::wrap(SHA2_256, &digest)
            .map_err(|e| ExportError::Car(format!("multihash: {e}")))?;
        let root = Cid::new_v1(DAG_CBOR, hash);

        #[derive(Serialize)]
        struct Header {
            roots: Vec<Cid>,
            version: u64,
        }
        let header = dag_cbor(&Header {
            roots: vec![root],
            version: 1,
        })?;
        write_varint(&mut sink, header.len() as u64)?;
        sink.write_all(&header)?;
        let mut car = CarWriter { sink, blocks: 0 };
        car.block(&root, &manifest_bytes)?;
        Ok(car)
    }

    /// Writes one block; `cid` must be the CID of `data` (checked: sha2-256).
    pub fn block(&mut self, cid: &Cid, data: &[u8]) -> Result<()> {
        if cid.hash().code() != SHA2_256 || cid.hash().digest() != Sha256::digest(data).as_slice() {
            return Err(ExportError::Car(format!(
                "block {cid}: the bytes do not hash to their CID"
            )));
        }
        let cid_bytes = cid.to_bytes();
        write_varint(&mut self.sink, (cid_bytes.len() + data.len()) as u64)?;
        self.sink.write_all(&cid_bytes)?;
        self.sink.write_all(data)?;
        self.blocks += 1;
        Ok(())
    }

    /// Blocks written so far, the manifest included.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Flushes and returns the sink.
    pub fn finish(mut self) -> Result<W> {
        self.sink.flush()?;
        Ok(self.sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_cid(data: &[u8]) -> Cid {
        let mh = Multihash::<64>::wrap(SHA2_256, &Sha256::digest(data)).unwrap();
        Cid::new_v1(0x55, mh)
    }

    /// Reads a varint at `*at`, advancing it.
    fn varint(bytes: &[u8], at: &mut usize) -> u64 {
        let (mut n, mut shift) = (0u64, 0);
        loop {
            let b = bytes[*at];
            *at += 1;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return n;
            }
            shift += 7;
        }
    }

    #[test]
    fn varints_are_leb128() {
        for (n, bytes) in [
            (0u64, vec![0u8]),
            (127, vec![0x7f]),
            (128, vec![0x80, 1]),
            (300, vec![0xac, 2]),
        ] {
            let mut out = Vec::new();
            write_varint(&mut out, n).unwrap();
            assert_eq!(out, bytes, "{n}");
            assert_eq!(varint(&out, &mut 0), n);
        }
    }

    #[test]
    fn an_archive_has_its_header_its_manifest_and_each_block() {
        let payloads: [&[u8]; 2] = [b"first payload", b"second"];
        let manifest = Manifest {
            vitalis_car: MANIFEST_VERSION,
            patient: "p1".into(),
            created_at: 1,
            records: payloads
                .iter()
                .enumerate()
                .map(|(i, p)| ManifestRecord {
                    id: format!("r{i}"),
                    seq: i as u64 + 1,
                    source: "d1".into(),
                    section: "open".into(),
                    encoding: 1,
                    t_from: 0,
                    t_to: 0,
                    readings: 1,
                    payload: raw_cid(p),
                    prev: vec![0; 32],
                    payload_hash: vec![1; 32],
                    opening: vec![2; 64],
                    commitment: vec![3; 32],
                    anchor: None,
                })
                .collect(),
        };
        let mut car = CarWriter::new(Vec::new(), &manifest).unwrap();
        for p in payloads {
            car.block(&raw_cid(p), p).unwrap();
        }
        assert_eq!(car.blocks(), 3);
        let bytes = car.finish().unwrap();

        let mut at = 0;
        let header_len = varint(&bytes, &mut at) as usize;
        let header: ipld_core::ipld::Ipld =
            serde_ipld_dagcbor::from_slice(&bytes[at..at + header_len]).unwrap();
        at += header_len;
        let ipld_core::ipld::Ipld::Map(header) = header else {
            panic!("header is a map")
        };
        assert_eq!(header["version"], ipld_core::ipld::Ipld::Integer(1));
        let ipld_core::ipld::Ipld::List(roots) = &header["roots"] else {
            panic!("roots")
        };
        let ipld_core::ipld::Ipld::Link(root) = roots[0] else {
            panic!("a root link")
        };
        let mut blocks = Vec::new();
        while at < bytes.len() {
            let len = varint(&bytes, &mut at) as usize;
            let block = &bytes[at..at + len];
            at += len;
            let mut cursor = std::io::Cursor::new(block);
            let cid = Cid::read_bytes(&mut cursor).unwrap();
            let data = &block[cursor.position() as usize..];
            assert_eq!(cid.hash().digest(), Sha256::digest(data).as_slice());
            blocks.push((cid, data.to_vec()));
        }
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].0, root);
        assert_eq!(root.codec(), DAG_CBOR);
        assert_eq!(blocks[1].1, b"first payload");
        assert_eq!(blocks[2].0, raw_cid(b"second"));
    }

    #[test]
    fn a_block_must_hash_to_its_cid() {
        let manifest = Manifest {
            vitalis_car: 1,
            patient: "p".into(),
            created_at: 0,
            records: Vec::new(),
        };
        let mut car = CarWriter::new(Vec::new(), &manifest).unwrap();
        assert!(car.block(&raw_cid(b"a"), b"b").is_err());
    }
}
