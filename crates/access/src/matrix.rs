//! The permission matrix of DESIGN.md §1, as one table.

use serde::{Deserialize, Serialize};

/// Who someone is to the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person the data is about.
    Patient,
    /// A watch, phone or gateway bound to one patient.
    Device,
    /// A health-check institution.
    Hospital,
    /// A research institution.
    Researcher,
    /// An employer, insurer or public body.
    Enterprise,
    /// The regulator and operator of the consortium.
    Supervisor,
    /// The operator of one node.
    Admin,
}

impl Role {
    /// Every role, in the matrix's column order.
    pub const ALL: [Role; 7] = [
        Role::Patient,
        Role::Device,
        Role::Hospital,
        Role::Researcher,
        Role::Enterprise,
        Role::Supervisor,
        Role::Admin,
    ];

    /// Stable wire name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Device => "device",
            Role::Hospital => "hospital",
            Role::Researcher => "researcher",
            Role::Enterprise => "enterprise",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// Parses a wire name.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether the role belongs to an institution (which patients grant consent to).
    pub fn is_institution(self) -> bool {
        matches!(self, Role::Hospital | Role::Researcher | Role::Enterprise)
    }
}

/// Something done to a patient's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read readings and records of the open section.
    ReadOpen,
    /// Read readings and records of the protected section.
    ReadProtected,
    /// Write readings (a device's uploads; a patient's manual entries of open metrics).
    WriteReadings,
    /// Write clinical results into the patient's history.
    WriteClinical,
    /// Grant or revoke consent.
    ManageConsent,
    /// Pair, change and revoke devices.
    ManageDevices,
    /// Change the patient's settings (sections, profile).
    ManageSettings,
    /// Read audit metadata: the access log and record headers, never payloads.
    ReadAudit,
    /// Correct or erase a record (redaction).
    CorrectRecord,
}

impl Action {
    /// Every action, in the matrix's row order.
    pub const ALL: [Action; 9] = [
        Action::ReadOpen,
        Action::ReadProtected,
        Action::WriteReadings,
        Action::WriteClinical,
        Action::ManageConsent,
        Action::ManageDevices,
        Action::ManageSettings,
        Action::ReadAudit,
        Action::CorrectRecord,
    ];
}

/// What a role may do for one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Never, whatever the request says.
    Never,
    /// Only on the actor's own data (a patient's own, a device's bound patient's).
    Own,
    /// With the patient's consent in force, covering the section and direction; logged.
    WithConsent,
    /// With the patient's (study) consent, de-identified data only; logged.
    Deidentified,
    /// May ask for it; someone else decides.
    RequestOnly,
    /// On any patient's data (audit duties); logged.
    Always,
}

use Rule::{Always, Deidentified, Never, Own, RequestOnly, WithConsent};

/// The matrix: one row per action; columns in [`Role::ALL`] order (patient, device,
/// hospital, researcher, enterprise, supervisor, admin).
///
/// Where DESIGN.md §1 says more than the table can: a patient's own writes are manual
/// entries of open-section metrics (the route checks the metric); reading the protected
/// section will also need policy keys once records are sealed; the supervisor reads audit
/// metadata only, never payloads; the admin has no right to health data at all.
#[rustfmt::skip]
pub const MATRIX: [(Action, [Rule; 7]); 9] = [
    //                         patient      device  hospital     researcher    enterprise   supervisor  admin
    (Action::ReadOpen,       [Own,         Never,  WithConsent, Deidentified, WithConsent, Never,      Never]),
    (Action::ReadProtected,  [Own,         Never,  WithConsent, Deidentified, Never,       Never,      Never]),
    (Action::WriteReadings,  [Own,         Own,    Never,       Never,        Never,       Never,      Never]),
    (Action::WriteClinical,  [Never,       Never,  WithConsent, Never,        Never,       Never,      Never]),
    (Action::ManageConsent,  [Own,         Never,  Never,       Never,        Never,       Never,      Never]),
    (Action::ManageDevices,  [Own,         Never,  Never,       Never,        Never,       Never,      Never]),
    (Action::ManageSettings, [Own,         Never,  Never,       Never,        Never,       Never,      Never]),
    (Action::ReadAudit,      [Own,         Never,  Never,       Never,        Never,       Always,     Never]),
    (Action::CorrectRecord,  [RequestOnly, Never,  RequestOnly, Never,        Never,       Always,     Never]),
];

/// The rule for `role` doing `action`.
pub fn rule(role: Role, action: Action) -> Rule {
    let column = Role::ALL
        .iter()
        .position(|r| *r == role)
        .unwrap_or(usize::MAX);
    MATRIX
        .iter()
        .find(|(a, _)| *a == action)
        .and_then(|(_, rules)| rules.get(column).copied())
        .unwrap_or(Never)
}

impl Action {
    /// Stable wire name (also used in the access log).
    pub fn name(self) -> &'static str {
        match self {
            Action::ReadOpen => "read_open",
            Action::ReadProtected => "read_protected",
            Action::WriteReadings => "write_readings",
            Action::WriteClinical => "write_clinical",
            Action::ManageConsent => "manage_consent",
            Action::ManageDevices => "manage_devices",
            Action::ManageSettings => "manage_settings",
            Action::ReadAudit => "read_audit",
            Action::CorrectRecord => "correct_record",
        }
    }
}
