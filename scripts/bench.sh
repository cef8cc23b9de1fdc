#!/usr/bin/env bash
# Runs agentd_bench against the freshly built agentd and writes bench-results.json.
# Not part of the test suite. Extra arguments go to agentd_bench (e.g. --scale 5,
# --only exec create). See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
# The bwrap baseline needs bubblewrap; only the benchmark installs it, never the tests.
if ! command -v bwrap >/dev/null 2>&1; then
  echo "bench: installing bubblewrap for the bwrap baseline" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      $SUDO apt-get install -y -qq --no-install-recommends bubblewrap >&2; }; then
    echo "bench: could not install bubblewrap; the bwrap rows will be skipped" >&2
  fi
fi
# The protocol peer (Codex app-server) for the "protocol peer" row, from bench/peers'
# package-lock, into bench/peers/node_modules. Never a test dependency. Without it the row says
# why it is unavailable.
peers_stamp=bench/peers/node_modules/.agentd-lock-stamp
if [[ ! -f "$peers_stamp" || bench/peers/package-lock.json -nt "$peers_stamp" ]]; then
  echo "bench: npm ci in bench/peers (the Codex app-server peer)" >&2
  if (cd bench/peers && npm ci --no-audit --no-fund --loglevel=error >&2); then
    touch "$peers_stamp"
  else
    echo "bench: could not install bench/peers; the protocol-peer row will say unavailable" >&2
  fi
fi
bash scripts/build.sh
exec build/bench/agentd_bench --agentd build/src/agentd --json bench-results.json "$@"
