//! The four algorithms of FAME's ciphertext-policy scheme (Agrawal–Chase, CCS 2017, §3;
//! ePrint 2017/807), under the decisional linear assumption with k = 2, with the message
//! part turned into a KEM for a 32-byte data key (see `wrap`).
//!
//! In the paper's notation, with `(M, π)` the span program of the policy (rows `M_i`,
//! `n2` columns) and `H` the hash of [`hash`](crate::hash):
//!
//! ```text
//! Setup:   a1, a2, b1, b2, d1, d2, d3 ← Zp
//!          pk  = (H1 = h^a1, H2 = h^a2, T1 = e(g,h)^(d1·a1+d3), T2 = e(g,h)^(d2·a2+d3))
//!          msk = (a1, a2, b1, b2, g^d1, g^d2, g^d3)
//! KeyGen:  r1, r2 ← Zp;  sk0 = (h^(b1·r1), h^(b2·r2), h^(r1+r2))
//!          for y in S, t = 1, 2:  σ_y ← Zp
//!            sk_y,t = H(y1t)^(b1·r1/a_t) · H(y2t)^(b2·r2/a_t) · H(y3t)^((r1+r2)/a_t) · g^(σ_y/a_t)
//!            sk_y,3 = g^(−σ_y)
//!          σ' ← Zp;  sk'_t = g^(d_t) · H(011t)^(b1·r1/a_t) · H(012t)^(b2·r2/a_t)
//!                             · H(013t)^((r1+r2)/a_t) · g^(σ'/a_t);  sk'_3 = g^(d3) · g^(−σ')
//! Encrypt: s1, s2 ← Zp;  ct0 = (H1^s1, H2^s2, h^(s1+s2))
//!          ct_i,ℓ = H(π(i)ℓ1)^s1 · H(π(i)ℓ2)^s2 · Π_j [H(0jℓ1)^s1 · H(0jℓ2)^s2]^(M_i,j)
//!          Z = T1^s1 · T2^s2  (the paper's ct' = Z · msg)
//! Decrypt: γ with Σ_{i∈I} γ_i·M_i = (1, 0, …, 0) over the rows I of the key's attributes
//!          Z = Π_t e(sk'_t · Π_i sk_π(i),t^γ_i, ct0_t) / Π_ℓ e(Π_i ct_i,ℓ^γ_i, sk0_ℓ)
//! ```
//!
//! Two rearrangements make it faster without changing any value computed:
//!
//! - Encryption combines the hashes of a row first and raises to `s1` and `s2` once:
//!   `ct_i,ℓ = (H(π(i)ℓ1) · Π_j H(0jℓ1)^M_i,j)^s1 · (…2)^s2`. The span-program entries
//!   are ±1 for AND and OR (and small integers for thresholds), so the inner products are
//!   mostly point additions: six scalar multiplications per row instead of six per row
//!   plus six per column.
//! - Decryption takes the six pairings as one product of Miller loops with a single
//!   final exponentiation (the quotient by negating the G1 side of the numerator).
//!
//! And the column hashes `H(0jℓt)`, constants of the scheme, are kept once computed
//! (see [`hash`](crate::hash)).

use std::collections::{HashMap, HashSet};

use blstrs::{Bls12, G1Affine, G1Projective, G2Affine, G2Prepared, G2Projective, Gt, Scalar};
use ff::Field;
use group::prime::PrimeCurveAffine;
use group::{Curve, Group};
use pairing::{MillerLoopResult, MultiMillerLoop};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::hash;
use crate::keys::{Ciphertext, MAX_KEY_ATTRIBUTES, MasterKey, PublicKey, SecretKey};
use crate::msp::{Msp, reconstruction};
use crate::policy::{Policy, validate_attribute};
use crate::secret::{Secret, random_scalar};
use crate::wrap::{DATA_KEY_LEN, DataKey, Kek};

/// Creates an attribute authority: its public key and its master key.
pub fn setup<R: CryptoRng + ?Sized>(rng: &mut R) -> (PublicKey, MasterKey) {
    let g = G1Projective::generator();
    loop {
        let a = [random_scalar(rng), random_scalar(rng)];
        let b = [random_scalar(rng), random_scalar(rng)];
        let d = Zeroizing::new([0; 3].map(|_| Secret(random_scalar(rng))));
        let g_d = [0, 1, 2].map(|i| (g * d[i].0).to_affine());
        // Degenerate draws (T1 or T2 the identity) have probability about 2^-254.
        if let Some(msk) = MasterKey::new(a, b, g_d) {
            return (msk.public_key(), msk);
        }
    }
}

