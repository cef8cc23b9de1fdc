#!/usr/bin/env bash
# Sets everything up, builds, and runs every test: GoogleTest/RapidCheck
# through ctest, then the end-to-end tests against the real binary from Node.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
export AGENTD_BIN="$PWD/build/src/agentd"

status=0
(cd build && ctest --output-on-failure --timeout 300 -j2) || status=1
if [[ -d tests/e2e ]]; then
  (cd tests/e2e && node --test --test-concurrency=2 --test-timeout=120000) || status=1
fi
# Each client tests itself against the real binary (clients/<lang>/run-tests.sh).
for client_tests in clients/*/run-tests.sh; do
  [[ -f "$client_tests" ]] || continue
  echo "test: $client_tests" >&2
  bash "$client_tests" || status=1
done
exit $status
