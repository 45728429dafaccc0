// Reads a CAR file with the IPLD project's own JavaScript libraries (@ipld/car,
// @ipld/dag-cbor, multiformats), independent of the Rust writer, and prints what it
// found as JSON: the roots, every block's CID, size and whether its bytes hash to its
// CID, and the root block decoded as DAG-CBOR (links in DAG-JSON form, {"/": cid}; byte
// strings as hex).
//
// Usage: node read-car.mjs FILE
import { readFile } from 'node:fs/promises';
import { CarReader } from '@ipld/car';
import * as dagCbor from '@ipld/dag-cbor';
import { sha256 } from 'multiformats/hashes/sha2';

const bytes = await readFile(process.argv[2]);
const reader = await CarReader.fromBytes(bytes);
const roots = await reader.getRoots();
const blocks = [];
for await (const { cid, bytes: data } of reader.blocks()) {
  const digest = await sha256.digest(data);
  blocks.push({
    cid: cid.toString(),
    codec: cid.code,
    size: data.length,
    hash_ok: cid.multihash.code === sha256.code && equal(digest.digest, cid.multihash.digest),
    hex: Buffer.from(data).toString('hex'),
  });
}
const root = await reader.get(roots[0]);
const manifest = dagCbor.decode(root.bytes);
console.log(JSON.stringify({ roots: roots.map(String), blocks, manifest }, plain));

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// Byte strings as hex (a CID has already become {"/": cid} through its toJSON).
function plain(_key, value) {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}
