#!/usr/bin/env bash
# Install, via apt, whatever tickgate needs to build and test and is missing.
# Idempotent: a second run installs nothing and takes well under a second.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  libwebsockets-dev libssl-dev libhiredis-dev libpq-dev libmsgpack-dev
  liburing-dev libjemalloc-dev libconfig-dev libjsmn-dev libcurl4-openssl-dev
  postgresql redis-server
  clang llvm libclang-rt-14-dev
  python3-pytest python3-websockets python3-jwt python3-msgpack
  python3-psycopg2 python3-redis python3-pytest-timeout
  prometheus prometheus-alertmanager openssl curl procps
  chromium nodejs
  help2man dpkg-dev yamllint python3-seccomp
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Package servers must not be started by the install: tests start their own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
