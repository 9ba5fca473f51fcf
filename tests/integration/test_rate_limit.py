"""Rate limiters on virtio-blk (src/core/rate_limiter.c; Firecracker's token-bucket
model), measured with a real guest on both accelerators: the test guest's
`virtio-blk-bench` moves a fixed amount of data in batches of 4 requests with one kick
per batch, and the host times the transfer between the guest's "EMBER-BENCH start" line
and its result line.

A `--disk ...,bw=RATE` bucket holds one second's worth (size RATE, refill_time 1000 ms)
and starts full, so moving B bytes takes (B - RATE) / RATE seconds (minus any
one-time burst): the tests check the achieved rate against the limit within 10 %. The
guest kicks once per batch and only polls afterwards, so a throttled queue must resume
on the limiter's timer alone -- a stall would fail the guest's poll with `error=`."""
import subprocess
import threading
import time

import pytest

from conftest import BUILD, run_ember

KIB = 1024
MIB = 1024 * 1024


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "bench.img"
    with open(path, "wb") as f:
        f.truncate(64 * MIB)
    return str(path)


def timed_bench(accel, kernel, disk_spec, kib, req=32 * KIB, op="read", timeout=90):
    """Boots the bench on accel; returns (seconds from start line to result line, result
    line)."""
    cmdline = (f"ember.test=virtio-blk-bench ember.benchkib={kib} ember.benchreq={req} "
               f"ember.benchop={op}")
    proc = subprocess.Popen([str(BUILD / "ember"), "run", "--accel", accel, "--kernel",
                             str(kernel), "--disk", disk_spec, "--cmdline", cmdline],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    start = end = None
    result = ""
    try:
        for raw in iter(proc.stdout.readline, b""):
            now = time.monotonic()
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line == "EMBER-BENCH start":
                start = now
            elif line.startswith("EMBER-TEST virtio-blk-bench "):
                end, result = now, line
        stderr = proc.stderr.read().decode("utf-8", "replace")
        status = proc.wait()
    finally:
        watchdog.cancel()
    assert status == 0, f"ember exited {status}: {stderr}"
    assert start is not None and end is not None, f"no bench output; stderr: {stderr}"
    assert " PASS " in result, result
    assert f"bytes={kib * KIB} " in result, result
    return end - start, result


def assert_rate(elapsed, moved, limit, what):
    """moved / elapsed within 10 % of limit."""
    rate = moved / elapsed
    assert abs(rate / limit - 1) < 0.10, \
        f"{what}: {rate:.0f}/s against a limit of {limit}/s ({elapsed:.2f} s)"


@pytest.mark.parametrize("op", ["read", "write"])
def test_bandwidth_limit_holds(ember_bin, test_guests, accel, disk, op):
    limit = 1 * MIB if op == "read" else 512 * KIB
    kib = 4096 if op == "read" else 2048
    elapsed, _ = timed_bench(accel, test_guests["bzimage"], f"{disk},bw={limit}", kib, op=op)
    # The first second's worth comes from the full bucket.
    assert_rate(elapsed, kib * KIB - limit, limit, f"bw={limit} {op}")


def test_ops_limit_holds(ember_bin, test_guests, accel, disk):
    iops, requests = 50, 200
    elapsed, result = timed_bench(accel, test_guests["bzimage"], f"{disk},iops={iops}",
                                  requests * 4, req=4 * KIB)
    assert f"requests={requests} " in result
    assert_rate(elapsed, requests - iops, iops, "iops=50")


def test_one_time_burst_is_spent_first(ember_bin, test_guests, accel, disk):
    elapsed, _ = timed_bench(accel, test_guests["bzimage"], f"{disk},bw=1M,bw_burst=256K",
                             4096)
    # 256 KiB of burst and 1 MiB of bucket for free, the rest at 1 MiB/s. (While the
    # burst is spent the bucket is full and earns nothing: Firecracker's rule.)
    assert_rate(elapsed, 4 * MIB - MIB - 256 * KIB, MIB, "bw=1M,bw_burst=256K")


def test_both_limits_the_tighter_wins(ember_bin, test_guests, accel, disk):
    # 1920 KiB never empties a 4 MiB bucket: only the ops bucket throttles.
    elapsed, _ = timed_bench(accel, test_guests["bzimage"], f"{disk},bw=4M,iops=20", 60 * 32,
                             req=32 * KIB)
    assert_rate(elapsed, 60 - 20, 20, "bw=4M,iops=20")


def test_unlimited_is_much_faster(ember_bin, test_guests, accel, disk):
    """The limiter, not the guest or the disk, sets the pace above."""
    elapsed, _ = timed_bench(accel, test_guests["bzimage"], disk, 4096)
    assert elapsed < 0.5 * 3.0, f"4 MiB took {elapsed:.2f} s without a limit"


def test_request_larger_than_the_bucket_makes_progress(ember_bin, test_guests, accel, disk):
    """32 KiB requests through a 30 KiB bucket: each goes through once the bucket is
    full and leaves a debt, so none waits forever and the rate still holds."""
    limit = 30 * KIB
    elapsed, result = timed_bench(accel, test_guests["bzimage"], f"{disk},bw={limit}", 96)
    assert "requests=3 " in result
    # Request 1 at once (full bucket), 2 and 3 each after 32 KiB of refill.
    assert 0.9 * 2 * 32 * KIB / limit < elapsed < 1.25 * 2 * 32 * KIB / limit, elapsed


BAD = [
    ("bw=0", "bw '0' is not a number"),
    ("bw=abc", "bw 'abc' is not a number"),
    ("iops=-1", "iops '-1' is not a number"),
    ("bw=2048T", "bw '2048T' is not a number"),
    ("bw=2000000G", "bw '2000000G' is not a number"),
    ("bw_burst=1M", "bw_burst needs bw"),
    ("iops=5,iops_burst=x", "iops_burst 'x' is not a number"),
]


@pytest.mark.parametrize("key,message", BAD, ids=[b[0] for b in BAD])
def test_bad_limits_exit_2(ember_bin, test_guests, disk, key, message):
    run = run_ember(["run", "--kernel", str(test_guests["bzimage"]), "--disk", f"{disk},{key}",
                     "--cmdline", "ember.test=hello"], timeout=30)
    assert run.status == 2, run.stderr
    lines = [l for l in run.stderr.splitlines() if l]
    assert len(lines) == 1 and lines[0].startswith("ember: --disk: "), run.stderr
    assert message in lines[0], run.stderr
