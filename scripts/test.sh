#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine. Needs the Rust toolchain; installs the
# pinned JavaScript tools (solc, anvil, cast) with npm from package-lock.json, and on a
# Debian machine run as root installs Node.js and npm first if they are missing.
# Tests of the PostgreSQL path use a server at VITALIS_TEST_POSTGRES (default
# postgres://postgres@127.0.0.1:5432) and say SKIPPED when there is none, unless
# VITALIS_REQUIRE_SERVICES=1, which turns a missing server or tool into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${VITALIS_REQUIRE_SERVICES:-0}" = "1" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
  # Start the machine's PostgreSQL if it is installed but stopped.
  if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi

if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test.sh: installing Node.js and npm from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if command -v npm >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --loglevel=error
  ./scripts/compile-contracts.sh --check
  npm run --silent test:contracts
elif [ "${VITALIS_REQUIRE_SERVICES:-0}" = "1" ]; then
  echo "test.sh: npm is required (contracts, anvil, cast)" >&2
  exit 1
else
  echo "SKIPPED: contract compilation check and tests, anvil and cast tests (no npm)" >&2
fi

# Every package the lock file names, for all platforms: the tidy test reads the
# resolved dependency graph offline.
cargo fetch --locked
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
