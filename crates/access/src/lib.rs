//! Who may do what: the roles, the permission matrix of DESIGN.md §1 and the decision a
//! request gets.
//!
//! The matrix is one table, [`MATRIX`]: a row per [`Action`], a [`Rule`] per [`Role`].
//! Every API route asks [`decide`] before it touches data, and the tests are generated
//! from the same table, so the table is the single place where a right is granted.
//! Anything the table does not grant is denied.
//!
//! ```
//! use vitalis_access::{decide, Action, Actor, ConsentState, Decision, Role, Target};
//! use vitalis_model::PatientId;
//!
//! let alice = PatientId::new("p1").unwrap();
//! let hospital = Actor { role: Role::Hospital, patient: None };
//! let target = Target { patient: &alice, consent: ConsentState::None };
//! assert!(matches!(decide(&hospital, Action::ReadProtected, &target), Decision::Deny(_)));
//! ```

mod matrix;

pub use matrix::{Action, MATRIX, Role, Rule, rule};

use serde::Serialize;
use vitalis_model::PatientId;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Their role.
    pub role: Role,
    /// For a patient, themselves; for a device, the patient it is bound to.
    pub patient: Option<PatientId>,
}

/// What the patient's consent to this actor's institution says, as checked against the
/// ledger and the store just before the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentState {
    /// No grant to this institution.
    None,
    /// A grant that is in force.
    Active(Grant),
    /// The only grant was revoked.
    Revoked,
    /// The only grant has expired.
    Expired,
}

/// The scope of a grant in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Reading is granted.
    pub read: bool,
    /// Writing (clinical results) is granted.
    pub write: bool,
    /// The open section is granted.
    pub open: bool,
    /// The protected section is granted.
    pub protected: bool,
}

/// Whose data, and what consent exists for it.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The patient the data is about.
    pub patient: &'a PatientId,
    /// The patient's consent to the actor's institution.
    pub consent: ConsentState,
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow(Allowance),
    /// Refuse, for this reason.
    Deny(DenyReason),
}

/// Conditions attached to an allowed action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Allowance {
    /// The access must be written to the access log.
    pub log: bool,
    /// Only de-identified data may be returned.
    pub deidentified: bool,
}

/// Why an action was refused. The wire codes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// The role may never do this.
    NotPermitted,
    /// The data belongs to another patient.
    NotOwnData,
    /// The patient has not granted this access.
    NoConsent,
    /// The patient revoked the grant.
    ConsentRevoked,
    /// The grant expired.
    ConsentExpired,
    /// The role may only ask for this, not do it.
    RequestOnly,
}

impl DenyReason {
    /// The stable wire code.
    pub fn code(self) -> &'static str {
        match self {
            DenyReason::NotPermitted => "not_permitted",
            DenyReason::NotOwnData => "not_own_data",
            DenyReason::NoConsent => "no_consent",
            DenyReason::ConsentRevoked => "consent_revoked",
            DenyReason::ConsentExpired => "consent_expired",
            DenyReason::RequestOnly => "request_only",
        }
    }
}

/// Decides whether `actor` may do `action` on `target`'s data.
pub fn decide(actor: &Actor, action: Action, target: &Target<'_>) -> Decision {
    let own = actor.patient.as_ref() == Some(target.patient);
    match rule(actor.role, action) {
        Rule::Never => Decision::Deny(DenyReason::NotPermitted),
        Rule::RequestOnly => Decision::Deny(DenyReason::RequestOnly),
        Rule::Own => {
            if own {
                // Every read of protected data is logged, the patient's own included.
                Decision::Allow(Allowance {
                    log: action == Action::ReadProtected,
                    deidentified: false,
                })
            } else {
                Decision::Deny(DenyReason::NotOwnData)
            }
        }
        Rule::Always => Decision::Allow(Allowance {
            log: true,
            deidentified: false,
        }),
        Rule::WithConsent | Rule::Deidentified => match consent_covers(target.consent, action) {
            Ok(()) => Decision::Allow(Allowance {
                log: true,
                deidentified: rule(actor.role, action) == Rule::Deidentified,
            }),
            Err(reason) => Decision::Deny(reason),
        },
    }
}

