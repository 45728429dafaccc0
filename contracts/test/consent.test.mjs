// Behaviour of the consent and access-log contracts on a real EVM: starts anvil from
// node_modules, deploys the committed artifacts with cast and drives them through cast send /
// call / logs (the helpers are in support.mjs).
//
// Grants and revocations are signed as EIP-712 typed data by `cast wallet sign --data`, with
// the patient's key, and submitted by another account (the patient's node, which pays the
// gas). Their digests are also computed here by hand, with cast abi-encode and keccak, and
// compared with the contract's. Each test deploys its own contracts; the chain's clock is
// moved forward by one test, so expiry times are always taken from the latest block. Gas used
// by one grant, one revocation and one access-log commit is reported as test diagnostics.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  Role, chain, startAnvil, stopAnvil, cast, deploy, deployRegistry, send, call, assertReverts, assertRevertsWith,
  logs, parseJson, chainTime, advanceTime, word, addressWord, bytes32, big,
} from './support.mjs';

const DOMAIN_TYPE = 'EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)';
const GRANT_TYPE =
  'Grant(address patient,address grantee,uint8 access,uint8 sections,uint64 metrics,bytes32 purpose,uint64 expiresAt,uint64 nonce)';
const REVOKE_TYPE = 'Revoke(address patient,bytes32 grantId,uint64 nonce)';
const GRANT_TUPLE = '(address,address,uint8,uint8,uint64,bytes32,uint64,uint64)';
const GRANT = `grant(${GRANT_TUPLE},bytes)`;
const REVOKE = 'revoke(address,bytes32,uint64,bytes)';
const GRANT_OF = 'grantOf(bytes32)((address,uint8,uint8,uint64,bool,address,uint64))';
const GRANTED_EVENT = 'Granted(bytes32 indexed,address indexed,address indexed,uint8,uint8,uint64,bytes32,uint64)';
const REVOKED_EVENT = 'Revoked(bytes32 indexed,address indexed)';
const COMMIT = 'commit(bytes32,uint64,uint32)';
const BATCH_OF = 'batchOf(bytes32)(address,uint64,uint32,uint64,uint64)';
const COMMITTED_EVENT = 'Committed(uint256 indexed,bytes32 indexed,address indexed,uint64,uint32)';

const Access = { Read: 1, Write: 2 };
const Section = { Open: 1, Protected: 2 };
/** Order of the secp256k1 group: a signature (r, s) is canonical when s <= N / 2. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

let scratch = '';
let chainId = 0n;
let purposeHash = '';
let files = 0;

before(async () => {
  await startAnvil();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'vitalis-consent-'));
  chainId = BigInt(await cast('chain-id', '--rpc-url', chain.rpc));
  purposeHash = await cast('keccak', 'follow-up of a cardiac rehabilitation programme');
});
after(() => {
  stopAnvil();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

/** The dev accounts by part: the patient and the stranger are consent keys, never institutions. */
function actors() {
  const [supervisor, node, hospital, researcher, enterprise, patient, stranger, pending, suspended, unregistered] =
    chain.accounts;
  assert.ok(unregistered, 'anvil printed fewer than ten dev accounts');
  return { supervisor, node, hospital, researcher, enterprise, patient, stranger, pending, suspended, unregistered };
}

/**
 * A registry with an approved hospital, researcher and enterprise/government, a pending
 * researcher and a suspended hospital, and a consent contract over it.
 */
async function deployConsent() {
  const a = actors();
  const registry = await deployRegistry(a.supervisor);
  const consent = await deploy(a.supervisor, 'Consent', 'constructor(address)', registry);
  const register = (who, id, role) =>
    send(a.supervisor, registry, 'registerInstitution(address,bytes32,uint8)', who.address, bytes32(id), String(role));
  await register(a.hospital, 1, Role.Hospital);
  await register(a.researcher, 2, Role.Researcher);
  await register(a.enterprise, 3, Role.EnterpriseGovernment);
  await register(a.pending, 4, Role.Researcher);
  await register(a.suspended, 5, Role.Hospital);
  for (const who of [a.hospital, a.researcher, a.enterprise, a.suspended]) {
    await send(a.supervisor, registry, 'approveInstitution(address)', who.address);
  }
  await send(a.supervisor, registry, 'suspendInstitution(address)', a.suspended.address);
  return { registry, consent };
}

