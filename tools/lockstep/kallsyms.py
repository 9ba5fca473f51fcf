#!/usr/bin/env python3
"""Writes the guest kernel's symbol map (its /proc/kallsyms) for compare.py --symbols.

    kallsyms.py OUT [--kernel vmlinux] [--initrd initrd.img] [--cmdline ...]

Debian's kernel ships stripped, with a placeholder System.map, so the names come from the
running kernel: the kit is booted on QEMU TCG (q35, PVH entry: the same addresses as on
ember, no KASLR), its shell runs `cat /proc/kallsyms` (root, kptr_restrict 0), and the
lines between two markers are saved. About ten seconds.
"""
import argparse
import os
import select
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KIT = os.path.join(ROOT, "build", "guest-kit")


def read_until(p, marker, buf, deadline):
    fd = p.stdout.fileno()
    while marker not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            return False
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return False
        buf += chunk
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--kernel", default=os.path.join(KIT, "vmlinux"))
    ap.add_argument("--initrd", default=os.path.join(KIT, "initrd.img"))
    ap.add_argument("--cmdline", default="console=ttyS0 quiet")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    argv = [a.qemu, "-accel", "tcg", "-M", "q35", "-nodefaults", "-no-user-config",
            "-nographic", "-no-reboot", "-serial", "stdio", "-m", "256", "-smp", "1",
            "-kernel", a.kernel, "-initrd", a.initrd, "-append", a.cmdline]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, bufsize=0)
    deadline = time.monotonic() + a.timeout
    buf = bytearray()
    try:
        if not read_until(p, b"/ # ", buf, deadline):
            print("kallsyms.py: no shell prompt from the guest", file=sys.stderr)
            return 1
        # Markers computed by the shell, so the echoed command line does not contain them.
        p.stdin.write(b"echo KSYMS-$((1+1))-BEGIN; cat /proc/kallsyms; "
                      b"echo KSYMS-$((1+1))-END\n")
        p.stdin.flush()
        if not read_until(p, b"KSYMS-2-END", buf, deadline):
            print("kallsyms.py: the symbol dump did not complete", file=sys.stderr)
            return 1
        p.stdin.write(b"poweroff\n")
        p.stdin.flush()
    finally:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    text = bytes(buf).decode(errors="replace").replace("\r", "")
    body = text.split("KSYMS-2-BEGIN\n", 1)[1].split("KSYMS-2-END", 1)[0]
    lines = [ln for ln in body.splitlines() if len(ln.split()) >= 3]
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"kallsyms.py: {len(lines)} symbols -> {a.out}", file=sys.stderr)
    return 0 if lines else 1


if __name__ == "__main__":
    sys.exit(main())
