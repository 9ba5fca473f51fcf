"""The real guest kit (Debian's cloud kernel + busybox initramfs) on ember.

Every test runs on the software CPU (`--accel soft`), and on KVM when KVM
here runs guest kernel code at hardware speed. On this project's machines
/dev/kvm is a software-emulated nested KVM (about 2 million guest kernel
instructions per second), so the KVM variants skip there."""
import os
import re
import select
import subprocess
import time

import pytest

from conftest import BUILD, linux_accel, run_ember

BOOT_TIMEOUT = 300
# dmesg lines that mean the platform misled the kernel (timekeeping, a stuck
# vCPU, a lost IPI or interrupt) or that the kernel hit a warning or a bug.
DMESG_PROBLEMS = re.compile(
    r"clocksource.*unstable|soft lockup|hard LOCKUP|rcu.*detected stall|"
    r"Call Trace|BUG:|WARNING:|spurious APIC interrupt|TSC.*(unstable|skewed)",
    re.I)


@pytest.fixture(scope="module", params=["soft", "kvm"])
def linux(request, kit, test_guests):
    return dict(kit, accel=linux_accel(request.param))


def kit_args(linux, cpus=1, memory=256, kernel="KIT_BZIMAGE", cmdline="console=ttyS0 quiet"):
    return ["run", "--accel", linux["accel"], "--kernel", linux[kernel],
            "--initrd", linux["KIT_INITRD"], "--cpus", str(cpus), "--memory", str(memory),
            "--cmdline", cmdline]


def boot(linux, test, cpus=1, memory=256, kernel="KIT_BZIMAGE", extra=""):
    cmdline = f"console=ttyS0 quiet ember.test={test} {extra}".strip()
    return run_ember(kit_args(linux, cpus, memory, kernel, cmdline), timeout=BOOT_TIMEOUT)


@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_reaches_init_and_counts_cpus(linux, cpus):
    run = boot(linux, "nproc", cpus=cpus)
    assert run.status == 0, run.stderr
    assert "EMBER-INIT reached" in run.stdout
    assert run.passed("nproc") and int(run.detail("nproc")) == cpus


def test_memtotal_matches(linux):
    run = boot(linux, "meminfo", memory=256)
    kib = int(run.detail("meminfo"))
    # The kernel keeps its own image, page tables and reservations.
    assert 200 * 1024 <= kib <= 256 * 1024


def test_date_matches_host(linux):
    run = boot(linux, "date")
    assert abs(int(run.detail("date")) - time.time()) <= 2 + 5  # boot time included


def test_virtio_modules_load(linux):
    run = boot(linux, "modules")
    assert run.status == 0, run.stderr
    assert run.passed("modules"), run.detail("modules")


@pytest.mark.parametrize("kernel", ["KIT_BZIMAGE", "KIT_VMLINUX"])
def test_both_entry_paths_boot(linux, kernel):
    run = boot(linux, "boot", kernel=kernel)
    assert run.status == 0 and run.passed("boot"), run.stderr


@pytest.mark.parametrize("end", ["poweroff", "reboot"])
def test_poweroff_and_reboot_exit_0(linux, end):
    run = boot(linux, "boot", extra=f"ember.end={end}")
    assert run.status == 0, run.stderr


def test_panic_exits_nonzero(linux):
    run = boot(linux, "boot", extra="ember.end=panic")
    assert run.status != 0
    assert "Kernel panic" in run.stdout


def test_one_mib_output(linux):
    run = boot(linux, "output")
    m = re.search(r"EMBER-OUTPUT-BEGIN\r?\n(.*?)EMBER-OUTPUT-END", run.stdout, re.S)
    assert m and len(m.group(1)) == 1 << 20


def read_until(proc, needle, timeout):
    """Reads proc's stdout until needle (bytes) appears or timeout; returns all read."""
    data = b""
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    while needle not in data and time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    return data


@pytest.mark.parametrize("cpus", [1, 4])
def test_shell_session_on_the_serial_console(linux, cpus):
    """Commands typed on the console reach busybox's shell; the kernel log is clean."""
    proc = subprocess.Popen([str(BUILD / "ember"), *kit_args(linux, cpus=cpus)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        out = read_until(proc, b"busybox shell", BOOT_TIMEOUT)
        assert b"busybox shell" in out, out[-2000:]
        # $((...)) makes the markers differ from the echo of the typed line.
        proc.stdin.write(b"ls /; echo LS-$((1+1)); cat /proc/cpuinfo; echo CPUINFO-$((1+1)); "
                         b"dmesg; echo DMESG-$((1+1)); poweroff\n")
        proc.stdin.flush()
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = (out + rest).decode("utf-8", "replace").replace("\r", "")
    assert proc.returncode == 0, err.decode("utf-8", "replace")
    ls = text[:text.index("LS-2\n")]
    for d in ("bin", "etc", "proc", "sys"):
        assert re.search(rf"\b{d}\b", ls), ls[-1000:]
    cpuinfo = text[text.index("LS-2\n"):text.index("CPUINFO-2\n")]
    assert cpuinfo.count("processor\t:") == cpus, cpuinfo
    assert "fpu\t\t: yes" in cpuinfo, cpuinfo
    dmesg = text[text.index("CPUINFO-2\n"):text.index("DMESG-2\n")]
    assert "Linux version" in dmesg and "x86/fpu:" in dmesg, dmesg[:2000]
    problems = [line for line in dmesg.splitlines() if DMESG_PROBLEMS.search(line)]
    assert not problems, "\n".join(problems)
