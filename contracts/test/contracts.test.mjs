// Behaviour of the registry, anchor and row-store contracts on a real EVM: starts anvil from
// node_modules, deploys the committed artifacts with cast and drives them through cast send /
// call / logs (the helpers are in support.mjs).
//
// Run with `npm run test:contracts` after `npm ci`. It uses the committed artifacts, which
// `scripts/compile-contracts.sh --check` keeps equal to the sources. Each test deploys its
// own contracts, so tests do not depend on one another's state. Gas used by one anchor and
// by one 1,000-reading upload to the row-store baseline is reported as test diagnostics.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Role, Status, CHAMELEON_KEY, chain, startAnvil, stopAnvil, cast, deploy, send, call, assertRevertsWith,
  assertReverts, logs, word, addressWord, bytes32, big,
} from './support.mjs';

const ANCHORED_EVENT = 'Anchored(uint256 indexed,bytes32 indexed,address indexed,uint32,uint64,uint64)';

before(startAnvil);
after(stopAnvil);

async function deployLedger() {
  const [supervisor, node] = chain.accounts;
  const registry = await deploy(supervisor, 'IdentityRegistry', 'constructor(address,bytes32)',
    supervisor.address, CHAMELEON_KEY);
  const anchors = await deploy(supervisor, 'Anchors', 'constructor(address)', registry);
  await send(supervisor, registry, 'addAnchoringNode(address)', node.address);
  return { registry, anchors };
}

test('the registry exposes the supervisor and its chameleon-hash key from genesis', async () => {
  const [supervisor] = chain.accounts;
  const registry = await deploy(supervisor, 'IdentityRegistry', 'constructor(address,bytes32)',
    supervisor.address, CHAMELEON_KEY);
  assert.equal((await call(registry, 'supervisor()(address)'))[0].toLowerCase(), supervisor.address);
  assert.deepEqual(await call(registry, 'chameleonPublicKey()(bytes32)'), [CHAMELEON_KEY]);
  const created = await logs(registry, 'RegistryCreated(address indexed,bytes32)');
  assert.equal(created.length, 1);
  assert.equal(created[0].topics[1], addressWord(supervisor.address));
  assert.equal(created[0].data, CHAMELEON_KEY);
});

test('only the supervisor adds and removes anchoring nodes', async () => {
  const [supervisor, node, outsider] = chain.accounts;
  const registry = await deploy(supervisor, 'IdentityRegistry', 'constructor(address,bytes32)',
    supervisor.address, CHAMELEON_KEY);
  const isNode = async (who) => (await call(registry, 'isAnchoringNode(address)(bool)', who.address))[0];

  await assertReverts(outsider, registry, ['addAnchoringNode(address)', outsider.address], ['NotSupervisor()']);
  await assertReverts(node, registry, ['addAnchoringNode(address)', node.address], ['NotSupervisor()']);
  assert.equal(await isNode(outsider), false);
  assert.equal(await isNode(node), false);

  const added = await send(supervisor, registry, 'addAnchoringNode(address)', node.address);
  assert.equal(await isNode(node), true);
  assert.equal(await isNode(outsider), false);
  const addedLogs = await logs(registry, 'AnchoringNodeAdded(address indexed)');
  assert.equal(addedLogs.length, 1);
  assert.equal(addedLogs[0].topics[1], addressWord(node.address));
  assert.equal(addedLogs[0].transactionHash, added.transactionHash);
  await assertReverts(supervisor, registry, ['addAnchoringNode(address)', node.address],
    ['AnchoringNodeExists(address)', node.address]);

  await assertReverts(outsider, registry, ['removeAnchoringNode(address)', node.address], ['NotSupervisor()']);
  await assertReverts(node, registry, ['removeAnchoringNode(address)', node.address], ['NotSupervisor()']);
  assert.equal(await isNode(node), true);
  await send(supervisor, registry, 'removeAnchoringNode(address)', node.address);
  assert.equal(await isNode(node), false);
  const removedLogs = await logs(registry, 'AnchoringNodeRemoved(address indexed)');
  assert.deepEqual(removedLogs.map((l) => l.topics[1]), [addressWord(node.address)]);
  await assertReverts(supervisor, registry, ['removeAnchoringNode(address)', node.address],
    ['UnknownAnchoringNode(address)', node.address]);
});

