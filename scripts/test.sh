#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine. Needs only the Rust toolchain; tests of
# the PostgreSQL path use a server at VITALIS_TEST_POSTGRES (default
# postgres://postgres@127.0.0.1:5432) and say SKIPPED when there is none, unless
# VITALIS_REQUIRE_SERVICES=1, which turns a missing server into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${VITALIS_REQUIRE_SERVICES:-0}" = "1" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
  # Start the machine's PostgreSQL if it is installed but stopped.
  if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi

cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
