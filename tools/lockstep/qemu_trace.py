#!/usr/bin/env python3
"""Records a QEMU TCG trace window for tools/lockstep/compare.py (docs/lockstep.md).

    qemu_trace.py --out FILE --from RIP[#HITS] --count N [--method gdb|log] -- QEMU ARGV...

Starts QEMU (ARGV: qemu-system-x86_64 and its options, without -S/-gdb) stopped, with its
gdbstub on a free local port, runs it to the HITS-th time RIP is about to execute (a gdb
breakpoint; default the first time), then records N instructions:

  --method gdb (default): single-steps over the gdbstub and writes one record per step in
      ember's trace format (registers from the `g` packet, 15 code bytes from `m`).
      By default QEMU masks interrupts and timers while gdb steps (its sstep flags 0x7);
      --irq lets them in (sstep 0x1). A few thousand steps per second.
  --method log: adds -singlestep -D FILE to QEMU, turns `-d cpu,nochain[,int]` on through
      the monitor when the breakpoint hits, lets the guest run (interrupts, timers) until
      the log holds N dumps, then stops it. Much faster; the file is QEMU's own log.

Exit status: 0 with the trace written, 1 when QEMU ended (or --timeout passed) before the
RIP was reached or before the window was complete (what was recorded is kept), 2 usage.
"""
import argparse
import os
import select
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tracefmt  # noqa: E402

# gdb's x86-64 register names -> the trace's.
_GDB_NAMES = {"eflags": "rfl", "fs_base": "fsb", "gs_base": "gsb"}


class GdbError(Exception):
    pass