test('only the supervisor registers, approves and suspends institutions', async () => {
  const [supervisor, hospital, researcher, outsider] = chain.accounts;
  const registry = await deploy(supervisor, 'IdentityRegistry', 'constructor(address,bytes32)',
    supervisor.address, CHAMELEON_KEY);
  const institution = async (who) =>
    (await call(registry, 'institution(address)(bytes32,uint8,uint8)', who.address)).map(String);
  const hospitalId = bytes32(1);
  const register = ['registerInstitution(address,bytes32,uint8)', hospital.address, hospitalId, String(Role.Hospital)];

  await assertReverts(outsider, registry, register, ['NotSupervisor()']);
  assert.deepEqual(await institution(hospital), [word(0), '0', String(Status.None)]);
  await send(supervisor, registry, ...register);
  assert.deepEqual(await institution(hospital), [hospitalId, String(Role.Hospital), String(Status.Pending)]);
  const registered = await logs(registry, 'InstitutionRegistered(address indexed,bytes32 indexed,uint8)');
  assert.equal(registered.length, 1);
  assert.deepEqual(registered[0].topics.slice(1), [addressWord(hospital.address), hospitalId]);
  assert.equal(registered[0].data, word(Role.Hospital));

  await assertReverts(supervisor, registry, register, ['InstitutionExists(address)', hospital.address]);
  await assertReverts(supervisor, registry,
    ['registerInstitution(address,bytes32,uint8)', researcher.address, hospitalId, String(Role.Researcher)],
    ['InstitutionIdTaken(bytes32)', hospitalId]);

  await assertReverts(outsider, registry, ['approveInstitution(address)', hospital.address], ['NotSupervisor()']);
  await send(supervisor, registry, 'approveInstitution(address)', hospital.address);
  assert.equal((await institution(hospital))[2], String(Status.Approved));
  await assertReverts(supervisor, registry, ['approveInstitution(address)', hospital.address],
    ['StatusUnchanged(address,uint8)', hospital.address, String(Status.Approved)]);

  await assertReverts(hospital, registry, ['suspendInstitution(address)', hospital.address], ['NotSupervisor()']);
  await send(supervisor, registry, 'suspendInstitution(address)', hospital.address);
  assert.equal((await institution(hospital))[2], String(Status.Suspended));
  await send(supervisor, registry, 'approveInstitution(address)', hospital.address);
  assert.equal((await institution(hospital))[2], String(Status.Approved));
  const approved = await logs(registry, 'InstitutionApproved(address indexed)');
  const suspended = await logs(registry, 'InstitutionSuspended(address indexed)');
  assert.equal(approved.length, 2);
  assert.equal(suspended.length, 1);

  await assertReverts(supervisor, registry, ['approveInstitution(address)', researcher.address],
    ['UnknownInstitution(address)', researcher.address]);
  await send(supervisor, registry, 'registerInstitution(address,bytes32,uint8)', researcher.address, bytes32(2),
    String(Role.EnterpriseGovernment));
  assert.deepEqual(await institution(researcher), [bytes32(2), String(Role.EnterpriseGovernment), String(Status.Pending)]);
});

test('only an anchoring node of the registry can anchor', async () => {
  const [supervisor, node, outsider] = chain.accounts;
  const { registry, anchors } = await deployLedger();
  const args = ['anchor(bytes32,uint32,uint64,uint64)', bytes32(10), '5', '1000', '2000'];

  await assertReverts(outsider, anchors, args, ['NotAnchoringNode(address)', outsider.address]);
  await assertReverts(supervisor, anchors, args, ['NotAnchoringNode(address)', supervisor.address]);
  assert.deepEqual((await call(anchors, 'anchorCount()(uint256)')).map(big), [0n]);

  await send(node, anchors, ...args);
  assert.deepEqual((await call(anchors, 'anchorCount()(uint256)')).map(big), [1n]);

  await send(supervisor, registry, 'removeAnchoringNode(address)', node.address);
  await assertReverts(node, anchors, ['anchor(bytes32,uint32,uint64,uint64)', bytes32(11), '5', '1000', '2000'],
    ['NotAnchoringNode(address)', node.address]);
  // A removed node's anchors stay.
  assert.deepEqual(await call(anchors, 'isAnchored(bytes32)(bool)', bytes32(10)), [true]);
});