/** A grant from the patient to the hospital, valid for a day, carrying the patient's next nonce. */
async function newGrant(consent, fields = {}) {
  const { patient, hospital } = actors();
  const owner = fields.patient ?? patient.address;
  return {
    patient: owner,
    grantee: hospital.address,
    access: Access.Read,
    sections: Section.Open | Section.Protected,
    metrics: 0b1011n,
    purpose: purposeHash,
    expiresAt: (await chainTime()) + 86_400n,
    nonce: big((await call(consent, 'nonces(address)(uint64)', owner))[0]),
    ...fields,
  };
}

const grantTuple = (g) =>
  `(${g.patient},${g.grantee},${g.access},${g.sections},${g.metrics},${g.purpose},${g.expiresAt},${g.nonce})`;
const grantArgs = (g, signature) => [GRANT, grantTuple(g), signature];
const revokeArgs = (r, signature) => [REVOKE, r.patient, r.grantId, String(r.nonce), signature];

/** Signs `message` of EIP-712 type `primaryType` (Grant or Revoke) for `consent` with `signer`'s key. */
async function signTyped(signer, consent, primaryType, message) {
  const fields = {
    Grant: [['patient', 'address'], ['grantee', 'address'], ['access', 'uint8'], ['sections', 'uint8'],
      ['metrics', 'uint64'], ['purpose', 'bytes32'], ['expiresAt', 'uint64'], ['nonce', 'uint64']],
    Revoke: [['patient', 'address'], ['grantId', 'bytes32'], ['nonce', 'uint64']],
  }[primaryType];
  const typed = {
    types: {
      EIP712Domain: [['name', 'string'], ['version', 'string'], ['chainId', 'uint256'], ['verifyingContract', 'address']]
        .map(([name, type]) => ({ name, type })),
      [primaryType]: fields.map(([name, type]) => ({ name, type })),
    },
    primaryType,
    domain: { name: 'Vitalis Consent', version: '1', chainId: String(chainId), verifyingContract: consent },
    message: Object.fromEntries(fields.map(([name]) => [name, String(message[name])])),
  };
  const file = path.join(scratch, `typed-${files++}.json`);
  fs.writeFileSync(file, JSON.stringify(typed));
  return cast('wallet', 'sign', '--data', '--from-file', file, '--private-key', signer.key);
}

const signGrant = (signer, consent, g) => signTyped(signer, consent, 'Grant', g);
const signRevoke = (signer, consent, r) => signTyped(signer, consent, 'Revoke', r);

/** The EIP-712 digest of a struct, computed from its parts with cast rather than by the contract. */
async function digestByHand(consent, structTypes, structValues) {
  const domain = await cast('keccak', await cast('abi-encode', 'f(bytes32,bytes32,bytes32,uint256,address)',
    await cast('keccak', DOMAIN_TYPE), await cast('keccak', 'Vitalis Consent'), await cast('keccak', '1'),
    String(chainId), consent));
  const struct = await cast('keccak', await cast('abi-encode', `f(${structTypes})`, ...structValues.map(String)));
  return { domain, digest: await cast('keccak', `0x1901${domain.slice(2)}${struct.slice(2)}`) };
}

async function grantDigestByHand(consent, g) {
  return digestByHand(consent, 'bytes32,address,address,uint8,uint8,uint64,bytes32,uint64,uint64',
    [await cast('keccak', GRANT_TYPE), g.patient, g.grantee, g.access, g.sections, g.metrics, g.purpose, g.expiresAt,
      g.nonce]);
}

async function revokeDigestByHand(consent, r) {
  return digestByHand(consent, 'bytes32,address,bytes32,uint64',
    [await cast('keccak', REVOKE_TYPE), r.patient, r.grantId, r.nonce]);
}

/** Splits a 65-byte signature into r, s (as numbers) and v. */
function splitSignature(signature) {
  assert.match(signature, /^0x[0-9a-f]{130}$/);
  return {
    r: BigInt(`0x${signature.slice(2, 66)}`),
    s: BigInt(`0x${signature.slice(66, 130)}`),
    v: Number.parseInt(signature.slice(130), 16),
  };
}

