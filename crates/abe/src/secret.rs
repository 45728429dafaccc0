//! Secret scalars and group elements that are wiped, and uniform random scalars.

use blstrs::Scalar;
use ff::Field;
use rand_core::CryptoRng;
use zeroize::{DefaultIsZeroes, Zeroizing};

/// A scalar or group element of a secret key. `zeroize` overwrites it with its
/// `Default`, which for blstrs' types is all-zero memory (the scalar 0, the point at
/// infinity); the key types holding these wipe them on drop.
#[derive(Clone, Copy, Default)]
pub(crate) struct Secret<T>(pub(crate) T);

impl<T: Copy + Default> DefaultIsZeroes for Secret<T> {}

/// A uniformly random non-zero scalar, by rejection sampling: 255 random bits are kept
/// when they are below the group order `r` (about 2^254.9, so nine draws in ten are
/// kept) and not zero. blstrs' own `Field::random` takes a rand_core 0.6 generator,
/// while the workspace passes rand_core 0.9 ones.
pub(crate) fn random_scalar<R: CryptoRng + ?Sized>(rng: &mut R) -> Scalar {
    let mut bytes = Zeroizing::new([0u8; 32]);
    loop {
        rng.fill_bytes(bytes.as_mut());
        bytes[31] &= 0x7f;
        let candidate: Option<Scalar> = Scalar::from_bytes_le(&bytes).into();
        if let Some(scalar) = candidate.filter(|s| !bool::from(s.is_zero())) {
            return scalar;
        }
    }
}
