//! The keys and ciphertexts of FAME (Agrawal–Chase, CCS 2017, §3), with the paper's
//! names in the field docs, and their byte encodings (see [`encoding`](crate::encoding)
//! for the shared rules).
//!
//! The generators are the standard ones of BLS12-381: `g` of G1 and `h` of G2.

use std::collections::HashSet;
use std::fmt;

use blstrs::{Bls12, G1Affine, G2Affine, G2Prepared, G2Projective, Gt, Scalar};
use ff::Field;
use group::prime::PrimeCurveAffine;
use group::{Curve, Group};
use pairing::{MillerLoopResult, MultiMillerLoop};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::encoding::{
    DecodeError, G1_LEN, G2_LEN, GT_LEN, HEADER_LEN, Kind, Reader, SCALAR_LEN, Writer,
};
use crate::policy::{Policy, PolicyError, validate_attribute};
use crate::secret::Secret;
use crate::wrap::WRAPPED_LEN;

/// The most attributes one secret key may hold.
pub const MAX_KEY_ATTRIBUTES: usize = 1024;

/// The public key: what anyone needs to encrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// `H1 = h^a1`, `H2 = h^a2`; never the identity.
    pub(crate) h_a: [G2Affine; 2],
    /// `T1 = e(g, h)^(d1·a1 + d3)`, `T2 = e(g, h)^(d2·a2 + d3)`; never the identity.
    pub(crate) t: [Gt; 2],
}

impl PublicKey {
    const ENCODED_LEN: usize = HEADER_LEN + 2 * G2_LEN + 2 * GT_LEN;

    /// The encoding: header, `H1`, `H2`, `T1`, `T2` (774 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Kind::PublicKey, PublicKey::ENCODED_LEN);
        self.h_a.iter().for_each(|p| w.g2(p));
        self.t.iter().for_each(|t| w.gt(t));
        w.into_bytes()
    }

    /// Decodes [`PublicKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, DecodeError> {
        let mut r = Reader::new(bytes, Kind::PublicKey)?;
        let h_a = [r.g2("public key H1")?, r.g2("public key H2")?];
        if h_a.iter().any(|p| bool::from(p.is_identity())) {
            return Err(DecodeError::InvalidElement("public key H1/H2"));
        }
        let t = [r.gt("public key T1")?, r.gt("public key T2")?];
        r.finish()?;
        Ok(PublicKey { h_a, t })
    }
}

/// The master key of the attribute authority: it issues secret keys. Wiped on drop.
pub struct MasterKey {
    /// `a1`, `a2`; non-zero.
    pub(crate) a: [Secret<Scalar>; 2],
    /// `b1`, `b2`; non-zero.
    pub(crate) b: [Secret<Scalar>; 2],
    /// `g^d1`, `g^d2`, `g^d3`.
    pub(crate) g_d: [Secret<G1Affine>; 3],
    /// The public key of this master key, computed once.
    pub(crate) public: PublicKey,
}

impl MasterKey {
    const ENCODED_LEN: usize = HEADER_LEN + 4 * SCALAR_LEN + 3 * G1_LEN;

    /// A master key from its secrets, or `None` if they are degenerate (a zero
    /// exponent, or `T1`/`T2` the identity, which happens with probability about 2⁻²⁵⁴).
    pub(crate) fn new(a: [Scalar; 2], b: [Scalar; 2], g_d: [G1Affine; 3]) -> Option<MasterKey> {
        if a.iter().chain(&b).any(|s| bool::from(s.is_zero())) {
            return None;
        }
        let h = G2Projective::generator();
        let h_prepared = G2Prepared::from(h.to_affine());
        let h_a = [0, 1].map(|t| (h * a[t]).to_affine());
        // T_t = e(g^d_t, h^a_t) · e(g^d3, h) = e(g, h)^(d_t·a_t + d3).
        let t = [0, 1].map(|i| {
            let h_a_prepared = G2Prepared::from(h_a[i]);
            Bls12::multi_miller_loop(&[(&g_d[i], &h_a_prepared), (&g_d[2], &h_prepared)])
                .final_exponentiation()
        });
        if t.iter().any(|t| bool::from(t.is_identity())) {
            return None;
        }
        Some(MasterKey {
            a: a.map(Secret),
            b: b.map(Secret),
            g_d: g_d.map(Secret),
            public: PublicKey { h_a, t },
        })
    }