const joinSignature = ({ r, s, v }) =>
  `0x${r.toString(16).padStart(64, '0')}${s.toString(16).padStart(64, '0')}${v.toString(16).padStart(2, '0')}`;

/** The address the ecrecover precompile returns for `digest` and a signature (zero if none). */
async function ecrecover(digest, { r, s, v }) {
  const input = `${digest}${word(v).slice(2)}${word(r).slice(2)}${word(s).slice(2)}`;
  const out = await cast('call', '--rpc-url', chain.rpc, '0x0000000000000000000000000000000000000001', input);
  return out === '0x' ? null : `0x${out.slice(-40)}`;
}

const isActive = async (consent, grantId) => (await call(consent, 'isActive(bytes32)(bool)', grantId))[0];
const nonceOf = async (consent, who) => big((await call(consent, 'nonces(address)(uint64)', who.address))[0]);

test('a grant signed by the patient and submitted by its node is recorded under its EIP-712 digest', async (t) => {
  const { node, patient, hospital, researcher } = actors();
  const { registry, consent } = await deployConsent();
  assert.equal((await call(consent, 'registry()(address)'))[0].toLowerCase(), registry.toLowerCase());
  const g = await newGrant(consent, { access: Access.Read | Access.Write, metrics: (1n << 64n) - 1n });
  assert.equal(g.nonce, 0n);

  // The contract's typehashes, domain and digest are the ones computed here from the EIP-712 rules.
  assert.deepEqual(await call(consent, 'GRANT_TYPEHASH()(bytes32)'), [await cast('keccak', GRANT_TYPE)]);
  assert.deepEqual(await call(consent, 'REVOKE_TYPEHASH()(bytes32)'), [await cast('keccak', REVOKE_TYPE)]);
  const byHand = await grantDigestByHand(consent, g);
  assert.deepEqual(await call(consent, 'domainSeparator()(bytes32)'), [byHand.domain]);
  assert.deepEqual(await call(consent, `grantDigest(${GRANT_TUPLE})(bytes32)`, grantTuple(g)), [byHand.digest]);

  // cast hashed the typed-data file to that same digest: signing the bare digest gives the
  // same (deterministic, RFC 6979) signature.
  const signature = await signGrant(patient, consent, g);
  assert.equal(await cast('wallet', 'sign', '--no-hash', byHand.digest, '--private-key', patient.key), signature);

  const receipt = await send(node, consent, ...grantArgs(g, signature));
  assert.equal(receipt.from.toLowerCase(), node.address);
  const grantId = byHand.digest;

  const events = await logs(consent, GRANTED_EVENT);
  assert.equal(events.length, 1);
  assert.equal(events[0].transactionHash, receipt.transactionHash);
  assert.deepEqual(events[0].topics, [await cast('sig-event', GRANTED_EVENT), grantId, addressWord(patient.address),
    addressWord(hospital.address)]);
  const data = parseJson(await cast('decode-abi', '--json', '--input', 'f(uint8,uint8,uint64,bytes32,uint64)',
    events[0].data));
  assert.deepEqual(data.map(String), [g.access, g.sections, g.metrics, g.purpose, g.expiresAt].map(String));

  assert.equal(await isActive(consent, grantId), true);
  const [stored] = await call(consent, GRANT_OF, grantId);
  assert.deepEqual(stored.map((v) => String(v).toLowerCase()),
    [patient.address, g.access, g.sections, g.expiresAt, 'false', hospital.address, g.metrics].map(String));
  assert.equal(await nonceOf(consent, patient), 1n);
  assert.equal(await nonceOf(consent, node), 0n);

  // The patient's next grant no longer creates their nonce slot.
  const next = await newGrant(consent, { grantee: researcher.address, sections: Section.Open });
  const nextReceipt = await send(node, consent, ...grantArgs(next, await signGrant(patient, consent, next)));
  t.diagnostic(`gas used by one grant call: ${big(receipt.gasUsed)} (a patient's first), ${big(nextReceipt.gasUsed)} (next)`);
  assert.equal((await logs(consent, GRANTED_EVENT)).length, 2);
  assert.equal(await nonceOf(consent, patient), 2n);

  // An unknown grant is all zero and inactive.
  const unknown = bytes32(99);
  assert.equal(await isActive(consent, unknown), false);
  const [none] = await call(consent, GRANT_OF, unknown);
  assert.deepEqual(none.map(String), ['0x0000000000000000000000000000000000000000', '0', '0', '0', 'false',
    '0x0000000000000000000000000000000000000000', '0']);
});

