#!/usr/bin/env bash
# The demo: builds the web interface (TypeScript, bundled with esbuild from the packages
# pinned in package-lock.json) into web/dist, which the binary embeds, then runs
# `vitalis demo` with the arguments given (e.g. --data-dir DIR). Needs the Rust
# toolchain; on a Debian machine run as root, installs Node.js and npm first if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "demo.sh: installing Node.js and npm from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if command -v npm >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --loglevel=error
  npm run --silent build:web
else
  echo "demo.sh: npm not found: the demo runs without the web interface (install Node.js and npm)" >&2
fi

exec cargo run --release --locked -- demo "$@"
