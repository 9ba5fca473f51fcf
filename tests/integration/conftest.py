"""Shared fixtures for ember's integration tests: where the binaries and
guests are, and a runner that boots ember and parses EMBER-TEST lines."""
import functools
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import kvm_speed

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / os.environ.get("EMBER_BUILD", "build")
ASAN_BUILD = os.environ.get("EMBER_ASAN_BUILD")
KIT = BUILD / "guest-kit"
GUESTS = BUILD / "tests" / "guest"

RESULT_RE = re.compile(r"^EMBER-TEST (\S+) (PASS|FAIL)\s?(.*?)\r?$", re.M)


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str
    results: dict = field(default_factory=dict)  # name -> (ok, detail)

    def passed(self, name):
        return name in self.results and self.results[name][0]

    def detail(self, name):
        return self.results[name][1]

    def failures(self):
        return {n: d for n, (ok, d) in self.results.items() if not ok}


def with_accel(args, accel):
    """`run ...` args with `--accel ACCEL` added (unchanged when accel is None)."""
    args = list(args)
    if accel and args and args[0] == "run":
        args[1:1] = ["--accel", accel]
    return args


def run_ember(args, timeout=120, build=BUILD, stdin=subprocess.DEVNULL, env=None, accel=None):
    """Runs `ember ARGS...` (with `--accel ACCEL` for `run` when given) to the end
    and returns a Run."""
    proc = subprocess.run([str(build / "ember"), *with_accel(args, accel)], stdin=stdin,
                          capture_output=True, timeout=timeout, env=env)
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    results = {m.group(1): (m.group(2) == "PASS", m.group(3)) for m in RESULT_RE.finditer(out)}
    return Run(proc.returncode, out, err, results)


@pytest.fixture(scope="session")
def ember_bin():
    path = BUILD / "ember"
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/build.sh")
    return path


@pytest.fixture(scope="session")
def test_guests():
    guests = {"bzimage": GUESTS / "ember-test.bzimage", "pvh": GUESTS / "ember-test.pvh"}
    for path in guests.values():
        if not path.exists():
            pytest.fail(f"{path} is missing: the test guests are built with ember")
    return guests


def kvm_present():
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


@functools.lru_cache(maxsize=None)
def kvm_runs_linux():
    """KVM present and running guest kernel code at hardware speed (timed once per session)."""
    if not kvm_present():
        return False
    seconds = kvm_speed.spin_seconds()
    return seconds is not None and seconds < kvm_speed.THRESHOLD_S


def linux_accel(accel, guest_tests=()):
    """For a Linux-guest test on accel: skip the KVM variant with a one-line reason unless
    KVM is fast here, and fail when the kit's copies of guest_tests (tools/guest/tests)
    are missing or stale. Returns accel."""
    if accel == "kvm":
        if not kvm_present():
            pytest.skip("no usable /dev/kvm on this host")
        if not kvm_runs_linux():
            pytest.skip("KVM here runs guest kernel code at ~2 MIPS (nested, emulated): "
                        "the --accel soft variant covers Linux")
    for name in guest_tests:
        built = KIT / "initrd-root" / "etc" / "ember-tests" / f"{name}.sh"
        src = REPO / "tools" / "guest" / "tests" / f"{name}.sh"
        if not built.exists() or built.read_bytes() != src.read_bytes():
            pytest.fail(f"{built} is missing or stale: run tools/guest/build-kit.sh {KIT}")
    return accel


@pytest.fixture(scope="session")
def kvm_usable():
    if not kvm_present():
        pytest.skip("no usable /dev/kvm on this host")


# The accelerators a guest test runs on: every device, the boot and the VM's
# end must behave the same on both. KVM needs /dev/kvm; the software CPU runs
# anywhere.
ACCELS = ["kvm", "soft"]


@pytest.fixture(params=ACCELS)
def accel(request):
    if request.param == "kvm" and not kvm_present():
        pytest.skip("no usable /dev/kvm on this host")
    return request.param


@pytest.fixture(scope="session")
def kit():
    env = KIT / "kit.env"
    if not env.exists():
        pytest.fail(f"{env} is missing: run tools/guest/build-kit.sh {KIT}")
    values = {}
    for line in env.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            values[k] = v.strip().strip('"')
    return values