test('a grant with a wrong signer, a stale or future nonce, a high-s or a 64-byte signature is refused', async () => {
  const { node, patient, stranger } = actors();
  const { consent } = await deployConsent();
  const g = await newGrant(consent);
  const signature = await signGrant(patient, consent, g);
  const { digest } = await grantDigestByHand(consent, g);

  // Signed by another key, or signed by the patient for other fields.
  await assertReverts(node, consent, grantArgs(g, await signGrant(stranger, consent, g)), ['BadSignature()']);
  await assertReverts(node, consent, grantArgs({ ...g, access: Access.Read | Access.Write }, signature),
    ['BadSignature()']);
  await assertReverts(node, consent, grantArgs({ ...g, expiresAt: g.expiresAt + 1n }, signature), ['BadSignature()']);

  // The same signature with s replaced by N - s (and the parity flipped) still recovers the
  // patient, but it is not canonical.
  const parts = splitSignature(signature);
  const highS = { r: parts.r, s: SECP256K1_N - parts.s, v: parts.v === 27 ? 28 : 27 };
  assert.ok(highS.s > SECP256K1_N / 2n);
  assert.equal(await ecrecover(digest, highS), patient.address);
  await assertReverts(node, consent, grantArgs(g, joinSignature(highS)), ['BadSignature()']);

  // 64 bytes: r and s alone, and the EIP-2098 compact form (parity in the top bit of s).
  await assertReverts(node, consent, grantArgs(g, signature.slice(0, 130)), ['BadSignature()']);
  const compact = `0x${word(parts.r).slice(2)}${word(parts.s | (BigInt(parts.v - 27) << 255n)).slice(2)}`;
  await assertReverts(node, consent, grantArgs(g, compact), ['BadSignature()']);
  // Other lengths and a v that is neither 27/28 nor 0/1.
  await assertReverts(node, consent, grantArgs(g, '0x'), ['BadSignature()']);
  await assertReverts(node, consent, grantArgs(g, `${signature}00`), ['BadSignature()']);
  await assertReverts(node, consent, grantArgs(g, joinSignature({ ...parts, v: 29 })), ['BadSignature()']);

  // A nonce ahead of the patient's next one, correctly signed.
  const ahead = { ...g, nonce: 1n };
  await assertReverts(node, consent, grantArgs(ahead, await signGrant(patient, consent, ahead)),
    ['BadNonce(uint64)', '0']);
  assert.equal(await nonceOf(consent, patient), 0n);

  // The genuine signature is accepted once; replayed, its nonce is spent.
  await send(node, consent, ...grantArgs(g, signature));
  assert.equal(await nonceOf(consent, patient), 1n);
  await assertReverts(node, consent, grantArgs(g, signature), ['BadNonce(uint64)', '1']);
  await assertReverts(patient, consent, grantArgs(g, signature), ['BadNonce(uint64)', '1']);
  // A new grant signed with the spent nonce.
  const stale = { ...g, sections: Section.Open };
  await assertReverts(node, consent, grantArgs(stale, await signGrant(patient, consent, stale)),
    ['BadNonce(uint64)', '1']);

  // v given as 0/1 instead of 27/28 is the same signature.
  const next = await newGrant(consent, { sections: Section.Open });
  assert.equal(next.nonce, 1n);
  const nextParts = splitSignature(await signGrant(patient, consent, next));
  await send(node, consent, ...grantArgs(next, joinSignature({ ...nextParts, v: nextParts.v - 27 })));
  assert.equal(await nonceOf(consent, patient), 2n);
  assert.equal((await logs(consent, GRANTED_EVENT)).length, 2);
});

