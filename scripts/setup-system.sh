#!/usr/bin/env bash
# Installs the Debian packages gunyah-ts needs to build and test (idempotent).
# cmake + g++: the native addon; device-tree-compiler: dtc cross-checks; qemu-system-arm, cpio and
# the aarch64 cross compilers: the arm64 testbed and the layout checks; e2fsprogs: disk images.
set -euo pipefail
pkgs=(cmake g++ make python3 device-tree-compiler qemu-system-arm cpio gcc-aarch64-linux-gnu g++-aarch64-linux-gnu e2fsprogs xz-utils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all Debian packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup-system: missing Debian packages: ${missing[*]} (run as root, or install them: apt-get install ${missing[*]})" >&2
  exit 0
fi
echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-system: done"
