// Compiles every contract under contracts/src with the solc pinned in package.json,
// through the standard-JSON interface, and writes one artifact per contract to the
// directory given with --out (contracts/artifacts by default).
//
// An artifact holds exactly {contractName, abi, bytecode: {object}, deployedBytecode:
// {object}, compiler: {version, settings}}. The output is deterministic: fixed key order,
// two-space indent, trailing newline, and no metadata hash in the bytecode, so a fresh
// compile of unchanged sources gives byte-identical files. Any compiler warning or error
// fails the run with the compiler's message.
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = path.join(root, 'contracts', 'src');

// Everything that affects the bytecode. The metadata hash and its CBOR trailer are left out
// so that the bytecode does not depend on file paths, comments or formatting.
const SETTINGS = {
  evmVersion: 'cancun',
  metadata: { appendCBOR: false, bytecodeHash: 'none' },
  optimizer: { enabled: true, runs: 200 },
};

function fail(message) {
  process.stderr.write(`compile-contracts: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  let out = path.join(root, 'contracts', 'artifacts');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && i + 1 < argv.length) {
      out = path.resolve(argv[++i]);
    } else {
      fail(`unknown argument ${argv[i]} (usage: compile-contracts.mjs [--out DIR])`);
    }
  }
  return { out };
}

function loadPinnedSolc() {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const pinned = pkg.devDependencies?.solc;
  if (!pinned || !/^\d+\.\d+\.\d+$/.test(pinned)) {
    fail('package.json must pin solc to an exact version in devDependencies');
  }
  const require = createRequire(path.join(root, 'package.json'));
  const solc = require('solc');
  const version = solc.version();
  if (!version.startsWith(`${pinned}+`)) {
    fail(`node_modules has solc ${version}, package.json pins ${pinned}; run npm ci`);
  }
  return { solc, version };
}

// Source units are named by their path under contracts/, e.g. "src/Anchors.sol", so that
// relative imports between them resolve without touching the file system.
function collectSources(dir, prefix = 'src') {
  const sources = {};
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    const unit = `${prefix}/${entry.name}`;
    if (entry.isDirectory()) {
      Object.assign(sources, collectSources(full, unit));
    } else if (entry.name.endsWith('.sol')) {
      sources[unit] = { content: fs.readFileSync(full, 'utf8') };
    }
  }
  return sources;
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys(value[key])]),
    );
  }
  return value;
}

function compile(solc, sources) {
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      ...SETTINGS,
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = (output.errors ?? []).filter((e) => e.severity !== 'info');
  if (problems.length > 0) {
    fail(`solc reported ${problems.length} problem(s):\n${problems.map((e) => e.formattedMessage).join('\n')}`);
  }
  return output;
}

function artifacts(output, version) {
  const byName = new Map();
  for (const unit of Object.keys(output.contracts ?? {}).sort()) {
    for (const [name, contract] of Object.entries(output.contracts[unit])) {
      if (byName.has(name)) fail(`contract ${name} is defined in both ${byName.get(name).unit} and ${unit}`);
      byName.set(name, {
        unit,
        artifact: {
          contractName: name,
          abi: sortKeys(contract.abi),
          bytecode: { object: `0x${contract.evm.bytecode.object}` },
          deployedBytecode: { object: `0x${contract.evm.deployedBytecode.object}` },
          compiler: { version, settings: sortKeys(SETTINGS) },
        },
      });
    }
  }
  return [...byName.keys()].sort().map((name) => byName.get(name).artifact);
}

function write(out, list) {
  fs.mkdirSync(out, { recursive: true });
  const written = new Set();
  for (const artifact of list) {
    const file = `${artifact.contractName}.json`;
    fs.writeFileSync(path.join(out, file), `${JSON.stringify(artifact, null, 2)}\n`);
    written.add(file);
  }
  // An artifact of a contract that no longer exists would otherwise linger.
  for (const file of fs.readdirSync(out)) {
    if (file.endsWith('.json') && !written.has(file)) fs.rmSync(path.join(out, file));
  }
}

const { out } = parseArgs(process.argv.slice(2));
const { solc, version } = loadPinnedSolc();
const sources = collectSources(sourceDir);
if (Object.keys(sources).length === 0) fail(`no .sol files under ${sourceDir}`);
const list = artifacts(compile(solc, sources), version);
write(out, list);
const shown = path.relative(root, out).startsWith('..') ? out : path.relative(root, out);
process.stderr.write(`compile-contracts: solc ${version}: ${list.map((a) => a.contractName).join(', ')} -> ${shown}\n`);
