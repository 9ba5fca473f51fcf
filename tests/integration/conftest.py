"""Shared fixtures for ember's integration tests: where the binaries and
guests are, and a runner that boots ember and parses EMBER-TEST lines."""
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

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