test('an anchor emits Anchored and is returned by anchorAt, indexOf and isAnchored', async (t) => {
  const [, node] = chain.accounts;
  const { registry, anchors } = await deployLedger();
  assert.equal((await call(anchors, 'registry()(address)'))[0].toLowerCase(), registry.toLowerCase());
  const first = { root: bytes32(20), count: 1234, start: 1763900000000, end: 1763900299999 };
  const second = { root: bytes32(21), count: 7, start: 1763900300000, end: 1763900300000 };

  const receipts = [];
  for (const a of [first, second]) {
    receipts.push(await send(node, anchors, 'anchor(bytes32,uint32,uint64,uint64)', a.root, String(a.count),
      String(a.start), String(a.end)));
  }
  t.diagnostic(`gas used by one anchor call: ${big(receipts[0].gasUsed)} (first), ${big(receipts[1].gasUsed)} (second)`);
  assert.ok(big(receipts[1].gasUsed) < 110_000n, `an anchor should stay compact, used ${big(receipts[1].gasUsed)} gas`);

  const events = await logs(anchors, ANCHORED_EVENT);
  assert.equal(events.length, 2);
  for (const [index, a] of [first, second].entries()) {
    const event = events[index];
    assert.equal(event.transactionHash, receipts[index].transactionHash);
    assert.equal(event.topics[0], await cast('sig-event', ANCHORED_EVENT));
    assert.deepEqual(event.topics.slice(1), [word(index), a.root, addressWord(node.address)]);
    const data = await cast('decode-abi', '--json', '--input', 'f(uint32,uint64,uint64)', event.data);
    assert.deepEqual(JSON.parse(data).map(big), [a.count, a.start, a.end].map(BigInt));

    const stored = await call(anchors, 'anchorAt(uint256)(bytes32,uint32,uint64,uint64,address,uint64)', String(index));
    assert.equal(stored[0], a.root);
    assert.deepEqual(stored.slice(1, 4).map(big), [a.count, a.start, a.end].map(BigInt));
    assert.equal(stored[4].toLowerCase(), node.address);
    assert.equal(big(stored[5]), big(receipts[index].blockNumber));

    assert.deepEqual((await call(anchors, 'indexOf(bytes32)(uint256)', a.root)).map(big), [BigInt(index)]);
    assert.deepEqual(await call(anchors, 'isAnchored(bytes32)(bool)', a.root), [true]);
  }
  assert.deepEqual((await call(anchors, 'anchorCount()(uint256)')).map(big), [2n]);

  const unknown = bytes32(29);
  assert.deepEqual(await call(anchors, 'isAnchored(bytes32)(bool)', unknown), [false]);
  await assertRevertsWith(() => call(anchors, 'indexOf(bytes32)(uint256)', unknown), ['UnknownRoot(bytes32)', unknown]);
  await assertRevertsWith(() => call(anchors, 'anchorAt(uint256)(bytes32,uint32,uint64,uint64,address,uint64)', '2'),
    ['IndexOutOfRange(uint256)', '2']);
});

