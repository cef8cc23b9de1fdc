#!/usr/bin/env bash
# Sets everything up, builds, and runs a short demo session against the real
# agentd: create a sandbox, run a command with streamed output, destroy it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
AGENTD_BIN="$PWD/build/src/agentd" node clients/demo/demo.mjs "$@"
