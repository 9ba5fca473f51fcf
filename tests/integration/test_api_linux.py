"""The Firecracker API (issue 6) driving a real Linux guest: the guest kit
(Debian's cloud kernel + busybox initramfs, tools/guest/) on the software
CPU, and on KVM where KVM here runs guest kernels at hardware speed (not on
this project's machines: see test_linux.py). test_api.py covers the same
API with ember's tiny test guest.

One boot per test (each ~5-10 s on the software CPU), several checks per boot:
  getting started  Firecracker's getting-started flow with curl over the Unix
                   socket, as its documentation shows it (boot-source, drives
                   rootfs, machine-config, network-interfaces, InstanceStart),
                   with the kit's initramfs as initrd_path and an ext4 rootfs
                   made on the host: the guest mounts it, reads a marker,
                   writes a file the host then reads; GET /vm/config and GET
                   /machine-config return what was set. ember has no network
                   device yet: that one step is answered 400 and documented
                   (test_network_interface_step skips, saying so).
  config --no-api  the same VM from --config-file, with --boot-timer and
                   --log-path: "Guest-boot-time = ..." lands in the log file.
  config + API     --config-file with an API socket: GET /vm/config and GET
                   /machine-config after boot; then (a second test on the same
                   boot) SendCtrlAltDel: the kit's /init prints "EMBER-INIT
                   ctrl-alt-del" and reboots, ember exits 0.
  pause/resume     a guest counter every 100 ms stops while paused and goes
                   on after Resumed, with no tick lost and no clock going back.
  drive swap       PATCH /drives/{id} {path_on_host}: a same-size image (the
                   guest re-reads with O_DIRECT), then a larger one (the
                   config-change interrupt updates the capacity).
  rate limiter     a 10 MiB/s bandwidth bucket holds the guest's dd of 40 MiB
                   to the expected 3 s within 10 %, where the same read from
                   an unlimited drive takes a fraction of that."""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, linux_accel

BOOT_TIMEOUT = 180
MIB = 1 << 20
GUEST_TESTS = ("api-rootfs", "api-ticks", "api-swap", "api-ratelimit", "ctrlaltdel")
# The boot_args of Firecracker's getting-started guide, then the kit's keys.
FC_BOOT_ARGS = "console=ttyS0 reboot=k panic=1 pci=off"


def boot_args(test, extra=""):
    return f"{FC_BOOT_ARGS} quiet ember.test={test} {extra}".strip()


# ---------------------------------------------------------------- plumbing

def api(sock, method, path, body=None, timeout=30):
    """One request over the Unix socket (Python's http.client); returns
    (status, parsed JSON body or None)."""
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(sock))
    try:
        s.sendall(head.encode() + b"\r\n" + payload)
        resp = http.client.HTTPResponse(s, method=method)
        resp.begin()
        text = resp.read()
    finally:
        s.close()
    return resp.status, (json.loads(text) if text else None)


CURL = shutil.which("curl")


