//! Policies as monotone span programs (MSP, equivalently linear secret-sharing schemes).
//!
//! A policy becomes a matrix `M` with one row per attribute occurrence (in the order of
//! [`Policy::attributes`]) such that a set of rows spans the target vector
//! `(1, 0, …, 0)` exactly when their attributes satisfy the policy. Column 0 carries the
//! secret; every gate adds columns of its own:
//!
//! - AND of `n` inputs, the conversion of Lewko and Waters ("Decentralizing
//!   Attribute-Based Encryption", EUROCRYPT 2011, Appendix G), applied to the chain
//!   `x1 AND (x2 AND (… AND xn))`: with `v` the gate's vector and `c1 … c(n-1)` new
//!   columns, input 1 gets `v + e(c1)`, input `i` gets `−e(c(i-1)) + e(ci)` and input `n`
//!   gets `−e(c(n-1))`. Only all of them together sum to `v`. Entries stay 0 or ±1.
//! - OR: every input gets `v` (Lewko–Waters again).
//! - `k` of `n` with `1 < k < n`: input `i` (numbered from 1) gets
//!   `v + i·e(c1) + i²·e(c2) + … + i^(k-1)·e(c(k-1))`, Shamir's sharing written as
//!   Vandermonde rows, the threshold-gate construction of Liu, Cao and Wong ("Efficient
//!   Generation of Linear Secret Sharing Scheme Matrices from Threshold Access Trees",
//!   IACR ePrint 2010/374). Any `k` inputs recover `v` with Lagrange coefficients at 0;
//!   fewer span nothing of `v`. `k = n` is treated as AND and `k = 1` as OR.
//!
//! [`reconstruction`] finds, for a set of attributes, coefficients `γ` over the rows with
//! `Σ γ_i M_i = (1, 0, …, 0)` by walking the same tree, in linear time, preferring the
//! inputs that need the fewest rows.

use std::ops::Neg;

use blstrs::Scalar;
use ff::Field;

use crate::policy::{Node, Policy};

/// One row of the span program, sparse: `(column, entry)` pairs, columns distinct.
pub(crate) type Row = Vec<(usize, Scalar)>;

/// The matrix of a policy: rows in the order of [`Policy::attributes`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Msp {
    pub(crate) rows: Vec<Row>,
    pub(crate) columns: usize,
}

impl Msp {
    pub(crate) fn from_policy(policy: &Policy) -> Msp {
        let mut msp = Msp {
            rows: Vec::with_capacity(policy.len()),
            columns: 1,
        };
        msp.share(policy.root(), vec![(0, Scalar::ONE)]);
        msp
    }

    /// Gives `node` the vector `v`, opening new columns for its gate.
    fn share(&mut self, node: &Node, v: Row) {
        let (kind, inputs) = match node {
            Node::Attribute(_) => return self.rows.push(v),
            Node::Gate { kind, inputs } => (*kind, inputs),
        };
        let n = inputs.len();
        let k = Node::threshold(kind, n);
        if k == 1 {
            for input in inputs {
                self.share(input, v.clone());
            }
        } else if k == n {
            let first = self.columns;
            self.columns += n - 1;
            for (i, input) in inputs.iter().enumerate() {
                let mut row = if i == 0 { v.clone() } else { Vec::new() };
                if i > 0 {
                    row.push((first + i - 1, Scalar::ONE.neg()));
                }
                if i < n - 1 {
                    row.push((first + i, Scalar::ONE));
                }
                self.share(input, row);
            }
        } else {
            let first = self.columns;
            self.columns += k - 1;
            for (i, input) in inputs.iter().enumerate() {
                let x = Scalar::from(i as u64 + 1);
                let mut row = v.clone();
                let mut power = x;
                for e in 0..k - 1 {
                    row.push((first + e, power));
                    power *= x;
                }
                self.share(input, row);
            }
        }
    }
}

/// Coefficients `(row, γ)` that combine the rows of held attributes into
/// `(1, 0, …, 0)`, or `None` when `holds` does not satisfy the policy.
pub(crate) fn reconstruction(
    policy: &Policy,
    holds: impl Fn(&str) -> bool,
) -> Option<Vec<(usize, Scalar)>> {
    let mut next_row = 0;
    solve(policy.root(), &holds, &mut next_row)
}

/// Coefficients for the subtree `node`, whose rows start at `*next_row`, relative to the
/// coefficient 1 for `node`'s own vector. Advances `*next_row` past the subtree.
fn solve(
    node: &Node,
    holds: &impl Fn(&str) -> bool,
    next_row: &mut usize,
) -> Option<Vec<(usize, Scalar)>> {
    let (kind, inputs) = match node {
        Node::Attribute(name) => {
            let row = *next_row;
            *next_row += 1;
            return holds(name).then(|| vec![(row, Scalar::ONE)]);
        }
        Node::Gate { kind, inputs } => (*kind, inputs),
    };
    let n = inputs.len();
    let k = Node::threshold(kind, n);
    // Solve every input (each must advance the row counter), then keep the k cheapest.
    let mut solved: Vec<(usize, Vec<(usize, Scalar)>)> = inputs
        .iter()
        .enumerate()
        .filter_map(|(i, input)| solve(input, holds, next_row).map(|s| (i, s)))
        .collect();
    if solved.len() < k {
        return None;
    }
    solved.sort_by_key(|(_, s)| s.len());
    solved.truncate(k);
    if k == 1 || k == n {
        // OR passes `v` unchanged; the AND rows telescope to `v` with all coefficients 1.
        return Some(solved.into_iter().flat_map(|(_, s)| s).collect());
    }
    let xs: Vec<Scalar> = solved
        .iter()
        .map(|(i, _)| Scalar::from(*i as u64 + 1))
        .collect();
    let mut out = Vec::new();
    for (j, (_, coefficients)) in solved.into_iter().enumerate() {
        let lambda = lagrange_at_zero(&xs, j);
        out.extend(coefficients.into_iter().map(|(row, c)| (row, c * lambda)));
    }
    Some(out)
}

