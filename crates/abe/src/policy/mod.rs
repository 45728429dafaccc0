//! Access policies: monotone formulas of AND, OR and k-of-n thresholds over attributes.
//!
//! # Grammar
//!
//! ```text
//! policy    = or ;
//! or        = and , { "OR" , and } ;
//! and       = term , { "AND" , term } ;
//! term      = attribute | "(" , or , ")" | threshold ;
//! threshold = number , "of" , "(" , or , { "," , or } , ")" ;
//! attribute = letter , { letter | digit | "_" | "-" | "." | ":" | "/" | "@" } ;
//! number    = digit , { digit } ;
//! ```
//!
//! - `AND` binds tighter than `OR`: `a AND b OR c` is `(a AND b) OR c`.
//! - Keywords (`AND`, `OR`, `of`) are case-insensitive and cannot be attributes;
//!   attributes are case-sensitive ASCII (`org:H1` is not `org:h1`), at most
//!   [`MAX_ATTRIBUTE_LEN`] bytes.
//! - A chain `a AND b AND c` is one gate with three inputs; parentheses keep a nested
//!   gate (`a AND (b AND c)`) as written.
//! - `k of (x1, …, xn)` holds when at least `k` of its `n` inputs hold, `1 ≤ k ≤ n`.
//! - Each attribute occurs at most once in a policy (see
//!   [`PolicyError::RepeatedAttribute`] for why).
//! - Whitespace separates tokens and is otherwise ignored.
//!
//! Example: `role:clinician AND (org:H1 OR org:H2) AND 2 of (dept:cardiology, dept:icu,
//! cert:acls)`.
//!
//! [`Policy`]'s `Display` writes this grammar back with upper-case keywords, single
//! spaces and parentheses around every gate nested in an `AND` or `OR`; parsing that text
//! gives the same policy (this is the canonical form ciphertexts carry).
//!
//! A malformed policy is a [`ParseError`] naming the column (1-based, in characters)
//! where the problem was found, never a panic.

mod parse;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

pub use parse::ParseError;

/// The longest attribute, in bytes.
pub const MAX_ATTRIBUTE_LEN: usize = 128;
/// The most attributes a policy may have; each is one row of the ciphertext.
pub const MAX_POLICY_ATTRIBUTES: usize = 1024;
/// The deepest nesting of gates a policy may have.
pub const MAX_POLICY_DEPTH: usize = 32;

/// Why a policy or an attribute is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The policy text holds no policy at all.
    #[error("the policy is empty")]
    Empty,
    /// A character that is not part of the grammar.
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    /// A token where another was needed.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the grammar allows here.
        expected: &'static str,
        /// What the text has instead.
        found: String,
    },
    /// The text ended where more was needed.
    #[error("expected {expected}, found the end of the policy")]
    UnexpectedEnd {
        /// What the grammar allows here.
        expected: &'static str,
    },
    /// Not a valid attribute name.
    #[error("invalid attribute {attribute:?}: {reason}")]
    InvalidAttribute {
        /// The offending name.
        attribute: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `k of (…)` with `k` of 0 or more than its number of inputs.
    #[error("a threshold of {k} over {n} inputs (it must be between 1 and {n})")]
    ThresholdOutOfRange {
        /// The threshold.
        k: usize,
        /// The number of inputs.
        n: usize,
    },
    /// A gate with no inputs.
    #[error("a gate needs at least one input")]
    NoInputs,
    /// An attribute that occurs twice. FAME's ciphertext parts for one attribute carry
    /// no randomness of their own (only the encryption's `s1`, `s2`), so the quotient of
    /// two rows of the same attribute is a row of column terms anyone can use: with
    /// `y AND (y OR c)` a key holding only `c` could decrypt. Write such policies without
    /// the repetition (`y AND (b OR c)` rather than `(y AND b) OR (y AND c)`).
    #[error("the attribute {0:?} occurs more than once")]
    RepeatedAttribute(String),
    /// More than [`MAX_POLICY_ATTRIBUTES`] attributes.
    #[error("more than {MAX_POLICY_ATTRIBUTES} attributes in one policy")]
    TooManyAttributes,
    /// Gates nested deeper than [`MAX_POLICY_DEPTH`].
    #[error("gates nested more than {MAX_POLICY_DEPTH} deep")]
    TooDeep,
}

