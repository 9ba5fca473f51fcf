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

# Until the software CPU lands, Linux only boots usefully where KVM runs guest
# kernel code at hardware speed. Measure it with a short ring-0 loop.
if ! python3 tests/integration/kvm_speed.py --quiet; then
	echo "ember: KVM on this host runs guest kernel code too slowly for Linux;" \
		"booting ember's test guest instead"
	exec build/ember run --kernel build/tests/guest/ember-test.bzimage --cpus 2 \
		--memory 128 --cmdline "ember.test=all ember.cpus=2 ember.mem=128 ember.magic=demo"
fi
exec build/ember run --kernel "$KIT_BZIMAGE" --initrd "$KIT_INITRD" --cpus 2 --memory 256 \
	--cmdline "console=ttyS0"