def curl(sock, method, path, data):
    """Firecracker's documented invocation (docs/getting-started.md):
    curl --unix-socket SOCK -i -X PUT 'http://localhost/PATH'
         -H 'Accept: application/json' -H 'Content-Type: application/json' -d DATA.
    Without curl (scripts/install-deps.sh installs it), the same request
    through Python's http.client. Returns (status, parsed JSON body or None)."""
    if not CURL:
        return api(sock, method, path, json.loads(data))
    out = subprocess.run(
        [CURL, "--unix-socket", str(sock), "-i", "-X", method, f"http://localhost{path}",
         "-H", "Accept: application/json", "-H", "Content-Type: application/json",
         "-d", data], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    status = int(head.split(b"\r\n", 1)[0].split()[1])
    return status, (json.loads(body) if body.strip() else None)


class Firecracker:
    """ember run as `firecracker ARGS...` (with --api-sock unless api=False);
    a thread reads the guest console (stdout) and timestamps each line."""

    def __init__(self, tmp, args, api_sock=True):
        self.sock = tmp / "fc.sock" if api_sock else None
        cmd = [str(BUILD / "firecracker")]
        if api_sock:
            cmd += ["--api-sock", str(self.sock)]
        self.stderr_path = tmp / "stderr"
        self.err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([*cmd, *args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.err)
        self.lock = threading.Lock()
        self.nbytes = 0
        self.lines = []  # (time.monotonic() when it arrived, text without \r\n)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 10
        while api_sock and not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no API socket: {self.stderr()}")
            time.sleep(0.02)

    def _read(self):
        fd = self.proc.stdout.fileno()
        partial = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            now = time.monotonic()
            partial += chunk
            *done, partial = partial.split(b"\n")
            with self.lock:
                self.nbytes += len(chunk)
                self.lines += [(now, ln.decode("utf-8", "replace").rstrip("\r"))
                               for ln in done]

    def _listening(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(self.sock))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def call(self, method, path, body=None):
        return api(self.sock, method, path, body)

    def stderr(self):
        return self.stderr_path.read_bytes().decode("utf-8", "replace")

    def output(self):
        with self.lock:
            return list(self.lines)

    def text(self):
        return "\n".join(line for _, line in self.output())

    def wait_line(self, pattern, timeout=BOOT_TIMEOUT):
        """The first console line matching the regex: (arrival time, match)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            lines = self.output()
            for t, line in lines[seen:]:
                m = rx.search(line)
                if m:
                    return t, m
            seen = len(lines)
            assert not re.search(r"EMBER-TEST \S+ FAIL", self.text()), self.text()[-3000:]
            assert self.proc.poll() is None, \
                f"ember exited {self.proc.returncode} before /{pattern}/: " \
                f"{self.text()[-2000:]}\n{self.stderr()}"
            assert time.monotonic() < deadline, f"no /{pattern}/ in {self.text()[-3000:]!r}"
            time.sleep(0.02)

    def wait_exit(self, timeout=BOOT_TIMEOUT):
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"ember still running: {self.text()[-3000:]}") from None
        self.reader.join(timeout=10)
        return status

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=10)
        self.err.close()
        return self.proc.returncode


@pytest.fixture
def fc(tmp_path):
    procs = []

    def start(*args, api_sock=True):
        p = Firecracker(tmp_path, args, api_sock)
        procs.append(p)
        return p
    yield start
    for p in procs:
        p.stop()


def need(tool):
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if not path:
        pytest.fail(f"{tool} is missing: apt-get install e2fsprogs (scripts/install-deps.sh)")
    return path


@pytest.fixture(scope="module", params=["soft", "kvm"])
def accel(request, kit):
    # The guest scripts are in the kit's initramfs: an older kit lacks them.
    return linux_accel(request.param, GUEST_TESTS)


@pytest.fixture
def rootfs(tmp_path):
    """A 16 MiB ext4 image made on the host (mkfs -d, no mount) holding
    ember-marker; returns (path, marker)."""
    marker = f"rootfs-{os.getpid()}-{time.monotonic_ns() % 100000}"
    tree = tmp_path / "rootfs.d"
    tree.mkdir()
    (tree / "ember-marker").write_text(marker)
    image = tmp_path / "rootfs.ext4"
    with open(image, "wb") as f:
        f.truncate(16 * MIB)
    subprocess.run([need("mkfs.ext4"), "-q", "-F", "-L", "rootfs",
                    "-E", "lazy_itable_init=0,lazy_journal_init=0", "-d", str(tree),
                    str(image)], check=True, capture_output=True)
    return image, marker


def debugfs_cat(image, path):
    return subprocess.run([need("debugfs"), "-R", f"cat {path}", str(image)],
                          capture_output=True, check=True).stdout.decode()


def check_rootfs_result(p, rootfs, cpus, mem_mib):
    """The api-rootfs guest's line and the file it wrote back (VM over)."""
    image, marker = rootfs
    _, m = p.wait_line(r"EMBER-TEST api-rootfs PASS marker=(\S*) cpus=(\d+) mem_kib=(\d+)")
    assert m.group(1) == marker
    assert int(m.group(2)) == cpus
    # The kernel keeps its own image, page tables and reservations.
    assert mem_mib * 1024 * 0.75 <= int(m.group(3)) <= mem_mib * 1024
    assert p.wait_exit() == 0, p.stderr()
    assert f"read {marker}" in debugfs_cat(image, "/from-guest")
    fsck = subprocess.run([need("e2fsck"), "-fn", str(image)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr


def kit_boot_source(kit, test, extra=""):
    return {"kernel_image_path": kit["KIT_BZIMAGE"], "initrd_path": kit["KIT_INITRD"],
            "boot_args": boot_args(test, extra)}


def sparse(path, size, chunks=()):
    """A SIZE-byte sparse file with (offset, bytes) written in."""
    with open(path, "wb") as f:
        f.truncate(size)
        for off, data in chunks:
            f.seek(off)
            f.write(data)
    return path


# ------------------------------------------------------- the getting-started flow

def test_getting_started_with_curl(fc, kit, accel, rootfs):
    """docs/getting-started.md, request by request (the kit's initramfs as
    initrd_path); post-boot GETs return what was set; the guest mounts the
    ext4 rootfs, reads the marker, writes a file back and powers off."""
    image, _ = rootfs
    p = fc("--accel", accel)
    boot_source = kit_boot_source(kit, "api-rootfs")
    status, _ = curl(p.sock, "PUT", "/boot-source", f"""{{
        "kernel_image_path": "{boot_source['kernel_image_path']}",
        "initrd_path": "{boot_source['initrd_path']}",
        "boot_args": "{boot_source['boot_args']}"
    }}""")
    assert status == 204
    status, _ = curl(p.sock, "PUT", "/drives/rootfs", f"""{{
        "drive_id": "rootfs",
        "path_on_host": "{image}",
        "is_root_device": true,
        "is_read_only": false
    }}""")
    assert status == 204
    status, _ = curl(p.sock, "PUT", "/machine-config", """{
        "vcpu_count": 2,
        "mem_size_mib": 1024
    }""")
    assert status == 204
    # ember has no network device yet: the guide's network step is answered
    # 400 "not supported yet" and changes nothing (test_network_interface_step
    # reports the skip); the rest of the flow goes on without it.
    net_status, reply = curl(p.sock, "PUT", "/network-interfaces/eth0", """{
        "iface_id": "eth0",
        "guest_mac": "AA:FC:00:00:00:01",
        "host_dev_name": "tap0"
    }""")
    assert net_status == 204 or (net_status == 400 and
                                 "not supported yet" in reply["fault_message"]), reply
    status, _ = curl(p.sock, "PUT", "/actions", """{
        "action_type": "InstanceStart"
    }""")
    assert status == 204
    # Post-boot (the guest takes seconds to reach /init): what was set.
    status, info = p.call("GET", "/")
    assert status == 200 and info["state"] == "Running"
    status, cfg = p.call("GET", "/vm/config")
    assert status == 200
    assert cfg["boot-source"] == boot_source
    assert cfg["drives"] == [{"drive_id": "rootfs", "path_on_host": str(image),
                              "is_root_device": True, "is_read_only": False,
                              "cache_type": "Unsafe", "io_engine": "Sync"}]
    assert (cfg["machine-config"]["vcpu_count"], cfg["machine-config"]["mem_size_mib"]) == \
        (2, 1024)
    if net_status != 204:
        assert cfg.get("network-interfaces", []) == []
    status, mc = p.call("GET", "/machine-config")
    assert status == 200 and mc == cfg["machine-config"]
    check_rootfs_result(p, rootfs, cpus=2, mem_mib=1024)
    assert not p.sock.exists()


def test_network_interface_step(fc):
    """The guide's PUT /network-interfaces/eth0, on its own, pre-boot: until
    ember has a network device it is refused with a clear 400, and the
    getting-started test runs without it."""
    p = fc()
    status, reply = curl(p.sock, "PUT", "/network-interfaces/eth0", """{
        "iface_id": "eth0",
        "guest_mac": "AA:FC:00:00:00:01",
        "host_dev_name": "tap0"
    }""")
    assert p.call("GET", "/vm/config")[1].get("network-interfaces", []) == [] or status == 204
    assert p.stop() == 0
    if status == 400 and "not supported yet" in reply["fault_message"]:
        pytest.skip("ember has no network device yet: PUT /network-interfaces/eth0 answers "
                    f"400 ({reply['fault_message']}); the getting-started boot skips that step")
    pytest.fail(f"PUT /network-interfaces/eth0 now answers {status} {reply}: give "
                "test_getting_started_with_curl a tap device and check the guest's eth0")


# -------------------------------------------------------------- config files

def config_doc(kit, image, test, extra="", vcpus=1, mem=256):
    return {
        "boot-source": kit_boot_source(kit, test, extra),
        "drives": [{"drive_id": "rootfs", "path_on_host": str(image),
                    "is_root_device": True, "is_read_only": False}],
        "machine-config": {"vcpu_count": vcpus, "mem_size_mib": mem},
    }


def test_config_file_no_api_with_boot_timer(fc, kit, accel, rootfs, tmp_path):
    """--no-api --config-file boots at once; --boot-timer with the kit's
    ember.boot_timer (a write of 123 to 0xd0000000) logs Guest-boot-time to
    the --log-path file, not to stderr."""
    image, _ = rootfs
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps(config_doc(kit, image, "api-rootfs", "ember.boot_timer")))
    log = tmp_path / "fc.log"
    log.touch()
    started = time.monotonic()
    p = fc("--accel", accel, "--no-api", "--config-file", str(cfg), "--boot-timer",
           "--log-path", str(log), "--level", "Info", "--show-level", api_sock=False)
    check_rootfs_result(p, rootfs, cpus=1, mem_mib=256)
    elapsed_ms = (time.monotonic() - started) * 1000
    text = log.read_text()
    m = re.search(r"\[[^\]]*:INFO\] Guest-boot-time = +(\d+) us (\d+) ms, +(\d+) CPU us "
                  r"(\d+) CPU ms", text)
    assert m, text
    us, ms = int(m.group(1)), int(m.group(2))
    assert ms == us // 1000 and 0 < ms < elapsed_ms
    assert "Guest-boot-time" not in p.stderr()


@pytest.fixture(scope="module")
def config_api_vm(kit, accel, tmp_path_factory):
    """--config-file with an API socket, booting the kit's ctrlaltdel test
    (it prints "EMBER-TEST ctrlaltdel PASS waiting" and waits for the keys);
    yields (process, config document) once the guest waits."""
    tmp = tmp_path_factory.mktemp("config-api")
    image = tmp / "rootfs.img"
    sparse(image, 1 * MIB)
    doc = config_doc(kit, image, "ctrlaltdel", vcpus=2, mem=256)
    cfg = tmp / "vm.json"
    cfg.write_text(json.dumps(doc))
    p = Firecracker(tmp, ["--accel", accel, "--config-file", str(cfg), "--id", "api-linux"])
    try:
        p.wait_line(r"^EMBER-TEST ctrlaltdel PASS waiting$")
        yield p, doc
    finally:
        p.stop()


def test_config_file_with_api(config_api_vm):
    """Post-boot GET /, GET /vm/config and GET /machine-config of a VM built
    from a config file return what the file set."""
    p, doc = config_api_vm
    status, info = p.call("GET", "/")
    assert status == 200 and (info["id"], info["state"]) == ("api-linux", "Running")
    status, got = p.call("GET", "/vm/config")
    assert status == 200
    assert got["boot-source"] == doc["boot-source"]
    assert got["drives"] == [dict(doc["drives"][0], cache_type="Unsafe", io_engine="Sync")]
    assert (got["machine-config"]["vcpu_count"], got["machine-config"]["mem_size_mib"]) == \
        (2, 256)
    status, mc = p.call("GET", "/machine-config")
    assert status == 200 and mc == got["machine-config"]


# ember's i8042 (src/devices/legacy/i8042.c, i8042_access) raises IRQ1 once
# and keeps the line high when a read of the output buffer lets the next
# queued keyboard byte in: the IRQ is edge-triggered, so Linux's i8042
# driver (one byte per interrupt) never hears of the second byte. atkbd's
# probe (GETID: ACK, 0xab, 0x83) times out, atkbd does not bind, and the
# keys of SendCtrlAltDel never reach the kernel (the API answers 204).
def test_send_ctrl_alt_del_reboots_the_guest(config_api_vm):
    """PUT /actions SendCtrlAltDel: the kit's /init traps it, prints
    "EMBER-INIT ctrl-alt-del" and reboots; ember exits 0."""
    p, _ = config_api_vm
    assert p.call("PUT", "/actions", {"action_type": "SendCtrlAltDel"})[0] == 204
    p.wait_line(r"^EMBER-INIT ctrl-alt-del$", timeout=20)
    assert p.wait_exit(timeout=60) == 0, p.stderr()
    lines = [line for _, line in p.output()]
    i = lines.index("EMBER-TEST ctrlaltdel PASS waiting")
    assert "EMBER-INIT ctrl-alt-del" in lines[i + 1:]
    assert not any(" FAIL " in line for line in lines), lines


# ------------------------------------------------------------- pause / resume

TICK_RE = re.compile(r"^EMBER-TICK (\d+) ([\d.]+) (\d+)$")


def ticks(p):
    return [(t, *TICK_RE.match(line).groups()) for t, line in p.output()
            if TICK_RE.match(line)]


def wait_ticks(p, n, timeout=30):
    deadline = time.monotonic() + timeout
    while len(ticks(p)) < n:
        assert p.proc.poll() is None, p.stderr()
        assert time.monotonic() < deadline, f"fewer than {n} ticks: {p.text()[-2000:]}"
        time.sleep(0.05)


def test_pause_resume(fc, kit, accel):
    """PATCH /vm Paused: the guest's 100 ms counter stops (not one byte more
    on the console); Resumed: it goes on with the next number, and neither
    the guest's uptime nor its wall clock goes backwards."""
    p = fc("--accel", accel)
    assert p.call("PUT", "/boot-source", kit_boot_source(kit, "api-ticks"))[0] == 204
    assert p.call("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 256})[0] == 204
    assert p.call("PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    p.wait_line(r"^EMBER-TEST api-ticks PASS ticking$")
    wait_ticks(p, 5)
    assert p.call("PATCH", "/vm", {"state": "Paused"})[0] == 204
    paused_at = time.monotonic()
    size = p.nbytes
    before = len(ticks(p))
    assert p.call("GET", "/")[1]["state"] == "Paused"
    assert p.call("GET", "/vm/config")[0] == 200  # the API still answers
    time.sleep(1.5)
    assert p.nbytes == size, f"output grew while paused: {p.text()[-500:]}"
    assert p.call("PATCH", "/vm", {"state": "Resumed"})[0] == 204
    pause_s = time.monotonic() - paused_at
    assert p.call("GET", "/")[1]["state"] == "Running"
    wait_ticks(p, before + 5, timeout=20)
    got = ticks(p)
    numbers = [int(n) for _, n, _, _ in got]
    assert numbers == list(range(len(numbers))), numbers
    uptimes = [float(u) for _, _, u, _ in got]
    epochs = [int(e) for _, _, _, e in got]
    assert uptimes == sorted(uptimes), uptimes
    assert epochs == sorted(epochs), epochs
    # The guest's view of the pause: the gap between the last tick before it
    # and the first after it, on its own clock (reported, not judged: a
    # paused guest's clock may stand still or catch up with the host's).
    gap = uptimes[before] - uptimes[before - 1]
    print(f"paused {pause_s:.2f} s; the guest's uptime moved {gap:.2f} s across the pause")
    assert abs(epochs[-1] - time.time()) < 10
    assert p.stop() == 0  # SIGTERM: a clean stop


# ---------------------------------------------------------------- drive swap

def swap_image(path, n, size):
    return sparse(path, size, [(0, f"EMBER-SWAP-{n}".encode()),
                               (size - 512, f"EMBER-TAIL-{n}".encode())])


def test_patch_drive_swap_seen_by_guest(fc, kit, accel, rootfs, tmp_path):
    """PATCH /drives/scratch {path_on_host}: a same-size image is read by the
    guest (O_DIRECT) at once; a larger one raises a config-change interrupt
    and Linux's virtio_blk updates /sys/block/vdb/size."""
    image, _ = rootfs
    a = swap_image(tmp_path / "a.img", 0, 1 * MIB)
    b = swap_image(tmp_path / "b.img", 1, 1 * MIB)
    c = swap_image(tmp_path / "c.img", 2, 2 * MIB)
    p = fc("--accel", accel)
    assert p.call("PUT", "/boot-source", kit_boot_source(kit, "api-swap"))[0] == 204
    assert p.call("PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": str(image),
                                            "is_root_device": True,
                                            "is_read_only": True})[0] == 204
    assert p.call("PUT", "/drives/scratch", {"drive_id": "scratch", "path_on_host": str(a),
                                             "is_root_device": False,
                                             "is_read_only": False})[0] == 204
    assert p.call("PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    state = r"size=(\d+) data=(\S*) tail=(\S*)$"
    _, m = p.wait_line(r"^EMBER-TEST api-swap PASS before " + state)
    assert m.groups() == ("2048", "EMBER-SWAP-0", "EMBER-TAIL-0")
    status, reply = p.call("PATCH", "/drives/scratch", {"drive_id": "scratch",
                                                        "path_on_host": str(b)})
    assert status == 204, reply
    assert p.call("GET", "/vm/config")[1]["drives"][1]["path_on_host"] == str(b)
    _, m = p.wait_line(r"^EMBER-TEST api-swap PASS same-size " + state, timeout=60)
    assert m.groups() == ("2048", "EMBER-SWAP-1", "EMBER-TAIL-1")
    status, reply = p.call("PATCH", "/drives/scratch", {"drive_id": "scratch",
                                                        "path_on_host": str(c)})
    assert status == 204, reply
    _, m = p.wait_line(r"^EMBER-TEST api-swap PASS resized " + state, timeout=60)
    assert m.groups() == ("4096", "EMBER-SWAP-2", "EMBER-TAIL-2")
    assert p.wait_exit() == 0, p.stderr()
    assert not p.sock.exists()


# -------------------------------------------------------------- rate limiter

RATE = 10 * MIB
READ = 40 * MIB


def test_rate_limiter_holds_dd(fc, kit, accel, rootfs, tmp_path):
    """A bandwidth bucket of 10 MiB refilled every 1000 ms (starting full)
    lets the guest's dd of 40 MiB (4 MiB blocks, O_DIRECT) through in
    (40 - 10) / 10 = 3 s, within 10 %. The same read from a drive without a
    limiter shows the margin is real: it takes a small fraction of 3 s, so
    the limiter, not the software CPU, sets the time."""
    image, _ = rootfs
    fast = sparse(tmp_path / "fast.img", READ)
    slow = sparse(tmp_path / "slow.img", READ)
    p = fc("--accel", accel)
    assert p.call("PUT", "/boot-source", kit_boot_source(kit, "api-ratelimit"))[0] == 204
    for drive_id, path, limiter in (("rootfs", image, None), ("fast", fast, None),
                                    ("slow", slow, {"bandwidth": {"size": RATE,
                                                                  "refill_time": 1000}})):
        body = {"drive_id": drive_id, "path_on_host": str(path),
                "is_root_device": drive_id == "rootfs", "is_read_only": True}
        if limiter:
            body["rate_limiter"] = limiter
        assert p.call("PUT", f"/drives/{drive_id}", body)[0] == 204
    assert p.call("PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    got = p.call("GET", "/vm/config")[1]["drives"][2]["rate_limiter"]
    assert got["bandwidth"]["size"] == RATE and got["bandwidth"]["refill_time"] == 1000
    t0, _ = p.wait_line(r"^EMBER-RATELIMIT start$")
    t1, _ = p.wait_line(r"^EMBER-RATELIMIT end$", timeout=60)
    _, m = p.wait_line(r"^EMBER-TEST api-ratelimit PASS vdb=([\d.]+) vdc=([\d.]+)$")
    assert p.wait_exit() == 0, p.stderr()
    unlimited, limited = float(m.group(1)), float(m.group(2))
    expected = (READ - RATE) / RATE
    print(f"dd of 40 MiB: unlimited {unlimited:.2f} s, limited {limited:.2f} s "
          f"(guest clock), {t1 - t0:.2f} s between the marker lines (host); "
          f"expected {expected:.2f} s")
    assert abs(limited - expected) <= 0.1 * expected, (limited, expected)
    # The limiter, not the software CPU, sets the time.
    assert unlimited <= 0.3 * expected, unlimited
    # The host's stopwatch agrees with the guest's clock.
    assert abs((t1 - t0) - limited) <= 0.5, (t1 - t0, limited)