test('the same root anchored twice reverts with AlreadyAnchored, also when forced on chain', async () => {
  const [, node] = chain.accounts;
  const { anchors } = await deployLedger();
  const root = bytes32(30);
  await send(node, anchors, 'anchor(bytes32,uint32,uint64,uint64)', root, '3', '100', '200');

  // A retry after a crash, with the same or other fields, must not anchor again.
  await assertReverts(node, anchors, ['anchor(bytes32,uint32,uint64,uint64)', root, '3', '100', '200'],
    ['AlreadyAnchored(bytes32)', root]);
  await assertReverts(node, anchors, ['anchor(bytes32,uint32,uint64,uint64)', root, '9', '300', '400'],
    ['AlreadyAnchored(bytes32)', root]);
  // Sent without a gas estimate, the retry is mined and fails.
  const forced = JSON.parse(await cast('send', '--rpc-url', chain.rpc, '--private-key', node.key, '--json',
    '--gas-limit', '200000', anchors, 'anchor(bytes32,uint32,uint64,uint64)', root, '3', '100', '200'));
  assert.equal(forced.status, '0x0');
  assert.deepEqual((await call(anchors, 'anchorCount()(uint256)')).map(big), [1n]);
  assert.equal((await logs(anchors, ANCHORED_EVENT)).length, 1);
});

test('an anchor with no records, a reversed interval or a zero root is refused', async () => {
  const [, node] = chain.accounts;
  const { anchors } = await deployLedger();
  const anchor = (root, count, start, end) =>
    ['anchor(bytes32,uint32,uint64,uint64)', root, String(count), String(start), String(end)];

  await assertReverts(node, anchors, anchor(bytes32(40), 0, 100, 200), ['EmptyAnchor()']);
  await assertReverts(node, anchors, anchor(bytes32(40), 1, 201, 200), ['BadInterval()']);
  await assertReverts(node, anchors, anchor(word(0), 1, 100, 200), ['ZeroRoot()']);
  assert.deepEqual((await call(anchors, 'anchorCount()(uint256)')).map(big), [0n]);
  assert.deepEqual(await call(anchors, 'isAnchored(bytes32)(bool)', bytes32(40)), [false]);
  // A one-instant interval is fine.
  await send(node, anchors, ...anchor(bytes32(40), 1, 200, 200));
  assert.deepEqual(await call(anchors, 'isAnchored(bytes32)(bool)', bytes32(40)), [true]);
});

test('the row-store baseline stores every reading and emits one event each', async (t) => {
  const [, uploader] = chain.accounts;
  const rows = await deploy(uploader, 'RowStore');
  const patient = bytes32(50);
  const readings = Array.from({ length: 1000 }, (_, i) => ({
    metric: 1 + (i % 7),
    t: 1763900000000 + i * 1000,
    value: (i % 3 === 0 ? -1 : 1) * (60000 + i),
  }));
  const encoded = `[${readings.map((r) => `(${r.metric},${r.t},${r.value})`).join(',')}]`;

  const receipt = await send(uploader, rows, 'storeReadings(bytes32,(uint16,uint64,int64)[])', patient, encoded);
  t.diagnostic(`gas used by one storeReadings call with 1,000 readings: ${big(receipt.gasUsed)}`);

  assert.deepEqual((await call(rows, 'readingCount(bytes32)(uint256)', patient)).map(big), [1000n]);
  assert.deepEqual((await call(rows, 'readingCount(bytes32)(uint256)', bytes32(51))).map(big), [0n]);
  for (const index of [0, 1, 500, 999]) {
    const stored = await call(rows, 'readingAt(bytes32,uint256)((uint16,uint64,int64))', patient, String(index));
    const r = readings[index];
    assert.deepEqual(stored[0].map(big), [r.metric, r.t, r.value].map(BigInt), `reading ${index}`);
  }

  assert.equal(receipt.logs.length, 1000);
  const topic0 = await cast('sig-event', 'ReadingStored(bytes32 indexed,uint16 indexed,uint64,int64)');
  for (const index of [0, 999]) {
    const log = receipt.logs[index];
    assert.deepEqual(log.topics, [topic0, patient, word(readings[index].metric)]);
    const data = JSON.parse(await cast('decode-abi', '--json', '--input', 'f(uint64,int64)', log.data));
    assert.deepEqual(data.map(big), [BigInt(readings[index].t), BigInt(readings[index].value)]);
  }
});
