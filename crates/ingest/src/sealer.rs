//! The node's side of sealing protected records (see `vitalis_store::sealing`): which
//! epoch key a patient's next protected record is sealed under, and who may open it.
//!
//! An epoch key is created the first time this node seals for a patient and again after
//! [`Sealer::forget`] (a consent granted or revoked). It is wrapped for the patient with
//! HPKE under the public key their account published, and, when institutions hold the
//! patient's consent to read the protected section, encrypted under the CP-ABE policy
//! [`default_policy`] names. The plain key stays in this node's memory only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vitalis_abe::Policy;
use vitalis_access::Role;
use vitalis_crypto::envelope::{self, DataKey, PatientPublicKey, PatientSecretKey};
use vitalis_model::PatientId;
use vitalis_store::directory::ConsentRecord;
use vitalis_store::sealing::{
    AttributeKeyRecord, NewSealEpoch, RecordKeys, SealEpoch, SealKey, epoch_context,
};
use vitalis_store::{Store, StoreError};

/// A patient's keys as a reader: opens the epochs wrapped for them (HPKE).
pub struct PatientReader(pub PatientSecretKey);

impl RecordKeys for PatientReader {
    fn epoch_key(&self, epoch: &SealEpoch) -> Option<DataKey> {
        envelope::unwrap_for_patient(&self.0, &epoch.patient_wrap, &epoch_context(&epoch.patient))
            .ok()
    }
}

/// An institution account's attribute key as a reader: opens the epochs whose policy its
/// attributes satisfy (CP-ABE).
pub struct InstitutionReader(pub vitalis_abe::SecretKey);

impl RecordKeys for InstitutionReader {
    fn epoch_key(&self, epoch: &SealEpoch) -> Option<DataKey> {
        let ciphertext = vitalis_abe::Ciphertext::from_bytes(epoch.policy_wrap.as_ref()?).ok()?;
        let key = vitalis_abe::decrypt(&self.0, &ciphertext).ok()?;
        Some(DataKey::from_bytes(*key))
    }
}

fn attribute_key_context(account: &str) -> Vec<u8> {
    let mut out = b"vitalis/attribute-key/v1".to_vec();
    out.extend_from_slice(account.as_bytes());
    out
}

/// Issues an attribute key with `attributes` to an institution account, sealed so that
/// only the holder of the account's key (`account_key`) opens it.
pub fn issue_attribute_key(
    master: &vitalis_abe::MasterKey,
    account: &str,
    institution: &str,
    attributes: &[String],
    account_key: &PatientPublicKey,
    issued_at: i64,
) -> Result<AttributeKeyRecord, vitalis_abe::Error> {
    let names: Vec<&str> = attributes.iter().map(String::as_str).collect();
    let key = vitalis_abe::keygen(master, &names, &mut rand::rng())?;
    let mut rng = rand::rng();
    let sealing = DataKey::generate(&mut rng);
    let context = attribute_key_context(account);
    Ok(AttributeKeyRecord {
        account: account.to_owned(),
        institution: institution.to_owned(),
        attributes: attributes.to_vec(),
        wrapped_key: envelope::wrap_for_patient(account_key, &sealing, &context, &mut rng),
        sealed_key: envelope::seal_payload(&sealing, &context, &key.to_bytes(), &mut rng),
        issued_at,
    })
}

/// Opens an attribute key with the account's own key; `None` when it is not theirs or
/// was altered.
pub fn open_attribute_key(
    record: &AttributeKeyRecord,
    account_key: &PatientSecretKey,
) -> Option<vitalis_abe::SecretKey> {
    let context = attribute_key_context(&record.account);
    let sealing = envelope::unwrap_for_patient(account_key, &record.wrapped_key, &context).ok()?;
    let bytes = envelope::open_payload(&sealing, &context, &record.sealed_key).ok()?;
    vitalis_abe::SecretKey::from_bytes(&bytes).ok()
}

/// How far wrapping a patient's earlier epochs for their current readers has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RewrapProgress {
    /// Epochs wrapped again so far.
    pub done: usize,
    /// Epochs to wrap.
    pub total: usize,
}

/// Consent bits: read access, protected section.
const READ: u8 = 1;
const PROTECTED: u8 = 2;

/// The attribute an institution's key carries for its id.
pub fn org_attribute(institution: &str) -> String {
    format!("org:{institution}")
}

/// The attribute an institution's key carries for its role.
pub fn role_attribute(role: Role) -> String {
    format!("role:{}", role.name())
}

/// Whether the permission matrix lets `role` read the protected section at all (with
/// consent), and so whether its keys ever need to open sealed records.
pub fn may_read_protected(role: Role) -> bool {
    !matches!(
        vitalis_access::rule(role, vitalis_access::Action::ReadProtected),
        vitalis_access::Rule::Never
    )
}

/// The attributes the attribute authority gives an approved institution's key.
pub fn institution_attributes(institution: &str, role: Role) -> Vec<String> {
    vec![role_attribute(role), org_attribute(institution)]
}

