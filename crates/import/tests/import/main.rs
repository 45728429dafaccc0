//! Integration tests of the importers against real exports in `testdata/`, their
//! truncated copies, hand-made edge cases and random input. Expected counts are found
//! by plain scans of the files here, not taken from the importers.

mod support;

mod apple;
mod empatica;
mod fit;
mod fitbit;
mod google_fit;
mod robustness;