/// Whether a grant covers the section and direction of `action`.
fn consent_covers(consent: ConsentState, action: Action) -> Result<(), DenyReason> {
    let grant = match consent {
        ConsentState::Active(grant) => grant,
        ConsentState::None => return Err(DenyReason::NoConsent),
        ConsentState::Revoked => return Err(DenyReason::ConsentRevoked),
        ConsentState::Expired => return Err(DenyReason::ConsentExpired),
    };
    let covered = match action {
        Action::ReadOpen => grant.read && grant.open,
        Action::ReadProtected => grant.read && grant.protected,
        Action::WriteClinical => grant.write,
        _ => false,
    };
    if covered {
        Ok(())
    } else {
        Err(DenyReason::NoConsent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: Grant = Grant {
        read: true,
        write: true,
        open: true,
        protected: true,
    };

    /// Every cell of the table, for the owner and for someone else's patient, under every
    /// consent state: the decision follows the rule and nothing else.
    #[test]
    fn decisions_follow_the_table_in_every_cell() {
        let mine = PatientId::new("p-mine").unwrap();
        let theirs = PatientId::new("p-theirs").unwrap();
        let states = [
            ConsentState::None,
            ConsentState::Active(FULL),
            ConsentState::Revoked,
            ConsentState::Expired,
        ];
        for (action, rules) in MATRIX {
            for (role, rule) in Role::ALL.into_iter().zip(rules) {
                let actor = Actor {
                    role,
                    patient: matches!(role, Role::Patient | Role::Device).then(|| mine.clone()),
                };
                for patient in [&mine, &theirs] {
                    for consent in states {
                        let got = decide(&actor, action, &Target { patient, consent });
                        let allowed = match rule {
                            Rule::Never | Rule::RequestOnly => false,
                            Rule::Own => patient == &mine,
                            Rule::Always => true,
                            Rule::WithConsent | Rule::Deidentified => {
                                matches!(consent, ConsentState::Active(_))
                                    && matches!(
                                        action,
                                        Action::ReadOpen
                                            | Action::ReadProtected
                                            | Action::WriteClinical
                                    )
                            }
                        };
                        assert_eq!(
                            matches!(got, Decision::Allow(_)),
                            allowed,
                            "{role:?} {action:?} on {patient:?} with {consent:?}: {got:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_grant_covers_only_its_sections_and_direction() {
        let p = PatientId::new("p").unwrap();
        let hospital = Actor {
            role: Role::Hospital,
            patient: None,
        };
        let open_read = ConsentState::Active(Grant {
            read: true,
            write: false,
            open: true,
            protected: false,
        });
        let target = Target {
            patient: &p,
            consent: open_read,
        };
        assert!(matches!(
            decide(&hospital, Action::ReadOpen, &target),
            Decision::Allow(Allowance { log: true, .. })
        ));
        assert_eq!(
            decide(&hospital, Action::ReadProtected, &target),
            Decision::Deny(DenyReason::NoConsent)
        );
        assert_eq!(
            decide(&hospital, Action::WriteClinical, &target),
            Decision::Deny(DenyReason::NoConsent)
        );
    }

    #[test]
    fn enterprise_never_reads_protected_data_whatever_the_consent() {
        let p = PatientId::new("p").unwrap();
        let enterprise = Actor {
            role: Role::Enterprise,
            patient: None,
        };
        let target = Target {
            patient: &p,
            consent: ConsentState::Active(FULL),
        };
        assert_eq!(
            decide(&enterprise, Action::ReadProtected, &target),
            Decision::Deny(DenyReason::NotPermitted)
        );
    }
}
