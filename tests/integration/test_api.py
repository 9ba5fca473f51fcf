"""ember's Firecracker-compatible process interface, API server and config
files (src/api/, src/config/fc_cli.c, src/config/config_file.c).

- Firecracker's getting-started flow, with curl over the Unix socket exactly
  as its docs/getting-started.md shows it, booting ember's test guest
  (ember.end=hang keeps it running); GET / then says Running.
- PATCH /vm Paused / Resumed, proven on a guest printing 1 MiB through the
  UART: while paused its output stops growing.
- GET /vm/config returns what was set; the same VM from a config file, with
  --no-api (exit 0 at power-off) and with an API socket.
- A table of more than 100 malformed or hostile requests, each with its
  status, after which the configuration is unchanged and the VM still
  answers and pauses; an 11th connection; a body over 51,200 bytes; slow
  and truncated clients.
- Every path and method of the OpenAPI description answers JSON, and the
  GET bodies validate against its schemas.
- Process flags and Firecracker's exit codes (0, 1, 152, 153).
Every test that boots a guest runs on both accelerators (the `accel`
fixture, ember's `--accel` flag in Firecracker mode)."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ASAN_BUILD, BUILD, REPO

SPEC = Path("/work/shared/reference/firecracker.yaml")
GUEST = BUILD / "tests" / "guest" / "ember-test.bzimage"
HANG = "ember.test=hello ember.end=hang"


# ---------------------------------------------------------------- plumbing

def api(sock, method, path, body=None, raw=None, timeout=30):
    """One request; returns (status, parsed JSON body or None). Written in
    one go and read even when ember closed early (a body over the limit is
    answered before it is read, as Firecracker does)."""
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    payload = data.encode() if data is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
    if data is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(sock))
    try:
        try:
            s.sendall(head.encode() + b"\r\n" + payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = http.client.HTTPResponse(s, method=method)
        resp.begin()
        text = resp.read()
    finally:
        s.close()
    return resp.status, (json.loads(text) if text else None)


def raw_exchange(sock, data, timeout=5):
    """Sends raw bytes; returns the HTTP status of the answer (0: none)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(sock))
    reply = b""
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass  # the server may close before reading everything
    finally:
        s.close()
    if not reply.startswith(b"HTTP/1."):
        return 0
    return int(reply.split(b" ", 2)[1])