    /// The public key that belongs to this master key.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// The encoding: header, `a1`, `a2`, `b1`, `b2`, `g^d1`, `g^d2`, `g^d3`
    /// (278 bytes). Secret: store it as such; the buffer is wiped on drop.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(Kind::MasterKey, MasterKey::ENCODED_LEN);
        self.a.iter().chain(&self.b).for_each(|s| w.scalar(&s.0));
        self.g_d.iter().for_each(|p| w.g1(&p.0));
        Zeroizing::new(w.into_bytes())
    }

    /// Decodes [`MasterKey::to_bytes`] (and recomputes the public key).
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, DecodeError> {
        let mut r = Reader::new(bytes, Kind::MasterKey)?;
        let what = "master key";
        let a = [r.scalar(what)?, r.scalar(what)?];
        let b = [r.scalar(what)?, r.scalar(what)?];
        let g_d = [r.g1(what)?, r.g1(what)?, r.g1(what)?];
        r.finish()?;
        MasterKey::new(a, b, g_d).ok_or(DecodeError::InvalidElement(what))
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.a.zeroize();
        self.b.zeroize();
        self.g_d.zeroize();
    }
}

impl ZeroizeOnDrop for MasterKey {}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").finish_non_exhaustive()
    }
}

/// A user's secret key for a set of attributes. Wiped on drop.
pub struct SecretKey {
    /// The attributes, distinct and valid, in the order of `k`.
    pub(crate) attributes: Vec<String>,
    /// `sk0 = (h^(b1·r1), h^(b2·r2), h^(r1+r2))`.
    pub(crate) k0: [Secret<G2Affine>; 3],
    /// `(sk_y,1, sk_y,2, sk_y,3)` for each attribute `y`.
    pub(crate) k: Vec<[Secret<G1Affine>; 3]>,
    /// `sk' = (sk'1, sk'2, sk'3)`.
    pub(crate) k_prime: [Secret<G1Affine>; 3],
}

impl SecretKey {
    /// The key's attributes.
    pub fn attributes(&self) -> Vec<&str> {
        self.attributes.iter().map(String::as_str).collect()
    }

    /// Whether this key's attributes satisfy `ciphertext`'s policy. Decryption with a
    /// key of the same authority succeeds exactly then.
    pub fn can_decrypt(&self, ciphertext: &Ciphertext) -> bool {
        ciphertext.policy.is_satisfied_by(&self.attributes())
    }

    /// The encoding: header, `sk0` (3 G2 points), `sk'` (3 G1 points), the number of
    /// attributes (u16), then for each its length (u8), its name and its 3 G1 points.
    /// Secret: store it as such; the buffer is wiped on drop.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let names: usize = self.attributes.iter().map(|a| 1 + a.len()).sum();
        let len = HEADER_LEN + 3 * G2_LEN + 3 * G1_LEN + 2 + names + self.k.len() * 3 * G1_LEN;
        let mut w = Writer::new(Kind::SecretKey, len);
        self.k0.iter().for_each(|p| w.g2(&p.0));
        self.k_prime.iter().for_each(|p| w.g1(&p.0));
        // At most MAX_KEY_ATTRIBUTES attributes of at most MAX_ATTRIBUTE_LEN bytes each.
        w.u16(self.attributes.len() as u16);
        for (name, parts) in self.attributes.iter().zip(&self.k) {
            w.u8(name.len() as u8);
            w.bytes(name.as_bytes());
            parts.iter().for_each(|p| w.g1(&p.0));
        }
        Zeroizing::new(w.into_bytes())
    }

    /// Decodes [`SecretKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<SecretKey, DecodeError> {
        let mut r = Reader::new(bytes, Kind::SecretKey)?;
        let what = "secret key";
        let k0 = [r.g2(what)?, r.g2(what)?, r.g2(what)?].map(Secret);
        let k_prime = [r.g1(what)?, r.g1(what)?, r.g1(what)?].map(Secret);
        let count = usize::from(r.u16("attribute count")?);
        if count == 0 || count > MAX_KEY_ATTRIBUTES {
            return Err(DecodeError::AttributeCount(count));
        }
        let mut key = SecretKey {
            attributes: Vec::new(),
            k0,
            k: Vec::new(),
            k_prime,
        };
        let mut seen = HashSet::new();
        for _ in 0..count {
            let len = usize::from(r.u8("attribute length")?);
            let raw = r.take(len, "attribute")?;
            let name = std::str::from_utf8(raw).map_err(|_| {
                DecodeError::Attribute(PolicyError::InvalidAttribute {
                    attribute: String::from_utf8_lossy(raw).into_owned(),
                    reason: "it is not UTF-8",
                })
            })?;
            validate_attribute(name).map_err(DecodeError::Attribute)?;
            if !seen.insert(name) {
                return Err(DecodeError::RepeatedAttribute(name.to_owned()));
            }
            key.attributes.push(name.to_owned());
            key.k
                .push([r.g1(what)?, r.g1(what)?, r.g1(what)?].map(Secret));
        }
        r.finish()?;
        Ok(key)
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.k0.zeroize();
        self.k.zeroize();
        self.k_prime.zeroize();
    }
}

