#!/usr/bin/env bash
# Configures and builds agentd and its tests into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
cmake --build build -j"$(nproc)" >&2
