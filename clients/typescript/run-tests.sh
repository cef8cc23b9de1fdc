#!/usr/bin/env bash
# Builds the TypeScript client (tsc) and runs its tests against the real
# agentd ($AGENTD_BIN, default build/src/agentd). scripts/test.sh runs this
# after scripts/setup.sh has done `npm ci` here. Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")"

if [[ ! -x node_modules/.bin/tsc ]]; then
  echo "clients/typescript: node_modules missing; run scripts/setup.sh (or npm ci in clients/typescript)" >&2
  exit 1
fi
rm -rf dist
node_modules/.bin/tsc -p .
node --test --test-concurrency=2 --test-timeout=60000 dist/test/*.test.js
