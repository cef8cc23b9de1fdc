#!/usr/bin/env bash
# Configures and builds agentd and its tests into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAGENTD_BUILD_TESTS=ON >/dev/null
cmake --build build -j"$(nproc)" >&2