/// A monotone access policy. Build one by parsing (`"a AND b".parse()`) or with
/// [`Policy::attribute`], [`Policy::all_of`], [`Policy::any_of`] and
/// [`Policy::threshold`]; either way it is valid (within the limits above) by
/// construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Policy {
    root: Node,
}

/// A node of the policy tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    Attribute(String),
    Gate { kind: GateKind, inputs: Vec<Node> },
}

/// What a gate asks of its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum GateKind {
    And,
    Or,
    Threshold(usize),
}

impl Node {
    /// How many of the `n` inputs must hold: `n` for AND, 1 for OR.
    pub(crate) fn threshold(kind: GateKind, n: usize) -> usize {
        match kind {
            GateKind::And => n,
            GateKind::Or => 1,
            GateKind::Threshold(k) => k,
        }
    }

    fn leaves(&self) -> usize {
        match self {
            Node::Attribute(_) => 1,
            Node::Gate { inputs, .. } => inputs.iter().map(Node::leaves).sum(),
        }
    }

    fn depth(&self) -> usize {
        match self {
            Node::Attribute(_) => 0,
            Node::Gate { inputs, .. } => 1 + inputs.iter().map(Node::depth).max().unwrap_or(0),
        }
    }

    fn attributes<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Node::Attribute(name) => out.push(name),
            Node::Gate { inputs, .. } => inputs.iter().for_each(|input| input.attributes(out)),
        }
    }

    fn is_satisfied(&self, held: &HashSet<&str>) -> bool {
        match self {
            Node::Attribute(name) => held.contains(name.as_str()),
            Node::Gate { kind, inputs } => {
                let needed = Node::threshold(*kind, inputs.len());
                inputs
                    .iter()
                    .filter(|input| input.is_satisfied(held))
                    .count()
                    >= needed
            }
        }
    }

    /// A gate of `kind` over `inputs`, checked against the rules and limits.
    pub(crate) fn gate(kind: GateKind, inputs: Vec<Node>) -> Result<Node, PolicyError> {
        if inputs.is_empty() {
            return Err(PolicyError::NoInputs);
        }
        if let GateKind::Threshold(k) = kind
            && (k == 0 || k > inputs.len())
        {
            return Err(PolicyError::ThresholdOutOfRange { k, n: inputs.len() });
        }
        let node = Node::Gate { kind, inputs };
        if node.depth() > MAX_POLICY_DEPTH {
            return Err(PolicyError::TooDeep);
        }
        let mut attributes = Vec::new();
        node.attributes(&mut attributes);
        if attributes.len() > MAX_POLICY_ATTRIBUTES {
            return Err(PolicyError::TooManyAttributes);
        }
        let mut seen = HashSet::with_capacity(attributes.len());
        if let Some(repeated) = attributes.into_iter().find(|a| !seen.insert(*a)) {
            return Err(PolicyError::RepeatedAttribute(repeated.to_owned()));
        }
        Ok(node)
    }
}

impl Policy {
    /// The policy satisfied by holding `name`.
    pub fn attribute(name: &str) -> Result<Policy, PolicyError> {
        validate_attribute(name)?;
        Ok(Policy {
            root: Node::Attribute(name.to_owned()),
        })
    }

    /// Satisfied when every input is. A single input is returned as it is.
    pub fn all_of(inputs: impl IntoIterator<Item = Policy>) -> Result<Policy, PolicyError> {
        Policy::gate(GateKind::And, inputs)
    }

    /// Satisfied when any input is. A single input is returned as it is.
    pub fn any_of(inputs: impl IntoIterator<Item = Policy>) -> Result<Policy, PolicyError> {
        Policy::gate(GateKind::Or, inputs)
    }

