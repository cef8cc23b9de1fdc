#!/usr/bin/env bash
# The MCP example as a test: the official MCP SDK client runs a command in a
# linux sandbox through `agentd --mcp` and prints its streamed output.
# Skipped (with the reason) where the linux backend is unavailable.
set -euo pipefail
cd "$(dirname "$0")"
export AGENTD_BIN="${AGENTD_BIN:-$PWD/../../build/src/agentd}"
reason=$("$AGENTD_BIN" probe --json | node -e '
  const linux = JSON.parse(require("fs").readFileSync(0)).backends.find((b) => b.isolation === "linux");
  if (!linux.available) console.log(linux.reason);')
if [[ -n "$reason" ]]; then
  echo "clients/mcp: SKIP: linux backend unavailable: $reason"
  exit 0
fi
out=$(timeout 120 node example.mjs 'echo streamed-1; sleep 0.3; echo streamed-2' 2>/dev/null)
echo "$out"
grep -q '^\[progress\] streamed-1' <<<"$out" || { echo "clients/mcp: FAIL: no progress for the first line"; exit 1; }
grep -q '^streamed-2' <<<"$out" || { echo "clients/mcp: FAIL: the result lacks the output"; exit 1; }
echo "clients/mcp: PASS"
