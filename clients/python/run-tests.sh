#!/usr/bin/env bash
# Runs the Python client's tests (standard library unittest) against the real agentd:
# $AGENTD_BIN, default build/src/agentd of this repository. Tests that need the binary or
# the linux backend skip, with the reason, when they are missing. Exits non-zero on failure.
set -euo pipefail
client_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$client_dir/../.." && pwd)"
# A relative AGENTD_BIN means relative to where we were started (normally the repo root).
AGENTD_BIN="$(realpath -m "${AGENTD_BIN:-$repo_root/build/src/agentd}")"
export AGENTD_BIN
export PYTHONDONTWRITEBYTECODE=1
cd "$client_dir"
exec python3 -m unittest discover --start-directory tests --top-level-directory . --verbose "$@"
