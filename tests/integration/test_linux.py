"""The real guest kit (Debian's cloud kernel + busybox initramfs) on ember.

These run on any accelerator that runs Linux at useful speed. On this
project's machines /dev/kvm is a software-emulated nested KVM (about 2
million guest kernel instructions per second), so they skip here until the
software CPU lands; on a host with hardware virtualization they run on KVM."""
import re
import time

import pytest

import kvm_speed
from conftest import run_ember


@pytest.fixture(scope="module")
def linux(kit, test_guests):
    seconds = kvm_speed.spin_seconds()
    if seconds is None or seconds >= kvm_speed.THRESHOLD_S:
        pytest.skip("KVM here runs guest kernel code at ~2 MIPS (nested, emulated): "
                    "Linux boots on the software CPU once it lands")
    return kit


def boot(kit, test, cpus=1, memory=256, kernel="KIT_BZIMAGE", extra=""):
    cmdline = f"console=ttyS0 quiet ember.test={test} {extra}".strip()
    return run_ember(["run", "--kernel", kit[kernel], "--initrd", kit["KIT_INITRD"],
                      "--cpus", str(cpus), "--memory", str(memory), "--cmdline", cmdline],
                     timeout=300)


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
