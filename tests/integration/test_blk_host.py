"""Host-side checks of `--disk` (virtio-blk): every bad input exits 2 with one
clear line before any VM exists, images are locked (OFD locks) so two VMs
cannot share a writable one, and a good configuration with disks attached
boots the test guest to its `hello` and powers off (on both accelerators).
What the guest sees of the disks is tested from inside a guest (tests/guest)."""
import fcntl
import os
import selectors
import struct
import subprocess
import time

import pytest

from conftest import BUILD, run_ember

HELLO = ["--cmdline", "ember.test=hello"]


@pytest.fixture
def images(tmp_path, test_guests):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * (1 << 20))
    second = tmp_path / "second.img"
    second.write_bytes(b"\x5a" * (64 << 10))
    odd = tmp_path / "odd.img"
    odd.write_bytes(b"\0" * 1000)
    return {"dir": str(tmp_path), "disk": str(disk), "second": str(second), "odd": str(odd),
            "kernel": str(test_guests["bzimage"])}


def ember_run(f, *disk_args, accel=None):
    return run_ember(["run", "--kernel", f["kernel"], *HELLO, *disk_args], timeout=60,
                     accel=accel)


CASES = [
    ("missing-image", lambda f: ["--disk", "/nonexistent/disk.img"],
     "--disk /nonexistent/disk.img: No such file or directory"),
    ("size-not-multiple-of-512", lambda f: ["--disk", f["odd"]], "is not a multiple of 512"),
    ("directory", lambda f: ["--disk", f["dir"] + ",ro"], "not a regular file or block device"),
    ("same-image-twice", lambda f: ["--disk", f["disk"], "--disk", f["disk"] + ",ro"],
     "a writable image can be attached once"),
    ("same-image-twice-writable", lambda f: ["--disk", f["disk"], "--disk", f["disk"]],
     "a writable image can be attached once"),
    ("unknown-key", lambda f: ["--disk", f["disk"] + ",rw"], "--disk: unknown option 'rw'"),
    ("bad-cache", lambda f: ["--disk", f["disk"] + ",cache=unsafe"],
     "unknown option 'cache=unsafe'"),
    ("bad-id", lambda f: ["--disk", f["disk"] + ",id=" + "x" * 21], "is not 1 to 20"),
    ("two-roots", lambda f: ["--disk", f["disk"] + ",root", "--disk", f["second"] + ",root"],
     "only one disk can be root"),
    ("too-many-disks", lambda f: sum((["--disk", f["second"] + ",ro"] for _ in range(9)), []),
     "at most 8 disks"),
    ("no-path", lambda f: ["--disk=,ro"], "--disk: PATH is required"),
    ("no-value", lambda f: ["--disk"], "option '--disk' needs a value"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_disk_exits_2(ember_bin, images, case):
    _, build_args, message = case
    start = time.monotonic()
    run = ember_run(images, *build_args(images))
    assert run.status == 2, run.stderr
    lines = [l for l in run.stderr.splitlines() if l]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("ember: ")
    assert message in lines[0]
    assert "KVM" not in run.stderr
    assert time.monotonic() - start < 5


def ofd_lock(fd, write):
    """Takes an OFD lock on the whole file, as another VMM would."""
    lock_type = fcntl.F_WRLCK if write else fcntl.F_RDLCK
    # struct flock on x86-64: short type, short whence, off_t start, off_t len, pid_t pid
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hh4xqqi4x", lock_type, os.SEEK_SET, 0, 0, 0))


@pytest.mark.parametrize("held,ro", [(True, False), (True, True), (False, False)],
                         ids=["writer-vs-writer", "writer-vs-reader", "reader-vs-writer"])
def test_locked_by_another_process(ember_bin, images, held, ro):
    fd = os.open(images["disk"], os.O_RDWR if held else os.O_RDONLY)
    try:
        ofd_lock(fd, write=held)
        run = ember_run(images, "--disk", images["disk"] + (",ro" if ro else ""))
    finally:
        os.close(fd)
    assert run.status == 2, run.stderr
    lines = [l for l in run.stderr.splitlines() if l]
    assert len(lines) == 1, run.stderr
    assert f"--disk {images['disk']}: is locked by another process (pid {os.getpid()}" in lines[0]


def test_boots_with_disks(ember_bin, images, accel):
    run = ember_run(images, "--disk", images["disk"] + ",id=scratch",
                    "--disk", images["second"] + ",ro,root,cache=none", "--rng", accel=accel)
    assert run.status == 0, run.stderr
    assert run.passed("hello"), run.stdout
    # The lock went with the VM.
    fd = os.open(images["disk"], os.O_RDWR)
    try:
        ofd_lock(fd, write=True)
    finally:
        os.close(fd)


def wait_for(proc, text, timeout=30):
    """Reads proc's stdout until a line contains text."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    seen = b""
    end = time.monotonic() + timeout
    while text.encode() not in seen:
        left = end - time.monotonic()
        if left <= 0 or not sel.select(left):
            raise AssertionError(f"no {text!r} from ember: {seen[-2000:]!r}")
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            raise AssertionError(f"ember ended before {text!r}: {seen[-2000:]!r}")
        seen += chunk


def test_second_vm_on_a_running_vms_image(ember_bin, images, accel):
    first = subprocess.Popen(
        [str(BUILD / "ember"), "run", "--accel", accel, "--kernel", images["kernel"],
         "--cmdline", "ember.test=hello ember.end=hang",
         "--disk", images["disk"], "--disk", images["second"] + ",ro"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(first, "EMBER-TEST hello PASS")
        run = ember_run(images, "--disk", images["disk"], accel=accel)
        assert run.status == 2, run.stderr
        assert f"is locked by another process (pid {first.pid}, ember)" in run.stderr
        # A read-only image is shared by readers.
        run = ember_run(images, "--disk", images["second"] + ",ro", accel=accel)
        assert run.status == 0, run.stderr
        assert run.passed("hello")
    finally:
        first.kill()
        first.wait(timeout=30)
        first.stdout.close()
        first.stderr.close()
