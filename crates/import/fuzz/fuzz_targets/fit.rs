//! Fuzz target: the FIT reader must end every input with items or an error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vitalis_import::ImportOptions;
use vitalis_model::Timestamp;

fn options() -> ImportOptions {
    ImportOptions::new(Timestamp::new(1_767_225_600_000).unwrap())
}

fuzz_target!(|data: &[u8]| {
    vitalis_import::fit::FitFile::new(data, "fuzz", options()).for_each(drop);
});