/// The policy of a patient's protected records when the patient has chosen none: any
/// institution that holds a live consent to read the protected section and whose role
/// the permission matrix lets read it, as its role and id, `(role:hospital AND org:A) OR (role:researcher AND org:B)`. `None` when no
/// institution holds one (then only the patient can open new records).
pub fn default_policy(
    consents: &[ConsentRecord],
    role_of: impl Fn(&str) -> Option<Role>,
    now: i64,
) -> Result<Option<Policy>, vitalis_abe::PolicyError> {
    let mut institutions: Vec<(&str, Role)> = consents
        .iter()
        .filter(|c| c.revoked_at.is_none() && c.expires_at > now)
        .filter(|c| c.access & READ != 0 && c.sections & PROTECTED != 0)
        .filter_map(|c| Some((c.institution.as_str(), role_of(&c.institution)?)))
        // The permission matrix decides which roles may ever read the protected section
        // (an enterprise never does, whatever its consent says).
        .filter(|(_, role)| may_read_protected(*role))
        .collect();
    institutions.sort();
    institutions.dedup();
    if institutions.is_empty() {
        return Ok(None);
    }
    // Grouped by role, since FAME lets an attribute occur only once in a policy.
    let mut by_role: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (id, role) in institutions {
        by_role.entry(role.name()).or_default().push(id);
    }
    let terms = by_role
        .into_iter()
        .map(|(role, ids)| {
            let orgs = ids
                .into_iter()
                .map(|id| Policy::attribute(&org_attribute(id)))
                .collect::<Result<Vec<_>, _>>()?;
            let orgs = one_or(orgs, Policy::any_of)?;
            Policy::all_of([Policy::attribute(&format!("role:{role}"))?, orgs])
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(one_or(terms, Policy::any_of)?))
}

/// The one policy of `parts`, or `combine` of them all.
fn one_or(
    mut parts: Vec<Policy>,
    combine: impl FnOnce(Vec<Policy>) -> Result<Policy, vitalis_abe::PolicyError>,
) -> Result<Policy, vitalis_abe::PolicyError> {
    if parts.len() == 1 {
        Ok(parts.pop().expect("one part"))
    } else {
        combine(parts)
    }
}

/// Hands out each patient's current epoch key, starting epochs as needed.
pub struct Sealer {
    store: Arc<dyn Store>,
    authority: vitalis_abe::PublicKey,
    current: Mutex<HashMap<PatientId, SealKey>>,
    progress: Mutex<HashMap<PatientId, RewrapProgress>>,
}

impl Sealer {
    /// A sealer that encrypts policies under the attribute authority's public key.
    pub fn new(store: Arc<dyn Store>, authority: vitalis_abe::PublicKey) -> Sealer {
        Sealer {
            store,
            authority,
            current: Mutex::new(HashMap::new()),
            progress: Mutex::new(HashMap::new()),
        }
    }

    /// The policy the patient's protected records are sealed under now: the one they
    /// chose, else [`default_policy`]; `None` when no institution may read.
    pub async fn policy_for(&self, patient: &PatientId) -> Result<Option<Policy>, StoreError> {
        if let Some(text) = self.store.access_policy(patient).await? {
            let policy = text
                .parse::<Policy>()
                .map_err(|e| StoreError::Corrupt(format!("patient {patient}'s policy: {e}")))?;
            return Ok(Some(policy));
        }
        let consents = self.store.consents_of_patient(patient).await?;
        let mut roles = HashMap::new();
        for c in &consents {
            if let Some(inst) = self.store.institution(&c.institution).await? {
                roles.insert(inst.id.clone(), inst.role);
            }
        }
        default_policy(&consents, |id| roles.get(id).copied(), now_ms())
            .map_err(|e| StoreError::Invalid(format!("access policy: {e}")))
    }

    /// Wraps every earlier epoch of the patient's for the readers of now (a consent
    /// granted or revoked, a policy changed), with the patient's own key, and ends the
    /// current epoch. Records are not touched: only epochs' policy wraps change.
    /// Progress is kept for [`Sealer::progress`].
    pub async fn rewrap(
        &self,
        patient: &PatientId,
        key: &PatientSecretKey,
    ) -> Result<RewrapProgress, StoreError> {
        self.forget(patient);
        let policy = self.policy_for(patient).await?;
        let epochs = self.store.seal_epochs(patient).await?;
        let mut progress = RewrapProgress {
            done: 0,
            total: epochs.len(),
        };
        self.set_progress(patient, progress);
        let reader = PatientReader(PatientSecretKey::from_seed(key.seed()));
        let text = policy.as_ref().map(ToString::to_string);
        for epoch in &epochs {
            let Some(epoch_key) = reader.epoch_key(epoch) else {
                return Err(StoreError::Invalid(format!(
                    "epoch {} is not wrapped for this patient's key",
                    epoch.id
                )));
            };
            let wrap = policy.as_ref().map(|p| {
                vitalis_abe::encrypt(&self.authority, p, epoch_key.as_bytes(), &mut rand::rng())
                    .to_bytes()
            });
            self.store
                .rewrap_seal_epoch(epoch.id, text.as_deref(), wrap.as_deref())
                .await?;
            progress.done += 1;
            self.set_progress(patient, progress);
        }
        Ok(progress)
    }

    /// The last rewrap's progress for the patient, if one ran since this node started.
    pub fn progress(&self, patient: &PatientId) -> Option<RewrapProgress> {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(patient)
            .copied()
    }

    fn set_progress(&self, patient: &PatientId, progress: RewrapProgress) {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(patient.clone(), progress);
    }

    /// The key `patient`'s next protected record is sealed under, or `None` when the
    /// patient has no sealing key yet (an account that never signed in since sealing
    /// began, or a script patient without an account): their records stay plain.
    pub async fn key_for(&self, patient: &PatientId) -> Result<Option<SealKey>, StoreError> {
        if let Some(key) = self.lock().get(patient) {
            return Ok(Some(key.clone()));
        }
        let Some(public) = self.store.seal_public_key(patient).await? else {
            return Ok(None);
        };
        let public = PatientPublicKey::from_bytes(&public)
            .map_err(|e| StoreError::Corrupt(format!("patient {patient}'s sealing key: {e}")))?;
        let now = now_ms();
        let policy = self.policy_for(patient).await?;

        let key = DataKey::generate(&mut rand::rng());
        let context = epoch_context(patient);
        let patient_wrap = envelope::wrap_for_patient(&public, &key, &context, &mut rand::rng());
        let policy_wrap = policy.as_ref().map(|p| {
            vitalis_abe::encrypt(&self.authority, p, key.as_bytes(), &mut rand::rng()).to_bytes()
        });
        let epoch = self
            .store
            .create_seal_epoch(&NewSealEpoch {
                patient: patient.clone(),
                patient_wrap,
                policy: policy.as_ref().map(ToString::to_string),
                policy_wrap,
                created_at: now,
            })
            .await?;
        let seal = SealKey { epoch, key };
        // Two first uploads racing start two epochs; both are valid, the later one stays.
        self.lock().insert(patient.clone(), seal.clone());
        Ok(Some(seal))
    }

    /// Ends the patient's current epoch: the next protected record starts a new one with
    /// the readers of that moment.
    pub fn forget(&self, patient: &PatientId) {
        self.lock().remove(patient);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PatientId, SealKey>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consent(institution: &str, access: u8, sections: u8, revoked: bool) -> ConsentRecord {
        ConsentRecord {
            grant_id: [0; 32],
            patient: PatientId::new("p1".to_owned()).unwrap(),
            institution: institution.to_owned(),
            access,
            sections,
            metrics: Vec::new(),
            purpose: String::new(),
            expires_at: 2_000,
            created_at: 0,
            block_number: 0,
            tx_hash: [0; 32],
            revoked_at: revoked.then_some(1),
            revoke_tx: None,
        }
    }

    fn role_of(id: &str) -> Option<Role> {
        match id {
            "h1" | "h2" => Some(Role::Hospital),
            "r1" => Some(Role::Researcher),
            "e1" => Some(Role::Enterprise),
            _ => None,
        }
    }

    #[test]
    fn the_default_policy_names_institutions_with_live_protected_read_consent() {
        let consents = [
            consent("h1", READ, PROTECTED | 1, false),
            consent("h2", READ, 1, false),         // open section only
            consent("r1", READ, PROTECTED, true),  // revoked
            consent("h9", READ, PROTECTED, false), // unknown institution
            consent("e1", READ, PROTECTED, false), // enterprise: never protected
        ];
        let policy = default_policy(&consents, role_of, 1_000).unwrap().unwrap();
        assert!(policy.is_satisfied_by(&["role:hospital", "org:h1"]));
        assert!(!policy.is_satisfied_by(&["role:hospital", "org:h2"]));
        assert!(!policy.is_satisfied_by(&["role:researcher", "org:r1"]));
        assert!(!policy.is_satisfied_by(&["role:hospital"]));
        assert!(!policy.is_satisfied_by(&["role:enterprise", "org:e1"]));
        // Expired: nobody.
        assert!(default_policy(&consents, role_of, 5_000).unwrap().is_none());

        let both = [
            consent("h1", READ, PROTECTED, false),
            consent("r1", READ | 2, PROTECTED, false),
        ];
        let policy = default_policy(&both, role_of, 1_000).unwrap().unwrap();
        assert!(policy.is_satisfied_by(&["role:researcher", "org:r1"]));
        assert!(policy.is_satisfied_by(&["role:hospital", "org:h1"]));
        assert!(!policy.is_satisfied_by(&["role:hospital", "org:r1"]));
    }
}