/// Issues a secret key for `attributes` (duplicates are ignored).
///
/// Fails if an attribute is not valid (see [`validate_attribute`]) or if there are none
/// or more than [`MAX_KEY_ATTRIBUTES`].
pub fn keygen<R: CryptoRng + ?Sized>(
    msk: &MasterKey,
    attributes: &[&str],
    rng: &mut R,
) -> Result<SecretKey, Error> {
    let mut seen = HashSet::with_capacity(attributes.len());
    let mut names: Vec<String> = Vec::with_capacity(attributes.len());
    for &name in attributes {
        validate_attribute(name).map_err(Error::InvalidAttribute)?;
        if seen.insert(name) {
            names.push(name.to_owned());
        }
    }
    if names.is_empty() || names.len() > MAX_KEY_ATTRIBUTES {
        return Err(Error::AttributeCount(names.len()));
    }

    let g = G1Projective::generator();
    let h = G2Projective::generator();
    let [a1, a2] = msk.a.map(|a| a.0);
    let [b1, b2] = msk.b.map(|b| b.0);
    let r1 = random_scalar(rng);
    let r2 = random_scalar(rng);
    // The exponents of sk0, and each divided by a1 and by a2: exponent[ℓ][t].
    let sk0_exponents = Zeroizing::new([b1 * r1, b2 * r2, r1 + r2].map(Secret));
    let a_inverse = Zeroizing::new([a1, a2].map(|a| Secret(invert_nonzero(&a))));
    let exponent = Zeroizing::new(
        [0, 1, 2].map(|l| [0, 1].map(|t| Secret(sk0_exponents[l].0 * a_inverse[t].0))),
    );
    let k0 = [0, 1, 2].map(|l| Secret((h * sk0_exponents[l].0).to_affine()));

    // One key part: Π_ℓ H_ℓ,t^(exponent ℓ,t) · g^(σ/a_t) for t = 1, 2, then g^(−σ).
    let part = |hashes: &[[G1Projective; 2]; 3], sigma: &Scalar| -> [G1Projective; 3] {
        let mut out = [G1Projective::identity(); 3];
        for t in 0..2 {
            out[t] = g * (sigma * a_inverse[t].0);
            for l in 0..3 {
                out[t] += hashes[l][t] * exponent[l][t].0;
            }
        }
        out[2] = -(g * sigma);
        out
    };

    let mut points = Vec::with_capacity(3 * (names.len() + 1));
    let sigma_prime = Zeroizing::new(Secret(random_scalar(rng)));
    let first_column = hash::columns(1)[0].map(|l| l.map(G1Projective::from));
    let mut k_prime = part(&first_column, &sigma_prime.0);
    for (t, g_d) in msk.g_d.iter().enumerate() {
        k_prime[t] += g_d.0;
    }
    points.extend(k_prime);
    for name in &names {
        let sigma = Zeroizing::new(Secret(random_scalar(rng)));
        points.extend(part(&hash::attribute_all(name), &sigma.0));
    }
    // Point by point rather than in one batch inversion, so that no unwiped buffer of
    // affine key parts is left behind.
    let affine: Zeroizing<Vec<Secret<G1Affine>>> =
        Zeroizing::new(points.iter().map(|p| Secret(p.to_affine())).collect());
    Ok(SecretKey {
        attributes: names,
        k0,
        k_prime: [affine[0], affine[1], affine[2]],
        k: affine[3..]
            .chunks_exact(3)
            .map(|c| [c[0], c[1], c[2]])
            .collect(),
    })
}

