"""ember's virtio-mmio devices driven by the test guest's own driver
(tests/guest/virtio*.c), on both accelerators (the `accel` fixture):
discovery through the DSDT's LNRO0005 devices, the init sequence, split-ring
requests, and a hostile guest that breaks every virtqueue rule and expects
DEVICE_NEEDS_RESET, a working reset, and a working neighbour device. ember
must never crash and must rate-limit what a guest can make it log.

virtio-rng runs always; virtio-blk once ember has `--disk` (skipped with
"virtio-blk not in this build" before). Each boot is well under a second
on a software-emulated nested KVM; the file stays under ~30 s."""
import os
import subprocess

import pytest

from conftest import ASAN_BUILD, BUILD, REPO, run_ember

SECTOR = 512
DISK_SECTORS = 8192  # 4 MiB
NEEDS_RESET_LOG = "device needs reset"
# log_warn_ratelimited: 5 lines per call site per second. A hostile run
# takes well under a second but may straddle a window boundary.
MAX_RESET_LINES = 10


def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def pattern(sector):
    """What the guest's virtio-blk test writes to a sector (virtio_tests.c)."""
    return bytes(((sector * 131 + i * 7 + 0x5A) & 0xFF) for i in range(SECTOR))


def boot(accel, guest, tests, devices=(), cmdline="", timeout=60, build=BUILD, env=None):
    args = ["run", "--kernel", str(guest), *devices,
            "--cmdline", f"ember.test={tests} {cmdline}".strip()]
    return run_ember(args, timeout=timeout, build=build, env=env, accel=accel)


def virtio_results(run, prefix):
    return {n: r for n, r in run.results.items() if n.startswith(prefix)}


def reset_log_lines(run):
    return [line for line in run.stderr.splitlines() if NEEDS_RESET_LOG in line]


@pytest.fixture(scope="module")
def disk_support(ember_bin):
    proc = subprocess.run([str(ember_bin), "--help"], capture_output=True, timeout=10)
    if b"--disk" not in proc.stdout + proc.stderr:
        pytest.skip("virtio-blk not in this build")


@pytest.fixture
def image(tmp_path):
    data = os.urandom(DISK_SECTORS * SECTOR)
    path = tmp_path / "disk.img"
    path.write_bytes(data)
    return path, data


# ---- virtio-rng ------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["bzimage", "pvh"])
def test_rng(test_guests, entry, accel):
    run = boot(accel, test_guests[entry], "virtio-rng", ["--rng"])
    assert run.status == 0, run.stderr
    assert run.passed("virtio-rng"), run.stdout
    detail = run.detail("virtio-rng")
    assert detail.startswith("bytes=192 "), detail
    # The DSDT's first virtio-mmio device: first window, first virtio GSI.
    assert "base=0xd0000000 gsi=5 " in detail, detail


def test_no_device_is_reported_not_crashed(test_guests, accel):
    run = boot(accel, test_guests["bzimage"], "virtio-rng")
    assert run.status == 0, run.stderr
    assert not run.passed("virtio-rng")
    assert "no virtio-rng" in run.detail("virtio-rng")


def check_hostile(run, victim, other):
    assert run.status == 0, f"ember exited {run.status}: {run.stderr[-2000:]}"
    assert "EMBER-TEST-DONE" in run.stdout, run.stdout
    cases = virtio_results(run, "virtio-hostile")
    failed = {n: d for n, (ok, d) in cases.items() if not ok}
    assert not failed, failed
    summary = run.detail("virtio-hostile")
    assert f"victim={victim} other={other}" in summary, summary
    for case in ("loop", "outside", "hole", "wrap", "long", "next", "indirect", "avail",
                 "head", "order", "ring", "rngread"):
        assert f"virtio-hostile-{case}" in cases, f"no line for {case}: {run.stdout}"
        assert "status=0x4f " in run.detail(f"virtio-hostile-{case}")
    # Each violation is logged, rate-limited: some lines, never a flood.
    lines = reset_log_lines(run)
    assert 1 <= len(lines) <= MAX_RESET_LINES, run.stderr
    assert len(run.stderr.splitlines()) <= 40, run.stderr


def test_hostile_rng(test_guests, accel):
    run = boot(accel, test_guests["bzimage"], "virtio-hostile", ["--rng"])
    check_hostile(run, "rng", "none")
    assert "skipped=only-one-device" in run.detail("virtio-hostile-isolation")


def test_rng_after_hostile_in_one_boot(test_guests, accel):
    """The device the hostile guest broke a dozen times still serves a clean driver."""
    run = boot(accel, test_guests["pvh"], "virtio-hostile,virtio-rng", ["--rng"])
    assert run.status == 0, run.stderr
    assert run.passed("virtio-hostile"), run.detail("virtio-hostile")
    assert run.passed("virtio-rng"), run.detail("virtio-rng")


