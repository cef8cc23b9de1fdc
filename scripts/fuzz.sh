#!/usr/bin/env bash
# Builds the libFuzzer version of tests/fuzz/framing_dispatch_fuzz.cpp with clang (ASan + UBSan)
# into build-fuzz/ and runs it on a copy of the seed corpus. Usage:
#   scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]     (default 300 seconds)
# New inputs go to build-fuzz/corpus; crashes to build-fuzz/crash-*. See tests/fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
shift || true
CXX="${CXX_FUZZ:-clang++}"
out=build-fuzz
mkdir -p "$out/corpus"
cp -n tests/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
"$CXX" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Isrc -o "$out/framing_dispatch_fuzz" tests/fuzz/framing_dispatch_fuzz.cpp \
  src/rpc/framing.cpp src/rpc/dispatcher.cpp src/base/log.cpp
cd "$out"
exec ./framing_dispatch_fuzz -max_total_time="$seconds" -max_len=8192 -artifact_prefix=./ \
  "$@" corpus ../tests/fuzz/corpus