/// Encapsulates `data_key` under `policy`: any key whose attributes satisfy the policy,
/// issued by the authority of `pk`, recovers it with [`decrypt`].
pub fn encrypt<R: CryptoRng + ?Sized>(
    pk: &PublicKey,
    policy: &Policy,
    data_key: &[u8; DATA_KEY_LEN],
    rng: &mut R,
) -> Ciphertext {
    let (s, kek) = loop {
        let s = Zeroizing::new([random_scalar(rng), random_scalar(rng)].map(Secret));
        let z: Gt = pk.t[0] * s[0].0 + pk.t[1] * s[1].0;
        // Z is the identity with probability about 2^-254; draw again then.
        if let Some(kek) = Kek::derive(&z) {
            break (s, kek);
        }
    };
    let [s1, s2] = [s[0].0, s[1].0];

    let h = G2Projective::generator();
    let c0_projective = [
        G2Projective::from(pk.h_a[0]) * s1,
        G2Projective::from(pk.h_a[1]) * s2,
        h * (s1 + s2),
    ];
    let mut c0 = [G2Affine::identity(); 3];
    G2Projective::batch_normalize(&c0_projective, &mut c0);

    let msp = Msp::from_policy(policy);
    let columns = hash::columns(msp.columns);
    let mut points = Vec::with_capacity(3 * msp.rows.len());
    for (name, row) in policy.attributes().into_iter().zip(&msp.rows) {
        // base[ℓ][t] = H(π(i)ℓt) · Π_j H(0jℓt)^(M_i,j)
        let mut base = hash::attribute_all(name);
        for (j, entry) in row {
            for (l, base_l) in base.iter_mut().enumerate() {
                for (t, base_lt) in base_l.iter_mut().enumerate() {
                    add_times(base_lt, &columns[*j][l][t], entry);
                }
            }
        }
        points.extend(base.map(|[b1, b2]| b1 * s1 + b2 * s2));
    }
    let mut affine = vec![G1Affine::identity(); points.len()];
    G1Projective::batch_normalize(&points, &mut affine);
    let c: Vec<[G1Affine; 3]> = affine.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();

    let wrapped_key = kek.seal(data_key, Ciphertext::body(policy, &c0, &c).as_slice());
    Ciphertext {
        policy: policy.clone(),
        c0,
        c,
        wrapped_key,
    }
}

/// Recovers the data key of `ciphertext`.
///
/// Fails with [`Error::NotSatisfied`] when the key's attributes do not satisfy the
/// policy, and with [`Error::DecryptionFailed`] when the ciphertext was altered or the
/// key was issued by another authority.
pub fn decrypt(sk: &SecretKey, ciphertext: &Ciphertext) -> Result<DataKey, Error> {
    let index: HashMap<&str, usize> = sk
        .attributes
        .iter()
        .enumerate()
        .map(|(i, name)| (name.as_str(), i))
        .collect();
    let policy = &ciphertext.policy;
    let gamma = reconstruction(policy, |a| index.contains_key(a)).ok_or(Error::NotSatisfied)?;
    let attributes = policy.attributes();

    // den_t = sk'_t · Π_i sk_π(i),t^γ_i  and  num_ℓ = Π_i ct_i,ℓ^γ_i.
    let mut den = sk.k_prime.map(|p| G1Projective::from(p.0));
    let mut num = [G1Projective::identity(); 3];
    for (row, coefficient) in &gamma {
        let key_part = &sk.k[index[attributes[*row]]];
        for l in 0..3 {
            add_times(&mut den[l], &key_part[l].0, coefficient);
            add_times(&mut num[l], &ciphertext.c[*row][l], coefficient);
        }
    }
    let g1_side = [den[0], den[1], den[2], -num[0], -num[1], -num[2]];
    let g1_affine = Zeroizing::new(g1_side.map(|p| Secret(p.to_affine())));
    let g2_side: Vec<G2Prepared> = ciphertext
        .c0
        .iter()
        .copied()
        .chain(sk.k0.iter().map(|p| p.0))
        .map(G2Prepared::from)
        .collect();
    let terms: Vec<(&G1Affine, &G2Prepared)> =
        g1_affine.iter().map(|p| &p.0).zip(&g2_side).collect();
    let z = Bls12::multi_miller_loop(&terms).final_exponentiation();

    let kek = Kek::derive(&z).ok_or(Error::DecryptionFailed)?;
    let body = Ciphertext::body(policy, &ciphertext.c0, &ciphertext.c);
    kek.open(&ciphertext.wrapped_key, body.as_slice())
        .ok_or(Error::DecryptionFailed)
}

/// `acc · point^entry`, with the span-program entries and coefficients ±1 (all of them
/// for AND and OR) as a plain addition or subtraction.
fn add_times(acc: &mut G1Projective, point: &G1Affine, entry: &Scalar) {
    if *entry == Scalar::ONE {
        *acc += point;
    } else if *entry == -Scalar::ONE {
        *acc -= point;
    } else {
        *acc += point * entry;
    }
}

fn invert_nonzero(scalar: &Scalar) -> Scalar {
    let inverse: Option<Scalar> = scalar.invert().into();
    // A master key's a1, a2 are non-zero by construction (`MasterKey::new`).
    inverse.expect("a1 and a2 are non-zero")
}