test('only an approved institution can be granted, and a suspended grantee has no active grant', async () => {
  const { supervisor, node, patient, researcher, pending, suspended, unregistered } = actors();
  const { registry, consent } = await deployConsent();

  for (const grantee of [unregistered, pending, suspended]) {
    const g = await newGrant(consent, { grantee: grantee.address });
    await assertReverts(node, consent, grantArgs(g, await signGrant(patient, consent, g)),
      ['GranteeNotApproved(address)', grantee.address]);
  }
  assert.equal(await nonceOf(consent, patient), 0n);

  const g = await newGrant(consent, { grantee: researcher.address });
  await send(node, consent, ...grantArgs(g, await signGrant(patient, consent, g)));
  const { digest: grantId } = await grantDigestByHand(consent, g);
  assert.equal(await isActive(consent, grantId), true);

  await send(supervisor, registry, 'suspendInstitution(address)', researcher.address);
  assert.equal(await isActive(consent, grantId), false);
  // Once reinstated by the supervisor, the institution's unexpired, unrevoked grants apply again.
  await send(supervisor, registry, 'approveInstitution(address)', researcher.address);
  assert.equal(await isActive(consent, grantId), true);
});

test('a grant cannot give an institution more than its role allows', async () => {
  const { node, patient, hospital, researcher, enterprise } = actors();
  const { consent } = await deployConsent();
  const attempt = async (grantee, access, sections) => {
    const g = await newGrant(consent, { grantee: grantee.address, access, sections });
    return grantArgs(g, await signGrant(patient, consent, g));
  };
  const all = Section.Open | Section.Protected;

  // Only hospitals write; enterprise/government reads the open section only.
  await assertReverts(node, consent, await attempt(researcher, Access.Write, Section.Open), ['BeyondRole()']);
  await assertReverts(node, consent, await attempt(researcher, Access.Read | Access.Write, all), ['BeyondRole()']);
  await assertReverts(node, consent, await attempt(enterprise, Access.Write, Section.Open), ['BeyondRole()']);
  await assertReverts(node, consent, await attempt(enterprise, Access.Read, Section.Protected), ['BeyondRole()']);
  await assertReverts(node, consent, await attempt(enterprise, Access.Read, all), ['BeyondRole()']);
  assert.equal(await nonceOf(consent, patient), 0n);

  await send(node, consent, ...await attempt(hospital, Access.Read | Access.Write, all));
  await send(node, consent, ...await attempt(researcher, Access.Read, all));
  await send(node, consent, ...await attempt(enterprise, Access.Read, Section.Open));
  const granted = await logs(consent, GRANTED_EVENT);
  assert.deepEqual(granted.map((e) => e.topics[3]),
    [hospital, researcher, enterprise].map((who) => addressWord(who.address)));
  assert.equal(await nonceOf(consent, patient), 3n);
});

test('an expired or empty grant is refused, and a grant stops being active when it expires', async () => {
  const { node, patient } = actors();
  const { consent } = await deployConsent();
  const refused = async (fields, error) => {
    const g = await newGrant(consent, fields);
    await assertReverts(node, consent, grantArgs(g, await signGrant(patient, consent, g)), error);
  };

  const now = await chainTime();
  await refused({ expiresAt: now - 1n }, ['BadGrant()']);
  await refused({ expiresAt: now }, ['BadGrant()']);
  await refused({ expiresAt: 0n }, ['BadGrant()']);
  await refused({ access: 0 }, ['BadGrant()']);
  await refused({ sections: 0 }, ['BadGrant()']);
  await refused({ access: 4 }, ['BadGrant()']);
  await refused({ sections: 4 }, ['BadGrant()']);
  await refused({ grantee: '0x0000000000000000000000000000000000000000' }, ['ZeroAddress()']);
  assert.equal(await nonceOf(consent, patient), 0n);

  const g = await newGrant(consent, { expiresAt: (await chainTime()) + 600n });
  await send(node, consent, ...grantArgs(g, await signGrant(patient, consent, g)));
  const { digest: grantId } = await grantDigestByHand(consent, g);
  assert.equal(await isActive(consent, grantId), true);

  await advanceTime(601);
  assert.ok((await chainTime()) >= g.expiresAt);
  assert.equal(await isActive(consent, grantId), false);
  // The grant stays recorded, not revoked.
  const [stored] = await call(consent, GRANT_OF, grantId);
  assert.equal(stored[0].toLowerCase(), patient.address);
  assert.equal(stored[4], false);
});

