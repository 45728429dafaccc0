// Shapes of the API's answers, as documented in the README's tables.

export type Role = "patient" | "hospital" | "researcher" | "enterprise" | "supervisor" | "admin" | "device";

export interface Account {
  id: string;
  role: Role;
  email: string;
  name: string;
  status: "active" | "pending" | "suspended";
  patient_id?: string;
  institution_id?: string;
  address?: string;
}

export interface SessionAnswer {
  account: Account;
  csrf_token: string | null;
}

export interface SignUpAnswer {
  account: Account;
  recovery_key: string;
  csrf_token?: string;
}

export interface Device {
  id: string;
  kind: "device" | "manual" | "institution" | "import" | string;
  name: string;
  public_key: string | null;
  upload_interval_s: number;
  created_at: number;
  last_upload_at: number | null;
  revoked_at: number | null;
}

export interface PairAnswer {
  /** The new device's id. */
  device: string;
  token: string;
  upload_interval_s: number;
  signed_uploads: boolean;
}

export interface PairingCode {
  code: string;
  expires_at: number;
  page: string;
}

export type ReadingValue = number | string | { lat: number; lon: number; accuracy?: number };

export interface Reading {
  metric: string;
  t: number;
  value: ReadingValue;
  unit: string;
  device?: string;
  record?: string;
}

export interface ReadingsPage {
  readings: Reading[];
  next?: string;
}

export interface LiveBatch {
  device: string;
  readings: Array<Reading & { section: "open" | "protected" }>;
}

export interface Series {
  metric: string;
  unit: string;
  source: "readings" | "rollup_means";
  source_points: number;
  points: Array<[number, number]>;
}

export interface Alert {
  id: string;
  rule: string;
  kind: "above" | "below" | "offline" | "anomaly";
  metric: string | null;
  device: string | null;
  value: number | null;
  t: number;
  fired_at: number;
  message: string;
  acknowledged_at: number | null;
  resolved_at: number | null;
}

export interface AlertRule {
  id: string;
  kind: "above" | "below" | "offline" | "anomaly";
  metric: string | null;
  threshold: number | null;
  minutes: number | null;
  webhook: string | null;
  created_by: string;
  created_at: number;
}

export interface Anchor {
  root: string;
  proof: string;
  status: "pending" | "anchored";
  index: number | null;
  block: number | null;
  tx: string | null;
}

export interface ChainRecord {
  id: string;
  seq: number;
  section: "open" | "protected";
  source: string;
  t_from: number;
  t_to: number;
  readings: number;
  cid: string;
  payload_hash: string;
  prev: string;
  commitment: string;
  created_at: number;
  anchor: Anchor | null;
}

export type VerifyStep =
  | "sequence"
  | "link"
  | "payload"
  | "payload_cid"
  | "payload_hash"
  | "commitment"
  | "proof"
  | "on_chain_root";

export interface VerifyReport {
  patient: string;
  records: number;
  anchored: number;
  pending: number;
  failures: Array<{ seq: number; record: string | null; step: VerifyStep; detail: string }>;
  ok: boolean;
}

export interface Institution {
  id: string;
  role: Role;
  name: string;
  status: "active" | "pending" | "suspended";
  address: string;
  created_at: number;
}

export interface Consent {
  grant_id: string;
  patient_id: string;
  institution_id: string;
  access: Array<"read" | "write">;
  sections: Array<"open" | "protected">;
  metrics: string[];
  purpose: string;
  expires_at: number;
  created_at: number;
  status: "active" | "expired" | "revoked";
  block: number;
  tx: string;
  revoked_at: number | null;
  revoke_tx: string | null;
}

export interface AccessEntry {
  id: number;
  at: number;
  account_id: string;
  role: Role;
  institution_id: string | null;
  patient_id: string;
  action: string;
  detail: string;
  purpose: string | null;
  entry_hash: string;
  batch: { root: string; proof: string; block: number | null; tx: string | null; index: number | null } | null;
  verified: boolean | null;
}

export interface Profile {
  birth_year: number | null;
  sex: string | null;
  resting_hr: number | null;
}

export interface ClinicalNote {
  record: string;
  seq: number;
  source: string;
  note: {
    t: number;
    institution: string;
    results: Array<{ loinc: string; display: string; value: number; unit: string }>;
    note: string;
  };
}

export interface AggregateAnswer {
  metric: string;
  consenting_patients: number;
  groups: Array<{ patients: number; readings: number; total: number; mean_per_patient: number; day_start?: number; region?: string }>;
}
