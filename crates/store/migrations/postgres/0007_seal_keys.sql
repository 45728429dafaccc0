-- A patient's public key for wrapping the data keys of protected records (HPKE, X25519;
-- 32 bytes). Set when the patient's account is created or first signed in to; the private
-- key is derived from the account's sealed secret and never stored unsealed.
ALTER TABLE patients ADD COLUMN seal_public_key BYTEA;
