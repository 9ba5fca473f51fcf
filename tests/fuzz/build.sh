#!/bin/sh
# Builds ember's libFuzzer targets with clang (14 on Debian 12):
#   tests/fuzz/build.sh [OUTDIR]     (default: build-fuzz/ at the top)
# Each target links only the ember sources it exercises, built with
# -fsanitize=fuzzer,address,undefined; UBSan findings abort like crashes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/build-fuzz}
cc=${CC_FUZZ:-clang}
mkdir -p "$out"

flags="-std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -Wall -Wextra -Wno-unused-parameter -Werror
	-D_GNU_SOURCE -I$root/src"

# shellcheck disable=SC2086 # flags is a word list on purpose
$cc $flags -o "$out/fuzz_virtq" "$here/fuzz_virtq.c" \
	"$root/src/devices/virtio/queue.c" "$root/src/devices/virtio/device.c" \
	"$root/src/vmm/memory.c" "$root/src/core/log.c" -lpthread
echo "built $out/fuzz_virtq"

# shellcheck disable=SC2086
$cc $flags -o "$out/fuzz_blk_request" "$here/fuzz_blk_request.c" \
	"$root/src/devices/virtio/blk/blk_req.c"
echo "built $out/fuzz_blk_request"
