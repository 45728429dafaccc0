//! The byte encodings of keys and ciphertexts: a header, then fixed-size compressed
//! group elements and length-prefixed strings.
//!
//! Every encoding starts with the magic bytes `vABE`, the format version (1) and a kind
//! byte (1 public key, 2 master key, 3 secret key, 4 ciphertext). Integers are
//! big-endian. G1 and G2 points use the compressed encodings of the BLS12-381
//! serialization format (48 and 96 bytes, the one of the IETF pairing-friendly-curves
//! draft and of Zcash); a decoder accepts only points on the curve and in the prime-order
//! subgroup. Elements of GT use blstrs' torus compression (288 bytes), checked to lie in
//! the subgroup; scalars are 32 bytes, below the group order. Every encoding is
//! canonical: an encoding that decodes re-encodes to the same bytes, and bytes left over
//! are an error.

use blstrs::{Compress, G1Affine, G2Affine, Gt, Scalar};
use group::Group;

use crate::policy::{ParseError, PolicyError};

/// The first bytes of every encoding.
const MAGIC: [u8; 4] = *b"vABE";
/// The format version this library writes and reads.
const VERSION: u8 = 1;
/// The header: magic, version, kind.
pub(crate) const HEADER_LEN: usize = MAGIC.len() + 2;

/// A compressed G1 point.
pub(crate) const G1_LEN: usize = 48;
/// A compressed G2 point.
pub(crate) const G2_LEN: usize = 96;
/// A compressed element of GT.
pub(crate) const GT_LEN: usize = 288;
/// A scalar.
pub(crate) const SCALAR_LEN: usize = 32;

/// What an encoding holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    PublicKey = 1,
    MasterKey = 2,
    SecretKey = 3,
    Ciphertext = 4,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::PublicKey => "public key",
            Kind::MasterKey => "master key",
            Kind::SecretKey => "secret key",
            Kind::Ciphertext => "ciphertext",
        }
    }
}

/// Why bytes are not a key or ciphertext of this library.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes do not start with `vABE`.
    #[error("not a vitalis-abe encoding (it does not start with \"vABE\")")]
    BadMagic,
    /// A format version this library does not read.
    #[error("format version {0} is not supported (this library reads version 1)")]
    UnsupportedVersion(u8),
    /// An encoding of another kind (a secret key given as a ciphertext, say).
    #[error("expected a {expected}, found an encoding of kind {found}")]
    WrongKind {
        /// What the caller asked for.
        expected: &'static str,
        /// The kind byte found.
        found: u8,
    },
    /// The bytes end inside a field.
    #[error("truncated: the {what} needs {needed} bytes, {available} are left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Its length.
        needed: usize,
        /// What was left.
        available: usize,
    },
    /// Bytes after the last field.
    #[error("{0} bytes after the end of the encoding")]
    TrailingBytes(usize),
    /// A point not on the curve or not in the subgroup, a scalar not below the group
    /// order, or an element that may not be zero or the identity.
    #[error("the {0} is not a valid encoding")]
    InvalidElement(&'static str),
    /// The policy text is not UTF-8.
    #[error("the policy is not UTF-8")]
    PolicyNotUtf8,
    /// The policy text does not parse.
    #[error("policy: {0}")]
    Policy(#[from] ParseError),
    /// The policy parses but is not written as `Display` writes it.
    #[error("the policy is not written in canonical form")]
    NonCanonicalPolicy,
    /// A key attribute that is not a valid attribute.
    #[error("key attribute: {0}")]
    Attribute(PolicyError),
    /// A key attribute listed twice.
    #[error("the key lists the attribute {0:?} twice")]
    RepeatedAttribute(String),
    /// A key with no attributes, or more than allowed.
    #[error("a key with {0} attributes (1 to {max} are allowed)", max = crate::MAX_KEY_ATTRIBUTES)]
    AttributeCount(usize),
}

/// Builds an encoding. Callers give the exact capacity, so that secret bytes are never
/// left behind by a reallocation.
pub(crate) struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    pub(crate) fn new(kind: Kind, capacity: usize) -> Writer {
        let mut bytes = Vec::with_capacity(capacity);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&[VERSION, kind as u8]);
        Writer { bytes }
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    pub(crate) fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    pub(crate) fn u16(&mut self, value: u16) {
        self.bytes(&value.to_be_bytes());
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.bytes(&value.to_be_bytes());
    }

    pub(crate) fn g1(&mut self, point: &G1Affine) {
        self.bytes(&point.to_compressed());
    }

    pub(crate) fn g2(&mut self, point: &G2Affine) {
        self.bytes(&point.to_compressed());
    }

    /// An element of GT other than the identity (the torus compression has no encoding
    /// of the identity); the key types never hold it.
    pub(crate) fn gt(&mut self, element: &Gt) {
        let encoded =
            gt_to_bytes(element).expect("public key elements of GT are never the identity");
        self.bytes(&encoded);
    }

    pub(crate) fn scalar(&mut self, scalar: &Scalar) {
        self.bytes(&scalar.to_bytes_be());
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The compressed encoding of an element of GT, or `None` for the identity, which has
/// none (blstrs' `compress` divides by a coordinate that is zero only there: an element
/// of the order-r subgroup with that coordinate zero lies in the sextic subfield, whose
/// multiplicative order p⁶ − 1 is prime to r).
pub(crate) fn gt_to_bytes(element: &Gt) -> Option<[u8; GT_LEN]> {
    if bool::from(element.is_identity()) {
        return None;
    }
    let mut out = [0u8; GT_LEN];
    element.write_compressed(&mut out[..]).ok()?;
    Some(out)
}

/// Reads an encoding field by field.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Checks the header for `kind`.
    pub(crate) fn new(bytes: &'a [u8], kind: Kind) -> Result<Reader<'a>, DecodeError> {
        let mut reader = Reader { rest: bytes };
        if reader.take(MAGIC.len(), "header")? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = reader.u8("header")?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let found = reader.u8("header")?;
        if found != kind as u8 {
            return Err(DecodeError::WrongKind {
                expected: kind.name(),
                found,
            });
        }
        Ok(reader)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated {
                what,
                needed: n,
                available: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn g1(&mut self, what: &'static str) -> Result<G1Affine, DecodeError> {
        let point: Option<G1Affine> = G1Affine::from_compressed(&self.array(what)?).into();
        point.ok_or(DecodeError::InvalidElement(what))
    }

    pub(crate) fn g2(&mut self, what: &'static str) -> Result<G2Affine, DecodeError> {
        let point: Option<G2Affine> = G2Affine::from_compressed(&self.array(what)?).into();
        point.ok_or(DecodeError::InvalidElement(what))
    }

    /// An element of GT; never the identity, which has no encoding.
    pub(crate) fn gt(&mut self, what: &'static str) -> Result<Gt, DecodeError> {
        let bytes = self.take(GT_LEN, what)?;
        Gt::read_compressed(bytes).map_err(|_| DecodeError::InvalidElement(what))
    }

    pub(crate) fn scalar(&mut self, what: &'static str) -> Result<Scalar, DecodeError> {
        let scalar: Option<Scalar> = Scalar::from_bytes_be(&self.array(what)?).into();
        scalar.ok_or(DecodeError::InvalidElement(what))
    }

    /// Ends the encoding: nothing may be left.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}
