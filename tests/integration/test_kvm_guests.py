"""Both accelerators (KVM and the software CPU: the `accel` fixture), end to
end, with ember's own test guests (tests/guest/): both entry paths (bzImage
64-bit boot protocol, PVH ELF), 1/2/4 vCPUs, what the guest was given (boot
params, e820, command line, initrd, ACPI), SMP bring-up through INIT/SIPI,
the RTC, the UART, and every way a VM ends."""
import os
import secrets
import time

import pytest

from conftest import ASAN_BUILD, REPO, run_ember

CHECKS = {"bootparams", "e820", "cmdline", "initrd", "acpi", "smp", "rtc", "uart"}


def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


@pytest.fixture(scope="module")
def initrd(tmp_path_factory):
    data = os.urandom(12 * 1024 + 7)  # odd size: the guest must not round
    path = tmp_path_factory.mktemp("initrd") / "initrd.bin"
    path.write_bytes(data)
    return path, data


def boot_all(guest, cpus, accel, memory=128, initrd=None, extra="", **run_args):
    magic = secrets.token_hex(6)
    cmdline = f"ember.test=all ember.cpus={cpus} ember.mem={memory} ember.magic={magic}"
    args = ["run", "--kernel", str(guest), "--cpus", str(cpus), "--memory", str(memory)]
    if initrd:
        path, data = initrd
        cmdline += f" ember.initrd_size={len(data)} ember.initrd_sum={fnv1a32(data):08x}"
        args += ["--initrd", str(path)]
    args += ["--cmdline", f"{cmdline} {extra}".strip()]
    return run_ember(args, accel=accel, **{"timeout": 180, **run_args}), magic


@pytest.mark.parametrize("cpus", [1, 2, 4])
@pytest.mark.parametrize("entry", ["bzimage", "pvh"])
def test_guest_checks(test_guests, initrd, entry, cpus, accel):
    host_before = time.time()
    run, magic = boot_all(test_guests[entry], cpus, accel, initrd=initrd)
    assert run.status == 0, run.stderr + run.stdout
    assert "EMBER-TEST-DONE" in run.stdout
    assert not run.failures(), run.failures()
    missing = CHECKS - set(run.results)
    assert not missing, f"no result for {missing}: {run.stdout}"
    assert run.detail("cmdline") == magic
    assert f"cpus={cpus}" in run.detail("smp")
    guest_time = int(run.detail("rtc").split()[0])
    assert host_before - 3 <= guest_time <= time.time() + 3


def test_memory_above_the_hole(test_guests, accel):
    """4 GiB of RAM: the e820 map must put 1 GiB above 4 GiB, nothing in the hole."""
    run, _ = boot_all(test_guests["bzimage"], 1, accel, memory=4096)
    assert run.status == 0, run.stderr
    assert run.passed("e820"), run.results.get("e820")


@pytest.mark.parametrize("end,status", [("poweroff", 0), ("reset", 0), ("acpi-reset", 0)])
def test_guest_ends_vm(test_guests, end, status, accel):
    run = run_ember(["run", "--kernel", str(test_guests["bzimage"]),
                     "--cmdline", f"ember.test=hello ember.end={end}"], timeout=60, accel=accel)
    assert run.status == status, run.stderr
    assert run.passed("hello")


def test_triple_fault_is_a_crash(test_guests, accel):
    run = run_ember(["run", "--kernel", str(test_guests["pvh"]),
                     "--cmdline", "ember.test=hello ember.end=triplefault"], timeout=60,
                    accel=accel)
    assert run.status == 1, run.stderr
    assert "triple fault" in run.stderr
    assert "rip " in run.stderr and "cr0 " in run.stderr  # the register dump


def expected_output():
    letters = "abcdefghijklmnopqrstuvwxyz"
    lines = []
    for i in range(16384):
        tail = "".join(letters[(i + k) % 26] for k in range(54))
        lines.append(f"{i:08d} {tail}\n")
    return "".join(lines)


def test_one_mib_of_uart_output_arrives_whole(test_guests, accel):
    run = run_ember(["run", "--kernel", str(test_guests["bzimage"]),
                     "--cmdline", "ember.test=output"], timeout=180, accel=accel)
    assert run.status == 0, run.stderr
    begin = run.stdout.index("EMBER-OUTPUT-BEGIN\n") + len("EMBER-OUTPUT-BEGIN\n")
    end = run.stdout.index("EMBER-OUTPUT-END")
    body = run.stdout[begin:end]
    assert len(body) == 1 << 20
    assert body == expected_output()


@pytest.mark.skipif(not ASAN_BUILD, reason="no ASan build given (EMBER_ASAN_BUILD)")
def test_whole_boot_under_asan(test_guests, initrd, accel):
    """A whole 2-vCPU boot on the ASan+UBSan binary: no error, no leak."""
    build = REPO / ASAN_BUILD
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    run, _ = boot_all(test_guests["pvh"], 2, accel, initrd=initrd, build=build, timeout=240,
                      env=env)
    assert "ERROR: AddressSanitizer" not in run.stderr
    assert "ERROR: LeakSanitizer" not in run.stderr
    assert "runtime error" not in run.stderr
    assert run.status == 0, run.stderr
    assert not run.failures(), run.failures()
