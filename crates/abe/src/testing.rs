//! Proptest strategies: random nested policies over a small alphabet (each attribute at
//! most once, as policies require), so that random attribute sets satisfy them often
//! enough to be interesting, and larger ones for the parser.
//!
//! Shared by the unit tests and the integration tests (`tests/abe.rs` includes this file
//! with `#[path]` and brings `Policy` into its root, which is what `crate::Policy` names).

use proptest::prelude::*;

use crate::Policy;

/// The attributes random policies and sets are drawn from.
pub(crate) const ALPHABET: [&str; 8] = [
    "role:clinician",
    "org:H1",
    "org:H2",
    "dept:icu",
    "dept:cardiology",
    "cert:acls",
    "study:s-17",
    "site:ward/3",
];

/// The shape of a policy before attributes are assigned to its leaves.
#[derive(Debug, Clone)]
enum Shape {
    Leaf,
    /// `kind`: 0 AND, 1 OR, 2 threshold `k`.
    Gate {
        kind: u8,
        k: usize,
        inputs: Vec<Shape>,
    },
}

impl Shape {
    fn leaves(&self) -> usize {
        match self {
            Shape::Leaf => 1,
            Shape::Gate { inputs, .. } => inputs.iter().map(Shape::leaves).sum(),
        }
    }

    fn build(&self, names: &mut impl Iterator<Item = String>) -> Policy {
        match self {
            Shape::Leaf => Policy::attribute(&names.next().unwrap()).unwrap(),
            Shape::Gate { kind, k, inputs } => {
                let inputs: Vec<Policy> = inputs.iter().map(|s| s.build(names)).collect();
                match kind {
                    0 => Policy::all_of(inputs).unwrap(),
                    1 => Policy::any_of(inputs).unwrap(),
                    _ => Policy::threshold(*k, inputs).unwrap(),
                }
            }
        }
    }
}

/// Shapes up to `depth` gates deep with at most `max_leaves` leaves.
fn shape(depth: u32, size: u32, max_leaves: usize) -> impl Strategy<Value = Shape> {
    Just(Shape::Leaf)
        .prop_recursive(depth, size, 5, |inner| {
            prop::collection::vec(inner, 1..=5)
                .prop_flat_map(|inputs| {
                    let n = inputs.len();
                    (Just(inputs), 0..3u8, 1..=n)
                })
                .prop_map(|(inputs, kind, k)| Shape::Gate { kind, k, inputs })
        })
        .prop_filter("one attribute per leaf", move |s| s.leaves() <= max_leaves)
}

/// Policies of AND, OR and thresholds, up to three gates deep, over [`ALPHABET`].
pub(crate) fn arbitrary_policy() -> impl Strategy<Value = Policy> {
    let names: Vec<String> = ALPHABET.iter().map(|a| a.to_string()).collect();
    (shape(3, 14, ALPHABET.len()), Just(names).prop_shuffle())
        .prop_map(|(shape, names)| shape.build(&mut names.into_iter()))
}

/// Larger policies, up to five gates deep and 64 attributes, for the parser.
pub(crate) fn large_policy() -> impl Strategy<Value = Policy> {
    shape(5, 48, 64).prop_map(|shape| {
        let mut names = (0..).map(|i| format!("dept:unit-{i}"));
        shape.build(&mut names)
    })
}

/// Any subset of the alphabet.
pub(crate) fn attribute_subset() -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(ALPHABET.to_vec(), 0..=ALPHABET.len())
        .prop_map(|v| v.into_iter().map(String::from).collect())
}
