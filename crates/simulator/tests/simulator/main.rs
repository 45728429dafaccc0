//! Integration tests of the simulator: the simulated physiology and the uploader.

mod physiology;
mod upload;
