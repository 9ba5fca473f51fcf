#!/usr/bin/env bash
# README command 1: install what is needed, build ember and the guest kit,
# then boot a Linux microVM with its console on this terminal.
# (Ctrl-A x quits; `poweroff` in the guest ends ember with status 0.)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh
bash tools/guest/build-kit.sh build/guest-kit >/dev/null
# shellcheck disable=SC1091
. build/guest-kit/kit.env

# --accel auto (the default): KVM where it runs guest kernel code at hardware
# speed, else ember's software CPU; ember prints one line saying which and why.
exec build/ember run --kernel "$KIT_BZIMAGE" --initrd "$KIT_INITRD" --cpus 2 --memory 256 \
	--cmdline "console=ttyS0"
