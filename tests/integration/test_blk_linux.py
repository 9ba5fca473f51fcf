"""virtio-blk under real Linux (issue 5): the guest kit (Debian's cloud kernel +
busybox initramfs) with ext4 images made on the host.

Three boots cover everything (each ~10 s on the software CPU), every check its
own test:
  data     vda: writable ext4 with known files (id=ember-data); vdb: read-only
           ext4 of 32769 sectors, with a 20-character id. The guest (tools/guest/tests/blk-data.sh) checks
           sizes and serials in /sys/block, mounts vda, hashes a known file,
           writes new files, deletes a big file and runs fstrim, then mounts vdb
           read-only and tries to write it raw. The host checks the new files
           with debugfs, the punched holes with st_blocks and the read-only
           image byte for byte.
  root     `--disk IMG,root` (ember adds root=/dev/vda): the guest mounts the
           root= device and chroots into it, running the image's own busybox
           (blk-root.sh); the host checks the file written there.
  durable  2 vCPUs; the guest copies data to ext4 (vda, cache=none) and to a raw drive
           (vdb), syncs, prints a line; the host SIGKILLs ember at once and
           finds the data in both images (ext4 after e2fsck's journal replay).
Runs on the software CPU, and on KVM where KVM here runs guest kernels at
hardware speed (not on this project's machines: see test_linux.py)."""
import hashlib
import os
import random
import re
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BUILD, KIT, linux_accel, run_ember

BOOT_TIMEOUT = 300
MIB = 1 << 20
GUEST_TESTS = ("blk-data", "blk-root", "blk-durable")
RO_ID = "ember-ro-20-chars-id"  # the longest id: GET_ID fills all 20 bytes, no NUL


def need(tool):
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if not path:
        pytest.fail(f"{tool} is missing: apt-get install e2fsprogs (scripts/install-deps.sh)")
    return path


def mkfs_ext4(image, size, files, label):
    """A sparse SIZE-byte ext4 image holding FILES ({path: bytes}; a str value
    names a host file to copy, mode kept), made without a mount (mkfs -d).
    Inode tables and journal are zeroed now, so the guest's kernel starts no
    background initialisation that would write on its own."""
    tree = Path(str(image) + ".d")
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir()
    for rel, data in files.items():
        dest = tree / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            dest.mkdir(exist_ok=True)
        elif isinstance(data, str):
            shutil.copy2(data, dest)
        else:
            dest.write_bytes(data)
    with open(image, "wb") as f:
        f.truncate(size)
    subprocess.run([need("mkfs.ext4"), "-q", "-F", "-b", "4096", "-L", label,
                    "-E", "lazy_itable_init=0,lazy_journal_init=0", "-d", str(tree), str(image)],
                   check=True, capture_output=True)
    shutil.rmtree(tree)


def debugfs_cat(image, path):
    proc = subprocess.run([need("debugfs"), "-R", f"cat {path}", str(image)],
                          capture_output=True, check=True)
    return proc.stdout


def file_extents(image, path, block=4096):
    """[(start, end)) byte ranges of PATH's data blocks in the ext4 image."""
    out = subprocess.run([need("debugfs"), "-R", f"blocks {path}", str(image)],
                         capture_output=True, text=True, check=True).stdout
    ranges = []
    for b in sorted(map(int, out.split())):
        if ranges and ranges[-1][1] == b * block:
            ranges[-1][1] += block
        else:
            ranges.append([b * block, (b + 1) * block])
    return ranges


