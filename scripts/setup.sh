#!/usr/bin/env bash
# Installs the Debian 12 packages weft builds against. Idempotent: when every
# package is already installed it does nothing (no apt-get update, no network).
#
#   bash scripts/setup.sh
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config ccache clang-format
  libasio-dev capnproto libcapnp-dev liburing-dev libmimalloc-dev libfmt-dev
  catch2 libcereal-dev libsodium-dev
  iproute2  # `ip netns` for the multi-host tests (tests/netns/run.sh)
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

# Root on a fresh container has no sudo; anyone else needs it.
if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
