#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine. Needs the Rust toolchain; installs the
# pinned JavaScript tools (solc, anvil, cast, and the web interface's TypeScript, esbuild,
# uPlot and playwright-core) with npm from package-lock.json, and on a Debian machine run
# as root installs Node.js and npm (and Chromium, for the browser tests) first if they
# are missing. The web interface is built before the Rust tests, so that the binary they
# build embeds it, and driven in Chromium after them (screenshots in target/web-screenshots).
# Tests of the PostgreSQL path use a server at VITALIS_TEST_POSTGRES (default
# postgres://postgres@127.0.0.1:5432), those of an external MQTT broker one at
# VITALIS_TEST_MQTT (default 127.0.0.1:1883), and say SKIPPED when there is none, unless
# VITALIS_REQUIRE_SERVICES=1, which turns a missing server or tool into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${VITALIS_REQUIRE_SERVICES:-0}" = "1" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
  # Start the machine's PostgreSQL if it is installed but stopped.
  if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi

if [ "${VITALIS_REQUIRE_SERVICES:-0}" = "1" ] && command -v mosquitto >/dev/null 2>&1; then
  # Start a Mosquitto for the external-broker tests if none listens on 127.0.0.1:1883.
  if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
    mosquitto -d -p 1883 || true
  fi
fi

if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test.sh: installing Node.js and npm from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if command -v npm >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --loglevel=error
  npm run --silent build:web
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

# The web interface in a browser: Debian's Chromium driven by playwright-core.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test.sh: installing Chromium from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if command -v npm >/dev/null 2>&1 && [ -x /usr/bin/chromium ]; then
  # The binary the Rust tests just built, with the interface built above.
  VITALIS_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/vitalis" npm run --silent test:web
elif [ "${VITALIS_REQUIRE_SERVICES:-0}" = "1" ]; then
  echo "test.sh: the browser tests need npm and /usr/bin/chromium" >&2
  exit 1
else
  echo "SKIPPED: browser tests of the web interface (no npm or no /usr/bin/chromium)" >&2
fi
