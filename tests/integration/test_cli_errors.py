"""Every bad-input case of `ember run` exits 2 with one clear line, before
any VM exists (no KVM message, and fast)."""
import os
import time

import pytest

from conftest import run_ember


@pytest.fixture(scope="module")
def files(tmp_path_factory, test_guests):
    d = tmp_path_factory.mktemp("bad")
    (d / "notakernel").write_bytes(os.urandom(64 * 1024))
    (d / "empty").write_bytes(b"")
    (d / "big-initrd").write_bytes(b"\0" * (20 << 20))
    (d / "fat-initrd").write_bytes(b"\0" * (15 << 20))
    return {"dir": d, "kernel": str(test_guests["bzimage"]), **{p.name: str(p) for p in d.iterdir()}}


CASES = [
    # (id, args builder, expected message fragment)
    ("no-command", lambda f: [], "no command given"),
    ("unknown-command", lambda f: ["start"], "unknown command 'start'"),
    ("no-kernel", lambda f: ["run"], "--kernel is required"),
    ("missing-kernel", lambda f: ["run", "--kernel", "/nonexistent/bzImage"],
     "kernel /nonexistent/bzImage: No such file or directory"),
    ("kernel-is-dir", lambda f: ["run", "--kernel", str(f["dir"])], "not a regular file"),
    ("not-a-kernel", lambda f: ["run", "--kernel", f["notakernel"]], "not a bzImage or an ELF"),
    ("empty-kernel", lambda f: ["run", "--kernel", f["empty"]], "not a bzImage or an ELF"),
    ("missing-initrd", lambda f: ["run", "--kernel", f["kernel"], "--initrd", "/nonexistent/initrd"],
     "initrd /nonexistent/initrd: No such file or directory"),
    ("initrd-larger-than-ram", lambda f: ["run", "--kernel", f["kernel"], "--memory", "16",
                                          "--initrd", f["big-initrd"]], "larger than the 16 MiB"),
    ("initrd-does-not-fit", lambda f: ["run", "--kernel", f["kernel"], "--memory", "16",
                                       "--initrd", f["fat-initrd"]], "do not fit"),
    ("zero-cpus", lambda f: ["run", "--kernel", f["kernel"], "--cpus", "0"], "--cpus must be between"),
    ("too-many-cpus", lambda f: ["run", "--kernel", f["kernel"], "--cpus", "65"], "--cpus must be between"),
    ("cpus-not-a-number", lambda f: ["run", "--kernel", f["kernel"], "--cpus", "2x"], "--cpus"),
    ("memory-too-small", lambda f: ["run", "--kernel", f["kernel"], "--memory", "8"], "at least 16 MiB"),
    ("memory-too-large", lambda f: ["run", "--kernel", f["kernel"], "--memory", "100000000"],
     "more than this host has"),
    ("unknown-flag", lambda f: ["run", "--kernel", f["kernel"], "--frobnicate", "1"],
     "unknown option '--frobnicate'"),
    ("flag-without-value", lambda f: ["run", "--kernel", f["kernel"], "--memory"], "needs a value"),
    ("bad-accel", lambda f: ["run", "--kernel", f["kernel"], "--accel", "tcg"], "--accel"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2(ember_bin, files, case):
    _, build_args, message = case
    start = time.monotonic()
    run = run_ember(build_args(files), timeout=30)
    elapsed = time.monotonic() - start
    assert run.status == 2, run.stderr
    lines = [l for l in run.stderr.splitlines() if l]
    assert len(lines) == 1, run.stderr
    assert message in lines[0]
    assert lines[0].startswith("ember: ")
    assert "KVM" not in run.stderr
    assert elapsed < 5


def test_help_and_version(ember_bin):
    run = run_ember(["--help"])
    assert run.status == 0 and "ember run --kernel PATH" in run.stdout and "Ctrl-A x" in run.stdout
    run = run_ember(["--version"])
    assert run.status == 0 and run.stdout.startswith("ember ")