@pytest.mark.skipif(not ASAN_BUILD, reason="no ASan build given (EMBER_ASAN_BUILD)")
def test_hostile_under_asan(test_guests, image, accel):
    """The hostile guest on the ASan+UBSan binary: against the blk (with the rng
    beside it) when that build has --disk, else against the rng."""
    build = REPO / ASAN_BUILD
    help_text = subprocess.run([str(build / "ember"), "--help"], capture_output=True,
                               timeout=10)
    devices, victim, other = ["--rng"], "rng", "none"
    if b"--disk" in help_text.stdout + help_text.stderr:
        devices, victim, other = ["--disk", str(image[0]), "--rng"], "blk", "rng"
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    run = boot(accel, test_guests["bzimage"], "virtio-hostile", devices, build=build, env=env,
               timeout=120)
    assert "ERROR: AddressSanitizer" not in run.stderr
    assert "ERROR: LeakSanitizer" not in run.stderr
    assert "runtime error" not in run.stderr
    check_hostile(run, victim, other)


# ---- virtio-blk ------------------------------------------------------------------


def blk_cmdline(**keys):
    return " ".join(f"ember.{k}={v}" for k, v in keys.items())


def test_blk(test_guests, disk_support, image, accel):
    path, before = image
    run = boot(accel, test_guests["bzimage"], "virtio-blk",
               ["--disk", f"{path},id=embertest", "--rng"],
               blk_cmdline(blkid="embertest", blkcap=DISK_SECTORS, blkro=0))
    assert run.status == 0, run.stderr
    checks = virtio_results(run, "virtio-blk")
    failed = {n: d for n, (ok, d) in checks.items() if not ok}
    assert not failed, failed
    assert run.passed("virtio-blk"), run.stdout
    for name in ("config", "id", "rw", "flush", "chain3", "framing", "batch", "oob", "unsupp"):
        assert f"virtio-blk-{name}" in checks, run.stdout
    assert "id=embertest " in run.detail("virtio-blk-id")

    # What the guest wrote reached the file, and nothing else changed.
    after = path.read_bytes()
    assert len(after) == len(before)
    # rw: 0-7 and the last 8; batch: 32-37 (all the pattern).
    touched = set(range(0, 8)) | set(range(32, 38)) | set(range(DISK_SECTORS - 8, DISK_SECTORS))
    for s in sorted(touched):
        assert after[s * SECTOR:(s + 1) * SECTOR] == pattern(s), f"sector {s}"
    zeroes = run.detail("virtio-blk-zeroes") if "virtio-blk-zeroes" in checks else ""
    if "write_zeroes=ok" in zeroes:
        assert after[16 * SECTOR:24 * SECTOR] == bytes(8 * SECTOR)
        touched |= set(range(16, 24))
    if "discard=ok" in zeroes:
        touched |= set(range(24, 32))  # content after a discard is unspecified
    for s in range(DISK_SECTORS):
        if s not in touched:
            assert after[s * SECTOR:(s + 1) * SECTOR] == before[s * SECTOR:(s + 1) * SECTOR], \
                f"sector {s} changed"


def test_blk_read_only(test_guests, disk_support, image, accel):
    path, before = image
    run = boot(accel, test_guests["bzimage"], "virtio-blk", ["--disk", f"{path},ro"],
               blk_cmdline(blkcap=DISK_SECTORS, blkro=1))
    assert run.status == 0, run.stderr
    failed = {n: d for n, (ok, d) in virtio_results(run, "virtio-blk").items() if not ok}
    assert not failed, failed
    assert "write=ioerr" in run.detail("virtio-blk-ro")
    assert "write_zeroes=ok" not in run.detail("virtio-blk-ro")
    assert path.read_bytes() == before


def test_blk_read_hash(test_guests, disk_support, image, accel):
    path, data = image
    sectors = 100  # 50 KiB: one full 32 KiB request and a partial one
    want = fnv1a32(data[:sectors * SECTOR])
    run = boot(accel, test_guests["pvh"], "virtio-blk-read", ["--disk", str(path)],
               blk_cmdline(blksectors=sectors, blksum=f"{want:08x}"))
    assert run.status == 0, run.stderr
    assert run.passed("virtio-blk-read"), run.detail("virtio-blk-read")
    assert f"fnv={want:08x}" in run.detail("virtio-blk-read")


def test_hostile_blk(test_guests, disk_support, image, accel):
    path, before = image
    run = boot(accel, test_guests["bzimage"], "virtio-hostile", ["--disk", str(path), "--rng"])
    check_hostile(run, "blk", "rng")
    assert run.passed("virtio-hostile-blkfmt"), run.detail("virtio-hostile-blkfmt")
    iso = run.detail("virtio-hostile-isolation")
    assert iso.startswith("requests=") and "failed=0" in iso, iso
    # The hostile guest only ever reads: the image is untouched.
    assert path.read_bytes() == before


def test_blk_reset_with_io_in_flight(test_guests, disk_support, image, accel):
    """cache=none keeps the reads in flight at the reset (page-cache reads finish inside
    the submit). The guest then checks that nothing of them reaches its memory."""
    path, _ = image
    run = boot(accel, test_guests["bzimage"], "virtio-blk-reset",
               ["--disk", f"{path},cache=none"])
    if run.status != 0 and "cache" in run.stderr:
        pytest.skip(f"no O_DIRECT here: {run.stderr.strip()[-200:]}")
    assert run.status == 0, run.stderr
    assert "popped=1" in run.detail("virtio-blk-reset"), run.detail("virtio-blk-reset")
    assert run.passed("virtio-blk-reset"), run.detail("virtio-blk-reset")
