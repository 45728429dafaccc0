#!/usr/bin/env bash
# Compiles the Solidity contracts in contracts/src with the solc version pinned in
# package.json and writes their artifacts to contracts/artifacts (one <Name>.json each).
#
#   scripts/compile-contracts.sh           compile and write contracts/artifacts
#   scripts/compile-contracts.sh --check   compile into a temporary directory and fail if
#                                          the committed artifacts differ (used by CI)
#
# Needs only node and npm: runs `npm ci` first when node_modules lacks the pinned solc.
# Compiler warnings and errors fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 [--check]" >&2; exit 2; }
[ $# -le 1 ] || usage
mode="${1:-write}"
case "$mode" in write|--check) ;; *) usage ;; esac

pinned="$(node -p 'require("./package.json").devDependencies.solc')"
installed="$(node -p 'try { require("./node_modules/solc/package.json").version } catch { "" }')"
if [ "$installed" != "$pinned" ]; then
  echo "compile-contracts: installing the pinned tools (solc $pinned) with npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

committed=contracts/artifacts
if [ "$mode" = write ]; then
  node scripts/compile-contracts.mjs --out "$committed"
  exit 0
fi

fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
node scripts/compile-contracts.mjs --out "$fresh"

status=0
names="$( { ls "$fresh"; ls "$committed" 2>/dev/null || true; } | grep '\.json$' | sort -u)"
for name in $names; do
  if [ ! -f "$committed/$name" ]; then
    echo "compile-contracts: $committed/$name is missing" >&2
    status=1
  elif [ ! -f "$fresh/$name" ]; then
    echo "compile-contracts: $committed/$name has no contract in contracts/src" >&2
    status=1
  elif ! cmp -s "$fresh/$name" "$committed/$name"; then
    echo "compile-contracts: $committed/$name differs from a fresh compile" >&2
    status=1
  fi
done
if [ "$status" -ne 0 ]; then
  echo "compile-contracts: run scripts/compile-contracts.sh and commit contracts/artifacts" >&2
  exit 1
fi
echo "compile-contracts: $committed matches a fresh compile" >&2