/// The Lagrange coefficient at 0 of the point `xs[j]`: `Π_{m≠j} x_m / (x_m − x_j)`.
fn lagrange_at_zero(xs: &[Scalar], j: usize) -> Scalar {
    let mut numerator = Scalar::ONE;
    let mut denominator = Scalar::ONE;
    for (m, x) in xs.iter().enumerate() {
        if m != j {
            numerator *= x;
            denominator *= x - xs[j];
        }
    }
    // The points are distinct input numbers 1..=n, far below the group order, so the
    // denominator is never zero.
    let inverse: Option<Scalar> = denominator.invert().into();
    numerator * inverse.expect("distinct evaluation points")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::testing::{arbitrary_policy, attribute_subset};

    fn combine(msp: &Msp, coefficients: &[(usize, Scalar)]) -> Vec<Scalar> {
        let mut sum = vec![Scalar::ZERO; msp.columns];
        for (row, gamma) in coefficients {
            for (column, entry) in &msp.rows[*row] {
                sum[*column] += *entry * gamma;
            }
        }
        sum
    }

    fn target(columns: usize) -> Vec<Scalar> {
        let mut t = vec![Scalar::ZERO; columns];
        t[0] = Scalar::ONE;
        t
    }

    /// Whether `target` is in the span of `rows` (dense), by Gaussian elimination on the
    /// transposed system `Σ γ_i row_i = target`.
    fn in_span(rows: &[Vec<Scalar>], target: &[Scalar]) -> bool {
        let columns = target.len();
        // Augmented matrix: one equation per column, one unknown per row.
        let mut system: Vec<Vec<Scalar>> = (0..columns)
            .map(|c| {
                let mut equation: Vec<Scalar> = rows.iter().map(|r| r[c]).collect();
                equation.push(target[c]);
                equation
            })
            .collect();
        let unknowns = rows.len();
        let mut pivot_row = 0;
        for unknown in 0..unknowns {
            let Some(found) =
                (pivot_row..columns).find(|&r| !bool::from(system[r][unknown].is_zero()))
            else {
                continue;
            };
            system.swap(pivot_row, found);
            let inverse = system[pivot_row][unknown].invert().unwrap();
            let pivot = system[pivot_row].clone();
            for (r, equation) in system.iter_mut().enumerate() {
                if r != pivot_row && !bool::from(equation[unknown].is_zero()) {
                    let factor = equation[unknown] * inverse;
                    for (value, p) in equation.iter_mut().zip(&pivot) {
                        *value -= factor * p;
                    }
                }
            }
            pivot_row += 1;
        }
        // Consistent unless a zeroed equation keeps a non-zero right-hand side.
        system[pivot_row..]
            .iter()
            .all(|equation| bool::from(equation[unknowns].is_zero()))
    }

    fn dense(msp: &Msp, row: usize) -> Vec<Scalar> {
        let mut out = vec![Scalar::ZERO; msp.columns];
        for (column, entry) in &msp.rows[row] {
            out[*column] = *entry;
        }
        out
    }

    #[test]
    fn and_of_n_is_n_by_n_with_unit_entries() {
        let policy: Policy = "a AND b AND c AND d".parse().unwrap();
        let msp = Msp::from_policy(&policy);
        assert_eq!((msp.rows.len(), msp.columns), (4, 4));
        for row in &msp.rows {
            for (_, entry) in row {
                assert!(*entry == Scalar::ONE || *entry == Scalar::ONE.neg());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The reconstruction exists exactly for satisfying sets and hits the target; and
        /// the matrix itself agrees: the rows of a non-satisfying set do not span it (the
        /// property the scheme's security rests on).
        #[test]
        fn span_program_accepts_exactly_the_satisfying_sets(
            (policy, held) in arbitrary_policy().prop_flat_map(|p| {
                let held = attribute_subset();
                (Just(p), held)
            })
        ) {
            let msp = Msp::from_policy(&policy);
            let attributes = policy.attributes();
            prop_assert_eq!(msp.rows.len(), attributes.len());
            let held_refs: Vec<&str> = held.iter().map(String::as_str).collect();
            let satisfied = policy.is_satisfied_by(&held_refs);
            let gamma = reconstruction(&policy, |a| held_refs.contains(&a));
            prop_assert_eq!(gamma.is_some(), satisfied);
            if let Some(gamma) = gamma {
                for (row, _) in &gamma {
                    prop_assert!(held_refs.contains(&attributes[*row]));
                }
                prop_assert_eq!(combine(&msp, &gamma), target(msp.columns));
            }
            let rows: Vec<Vec<Scalar>> = (0..msp.rows.len())
                .filter(|&r| held_refs.contains(&attributes[r]))
                .map(|r| dense(&msp, r))
                .collect();
            prop_assert_eq!(in_span(&rows, &target(msp.columns)), satisfied);
        }
    }
}
