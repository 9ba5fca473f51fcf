#!/usr/bin/env bash
# Installs the Debian 12 packages ember needs to build, test and benchmark.
# Idempotent: does nothing (and touches no package list) when all are present.
#   scripts/install-deps.sh           build + test packages
#   scripts/install-deps.sh --bench   also the benchmark peers (QEMU)
set -euo pipefail

packages=(
	meson ninja-build gcc pkg-config   # build
	liburing-dev                       # async block I/O (virtio-blk)
	libjansson-dev libmicrohttpd-dev   # the Firecracker-compatible API: JSON, HTTP on a Unix socket
	libcmocka-dev                      # unit tests
	python3 python3-pytest             # integration tests (run with /usr/bin/python3)
	e2fsprogs                          # Linux-guest disk tests: mkfs.ext4 -d, debugfs, e2fsck
	python3-yaml curl                  # API tests: the OpenAPI file, Firecracker's curl examples
	cpio gzip lz4 binutils             # guest kit: initramfs, kernel payload, readelf
)
if [[ "${1:-}" == "--bench" ]]; then
	packages+=(qemu-system-x86 qemu-user hyperfine) # the peers: QEMU TCG/KVM, qemu-x86_64
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