test('a patient revokes a grant with a signed revocation, once, and only their own', async (t) => {
  const { node, patient, stranger, researcher } = actors();
  const { consent } = await deployConsent();
  const g = await newGrant(consent);
  await send(node, consent, ...grantArgs(g, await signGrant(patient, consent, g)));
  const { digest: grantId } = await grantDigestByHand(consent, g);
  // A second grant, to the researcher, that stays active throughout.
  const other = await newGrant(consent, { grantee: researcher.address });
  await send(node, consent, ...grantArgs(other, await signGrant(patient, consent, other)));
  const { digest: otherId } = await grantDigestByHand(consent, other);
  assert.equal(await nonceOf(consent, patient), 2n);

  const r = { patient: patient.address, grantId, nonce: 2n };
  const { digest } = await revokeDigestByHand(consent, r);
  assert.deepEqual(await call(consent, 'revokeDigest(address,bytes32,uint64)(bytes32)', r.patient, r.grantId,
    String(r.nonce)), [digest]);
  const signature = await signRevoke(patient, consent, r);
  assert.equal(await cast('wallet', 'sign', '--no-hash', digest, '--private-key', patient.key), signature);

  // Signed by another key; with a nonce other than the patient's next one; for a grant that
  // is not the signer's (the stranger names itself as patient) or does not exist.
  await assertReverts(node, consent, revokeArgs(r, await signRevoke(stranger, consent, r)), ['BadSignature()']);
  const ahead = { ...r, nonce: 3n };
  await assertReverts(node, consent, revokeArgs(ahead, await signRevoke(patient, consent, ahead)),
    ['BadNonce(uint64)', '2']);
  const hijack = { patient: stranger.address, grantId, nonce: 0n };
  await assertReverts(node, consent, revokeArgs(hijack, await signRevoke(stranger, consent, hijack)),
    ['UnknownGrant(bytes32)', grantId]);
  const missing = { ...r, grantId: bytes32(98) };
  await assertReverts(node, consent, revokeArgs(missing, await signRevoke(patient, consent, missing)),
    ['UnknownGrant(bytes32)', bytes32(98)]);
  // A grant signature is no revocation signature.
  await assertReverts(node, consent, revokeArgs(r, await signGrant(patient, consent, g)), ['BadSignature()']);
  assert.equal(await isActive(consent, grantId), true);

  const receipt = await send(node, consent, ...revokeArgs(r, signature));
  t.diagnostic(`gas used by one revoke call: ${big(receipt.gasUsed)}`);
  const events = await logs(consent, REVOKED_EVENT);
  assert.equal(events.length, 1);
  assert.equal(events[0].transactionHash, receipt.transactionHash);
  assert.deepEqual(events[0].topics, [await cast('sig-event', REVOKED_EVENT), grantId, addressWord(patient.address)]);
  assert.equal(await isActive(consent, grantId), false);
  assert.equal((await call(consent, GRANT_OF, grantId))[0][4], true);
  assert.equal(await isActive(consent, otherId), true);
  assert.equal(await nonceOf(consent, patient), 3n);

  // Replayed, or revoked again with a fresh signature.
  await assertReverts(node, consent, revokeArgs(r, signature), ['AlreadyRevoked(bytes32)', grantId]);
  const again = { ...r, nonce: 3n };
  await assertReverts(node, consent, revokeArgs(again, await signRevoke(patient, consent, again)),
    ['AlreadyRevoked(bytes32)', grantId]);
  assert.equal(await nonceOf(consent, patient), 3n);
});

async function deployAccessLog() {
  const { supervisor, node } = actors();
  const registry = await deployRegistry(supervisor);
  const accessLog = await deploy(supervisor, 'AccessLog', 'constructor(address)', registry);
  await send(supervisor, registry, 'addAnchoringNode(address)', node.address);
  return { registry, accessLog };
}