class Gdb:
    """A minimal client of the GDB remote serial protocol (no-ack mode)."""

    def __init__(self, port, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise GdbError(f"no gdbstub on port {port}")
                time.sleep(0.05)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.settimeout(None)
        self.buf = b""
        self.ack = True
        self.request("qSupported:xmlRegisters=i386")
        if self.request("QStartNoAckMode") == "OK":
            self.ack = False

    def close(self):
        self.s.close()

    def _send(self, payload):
        data = payload.encode()
        self.s.sendall(b"$%s#%02x" % (data, sum(data) & 0xff))

    def _recv(self, timeout=None):
        """One packet's payload (str); None on timeout; GdbError when the stub went away."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            start = self.buf.find(b"$")
            if start >= 0:
                end = self.buf.find(b"#", start)
                if end >= 0 and len(self.buf) >= end + 3:
                    payload = self.buf[start + 1:end]
                    self.buf = self.buf[end + 3:]
                    if self.ack:
                        self.s.sendall(b"+")
                    return self._unescape(payload).decode(errors="replace")
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return None
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise GdbError("QEMU closed the gdb connection (did it exit?)")
            self.buf += chunk

    @staticmethod
    def _unescape(p):
        if b"}" not in p and b"*" not in p:
            return p
        out = bytearray()
        k = 0
        while k < len(p):
            c = p[k]
            if c == 0x7d:  # '}' escape
                k += 1
                out.append(p[k] ^ 0x20)
            elif c == 0x2a and out:  # '*' run length
                k += 1
                out.extend(out[-1:] * (p[k] - 29))
            else:
                out.append(c)
            k += 1
        return bytes(out)

    def request(self, payload, timeout=None):
        self._send(payload)
        while True:
            r = self._recv(timeout)
            if r is None:
                return None
            # 'O' packets are console output (monitor commands); "OK" is not one.
            if r.startswith("O") and r != "OK" and all(c in "0123456789abcdef" for c in r[1:]):
                sys.stderr.write(bytes.fromhex(r[1:]).decode(errors="replace"))
                continue
            return r

    def monitor(self, cmd):
        r = self.request("qRcmd," + cmd.encode().hex())
        if r is None or r.startswith("E"):
            raise GdbError(f"monitor {cmd!r}: {r}")
        return r

    def interrupt(self):
        self.s.sendall(b"\x03")

    def xfer(self, name):
        out, off = "", 0
        while True:
            r = self.request(f"qXfer:features:read:{name}:{off:x},800")
            if not r or r[0] not in "ml":
                raise GdbError(f"qXfer {name}: {r}")
            out += r[1:]
            off += len(r) - 1
            if r[0] == "l":
                return out

    def register_layout(self):
        """[(name, bytes)] in `g` packet order, from the target description."""
        layout = []

        def walk(xml):
            # The xi: prefix of <xi:include> is not declared in QEMU's XML.
            root = ET.fromstring(xml.replace("<xi:include", "<include"))
            for el in root.iter():
                tag = el.tag.split("}")[-1]
                if tag == "include":
                    href = el.get("href")
                    if href:
                        walk(self.xfer(href))
                elif tag == "reg":
                    layout.append((el.get("name"), int(el.get("bitsize")) // 8))

        walk(self.xfer("target.xml"))
        return layout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def parse_from(text):
    rip, _, hits = text.partition("#")
    return int(rip, 16 if not rip.startswith(("0x", "0X")) else 0), int(hits or 1)


class Qemu:
    def __init__(self, argv, port, extra, stderr_path):
        self.err = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
        self.p = subprocess.Popen(argv + extra + ["-S", "-gdb", f"tcp:127.0.0.1:{port}"],
                                  stdin=subprocess.DEVNULL, stdout=self.err, stderr=self.err)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if self.err is not subprocess.DEVNULL:
            self.err.close()


def run_to(gdb, rip, hits, deadline):
    """Continues until rip is about to run for the hits-th time; False on timeout."""
    bp = f"{rip:x},1"
    if gdb.request(f"Z0,{bp}") != "OK":
        raise GdbError(f"cannot set a breakpoint at {rip:#x}")
    seen = 0
    while True:
        gdb._send("c")
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                gdb.interrupt()
                gdb._recv(5)
                return False
            r = gdb._recv(min(left, 1.0))
            if r is None:
                continue
            if r.startswith(("T", "S")):
                break
            if r.startswith(("W", "X")):
                raise GdbError(f"the guest ended before {rip:#x} ({r})")
        seen += 1
        if seen >= hits:
            gdb.request(f"z0,{bp}")
            return True
        # Step over the breakpoint as gdb does: remove, step, re-insert.
        gdb.request(f"z0,{bp}")
        gdb.request("s")
        gdb.request(f"Z0,{bp}")


def decode_regs(hexdata, layout):
    regs, off = {}, 0
    for name, size in layout:
        chunk = hexdata[off:off + 2 * size]
        off += 2 * size
        if len(chunk) < 2 * size:
            break
        key = _GDB_NAMES.get(name, name)
        if key in tracefmt.ALL_REGS or key == "rip":
            try:
                regs[key] = int.from_bytes(bytes.fromhex(chunk), "little")
            except ValueError:  # 'xx': unavailable
                pass
    return regs


def code_address(regs):
    """The linear address of CS:rip for gdb's `m` (real mode: CS << 4; flat otherwise)."""
    if not regs.get("cr0", 1) & 1:
        return ((regs.get("cs", 0) << 4) + (regs["rip"] & 0xffff)) & 0xfffff
    return regs["rip"]


def trace_gdb(gdb, out, count, layout):
    with open(out, "w") as f:
        f.write("# qemu-lockstep 1 method=gdb\n")
        code_cache = {}
        for n in range(count):
            g = gdb.request("g")
            if g is None or g.startswith("E"):
                raise GdbError(f"reading registers: {g}")
            regs = decode_regs(g, layout)
            # Code bytes per address, read once: a round trip fewer per step (code the
            # guest rewrites inside the window shows its first version).
            addr = code_address(regs)
            code = code_cache.get(addr)
            if code is None:
                m = gdb.request(f"m{addr:x},f")
                try:
                    code = bytes.fromhex(m) if m and not m.startswith("E") else b""
                except ValueError:
                    code = b""
                code_cache[addr] = code
            rip = regs.pop("rip")
            regs_out = dict(regs)
            cpl = regs.get("cs", 0) & 3
            rec = tracefmt.Record(n, rip, regs_out, 64, None, code or None)
            f.write(tracefmt.format_record(rec, {"cpl": cpl}) + "\n")
            rep_len = rep_string_length(code)
            if rep_len:
                # gdb steps a REP string instruction one iteration at a time; ember's
                # records (and the comparison) count it as one instruction.
                r = run_past(gdb, addr + rep_len, rip + rep_len)
            else:
                r = gdb.request("s")
            if r is None or not r.startswith(("T", "S")):
                f.write(f"# end: the guest stopped stepping ({r})\n")
                return n + 1
        f.write(f"# end: count reached, {count} records\n")
    return count


_PREFIXES = set(b"\x66\x67\xf0\xf2\xf3\x2e\x36\x3e\x26\x64\x65")
_STRING_OPS = set(range(0xa4, 0xa8)) | set(range(0xaa, 0xb0)) | set(range(0x6c, 0x70))


def rep_string_length(code):
    """The length of a REP-prefixed string instruction at the start of code, else 0."""
    k, rep = 0, False
    while code and k < len(code) and (code[k] in _PREFIXES or 0x40 <= code[k] <= 0x4f):
        rep = rep or code[k] in (0xf2, 0xf3)
        k += 1
    return k + 1 if code and rep and k < len(code) and code[k] in _STRING_OPS else 0


def run_past(gdb, linear, rip):
    """Runs to the instruction after a REP string instruction (a temporary breakpoint);
    returns the stop reply."""
    bp = f"{linear:x},1"
    gdb.request(f"Z0,{bp}")
    r = gdb.request("c", timeout=60)
    if r is None:  # still running: something else took over (a fault loop?)
        gdb.interrupt()
        r = gdb._recv(5)
    gdb.request(f"z0,{bp}")
    return r


def count_dumps(path, pos, counted):
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            data = f.read()
    except OSError:
        return pos, counted
    # One RIP=/EIP= per dump; a dump split across reads is counted when complete.
    cut = data.rfind(b"\n") + 1
    return pos + cut, counted + data[:cut].count(b"\nRIP=") + data[:cut].count(b"\nEIP=")


def trace_log(gdb, out, count, deadline, with_int):
    gdb.monitor("log cpu,nochain" + (",int" if with_int else ""))
    gdb._send("c")
    pos = counted = 0
    ok = False
    while time.monotonic() < deadline:
        r = gdb._recv(0.2)
        if r is not None and r.startswith(("W", "X")):
            break
        pos, counted = count_dumps(out, pos, counted)
        if counted >= count:
            ok = True
            break
    gdb.interrupt()
    gdb._recv(5)
    gdb.monitor("log none")  # flushes QEMU's log buffer
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--out", required=True)
    ap.add_argument("--from", dest="start", required=True, help="RIP[#HITS] (hex)")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--method", choices=["gdb", "log"], default="gdb")
    ap.add_argument("--irq", action="store_true",
                    help="gdb method: let interrupts and timers run while stepping")
    ap.add_argument("--int", action="store_true", help="log method: also -d int")
    ap.add_argument("--timeout", type=float, default=600, help="seconds for the whole run")
    ap.add_argument("--qemu-stderr", help="where QEMU's output goes (default: discarded)")
    ap.add_argument("qemu", nargs=argparse.REMAINDER, help="-- qemu-system-x86_64 ARGS...")
    args = ap.parse_args()
    argv = args.qemu[1:] if args.qemu[:1] == ["--"] else args.qemu
    if not argv:
        ap.error("no QEMU command line after --")
    rip, hits = parse_from(args.start)
    deadline = time.monotonic() + args.timeout
    port = free_port()
    extra = []
    if args.method == "log":
        extra = ["-singlestep", "-D", args.out]
        if os.path.exists(args.out):
            os.unlink(args.out)
    q = Qemu(argv, port, extra, args.qemu_stderr)
    status = 1
    try:
        gdb = Gdb(port, 30)
        layout = gdb.register_layout()
        if args.method == "gdb":
            gdb.request("Qqemu.sstep=" + ("1" if args.irq else "7"))
        t0 = time.monotonic()
        if not run_to(gdb, rip, hits, deadline):
            print(f"qemu_trace: {rip:#x} (hit {hits}) not reached within --timeout",
                  file=sys.stderr)
            return 1
        t1 = time.monotonic()
        print(f"qemu_trace: reached {rip:#x} (hit {hits}) after {t1 - t0:.1f} s",
              file=sys.stderr)
        if args.method == "gdb":
            n = trace_gdb(gdb, args.out, args.count, layout)
            ok = n == args.count
        else:
            ok = trace_log(gdb, args.out, args.count, deadline, args.int)
            n = count_dumps(args.out, 0, 0)[1]
        print(f"qemu_trace: {n} records in {time.monotonic() - t1:.1f} s -> {args.out}",
              file=sys.stderr)
        status = 0 if ok else 1
        gdb.close()
    except GdbError as e:
        print(f"qemu_trace: {e}", file=sys.stderr)
    finally:
        q.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
