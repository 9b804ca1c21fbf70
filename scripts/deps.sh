#!/usr/bin/env bash
# Installs the Debian 12 packages this project needs, only those missing.
# Used by examples/quickstart.sh and tests/run.sh; safe to run again.
# Usage: scripts/deps.sh [build|test]   (test adds the test-only packages)
set -euo pipefail

pkgs=(build-essential cmake pkg-config libcurl4-openssl-dev libgrpc-dev
      libprotobuf-c-dev protobuf-c-compiler libcjson-dev libmicrohttpd-dev)
if [ "${1:-build}" = test ]; then
  pkgs+=(libcmocka-dev curl clang libclang-rt-14-dev openssl python3 procps
        openmpi-bin libopenmpi-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "error: missing packages (${missing[*]}) and no root or sudo to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