class Firecracker:
    """ember started as `firecracker` with an API socket."""

    def __init__(self, tmp, args=(), stdin=subprocess.DEVNULL, build=BUILD, env=None):
        self.sock = tmp / "fc.sock"
        self.out = open(tmp / "stdout", "wb")
        self.err = open(tmp / "stderr", "wb")
        self.stdout_path = tmp / "stdout"
        self.stderr_path = tmp / "stderr"
        exe = build / "firecracker"
        self.proc = subprocess.Popen([str(exe), "--api-sock", str(self.sock), *args],
                                     stdin=stdin, stdout=self.out, stderr=self.err, env=env)
        deadline = time.monotonic() + 10
        while not self.listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no API socket: {self.stderr()}")
            time.sleep(0.02)

    def listening(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(self.sock))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def call(self, method, path, body=None, raw=None):
        return api(self.sock, method, path, body, raw)

    def stdout(self):
        return self.stdout_path.read_bytes().decode("utf-8", "replace")

    def stderr(self):
        return self.stderr_path.read_bytes().decode("utf-8", "replace")

    def wait_output(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while text not in self.stdout():
            assert self.proc.poll() is None, f"ember exited {self.proc.returncode}: {self.stderr()}"
            assert time.monotonic() < deadline, f"no '{text}' in {self.stdout()!r}"
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        self.err.close()
        return self.proc.returncode


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "rootfs.img"
    with open(path, "wb") as f:
        f.truncate(1 << 20)
    return path


@pytest.fixture
def fc(tmp_path):
    procs = []

    def start(*args, **kw):
        p = Firecracker(tmp_path, args, **kw)
        procs.append(p)
        return p
    yield start
    for p in procs:
        p.stop()


def curl(sock, method, url, data):
    """Firecracker's documented invocation, verbatim but for the paths."""
    out = subprocess.run(
        ["curl", "--unix-socket", str(sock), "-i", "-X", method, f"http://localhost{url}",
         "-H", "Accept: application/json", "-H", "Content-Type: application/json",
         "-d", data], capture_output=True, timeout=30)
    head = out.stdout.split(b"\r\n", 1)[0].decode()
    return int(head.split()[1])


def boot_hanging(fc, image, accel, vcpus=2, mem=256, **kw):
    """Configures and starts a guest that stays running on accel; returns the process."""
    p = fc("--accel", accel, **kw)
    assert p.call("PUT", "/boot-source", {"kernel_image_path": str(GUEST),
                                          "boot_args": HANG})[0] == 204
    assert p.call("PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": str(image),
                                            "is_root_device": True,
                                            "is_read_only": False})[0] == 204
    assert p.call("PUT", "/machine-config", {"vcpu_count": vcpus, "mem_size_mib": mem})[0] == 204
    assert p.call("PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    p.wait_output("EMBER-TEST hello PASS")
    return p


# ------------------------------------------------------- the getting-started flow

def test_getting_started_with_curl(fc, image, accel):
    p = fc("--accel", accel)
    assert curl(p.sock, "PUT", "/boot-source", json.dumps(
        {"kernel_image_path": str(GUEST), "boot_args": HANG})) == 204
    assert curl(p.sock, "PUT", "/drives/rootfs", json.dumps(
        {"drive_id": "rootfs", "path_on_host": str(image), "is_root_device": True,
         "is_read_only": False})) == 204
    assert curl(p.sock, "PUT", "/machine-config", json.dumps(
        {"vcpu_count": 2, "mem_size_mib": 1024})) == 204
    assert curl(p.sock, "PUT", "/actions", json.dumps({"action_type": "InstanceStart"})) == 204
    p.wait_output("EMBER-TEST hello PASS")
    status, info = p.call("GET", "/")
    assert status == 200 and info["state"] == "Running"
    status, cfg = p.call("GET", "/vm/config")
    assert status == 200
    assert cfg["boot-source"] == {"kernel_image_path": str(GUEST), "boot_args": HANG}
    assert cfg["machine-config"]["vcpu_count"] == 2
    assert cfg["machine-config"]["mem_size_mib"] == 1024
    assert cfg["drives"] == [{"drive_id": "rootfs", "path_on_host": str(image),
                              "is_root_device": True, "is_read_only": False,
                              "cache_type": "Unsafe", "io_engine": "Sync"}]
    assert p.proc.poll() is None
    assert p.stop() == 0  # SIGTERM: a clean stop


def test_pause_stops_the_guest(fc, accel):
    """A guest printing 1 MiB through the UART (~25 KB/s on nested KVM):
    paused, its output stops; resumed, it goes on."""
    p = fc("--accel", accel)
    assert p.call("PUT", "/boot-source", {"kernel_image_path": str(GUEST),
                                          "boot_args": "ember.test=output"})[0] == 204
    assert p.call("PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    p.wait_output("EMBER-OUTPUT-BEGIN")
    assert p.call("PATCH", "/vm", {"state": "Paused"})[0] == 204
    assert p.call("GET", "/")[1]["state"] == "Paused"
    size = p.stdout_path.stat().st_size
    time.sleep(1.0)
    done = "EMBER-OUTPUT-END" in p.stdout()
    if not done:
        assert p.stdout_path.stat().st_size == size, "output grew while paused"
    assert p.call("PATCH", "/vm", {"state": "Resumed"})[0] == 204
    assert p.call("GET", "/")[1]["state"] == "Running"
    if not done:
        deadline = time.monotonic() + 10
        while p.stdout_path.stat().st_size == size:
            assert time.monotonic() < deadline, "no output after resuming"
            time.sleep(0.05)
    # Pausing twice and resuming twice change nothing.
    assert p.call("PATCH", "/vm", {"state": "Paused"})[0] == 204
    assert p.call("PATCH", "/vm", {"state": "Paused"})[0] == 204
    assert p.call("PATCH", "/vm", {"state": "Resumed"})[0] == 204
    assert p.call("PATCH", "/vm", {"state": "Resumed"})[0] == 204
    assert p.stop() == 0


def test_guest_poweroff_ends_the_process(fc, accel):
    p = fc("--accel", accel)
    assert p.call("PUT", "/boot-source", {"kernel_image_path": str(GUEST),
                                          "boot_args": "ember.test=hello"})[0] == 204
    assert p.call("PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    assert p.proc.wait(timeout=60) == 0
    assert "EMBER-TEST hello PASS" in p.stdout()
    assert not p.sock.exists()


# -------------------------------------------------------------- config files

def config_doc(image, end="poweroff"):
    return {
        "boot-source": {"kernel_image_path": str(GUEST),
                        "boot_args": f"ember.test=hello ember.end={end}"},
        "drives": [{"drive_id": "rootfs", "path_on_host": str(image),
                    "is_root_device": True, "is_read_only": False}],
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 128},
        "network-interfaces": [],
        "entropy": {"rate_limiter": {"bandwidth": {"size": 4096, "refill_time": 100}}},
    }


def test_config_file_no_api(tmp_path, image, accel):
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps(config_doc(image)))
    proc = subprocess.run([str(BUILD / "firecracker"), "--accel", accel, "--no-api",
                           "--config-file", str(cfg)],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert b"EMBER-TEST hello PASS" in proc.stdout


def test_config_file_with_api(fc, tmp_path, image, accel):
    cfg = tmp_path / "vm.json"
    doc = config_doc(image, end="hang")
    cfg.write_text(json.dumps(doc))
    p = fc("--accel", accel, "--config-file", str(cfg), "--id", "cfg-vm")
    p.wait_output("EMBER-TEST hello PASS")
    status, info = p.call("GET", "/")
    assert info == {"id": "cfg-vm", "state": "Running", "vmm_version": info["vmm_version"],
                    "app_name": "ember"}
    status, got = p.call("GET", "/vm/config")
    assert got["boot-source"] == doc["boot-source"]
    assert got["machine-config"]["vcpu_count"] == 2
    assert got["drives"][0]["path_on_host"] == str(image)
    assert got["entropy"]["rate_limiter"]["bandwidth"]["size"] == 4096
    # GET /vm/config's output is a config file again.
    again = tmp_path / "again.json"
    got["boot-source"]["boot_args"] = "ember.test=hello ember.end=poweroff"
    again.write_text(json.dumps(got))
    assert p.stop() == 0  # frees the image's lock
    proc = subprocess.run([str(BUILD / "firecracker"), "--accel", accel, "--no-api",
                           "--config-file", str(again)],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_config_file_errors_exit_152(tmp_path, image):
    cases = [
        "not json",
        json.dumps({"boot-source": {"kernel_image_path": "/nonexistent"}}),
        json.dumps({"bootsource": {}}),
        json.dumps({"machine-config": {"vcpu_count": 0, "mem_size_mib": 128}}),
        json.dumps({"drives": [{"drive_id": "a", "is_root_device": True}]}),
        json.dumps({"machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}),  # no kernel
        json.dumps({"boot-source": {"kernel_image_path": str(image)}}),  # not a kernel
    ]
    for i, text in enumerate(cases):
        cfg = tmp_path / f"bad{i}.json"
        cfg.write_text(text)
        proc = subprocess.run([str(BUILD / "firecracker"), "--no-api", "--config-file", str(cfg)],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        assert proc.returncode == 152, (text, proc.stderr)
        assert proc.stderr.startswith(b"ember: "), proc.stderr


# ----------------------------------------------------- flags and exit codes

def run_fc(*args, argv0="firecracker", timeout=30):
    exe = BUILD / argv0
    return subprocess.run([str(exe), *args], stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout)


def test_flags_and_exit_codes(tmp_path):
    assert (BUILD / "firecracker").is_symlink()
    v = run_fc("--version")
    assert v.returncode == 0 and b"Firecracker API" in v.stdout
    h = run_fc("--help")
    assert h.returncode == 0 and b"--api-sock" in h.stdout and b"seccomp" in h.stdout
    for args in (["--no-api"], ["--bogus"], ["--api-sock"], ["positional"],
                 ["--id", "bad_id"], ["--id", "a" * 65], ["--start-time-us", "x"],
                 ["--http-api-max-payload-size", "-5"], ["--no-seccomp", "--seccomp-filter", "f"],
                 ["--api-sock", "a", "--api-sock", "b"]):
        r = run_fc(*args)
        assert r.returncode == 153, (args, r.stderr)
    assert run_fc("--describe-snapshot", "x").returncode == 1
    assert run_fc("--snapshot-version").returncode == 1
    r = run_fc("--level", "Loud", "--api-sock", str(tmp_path / "s"))
    assert r.returncode == 152
    # ember's own binary with a Firecracker flag first speaks Firecracker too.
    r = run_fc("--no-api", argv0="ember")
    assert r.returncode == 153
    # The friendly CLI is unchanged.
    assert run_fc("--version", argv0="ember").stdout.startswith(b"ember ")


def test_socket_path_rules(tmp_path, fc):
    path = tmp_path / "fc.sock"
    path.write_text("precious")
    r = run_fc("--api-sock", str(path))
    assert r.returncode == 1 and b"not a socket" in r.stderr
    assert path.read_text() == "precious"
    path.unlink()
    # A stale socket (nobody listening) is replaced.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    p = fc()
    assert p.call("GET", "/")[0] == 200
    # A live one is not taken over.
    r = run_fc("--api-sock", str(p.sock))
    assert r.returncode == 1 and b"listening" in r.stderr
    assert p.call("GET", "/")[0] == 200
    assert p.stop() == 0
    assert not p.sock.exists()


def test_logger_and_metrics_flags(tmp_path, fc):
    log = tmp_path / "log"
    metrics = tmp_path / "metrics"
    log.touch()
    metrics.touch()
    p = fc("--log-path", str(log), "--level", "Debug", "--show-level", "--metrics-path",
           str(metrics), "--id", "m1")
    assert p.call("GET", "/")[1]["id"] == "m1"
    assert p.call("PUT", "/metrics", {"metrics_path": str(metrics)})[0] == 400
    assert p.stop() == 0
    assert "m1" in log.read_text()


# ------------------------------------------------ hostile and malformed input

def hostile_table(image):
    """(method, path, body, expected status): 100+ requests a post-boot
    ember must refuse without changing anything."""
    big = "9" * 30
    t = []
    for path in ("/nope", "/drives", "/vm/nope", "/machine-config/x", "/a/b/c/d/e/f/g/h/i",
                 "/%00", "/..", "/drives/../boot-source", "/" + "x" * 900, "/version/1"):
        t.append(("GET", path, None, 400))
    for method in ("POST", "DELETE", "OPTIONS", "TRACE", "CONNECT", "FOO"):
        for path in ("/", "/actions", "/drives/rootfs"):
            t.append((method, path, "{}", 400))
    t.append(("GET", "/", "{}", 400))
    t.append(("GET", "/machine-config", "x", 400))
    for path in ("/boot-source", "/machine-config", "/drives/rootfs", "/logger", "/metrics",
                 "/entropy", "/serial", "/cpu-config", "/mmds/config", "/vsock", "/balloon",
                 "/network-interfaces/eth0", "/pmem/p0", "/hotplug/memory", "/snapshot/load"):
        t.append(("PUT", path, "{}", 400))  # pre-boot only
        t.append(("PUT", path, None, 400))  # and empty
    for body in ("", "{", "}", "[", "{\"state\": ", "{\"state\": \"Paused\"", "nul", "true",
                 "[\"Paused\"]", "\"Paused\"", "{\"state\": 1}", "{\"state\": null}",
                 "{\"state\": \"paused\"}", "{\"state\": \"Paused\", \"x\": 1}",
                 "{\"state\": \"Paused\", \"state\": \"Resumed\"}", "{\"State\": \"Paused\"}",
                 "{\"state\": \"Paused\"} {}", "{\"state\": \"\\u0000\"}",
                 "{\"state\": \"\\ud800\"}", "{\"state\": [1]}", "{\"state\": {}}",
                 "{\"state\": " + big + "}", "{\"state\": -" + big + "}",
                 "[" * 5000 + "]" * 5000, "{\"a\":" * 3000 + "1" + "}" * 3000):
        t.append(("PATCH", "/vm", body if body else None, 400))
    for body in ("{}", "{\"drive_id\": \"rootfs\"", "{\"drive_id\": 1}",
                 "{\"drive_id\": \"other\"}", "{\"drive_id\": \"rootfs\", \"path_on_host\": 1}",
                 "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/nonexistent\"}",
                 "{\"drive_id\": \"rootfs\", \"is_read_only\": true}",
                 "{\"drive_id\": \"rootfs\", \"rate_limiter\": {\"bandwidth\": {\"size\": -1, "
                 "\"refill_time\": 1}}}",
                 "{\"drive_id\": \"rootfs\", \"rate_limiter\": {\"ops\": {\"size\": " + big +
                 ", \"refill_time\": 1}}}",
                 "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + str(image.parent) + "\"}"):
        t.append(("PATCH", "/drives/rootfs", body, 400))
    for path in ("/drives/nope", "/drives/a-b", "/drives/a%20b", "/drives/%C3%A9",
                 "/drives/" + "a" * 65, "/drives/a/b", "/drives//"):
        t.append(("PATCH", path, "{\"drive_id\": \"nope\"}", 400))
    for body in ("{}", "{\"action_type\": \"InstanceStart\"}", "{\"action_type\": \"Reboot\"}",
                 "{\"action_type\": 5}", "{\"action_type\": \"SendCtrlAltDel\", \"x\": 1}",
                 "[]"):
        t.append(("PUT", "/actions", body, 400))
    # The keyboard types it; the test guest ignores the keys.
    t.append(("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 204))
    for body in ("[]", "1", "\"s\"", "{", "{\"a\": 1, \"a\": 2}"):
        t.append(("PUT", "/mmds", body, 400))
    t.append(("PUT", "/mmds", json.dumps({"x": "y" * 60000}), 400))  # > 51,200 bytes
    # The store holds 30,000 bytes (test_hostile_requests): 30,000 more do not fit.
    t.append(("PATCH", "/mmds", json.dumps({"x": "y" * 30000}), 413))
    t.append(("PUT", "/snapshot/create", "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}",
              400))
    t.append(("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}", 400))
    t.append(("PATCH", "/balloon", "{\"amount_mib\": 1}", 400))
    t.append(("GET", "/balloon/statistics", None, 400))
    t.append(("GET", "/hotplug/memory", None, 400))
    t.append(("PATCH", "/machine-config", "{\"vcpu_count\": 1}", 400))
    return t


def malformed_http():
    """Raw byte streams and the statuses ember (libmicrohttpd) may answer."""
    bad = {400, 413, 414, 431, 505, 0}
    return [
        (b"GARBAGE\r\n\r\n", bad),
        (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", bad),
        (b"GET / HTTP/1.1\r\n\r\n", {200, 400}),  # no Host: HTTP/1.1 wants one
        (b"PUT /mmds HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}", bad),
        (b"PUT /mmds HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}", bad),
        (b"PUT /mmds HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
         bad),
        (b"PUT /mmds HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n" + b"{" * 100, bad),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 100000 + b"\r\n\r\n", bad),
        (b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", bad),
        (b"PUT /mmds HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"ffffffffffffffffff\r\n", bad),
        (b"PUT /mmds HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
         b"".join(b"1000\r\n" + b" " * 4096 + b"\r\n" for _ in range(14)) + b"0\r\n\r\n", bad),
        (b"\x00\x01\x02\xff\r\n\r\n", bad),
    ]


def hostile_run(p, image):
    assert p.call("PUT", "/mmds", {"keep": "k" * 30000})[0] == 204
    before = p.call("GET", "/vm/config")[1]
    table = hostile_table(image)
    assert len(table) >= 100
    for i, (method, path, body, want) in enumerate(table):
        status, reply = p.call(method, path, raw=body)
        assert status == want, (method, path, (body or "")[:80], status, reply)
        if status >= 400 and method != "HEAD":
            assert isinstance(reply, dict) and isinstance(reply.get("fault_message"), str), \
                (method, path, reply)
        if i % 20 == 0:
            assert p.call("GET", "/")[1]["state"] == "Running"
    for data, allowed in malformed_http():
        status = raw_exchange(p.sock, data)
        assert status in allowed, (data[:60], status)
    assert p.call("GET", "/vm/config")[1] == before
    assert p.call("GET", "/mmds")[1] == {"keep": "k" * 30000}
    assert p.call("GET", "/")[1]["state"] == "Running"
    assert p.call("PATCH", "/vm", {"state": "Paused"})[0] == 204
    assert p.call("PATCH", "/vm", {"state": "Resumed"})[0] == 204
    assert p.proc.poll() is None
    assert p.stop() == 0


def test_hostile_requests(fc, image, accel):
    hostile_run(boot_hanging(fc, image, accel), image)


@pytest.mark.skipif(not ASAN_BUILD, reason="no ASan build given (EMBER_ASAN_BUILD)")
def test_hostile_requests_under_asan(fc, image, accel):
    """The whole hostile table on the ASan+UBSan binary: no error, no leak."""
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    p = boot_hanging(fc, image, accel, build=REPO / ASAN_BUILD, env=env)
    hostile_run(p, image)
    err = p.stderr()
    for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error"):
        assert bad not in err, err[-3000:]


def test_payload_limit_and_connections(fc):
    p = fc()
    # Over the 51,200-byte limit: 400 naming the limit, and nothing stored.
    status, reply = p.call("PUT", "/mmds", raw=json.dumps({"x": "y" * 51200}))
    assert status == 400 and "51200" in reply["fault_message"]
    status, reply = p.call("PUT", "/mmds", raw=json.dumps({"x": "y" * 51000}))
    assert status == 204
    # curl -d @file, as a client would send a big body.
    body = p.sock.parent / "big.json"
    body.write_text(json.dumps({"x": "z" * 70000}))
    assert curl(p.sock, "PUT", "/mmds", "@" + str(body)) == 400
    # Several MiB: answered before the body is read (curl waits for
    # "100 Continue" on a body this size and gets the 400 instead).
    body.write_text(json.dumps({"x": "w" * (4 << 20)}))
    assert curl(p.sock, "PUT", "/mmds", "@" + str(body)) == 400
    # A chunked body that never ends: the server stops listening after a
    # bounded amount instead of reading forever, and stays healthy.
    endless = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    endless.connect(str(p.sock))
    endless.settimeout(10)
    endless.sendall(b"PUT /mmds HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (65536, b"v" * 65536)
    with pytest.raises(OSError):
        for _ in range(1000):  # 64 MiB, far past any limit
            endless.sendall(chunk)
    endless.close()
    assert len(p.call("GET", "/mmds")[1]["x"]) == 51000
    # Ten idle connections: the 11th is refused or waits, and nothing breaks.
    idle = []
    for _ in range(10):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(p.sock))
        idle.append(s)
    time.sleep(0.2)
    eleventh = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    eleventh.settimeout(1.0)
    eleventh.connect(str(p.sock))  # the listen backlog holds it
    eleventh.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(socket.timeout):
        eleventh.recv(4096)  # not served while ten connections are open
    for s in idle:
        s.close()
    eleventh.settimeout(10)
    assert eleventh.recv(4096).startswith(b"HTTP/1.1 200")  # then served
    eleventh.close()
    assert p.call("GET", "/")[0] == 200
    # A slow client (half a request line) does not hold up others, and a
    # truncated body is never applied.
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.connect(str(p.sock))
    slow.sendall(b"PUT /mmds HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"cut\":")
    assert p.call("GET", "/")[0] == 200
    slow.close()
    time.sleep(0.2)
    assert "cut" not in p.call("GET", "/mmds")[1]
    assert p.call("GET", "/version")[1]["firecracker_version"]
    assert p.proc.poll() is None
    assert p.stop() == 0


def test_preboot_validation_keeps_config(fc, image):
    p = fc()
    assert p.call("PUT", "/machine-config", {"vcpu_count": 3, "mem_size_mib": 200})[0] == 204
    for body in ({"vcpu_count": 0, "mem_size_mib": 128}, {"vcpu_count": 2},
                 {"vcpu_count": 2, "mem_size_mib": -1}, {"vcpu_count": "2", "mem_size_mib": 1},
                 {"vcpu_count": 2, "mem_size_mib": 128, "smt": True},
                 {"vcpu_count": 2, "mem_size_mib": 2 ** 63}):
        assert p.call("PUT", "/machine-config", body)[0] == 400, body
    assert p.call("PUT", "/machine-config", raw='{"vcpu_count": 99999999999999999999999, '
                  '"mem_size_mib": 1}')[0] == 400
    mc = p.call("GET", "/machine-config")[1]
    assert (mc["vcpu_count"], mc["mem_size_mib"]) == (3, 200)
    # A failed InstanceStart (no kernel; then not a kernel) leaves it startable.
    status, reply = p.call("PUT", "/actions", {"action_type": "InstanceStart"})
    assert status == 400 and "kernel" in reply["fault_message"]
    assert p.call("PUT", "/boot-source", {"kernel_image_path": str(image)})[0] == 204
    status, reply = p.call("PUT", "/actions", {"action_type": "InstanceStart"})
    assert status == 400 and "Start microvm error" in reply["fault_message"]
    assert p.call("GET", "/")[1]["state"] == "Not started"
    assert p.stop() == 0


def test_patch_drive_swaps_image(fc, image, tmp_path, accel):
    p = boot_hanging(fc, image, accel)
    other = tmp_path / "other.img"
    with open(other, "wb") as f:
        f.truncate(2 << 20)
    assert p.call("PATCH", "/drives/rootfs", {"drive_id": "rootfs",
                                              "path_on_host": str(other)})[0] == 204
    assert p.call("GET", "/vm/config")[1]["drives"][0]["path_on_host"] == str(other)
    # The old image is free again: another VM could lock it now.
    with open(image, "ab") as f:
        f.truncate(4 << 20)
    assert p.call("PATCH", "/drives/rootfs", {"drive_id": "rootfs",
                                              "path_on_host": str(image)})[0] == 204
    # The same file again (resized): reopened, not refused as locked.
    with open(image, "ab") as f:
        f.truncate(8 << 20)
    assert p.call("PATCH", "/drives/rootfs", {"drive_id": "rootfs",
                                              "path_on_host": str(image)})[0] == 204
    # Rate limits change on the running device, bucket by bucket.
    limiter = {"bandwidth": {"size": 1 << 20, "refill_time": 100},
               "ops": {"size": 100, "one_time_burst": 10, "refill_time": 1000}}
    assert p.call("PATCH", "/drives/rootfs", {"drive_id": "rootfs",
                                              "rate_limiter": limiter})[0] == 204
    assert p.call("PATCH", "/drives/rootfs", {"drive_id": "rootfs", "rate_limiter": {
        "ops": {"size": 0, "refill_time": 0}}})[0] == 204
    got = p.call("GET", "/vm/config")[1]["drives"][0]["rate_limiter"]
    assert got["bandwidth"]["size"] == 1 << 20 and got["ops"]["size"] == 0
    assert p.call("GET", "/")[1]["state"] == "Running"
    assert p.stop() == 0


# ------------------------------------------------- the OpenAPI description

def load_spec():
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(SPEC.read_text())


def validate(spec, schema, value, where="$"):
    """A small JSON-schema (Swagger 2.0 subset) validator: $ref, type,
    required, properties, additionalProperties, items, enum, minimum, maximum."""
    if "$ref" in schema:
        schema = spec["definitions"][schema["$ref"].split("/")[-1]]
    t = schema.get("type", "object" if "properties" in schema else None)
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), (where, value)
        if "minimum" in schema:
            assert value >= schema["minimum"], (where, value)
        if "maximum" in schema:
            assert value <= schema["maximum"], (where, value)
    elif t in types:
        assert isinstance(value, types[t]), (where, t, value)
    if "enum" in schema:
        assert value in schema["enum"], (where, value)
    if t == "object":
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            assert key in value, (where, "missing", key)
        extra = schema.get("additionalProperties", bool(not props))
        for key, v in value.items():
            if key in props:
                validate(spec, props[key], v, f"{where}.{key}")
            elif isinstance(extra, dict):
                validate(spec, extra, v, f"{where}.{key}")
            else:
                assert extra, (where, "unexpected", key)
    if t == "array":
        for i, v in enumerate(value):
            validate(spec, schema["items"], v, f"{where}[{i}]")


def check_every_path(spec, p):
    for path, methods in spec["paths"].items():
        concrete = path.replace("{drive_id}", "d1").replace("{iface_id}", "eth0") \
                       .replace("{id}", "p1")
        for method, op in methods.items():
            body = None if method == "get" else "{}"
            status, reply = p.call(method.upper(), concrete, raw=body)
            assert status in (200, 204, 400, 413), (method, path, status)
            if status == 400:
                assert "Invalid request method and/or path" not in reply["fault_message"], \
                    (method, path, reply)
                validate(spec, {"$ref": "#/definitions/Error"}, reply)
            if status == 200:
                schema = op["responses"][200]["schema"]
                validate(spec, schema, reply, f"{method.upper()} {path}")


def test_openapi_preboot(fc):
    spec = load_spec()
    p = fc()
    check_every_path(spec, p)
    assert p.call("GET", "/")[1]["state"] == "Not started"


def test_openapi_postboot(fc, image, accel):
    spec = load_spec()
    p = boot_hanging(fc, image, accel)
    assert p.call("PUT", "/mmds", {"latest": {"meta-data": {"ami-id": "ami-1"}}})[0] == 204
    check_every_path(spec, p)
    for path, name in (("/", "InstanceInfo"), ("/version", "FirecrackerVersion"),
                       ("/machine-config", "MachineConfiguration"),
                       ("/vm/config", "FullVmConfiguration")):
        status, reply = p.call("GET", path)
        assert status == 200
        validate(spec, {"$ref": f"#/definitions/{name}"}, reply, path)
    assert p.call("GET", "/")[1]["state"] == "Running"
    assert p.stop() == 0