    /// Satisfied when at least `k` of the inputs are (`1 ≤ k ≤ n`).
    pub fn threshold(
        k: usize,
        inputs: impl IntoIterator<Item = Policy>,
    ) -> Result<Policy, PolicyError> {
        let inputs: Vec<Node> = inputs.into_iter().map(|p| p.root).collect();
        Ok(Policy {
            root: Node::gate(GateKind::Threshold(k), inputs)?,
        })
    }

    fn gate(
        kind: GateKind,
        inputs: impl IntoIterator<Item = Policy>,
    ) -> Result<Policy, PolicyError> {
        let mut inputs: Vec<Node> = inputs.into_iter().map(|p| p.root).collect();
        if inputs.len() == 1 {
            return Ok(Policy {
                root: inputs.remove(0),
            });
        }
        Ok(Policy {
            root: Node::gate(kind, inputs)?,
        })
    }

    /// Parses the grammar of the [module documentation](self).
    pub fn parse(text: &str) -> Result<Policy, ParseError> {
        parse::parse(text).map(|root| Policy { root })
    }

    /// Whether holding `attributes` satisfies the policy.
    pub fn is_satisfied_by(&self, attributes: &[&str]) -> bool {
        let held: HashSet<&str> = attributes.iter().copied().collect();
        self.root.is_satisfied(&held)
    }

    /// The attributes, left to right (all distinct). The i-th is the attribute of the
    /// ciphertext's i-th row.
    pub fn attributes(&self) -> Vec<&str> {
        let mut out = Vec::with_capacity(self.root.leaves());
        self.root.attributes(&mut out);
        out
    }

    /// The number of attributes (rows of the ciphertext).
    pub fn len(&self) -> usize {
        self.root.leaves()
    }

    /// Always false: a policy has at least one attribute. Present because `len` is.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub(crate) fn root(&self) -> &Node {
        &self.root
    }
}

impl FromStr for Policy {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Policy, ParseError> {
        Policy::parse(text)
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_node(&self.root, f)
    }
}

fn write_node(node: &Node, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (kind, inputs) = match node {
        Node::Attribute(name) => return f.write_str(name),
        Node::Gate { kind, inputs } => (*kind, inputs),
    };
    let separator = match kind {
        GateKind::And => " AND ",
        GateKind::Or => " OR ",
        GateKind::Threshold(k) => {
            // Inputs of a threshold are separated by commas, so they need no parentheses.
            write!(f, "{k} of (")?;
            for (i, input) in inputs.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_node(input, f)?;
            }
            return f.write_str(")");
        }
    };
    for (i, input) in inputs.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        let bracketed = matches!(
            input,
            Node::Gate {
                kind: GateKind::And | GateKind::Or,
                ..
            }
        );
        if bracketed {
            f.write_str("(")?;
        }
        write_node(input, f)?;
        if bracketed {
            f.write_str(")")?;
        }
    }
    Ok(())
}

/// Whether holding `attributes` satisfies `policy`. The same as
/// [`Policy::is_satisfied_by`]; a key with these attributes decrypts exactly the
/// ciphertexts whose policy this accepts.
pub fn satisfies(policy: &Policy, attributes: &[&str]) -> bool {
    policy.is_satisfied_by(attributes)
}

/// Whether some attribute set satisfies `policy`.
///
/// Always true, and that is a property of the language rather than a shortcut: a policy
/// is monotone (no NOT) and has at least one attribute, so the set of all its attributes
/// satisfies it. Whether a *given* key could open it is [`satisfies`].
pub fn is_satisfiable(policy: &Policy) -> bool {
    let all = policy.attributes();
    policy.is_satisfied_by(&all)
}

/// Checks an attribute name against the grammar (also for key attributes).
pub fn validate_attribute(name: &str) -> Result<(), PolicyError> {
    let invalid = |reason| PolicyError::InvalidAttribute {
        attribute: name.to_owned(),
        reason,
    };
    let Some(first) = name.chars().next() else {
        return Err(invalid("it is empty"));
    };
    if !first.is_ascii_alphabetic() {
        return Err(invalid("an attribute starts with an ASCII letter"));
    }
    if !name.chars().all(is_attribute_char) {
        return Err(invalid(
            "an attribute has only ASCII letters, digits and _ - . : / @",
        ));
    }
    if name.len() > MAX_ATTRIBUTE_LEN {
        return Err(invalid("longer than 128 bytes"));
    }
    if is_keyword(name) {
        return Err(invalid("AND, OR and of are keywords"));
    }
    Ok(())
}

