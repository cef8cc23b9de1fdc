#!/usr/bin/env bash
# Installs what agentd needs to build and test, only what is missing.
# Debian 12, run as root (or with sudo available). Idempotent and quick when
# everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake pkg-config
  nlohmann-json3-dev libboost1.81-dev libboost-filesystem1.81-dev
  libgtest-dev libgmock-dev librapidcheck-dev libcli11-dev
  libseccomp-dev libcap-dev libtomlplusplus-dev
  nodejs npm python3
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  # node may come from elsewhere (e.g. NodeSource): accept any working node/npm
  if [[ "$pkg" == nodejs && -x "$(command -v node || true)" ]]; then continue; fi
  if [[ "$pkg" == npm && -x "$(command -v npm || true)" ]]; then continue; fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# Node modules of the end-to-end tests and the JS clients (from package-lock).
for dir in tests/e2e clients/typescript clients/mcp; do
  [[ -f "$dir/package.json" ]] || continue
  stamp="$dir/node_modules/.agentd-lock-stamp"
  if [[ ! -f "$stamp" || "$dir/package-lock.json" -nt "$stamp" ]]; then
    echo "setup: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    touch "$stamp"
  fi
done