test('an anchoring node commits access-log batches, each starting where its previous one ended', async (t) => {
  const { supervisor, node, hospital } = actors();
  const { registry, accessLog } = await deployAccessLog();
  assert.equal((await call(accessLog, 'registry()(address)'))[0].toLowerCase(), registry.toLowerCase());
  await send(supervisor, registry, 'addAnchoringNode(address)', hospital.address);
  const nextEntry = async (who) => big((await call(accessLog, 'nextEntry(address)(uint64)', who.address))[0]);
  assert.equal(await nextEntry(node), 0n);

  // Two batches from the node, then one from a second node, which has its own entry ids.
  const batches = [
    { node, root: bytes32(60), first: 0n, count: 17n },
    { node, root: bytes32(61), first: 17n, count: 1n },
    { node: hospital, root: bytes32(62), first: 0n, count: 4_000_000_000n },
  ];
  const receipts = [];
  for (const b of batches) {
    receipts.push(await send(b.node, accessLog, COMMIT, b.root, String(b.first), String(b.count)));
  }
  t.diagnostic(`gas used by one commit call: ${big(receipts[0].gasUsed)} (first), ${big(receipts[1].gasUsed)} (the `
    + `node's second), ${big(receipts[2].gasUsed)} (another node's first)`);
  assert.equal(await nextEntry(node), 18n);
  assert.equal(await nextEntry(hospital), 4_000_000_000n);
  assert.equal(await nextEntry(supervisor), 0n);
  assert.deepEqual((await call(accessLog, 'batchCount()(uint256)')).map(big), [3n]);

  const events = await logs(accessLog, COMMITTED_EVENT);
  assert.equal(events.length, 3);
  const topic0 = await cast('sig-event', COMMITTED_EVENT);
  for (const [index, b] of batches.entries()) {
    const event = events[index];
    assert.equal(event.transactionHash, receipts[index].transactionHash);
    assert.deepEqual(event.topics, [topic0, word(index), b.root, addressWord(b.node.address)]);
    const data = parseJson(await cast('decode-abi', '--json', '--input', 'f(uint64,uint32)', event.data));
    assert.deepEqual(data.map(big), [b.first, b.count]);

    const stored = await call(accessLog, BATCH_OF, b.root);
    assert.equal(stored[0].toLowerCase(), b.node.address);
    assert.deepEqual(stored.slice(1).map(big), [b.first, b.count, big(receipts[index].blockNumber), BigInt(index)]);
    assert.deepEqual(await call(accessLog, 'isCommitted(bytes32)(bool)', b.root), [true]);
  }

  const unknown = bytes32(69);
  assert.deepEqual(await call(accessLog, 'isCommitted(bytes32)(bool)', unknown), [false]);
  await assertRevertsWith(() => call(accessLog, BATCH_OF, unknown), ['UnknownRoot(bytes32)', unknown]);
});

test('an access-log batch with a gap, a committed root, no entries or from an outsider is refused', async () => {
  const { supervisor, node, stranger: outsider } = actors();
  const { registry, accessLog } = await deployAccessLog();
  const commit = (root, first, count) => [COMMIT, root, String(first), String(count)];

  await assertReverts(outsider, accessLog, commit(bytes32(70), 0, 5), ['NotAnchoringNode(address)', outsider.address]);
  await assertReverts(supervisor, accessLog, commit(bytes32(70), 0, 5),
    ['NotAnchoringNode(address)', supervisor.address]);
  await assertReverts(node, accessLog, commit(word(0), 0, 5), ['EmptyBatch()']);
  await assertReverts(node, accessLog, commit(bytes32(70), 0, 0), ['EmptyBatch()']);
  await assertReverts(node, accessLog, commit(bytes32(70), 1, 5), ['Gap(uint64)', '0']);

  await send(node, accessLog, ...commit(bytes32(70), 0, 5));
  await assertReverts(node, accessLog, commit(bytes32(71), 4, 5), ['Gap(uint64)', '5']);
  await assertReverts(node, accessLog, commit(bytes32(71), 6, 5), ['Gap(uint64)', '5']);
  // A retry of the committed batch, and the same root over the next entries.
  await assertReverts(node, accessLog, commit(bytes32(70), 0, 5), ['AlreadyCommitted(bytes32)', bytes32(70)]);
  await assertReverts(node, accessLog, commit(bytes32(70), 5, 5), ['AlreadyCommitted(bytes32)', bytes32(70)]);
  assert.deepEqual((await call(accessLog, 'batchCount()(uint256)')).map(big), [1n]);

  // A removed node commits no more.
  await send(supervisor, registry, 'removeAnchoringNode(address)', node.address);
  await assertReverts(node, accessLog, commit(bytes32(71), 5, 5), ['NotAnchoringNode(address)', node.address]);
  assert.deepEqual((await call(accessLog, 'batchCount()(uint256)')).map(big), [1n]);
  assert.equal((await logs(accessLog, COMMITTED_EVENT)).length, 1);
});
