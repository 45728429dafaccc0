//! Fuzz target: the Empatica E4 CSV reader (every signal) must end every input with items or an error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vitalis_import::ImportOptions;
use vitalis_model::Timestamp;

fn options() -> ImportOptions {
    ImportOptions::new(Timestamp::new(1_767_225_600_000).unwrap())
}

fuzz_target!(|data: &[u8]| {
    for signal in vitalis_import::empatica::E4Signal::ALL {
        if let Ok(s) = vitalis_import::empatica::EmpaticaCsv::new(data, "fuzz", signal, options()) {
            s.for_each(drop);
        }
    }
});