def data_in(path, start, end):
    """True if the host file has any allocated byte in [start, end)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, start, os.SEEK_DATA) < end
    except OSError:  # ENXIO: no data from start on
        return False
    finally:
        os.close(fd)


def fsck_clean(image):
    """e2fsck -fn: the file system is consistent (no changes made)."""
    proc = subprocess.run([need("e2fsck"), "-fn", str(image)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def sha(data):
    return hashlib.sha256(data).hexdigest()


def seq_text(n):
    return "".join(f"{i}\n" for i in range(1, n + 1)).encode()


@pytest.fixture(scope="module", params=["soft", "kvm"])
def accel(request, kit):
    # The guest scripts are in the kit's initramfs: an older kit lacks them.
    return linux_accel(request.param, GUEST_TESTS)


def kit_argv(kit, accel, test, disks, cpus=1):
    argv = ["run", "--accel", accel, "--kernel", kit["KIT_BZIMAGE"],
            "--initrd", kit["KIT_INITRD"], "--cpus", str(cpus), "--memory", "256",
            "--cmdline", f"console=ttyS0 quiet ember.test={test}"]
    for d in disks:
        argv += ["--disk", d]
    return argv


# ------------------------------------------------------------------- data --

@pytest.fixture(scope="module")
def data_boot(kit, accel, tmp_path_factory):
    d = tmp_path_factory.mktemp("blk-data")
    rnd = random.Random(5)
    known = rnd.randbytes(MIB)
    data_img, ro_img = d / "data.img", d / "ro.img"
    mkfs_ext4(data_img, 64 * MIB, {"known.bin": known, "big.bin": rnd.randbytes(24 * MIB)},
              "ember-data")
    ro_text = b"read-only drive: " + rnd.randbytes(16).hex().encode() + b"\n"
    # 16 MiB + one sector: a capacity that is no multiple of 4 KiB.
    mkfs_ext4(ro_img, 16 * MIB + 512, {"ro.txt": ro_text}, "ember-ro")
    before = {"blocks": os.stat(data_img).st_blocks, "ro": ro_img.read_bytes(),
              "big": file_extents(data_img, "/big.bin")}
    assert sum(e - s for s, e in before["big"]) == 24 * MIB
    assert all(data_in(data_img, s, e) for s, e in before["big"])
    start = time.monotonic()
    run = run_ember(kit_argv(kit, accel, "blk-data",
                             [f"{data_img},id=ember-data", f"{ro_img},ro,id={RO_ID}"]),
                    timeout=BOOT_TIMEOUT)
    return dict(run=run, data=data_img, ro=ro_img, known=known, ro_text=ro_text,
                before=before, seconds=time.monotonic() - start)


def guest_result(run, name):
    assert run.status == 0, run.stderr + run.stdout[-3000:]
    assert name in run.results, run.stdout[-3000:]
    ok, detail = run.results[name]
    assert ok, f"{name}: {detail}"
    # No I/O error, bad request or NEEDS_RESET on the device side.
    assert "virtio" not in run.stderr, run.stderr
    return detail


def test_two_drives_sizes_and_serials(data_boot):
    detail = guest_result(data_boot["run"], "blk-data.drives")
    drives = dict(w.split("=", 1) for w in detail.split())
    assert drives == {"vda": f"{64 * MIB // 512}:ember-data:0",
                      "vdb": f"{16 * MIB // 512 + 1}:{RO_ID}:1"}, detail


def test_ext4_files_read_and_written(data_boot):
    detail = guest_result(data_boot["run"], "blk-data.ext4")
    assert detail == f"known={sha(data_boot['known'])}"
    img = data_boot["data"]
    fsck_clean(img)  # the guest unmounted it: clean, nothing to replay
    assert debugfs_cat(img, "/new-seq.txt") == seq_text(50000)
    assert debugfs_cat(img, "/copy.bin") == data_boot["known"]
    assert debugfs_cat(img, "/known.bin") == data_boot["known"]


def test_fstrim_punches_holes_in_the_image(data_boot):
    detail = guest_result(data_boot["run"], "blk-data.trim")
    trimmed = int(detail.removeprefix("trimmed="))
    assert trimmed >= 24 * MIB, detail
    freed = (data_boot["before"]["blocks"] - os.stat(data_boot["data"]).st_blocks) * 512
    # big.bin's 24 MiB went back to the host, less what the guest wrote since
    # (two files of ~1.3 MiB, journal blocks).
    assert freed >= 20 * MIB, f"st_blocks shrank by {freed} bytes; guest trimmed {trimmed}"
    # Every block big.bin had is a hole in the host file now (the guest wrote
    # its new files before deleting it, so none of them reuses its blocks).
    left = [(s, e) for s, e in data_boot["before"]["big"] if data_in(data_boot["data"], s, e)]
    assert not left, f"still allocated on the host: {left[:5]}"
    assert debugfs_cat(data_boot["data"], "/big.bin") == b""


def test_read_only_drive_refuses_writes(data_boot):
    detail = guest_result(data_boot["run"], "blk-data.ro")
    assert detail.startswith(f"ro.txt={sha(data_boot['ro_text'])} dd=dd: error writing"), detail
    # VIRTIO_BLK_F_RO makes Linux mark the disk read-only (/sys/block/vdb/ro
    # is 1, above), so its block layer refuses the write (EPERM) before the
    # device sees it; the device's own IOERR answer to a write is tested with
    # the test guest (test_virtio_guest.py::test_blk_read_only).
    assert "Operation not permitted" in detail or "I/O error" in detail, detail
    assert data_boot["ro"].read_bytes() == data_boot["before"]["ro"]


# ------------------------------------------------------------------- root --

def busybox_path():
    for p in (KIT / "root-busybox" / "bin" / "busybox", KIT / "initrd-root" / "bin" / "busybox"):
        if p.exists():
            return str(p)
    pytest.fail(f"no busybox in {KIT}: run tools/guest/build-kit.sh {KIT}")


def test_root_drive_mounts_and_runs_its_own_busybox(kit, accel, tmp_path):
    img = tmp_path / "root.img"
    token = random.Random().randbytes(8).hex()
    mkfs_ext4(img, 32 * MIB, {"bin/busybox": busybox_path(), "proc": None, "tmp": None,
                              "etc/ember-root-id": f"{token}\n".encode()}, "ember-root")
    run = run_ember(kit_argv(kit, accel, "blk-root", [f"{img},root"]), timeout=BOOT_TIMEOUT)
    detail = guest_result(run, "blk-root")
    assert detail == f"root=/dev/vda id={token} kernel={kit['KIT_KERNEL_VERSION']}", detail
    fsck_clean(img)
    assert debugfs_cat(img, "/from-root.txt") == b"written in the new root\n"


# ---------------------------------------------------------------- durable --

def test_synced_data_survives_kill_9(kit, accel, tmp_path):
    src = random.Random(9).randbytes(2 * MIB)
    ext4_img, raw_img = tmp_path / "durable.img", tmp_path / "raw.img"
    mkfs_ext4(ext4_img, 32 * MIB, {"src.bin": src}, "ember-durable")
    with open(raw_img, "wb") as f:
        f.truncate(8 * MIB)
    proc = subprocess.Popen(
        [str(BUILD / "ember"), *kit_argv(kit, accel, "blk-durable",
                                         [f"{ext4_img},cache=none", str(raw_img)], cpus=2)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = b""
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT
        line = re.compile(rb"EMBER-TEST blk-durable (PASS|FAIL)[^\n]*\n")
        while not line.search(out) and time.monotonic() < deadline:
            if not select.select([proc.stdout], [], [], 1)[0]:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            out += chunk
        m = line.search(out)
        assert m and m.group(1) == b"PASS", out.decode("utf-8", "replace")[-3000:]
        proc.send_signal(signal.SIGKILL)  # at once: nothing after the guest's sync
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    with open(raw_img, "rb") as f:
        f.seek(65536)
        assert f.read(len(src)) == src
    # The ext4 image was mounted when ember died: replay its journal first (on
    # a copy), as the next mount would.
    copy = tmp_path / "replayed.img"
    shutil.copyfile(ext4_img, copy)
    fsck = subprocess.run([need("e2fsck"), "-fy", str(copy)], capture_output=True, text=True)
    assert fsck.returncode in (0, 1), fsck.stdout + fsck.stderr  # 1: errors corrected
    assert debugfs_cat(copy, "/synced.bin") == src
