//! Fuzz target: the Apple Health archive reader must end every input with items or an error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vitalis_import::ImportOptions;
use vitalis_model::Timestamp;

fn options() -> ImportOptions {
    ImportOptions::new(Timestamp::new(1_767_225_600_000).unwrap())
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) =
        vitalis_import::apple_zip::open_zip(std::io::Cursor::new(data), "fuzz", options())
    {
        s.for_each(drop);
    }
});
