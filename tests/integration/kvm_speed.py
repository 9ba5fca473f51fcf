#!/usr/bin/env python3
"""Does KVM on this host run guest kernel code at hardware speed?

Boots ember's test guest with `ember.test=spin` (a ring-0 loop of about 2
million instructions) and times it. On hardware-assisted KVM that takes a
few milliseconds; on a software-emulated nested KVM (about 2 million guest
instructions per second) it takes a second. Exit status 0 = fast."""
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / os.environ.get("EMBER_BUILD", "build")
THRESHOLD_S = 0.25


def spin_seconds():
    guest = BUILD / "tests" / "guest" / "ember-test.bzimage"
    args = [str(BUILD / "ember"), "run", "--accel", "kvm", "--kernel", str(guest),
            "--cmdline", "ember.test=spin"]
    start = time.monotonic()
    proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    elapsed = time.monotonic() - start
    if proc.returncode != 0 or b"EMBER-TEST spin PASS" not in proc.stdout:
        return None
    return elapsed


def main():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        if "--quiet" not in sys.argv:
            print("no usable /dev/kvm")
        return 1
    seconds = spin_seconds()
    fast = seconds is not None and seconds < THRESHOLD_S
    if "--quiet" not in sys.argv:
        print(f"spin guest: {seconds if seconds is not None else 'failed'} s -> "
              f"{'fast' if fast else 'slow'} KVM")
    return 0 if fast else 1


if __name__ == "__main__":
    sys.exit(main())
