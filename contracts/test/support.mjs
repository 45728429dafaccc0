// Shared by the contract tests: starts anvil from node_modules, deploys the committed
// artifacts with cast and drives them through cast send / call / logs.
//
// A test file registers `before(startAnvil)` and `after(stopAnvil)`; each file then runs
// against its own anvil (node --test runs every file in a process of its own).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

// The node_modules/.bin wrappers of the foundry packages exit 0 even when the tool fails,
// so the platform binaries they wrap are run directly.
function foundryBinary(tool) {
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch] ?? process.arch;
  const file = process.platform === 'win32' ? `${tool}.exe` : tool;
  const require = createRequire(path.join(root, 'package.json'));
  return require.resolve(`@foundry-rs/${tool}-${process.platform}-${arch}/bin/${file}`);
}

const ANVIL = foundryBinary('anvil');
const CAST = foundryBinary('cast');

export const Role = { Hospital: 0, Researcher: 1, EnterpriseGovernment: 2 };
export const Status = { None: 0, Pending: 1, Approved: 2, Suspended: 3 };
// Any 32 bytes will do: the registry stores the key and never decodes the point.
export const CHAMELEON_KEY = '0xe2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76';

/** The running node: its RPC address and the dev accounts it printed. */
export const chain = { process: null, rpc: '', accounts: [] };

export function artifact(name) {
  const file = path.join(root, 'contracts', 'artifacts', `${name}.json`);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing; run scripts/compile-contracts.sh`);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Parses anvil's start-up banner: "(i) 0x… (… ETH)" under "Available Accounts", "(i) 0x…" under "Private Keys". */
function parseAccounts(banner) {
  const after = (title) => banner.split(title)[1] ?? '';
  const addresses = [...after('Available Accounts').matchAll(/^\((\d+)\) (0x[0-9a-fA-F]{40}) \(/gm)];
  const keys = [...after('Private Keys').matchAll(/^\((\d+)\) (0x[0-9a-fA-F]{64})$/gm)];
  assert.ok(keys.length >= 4 && keys.length === addresses.length, `anvil printed no dev accounts:\n${banner}`);
  return keys.map((k, i) => ({ address: addresses[i][2].toLowerCase(), key: k[2] }));
}

export async function startAnvil() {
  const port = await freePort();
  // Cancun: the EVM version the contracts are compiled for and the embedded chain's rules.
  const child = spawn(ANVIL, ['--port', String(port), '--hardfork', 'cancun'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`anvil did not start:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk;
      if (/Listening on \S+/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`anvil exited with ${code}:\n${output}`));
    });
  });
  child.stdout.removeAllListeners('data');
  child.stderr.removeAllListeners('data');
  child.removeAllListeners('exit');
  // Keep draining its log so that a full pipe never blocks it.
  child.stdout.resume();
  child.stderr.resume();
  chain.process = child;
  chain.rpc = `http://${output.match(/Listening on (\S+)/)[1]}`;
  chain.accounts = parseAccounts(output);
}

export function stopAnvil() {
  if (chain.process && chain.process.exitCode === null) chain.process.kill('SIGKILL');
}

process.on('exit', stopAnvil);

/** Runs cast and returns its trimmed stdout; a failure carries cast's stderr. */
export async function cast(...args) {
  try {
    const { stdout } = await run(CAST, args, { maxBuffer: 256 * 1024 * 1024 });
    return stdout.trim();
  } catch (error) {
    throw new Error(`cast ${args[0]} failed: ${error.stderr || error.message}`);
  }
}

export async function deploy(from, name, constructorSig, ...args) {
  const { bytecode } = artifact(name);
  const sigArgs = constructorSig ? [constructorSig, ...args] : [];
  const out = await cast('send', '--rpc-url', chain.rpc, '--private-key', from.key, '--json',
    '--create', bytecode.object, ...sigArgs);
  const receipt = JSON.parse(out);
  assert.equal(receipt.status, '0x1', `deploying ${name} failed`);
  return receipt.contractAddress;
}

/** Sends a transaction and returns its receipt, which must show success. */
export async function send(from, to, sig, ...args) {
  const out = await cast('send', '--rpc-url', chain.rpc, '--private-key', from.key, '--json', to, sig, ...args);
  const receipt = JSON.parse(out);
  assert.equal(receipt.status, '0x1', `${sig} failed`);
  return receipt;
}

/**
 * Parses cast's JSON output, keeping integers of 16 digits or more as strings: cast prints
 * uint64 and wider values as bare JSON numbers, which a double would round.
 */
export function parseJson(text) {
  return JSON.parse(text.replace(/([[,:]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));
}

/** Calls a view; `sig` names the return types, e.g. "f(uint256)(bytes32)". */
export async function call(to, sig, ...args) {
  return parseJson(await cast('call', '--rpc-url', chain.rpc, '--json', to, sig, ...args));
}

/** Asserts that `attempt()` (a cast run) fails with exactly the custom error `error(errorArgs)`. */
export async function assertRevertsWith(attempt, [error, ...errorArgs]) {
  const expected = await cast('calldata', error, ...errorArgs);
  await assert.rejects(attempt, (failure) => {
    const data = failure.message.match(/data: "(0x[0-9a-fA-F]*)"/)?.[1];
    assert.equal(data?.toLowerCase(), expected, `expected a revert with ${error}: ${failure.message}`);
    return true;
  });
}

/** Asserts that sending `sig(args)` from `from` reverts with exactly the custom error given. */
export async function assertReverts(from, to, [sig, ...args], error) {
  await assertRevertsWith(
    () => cast('send', '--rpc-url', chain.rpc, '--private-key', from.key, '--json', to, sig, ...args),
    error,
  );
}

export async function logs(address, eventSig, fromBlock = 0) {
  const out = await cast('logs', '--rpc-url', chain.rpc, '--json', '--from-block', String(fromBlock),
    '--address', address, eventSig);
  return JSON.parse(out);
}

/** Timestamp of the latest block (Unix seconds), which `evm_increaseTime` moves on. */
export async function chainTime() {
  return BigInt(await cast('block', '--rpc-url', chain.rpc, 'latest', '--field', 'timestamp'));
}

/** Moves the chain's clock `seconds` ahead and mines a block there. */
export async function advanceTime(seconds) {
  await cast('rpc', '--rpc-url', chain.rpc, 'evm_increaseTime', String(seconds));
  await cast('rpc', '--rpc-url', chain.rpc, 'evm_mine');
}

export const word = (value) => `0x${BigInt(value).toString(16).padStart(64, '0')}`;
export const addressWord = (address) => `0x${address.slice(2).toLowerCase().padStart(64, '0')}`;
export const bytes32 = (n) => word(BigInt(n) * 0x0101010101n + (1n << 255n));
export const big = (value) => BigInt(String(value));

/** Deploys an identity registry whose supervisor is `supervisor`. */
export async function deployRegistry(supervisor) {
  return deploy(supervisor, 'IdentityRegistry', 'constructor(address,bytes32)', supervisor.address, CHAMELEON_KEY);
}
