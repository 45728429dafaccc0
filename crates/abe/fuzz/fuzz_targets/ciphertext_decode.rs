//! Fuzz target: the ciphertext decoder must end every input with a ciphertext or a
//! `DecodeError`, never a panic, and what it accepts must re-encode to the same bytes.
//! Inputs without the ciphertext header are given one, so that the fuzzer spends its time
//! in the fields rather than on the magic bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vitalis_abe::Ciphertext;

const HEADER: &[u8] = b"vABE\x01\x04";

fuzz_target!(|data: &[u8]| {
    let framed;
    let bytes = if data.starts_with(HEADER) {
        data
    } else {
        framed = [HEADER, data].concat();
        &framed
    };
    if let Ok(ciphertext) = Ciphertext::from_bytes(bytes) {
        assert_eq!(ciphertext.to_bytes(), bytes);
    }
});