pub(crate) fn is_attribute_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | '@')
}

fn is_keyword(word: &str) -> bool {
    ["and", "or", "of"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::testing::large_policy;

    fn p(text: &str) -> Policy {
        text.parse().unwrap()
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        let cases = [
            ("a", "a"),
            ("a and b AND c", "a AND b AND c"),
            ("a AND (b AND c)", "a AND (b AND c)"),
            ("a and b or c", "(a AND b) OR c"),
            ("a AND (b OR c)", "a AND (b OR c)"),
            ("((a))", "a"),
            (
                "role:clinician AND (org:H1 OR org:H2) AND 2 OF (a, b ,c)",
                "role:clinician AND (org:H1 OR org:H2) AND 2 of (a, b, c)",
            ),
            ("2 of (a AND b, c OR d, e)", "2 of (a AND b, c OR d, e)"),
            ("1 of (a)", "1 of (a)"),
        ];
        for (text, canonical) in cases {
            let policy = p(text);
            assert_eq!(policy.to_string(), canonical, "{text}");
            assert_eq!(p(canonical), policy, "{text}");
        }
    }

    #[test]
    fn constructors_agree_with_the_parser() {
        let a = Policy::attribute("a").unwrap();
        let b = Policy::attribute("b").unwrap();
        let c = Policy::attribute("c").unwrap();
        let and =
            Policy::all_of([a.clone(), Policy::any_of([b.clone(), c.clone()]).unwrap()]).unwrap();
        assert_eq!(and, p("a AND (b OR c)"));
        assert_eq!(Policy::all_of([a.clone()]).unwrap(), a);
        assert_eq!(
            Policy::threshold(2, [a, b, c]).unwrap(),
            p("2 of (a, b, c)")
        );
        assert_eq!(Policy::all_of([]), Err(PolicyError::NoInputs));
        assert_eq!(
            Policy::threshold(3, [p("a"), p("b")]),
            Err(PolicyError::ThresholdOutOfRange { k: 3, n: 2 })
        );
    }

    #[test]
    fn satisfaction_follows_the_gates() {
        let policy = p("role:clinician AND (org:H1 OR org:H2) AND 2 of (a, b, c)");
        assert!(policy.is_satisfied_by(&["role:clinician", "org:H2", "a", "c"]));
        assert!(!policy.is_satisfied_by(&["role:clinician", "org:H2", "a"]));
        assert!(!policy.is_satisfied_by(&["org:H1", "a", "b", "c"]));
        assert!(!policy.is_satisfied_by(&[]));
        assert!(is_satisfiable(&policy));
    }

    #[test]
    fn attributes_are_checked() {
        for name in ["org:H1", "dept:cardiology", "a", "x-1/y@z.w_v"] {
            assert_eq!(validate_attribute(name), Ok(()), "{name}");
        }
        for name in [
            "",
            "1a",
            ":a",
            "a b",
            "é",
            "AND",
            "of",
            "Or",
            &"a".repeat(129),
        ] {
            assert!(validate_attribute(name).is_err(), "{name}");
        }
    }

    #[test]
    fn attributes_are_listed_in_row_order() {
        let policy = p("a AND (b OR f) AND 2 of (c, d, e)");
        assert_eq!(policy.attributes(), ["a", "b", "f", "c", "d", "e"]);
        assert_eq!(policy.len(), 6);
    }

    proptest! {
        #[test]
        fn a_policy_is_satisfied_by_its_own_attributes(policy in large_policy()) {
            let attributes = policy.attributes();
            prop_assert_eq!(attributes.len(), policy.len());
            prop_assert!(is_satisfiable(&policy));
            prop_assert!(!policy.is_satisfied_by(&[]));
            prop_assert_eq!(Policy::parse(&policy.to_string()), Ok(policy));
        }
    }
}