impl ZeroizeOnDrop for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

/// A ciphertext: a 32-byte data key encapsulated under a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ciphertext {
    /// The policy; row `i` belongs to its `i`-th attribute.
    pub(crate) policy: Policy,
    /// `ct0 = (H1^s1, H2^s2, h^(s1+s2))`.
    pub(crate) c0: [G2Affine; 3],
    /// `(ct_i,1, ct_i,2, ct_i,3)` for each row `i` of the span program.
    pub(crate) c: Vec<[G1Affine; 3]>,
    /// The data key sealed under the key derived from `T1^s1 · T2^s2` (see `wrap`).
    pub(crate) wrapped_key: [u8; WRAPPED_LEN],
}

impl Ciphertext {
    /// The policy a key must satisfy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The encoding without the sealed key: header, policy length (u32), the policy in
    /// canonical form, `ct0` (3 G2 points), then 3 G1 points per row. It is the
    /// associated data of the sealed key.
    pub(crate) fn body(policy: &Policy, c0: &[G2Affine; 3], c: &[[G1Affine; 3]]) -> Writer {
        let text = policy.to_string();
        let len = HEADER_LEN + 4 + text.len() + 3 * G2_LEN + c.len() * 3 * G1_LEN + WRAPPED_LEN;
        let mut w = Writer::new(Kind::Ciphertext, len);
        // A policy text is far below 4 GiB (at most 1,024 attributes of 128 bytes).
        w.u32(text.len() as u32);
        w.bytes(text.as_bytes());
        c0.iter().for_each(|p| w.g2(p));
        c.iter().flatten().for_each(|p| w.g1(p));
        w
    }

    /// The encoding: header, policy length (u32), the policy in canonical form, `ct0`
    /// (3 G2 points), 3 G1 points per row, then the sealed key (48 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Ciphertext::body(&self.policy, &self.c0, &self.c);
        w.bytes(&self.wrapped_key);
        w.into_bytes()
    }

    /// Decodes [`Ciphertext::to_bytes`]. The policy must be in canonical form and the
    /// number of rows must match it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Ciphertext, DecodeError> {
        let mut r = Reader::new(bytes, Kind::Ciphertext)?;
        let text_len = r.u32("policy length")? as usize;
        let text = std::str::from_utf8(r.take(text_len, "policy")?)
            .map_err(|_| DecodeError::PolicyNotUtf8)?;
        let policy = Policy::parse(text)?;
        if policy.to_string() != text {
            return Err(DecodeError::NonCanonicalPolicy);
        }
        let c0 = [r.g2("ct0")?, r.g2("ct0")?, r.g2("ct0")?];
        // Check the length before allocating for the rows.
        let needed = policy.len() * 3 * G1_LEN + WRAPPED_LEN;
        match r.remaining() {
            n if n < needed => {
                return Err(DecodeError::Truncated {
                    what: "rows and sealed key",
                    needed,
                    available: n,
                });
            }
            n if n > needed => return Err(DecodeError::TrailingBytes(n - needed)),
            _ => {}
        }
        let c = (0..policy.len())
            .map(|_| Ok([r.g1("row")?, r.g1("row")?, r.g1("row")?]))
            .collect::<Result<Vec<_>, DecodeError>>()?;
        let mut wrapped_key = [0u8; WRAPPED_LEN];
        wrapped_key.copy_from_slice(r.take(WRAPPED_LEN, "sealed key")?);
        r.finish()?;
        Ok(Ciphertext {
            policy,
            c0,
            c,
            wrapped_key,
        })
    }
}
