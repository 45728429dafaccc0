//! Integration tests of vitalis-analytics: property tests of the statistics, tests on
//! real public wearable data (files under `testdata/`, see `testdata/SOURCES.md`), and
//! the plain-language summary's promise that every number it states is a listed fact.

mod narrative;
mod properties;
mod real_data;
