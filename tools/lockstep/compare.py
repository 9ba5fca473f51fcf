#!/usr/bin/env python3
"""Compares an ember lockstep trace with a QEMU one and reports where they part.

    compare.py EMBER_TRACE QEMU_TRACE [options]

Either file may be in ember's format (EMBER_SOFT_TRACE, tools/lockstep/qemu_trace.py) or a
QEMU `-d cpu` log taken with one instruction per TB (docs/lockstep.md). Records are aligned
by RIP: while both traces run the same RIPs, the registers before each instruction are
compared; the first register that differs is reported with the instruction that produced
it (the previous record). When the RIPs part (an interrupt taken on one side only, a
timing loop that ran a different number of times, a real bug), the control-flow divergence
is reported and the tool resynchronises on the nearest point where both traces run the
same --match RIPs in a row again (within --window records), then goes on.

Registers that are expected to differ are not reported:
  * --ignore REGS: never compared (e.g. rsp,rbp for user-mode programs);
  * after an instruction of --ignore-insn (default: rdtsc, rdtscp, cpuid, rdrand, rdseed,
    rdpid, rdmsr, in/ins, and reads of the TSC through them) the registers it wrote
    differ "legitimately": they become tainted until both sides hold equal values again;
  * registers that differ right after a resynchronisation are tainted the same way;
  * a register whose difference equals a tainted register's (x_e - x_q == t_e - t_q:
    a pointer or counter derived from it) is tainted silently.
--keep-going reports every register divergence (tainting each) instead of stopping.

Exit status: 0 no divergence, 1 a divergence was reported, 2 bad usage / unreadable input.
"""
import argparse
import bisect
import os
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tracefmt  # noqa: E402

MASK64 = (1 << 64) - 1

# Instructions whose results depend on the machine or on time, by opcode bytes after the
# legacy/REX prefixes: name -> predicate on the opcode bytes.
_INSN_BYTES = {
    "rdtsc": lambda b: b[:2] == b"\x0f\x31",
    "rdtscp": lambda b: b[:3] == b"\x0f\x01\xf9",
    "cpuid": lambda b: b[:2] == b"\x0f\xa2",
    "rdmsr": lambda b: b[:2] == b"\x0f\x32",
    "rdrand": lambda b: len(b) > 2 and b[:2] == b"\x0f\xc7" and (b[2] >> 3) & 7 == 6,
    "rdseed": lambda b: len(b) > 2 and b[:2] == b"\x0f\xc7" and (b[2] >> 3) & 7 == 7,
    "rdpid": lambda b: len(b) > 2 and b[:2] == b"\x0f\xc7" and (b[2] >> 3) & 7 == 7,
    "in": lambda b: b[:1] in (b"\xe4", b"\xe5", b"\xec", b"\xed"),
    "ins": lambda b: b[:1] in (b"\x6c", b"\x6d"),
    "rdpmc": lambda b: b[:2] == b"\x0f\x33",
}
# Flags an instruction leaves undefined (SDM vol. 2 per instruction); emulators differ there.
CF, PF, AF, ZF, SF, OF = 1, 4, 0x10, 0x40, 0x80, 0x800
_UNDEF_FLAGS = {
    "and": AF, "or": AF, "xor": AF, "test": AF,
    "shl": AF | OF, "sal": AF | OF, "shr": AF | OF, "sar": AF | OF,
    "rol": OF, "ror": OF, "rcl": OF, "rcr": OF,
    "shld": CF | PF | AF | ZF | SF | OF, "shrd": CF | PF | AF | ZF | SF | OF,
    "mul": PF | AF | ZF | SF, "imul": PF | AF | ZF | SF, "imul1": PF | AF | ZF | SF,
    "div": CF | PF | AF | ZF | SF | OF, "idiv": CF | PF | AF | ZF | SF | OF,
    "bsf": CF | PF | AF | SF | OF, "bsr": CF | PF | AF | SF | OF,
    "bt": PF | AF | SF | OF, "bts": PF | AF | SF | OF, "btr": PF | AF | SF | OF,
    "btc": PF | AF | SF | OF,
    "aaa": PF | ZF | SF | OF, "aas": PF | ZF | SF | OF, "daa": OF, "das": OF,
    "aam": CF | AF | OF, "aad": CF | AF | OF,
}


def undefined_flags(rec):
    """The RFLAGS bits rec's instruction leaves undefined (0 when unknown)."""
    if rec is None or not rec.insn:
        return 0
    words = rec.insn.split()
    if words and words[0] == "lock":
        words = words[1:]
    return _UNDEF_FLAGS.get(words[0], 0) if words else 0


# Register names in instruction text -> the 64-bit register they are part of.
_ALIASES = {}
for _r, _names in {
        "rax": "eax ax al ah", "rbx": "ebx bx bl bh", "rcx": "ecx cx cl ch",
        "rdx": "edx dx dl dh", "rsi": "esi si sil", "rdi": "edi di dil",
        "rbp": "ebp bp bpl", "rsp": "esp sp spl"}.items():
    for _n in [_r] + _names.split():
        _ALIASES[_n] = _r
for _k in range(8, 16):
    for _suffix in ("", "d", "w", "b"):
        _ALIASES[f"r{_k}{_suffix}"] = f"r{_k}"


def operand_regs(text):
    """The 64-bit registers an instruction's text names (its operands, implicit ones not)."""
    words = text.replace(",", " ").replace("[", " ").replace("]", " ").replace("+", " ") \
        .replace("-", " ").replace("*", " ").replace(":", " ").split()
    return {_ALIASES[w] for w in words[1:] if w in _ALIASES}


DEFAULT_IGNORE_INSN = "rdtsc,rdtscp,cpuid,rdmsr,rdrand,rdseed,rdpid,in,ins,rdpmc"
_PREFIXES = set(b"\x66\x67\xf0\xf2\xf3\x2e\x36\x3e\x26\x64\x65")


def opcode_bytes(code):
    k = 0
    while k < len(code) and code[k] in _PREFIXES:
        k += 1
    if k < len(code) and 0x40 <= code[k] <= 0x4f:
        k += 1
    return code[k:]


def insn_kind(rec, names):
    """The --ignore-insn name rec's instruction matches, or None."""
    if rec is None:
        return None
    if rec.bytes:
        op = opcode_bytes(rec.bytes)
        for n in names:
            pred = _INSN_BYTES.get(n)
            if pred and pred(op):
                return n
        return None
    if rec.insn:
        m = rec.insn.split()[0].lower() if rec.insn.split() else ""
        return m if m in names else None
    return None


class Symbols:
    """RIP -> "func+0x12" from a System.map or `nm -n` of an ELF with symbols."""

    def __init__(self, path):
        self.addrs, self.names = [], []
        if not path:
            return
        try:
            with open(path, "rb") as f:
                elf = f.read(4) == b"\x7fELF"
            if elf:
                out = subprocess.run(["nm", "-n", path], capture_output=True, text=True,
                                     check=True).stdout
            else:
                with open(path) as f:
                    out = f.read()
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"compare.py: no symbols from {path}: {e}", file=sys.stderr)
            return
        syms = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "tTwW":
                try:
                    syms.append((int(parts[0], 16), parts[2]))
                except ValueError:
                    pass
        syms.sort()
        self.addrs = [a for a, _ in syms]
        self.names = [n for _, n in syms]
        if not syms:
            print(f"compare.py: {path} has no symbols (a System.map works too)",
                  file=sys.stderr)

    def __call__(self, rip):
        k = bisect.bisect_right(self.addrs, rip) - 1
        if k < 0 or rip - self.addrs[k] > 0x100000:
            return ""
        off = rip - self.addrs[k]
        return f" <{self.names[k]}+{off:#x}>" if off else f" <{self.names[k]}>"


def disasm_bytes(code, rip, bits=64):
    """objdump's text for the first instruction of code (for records without insn text)."""
    if not code:
        return "?"
    try:
        import tempfile
        with tempfile.NamedTemporaryFile(suffix=".bin") as f:
            f.write(code)
            f.flush()
            out = subprocess.run(
                ["objdump", "-D", "-b", "binary", "-m",
                 "i386:x86-64" if bits == 64 else "i386", "-M", "intel",
                 f"--adjust-vma={rip:#x}", f.name],
                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return code.hex()
    for line in out.splitlines():
        if line.strip().startswith(f"{rip:x}:"):
            return " ".join(line.split("\t")[2:]).strip() or code.hex()
    return code.hex()


_STRING_OPS = set(range(0xa4, 0xa8)) | set(range(0xaa, 0xb0)) | set(range(0x6c, 0x70))


def is_rep_string(rec):
    if rec.bytes:
        k, rep = 0, False
        code = rec.bytes
        while k < len(code) and (code[k] in _PREFIXES or 0x40 <= code[k] <= 0x4f):
            rep = rep or code[k] in (0xf2, 0xf3)
            k += 1
        return rep and k < len(code) and code[k] in _STRING_OPS
    return bool(rec.insn) and rec.insn.split()[0] in ("rep", "repe", "repz", "repne", "repnz")


def collapse(recs, rep_rips):
    """Drops records that are not instructions of their own: QEMU runs each iteration of a
    REP string instruction as a step (ember the whole instruction), so only the first
    record of a run at a REP RIP stays; and a gdb step that did not move (same RIP, same
    registers) is dropped."""
    out = []
    for r in recs:
        if out and r.rip == out[-1].rip and (r.rip in rep_rips or r.regs == out[-1].regs):
            out[-1].events.extend(r.events)
            continue
        out.append(r)
    return out


class TaintSet(dict):
    """The tainted registers; tainting one remembers its value pair (Compare.pairs)."""

    def __init__(self, cmp):
        super().__init__()
        self.cmp = cmp
        self.cur = None

    def __setitem__(self, reg, why):
        super().__setitem__(reg, why)
        if self.cur is not None and reg in self.cur[0].regs and reg in self.cur[1].regs:
            a, b = self.cur[0].regs[reg], self.cur[1].regs[reg]
            if a != b and len(self.cmp.pairs) < 100000:
                self.cmp.pairs.setdefault((a, b), reg)

    def setdefault(self, reg, why):
        if reg not in self:
            self[reg] = why
        return self[reg]


class Compare:
    def __init__(self, a, b, args, syms, names):
        self.A, self.B = a, b
        self.args = args
        self.sym = syms
        self.na, self.nb = names
        self.ignore = set(filter(None, args.ignore.split(",")))
        self.ignore_insn = set(filter(None, args.ignore_insn.split(",")))
        self.tainted = TaintSet(self)  # reg -> why
        # (ember value, qemu value) pairs of tainted registers: the same pair showing up
        # again (a spill and reload, a copy through memory) is the same difference.
        self.pairs = {}
        self.reports = 0
        self.divergences = 0
        self.control = 0
        self.compared = 0
        self.elf_cache = {}

    # ---- output ----

    def text(self, rec):
        if rec.insn:
            return rec.insn
        if rec.bytes:
            return disasm_bytes(rec.bytes, rec.rip)
        return self.elf_text(rec.rip)

    def elf_text(self, rip):
        """The instruction at rip in the --symbols ELF (QEMU logs carry no code bytes)."""
        elf = self.args.elf
        if not elf and self.args.symbols:
            with open(self.args.symbols, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    elf = self.args.symbols
        if not elf:
            return "?"
        if rip not in self.elf_cache:
            try:
                out = subprocess.run(
                    ["objdump", "-d", "-M", "intel", f"--start-address={rip:#x}",
                     f"--stop-address={rip + 16:#x}", elf],
                    capture_output=True, text=True, check=True).stdout
            except (OSError, subprocess.CalledProcessError):
                out = ""
            text = "?"
            for line in out.splitlines():
                if line.strip().startswith(f"{rip:x}:"):
                    text = " ".join(line.split("\t")[2:]).strip() or "?"
                    break
            self.elf_cache[rip] = text + (" (from the ELF)" if text != "?" else "")
        return self.elf_cache[rip]

    def line(self, side, rec):
        return f"  {side:6s} {rec.where():22s} rip={rec.rip:016x}{self.sym(rec.rip)}  {self.text(rec)}"

    def context(self, i, j):
        c = self.args.context
        print("  last common records:")
        for k in range(max(0, i - c), i):
            print(self.line(self.na, self.A[k]))
        print("  then:")
        for k in range(i, min(len(self.A), i + c)):
            print(self.line(self.na, self.A[k]))
        for k in range(j, min(len(self.B), j + c)):
            print(self.line(self.nb, self.B[k]))

    def events(self, rec, side):
        for e in rec.events:
            print(f"  ({side} event before {rec.where()}: {e})")

    # ---- comparison ----

    def mask(self, reg, a, b):
        if reg == "rfl":
            return self.args.rflags_mask | 0
        if min(a.width, b.width) == 32 and reg in tracefmt.GPRS:
            return 0xffffffff
        return MASK64

    def differing(self, a, b):
        out = []
        for r in tracefmt.ALL_REGS:
            if r in self.ignore or r not in a.regs or r not in b.regs:
                continue
            m = self.mask(r, a, b)
            if (a.regs[r] ^ b.regs[r]) & m:
                out.append(r)
        return out

    def derived(self, r, a, b, prev):
        """Why register r's new difference follows from a tainted one, or None."""
        pair = self.pairs.get((a.regs[r], b.regs[r]))
        if pair:
            return f"the same values as {pair} had when tainted"
        d = (a.regs[r] - b.regs[r]) & MASK64
        for t in self.tainted:
            if t in a.regs and t in b.regs and (a.regs[t] - b.regs[t]) & MASK64 == d:
                return f"derived from {t} ({self.tainted[t]})"
        if self.args.strict_taint or prev is None:
            return None
        # The instruction that produced the difference read a tainted register.
        used = operand_regs(self.text(prev))
        for t in self.tainted:
            if t in used:
                return f"computed from {t} ({self.tainted[t]})"
        return None

    def check_regs(self, i, j):
        a, b = self.A[i], self.B[j]
        self.tainted.cur = (a, b)
        self.compared += 1
        diffs = self.differing(a, b)
        for r in list(self.tainted):
            if r not in diffs:
                del self.tainted[r]
        new = [r for r in diffs if r not in self.tainted]
        if not new:
            return True
        prev = self.A[i - 1] if i > 0 else None
        kind = insn_kind(prev, self.ignore_insn)
        if kind is None and j > 0:
            kind = insn_kind(self.B[j - 1], self.ignore_insn)
        if kind:
            for r in new:
                self.tainted[r] = f"written by {kind} at {self.A[i - 1].rip:#x}"
            return True
        report = []
        if "rfl" in new and prev is not None:
            pb = self.B[j - 1] if j > 0 else None
            und = undefined_flags(prev) | undefined_flags(pb)
            if und and not ((a.regs["rfl"] ^ b.regs["rfl"]) & self.args.rflags_mask & ~und):
                self.tainted["rfl"] = f"undefined flags after {self.text(prev)}"
                new.remove("rfl")
        for r in new:
            why = self.derived(r, a, b, prev)
            if why:
                self.tainted[r] = why if len(why) < 200 else why[:200] + "...)"
            else:
                report.append(r)
        if not report:
            return True
        self.divergences += 1
        self.reports += 1
        print(f"REGISTERS DIFFER before rip={a.rip:#x}{self.sym(a.rip)} "
              f"({self.na} {a.where()}, {self.nb} {b.where()}):")
        for r in report:
            print(f"  {r:5s} {self.na}={a.regs[r]:#x} {self.nb}={b.regs[r]:#x}")
        if prev is not None:
            pb = self.B[j - 1] if j > 0 else None
            print(f"  produced by the previous instruction, rip={prev.rip:#x}"
                  f"{self.sym(prev.rip)}: {self.text(prev)}")
            if pb is not None and pb.rip != prev.rip:
                print(f"  ({self.nb}'s previous record is rip={pb.rip:#x}{self.sym(pb.rip)}:"
                      f" something ran in between on one side)")
        if self.tainted:
            print("  tainted (not compared): " +
                  ", ".join(f"{r} ({w})" for r, w in self.tainted.items()))
        self.events(a, self.na)
        self.events(b, self.nb)
        self.context(i, j)
        for r in report:
            self.tainted[r] = f"reported at {a.where()}"
        return False

    def resync(self, i, j):
        """(i2, j2): where --match RIPs agree in a row again, or None.

        In a loop several alignments fit the RIPs (one iteration apart); among the
        nearest ones the one with the fewest differing registers wins, then the nearest."""
        A, B, W, K = self.A, self.B, self.args.window, self.args.match
        pos = defaultdict(list)
        for q in range(j, min(len(B), j + W)):
            pos[B[q].rip].append(q)
        limit = 2 * W
        cands = []
        for p in range(i, min(len(A), i + W)):
            if p - i > limit or len(cands) >= 256:
                break
            for q in pos.get(A[p].rip, ()):
                d = (p - i) + (q - j)
                if d > limit:
                    break
                n = min(K, len(A) - p, len(B) - q)
                if not all(A[p + k].rip == B[q + k].rip for k in range(n)):
                    continue
                cands.append((d, p, q))
                # Look a little further than the nearest fit for a better one.
                limit = min(limit, d + max(64, d))
        best = None
        for d, p, q in cands:
            if d > limit:
                continue
            score = (len(self.differing(A[p], B[q])), d, p, q)
            if best is None or score < best:
                best = score
        return None if best is None else (best[2], best[3])

    def summarise_skip(self, side, recs):
        if not recs:
            return f"{side}: nothing skipped"
        syms = []
        for r in recs:
            s = self.sym(r.rip).strip(" <>").split("+")[0] or f"{r.rip >> 12:#x}xxx"
            if not syms or syms[-1][0] != s:
                syms.append([s, 1])
            else:
                syms[-1][1] += 1
        shown = ", ".join(f"{s} x{n}" for s, n in syms[:8])
        more = f", ... ({len(syms) - 8} more runs)" if len(syms) > 8 else ""
        return f"{side}: skipped {len(recs)} records: {shown}{more}"

    def control_divergence(self, i, j):
        self.control += 1
        a, b = self.A[i], self.B[j]
        print(f"CONTROL FLOW DIFFERS: {self.na} {a.where()} rip={a.rip:#x}{self.sym(a.rip)}"
              f" vs {self.nb} {b.where()} rip={b.rip:#x}{self.sym(b.rip)}")
        self.events(a, self.na)
        self.events(b, self.nb)
        if self.control <= self.args.context_reports:
            self.context(i, j)
        if self.args.no_resync:
            return None
        r = self.resync(i, j)
        if r is None:
            print(f"  could not resynchronise within {self.args.window} records: stop")
            return None
        i2, j2 = r
        print("  resynchronised at rip="
              f"{self.A[i2].rip:#x}{self.sym(self.A[i2].rip)} "
              f"({self.na} {self.A[i2].where()}, {self.nb} {self.B[j2].where()})")
        print("  " + self.summarise_skip(self.na, self.A[i:i2]))
        print("  " + self.summarise_skip(self.nb, self.B[j:j2]))
        # Values a path that ran on one side only changed are not divergences of the
        # instructions both ran: taint what differs at the resynchronisation point.
        self.tainted.cur = (self.A[i2], self.B[j2])
        for reg in self.differing(self.A[i2], self.B[j2]):
            self.tainted.setdefault(reg, f"differs after the resync at {self.A[i2].where()}")
        return r

    def start(self):
        A, B = self.A, self.B
        if self.args.sync is not None:
            s = self.args.sync
            i = next((k for k, r in enumerate(A) if r.rip == s), None)
            j = next((k for k, r in enumerate(B) if r.rip == s), None)
            if i is None or j is None:
                print(f"--sync {s:#x}: not in the {self.na if i is None else self.nb} trace")
                return None
            return i, j
        if A[0].rip == B[0].rip:
            return 0, 0
        r = self.resync(0, 0)
        if r is None:
            print(f"no common start within {self.args.window} records "
                  f"({self.na} starts at {A[0].rip:#x}, {self.nb} at {B[0].rip:#x})")
        return r

    def run(self):
        if not self.A or not self.B:
            print("an empty trace: nothing to compare")
            return 2
        st = self.start()
        if st is None:
            return 1
        i, j = st
        print(f"start: {self.na} {self.A[i].where()}, {self.nb} {self.B[j].where()}, "
              f"rip={self.A[i].rip:#x}{self.sym(self.A[i].rip)}")
        self.tainted.cur = (self.A[i], self.B[j])
        for reg in self.differing(self.A[i], self.B[j]):
            self.tainted[reg] = "differs at the start"
        if self.tainted:
            print("  differ at the start (tainted): " + ", ".join(
                f"{r} {self.na}={self.A[i].regs[r]:#x} {self.nb}={self.B[j].regs[r]:#x}"
                for r in self.tainted))
        stopped = False
        while i < len(self.A) and j < len(self.B):
            if self.A[i].rip != self.B[j].rip:
                r = self.control_divergence(i, j)
                if r is None or self.control >= self.args.max_control:
                    if r is not None:
                        print(f"  --max-control {self.args.max_control} reached: stop")
                    stopped = True
                    break
                i, j = r
                continue
            if not self.check_regs(i, j) and not self.args.keep_going:
                stopped = True
                break
            if self.reports >= self.args.max_reports:
                print(f"--max-reports {self.args.max_reports} reached: stop")
                stopped = True
                break
            i += 1
            j += 1
        end = ("stopped" if stopped else
               f"reached the end of the {self.na if i >= len(self.A) else self.nb} trace")
        print(f"\nRESULT: {self.compared} records compared at equal RIPs, "
              f"{self.divergences} register divergence(s), {self.control} control-flow "
              f"divergence(s); {end} ({self.na} {min(i, len(self.A))}/{len(self.A)}, "
              f"{self.nb} {min(j, len(self.B))}/{len(self.B)})")
        return 1 if self.divergences or (self.control and self.args.strict_control) else 0


def side_name(path, default):
    try:
        with open(path, errors="replace") as f:
            head = f.readline()
    except OSError:
        return default
    if head.startswith("# ember-lockstep"):
        return "ember"
    return "qemu" if head.startswith(("# qemu-lockstep", "RAX=", "EAX=")) else default


def parse_int(s):
    return int(s, 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("a", help="first trace (normally ember's)")
    ap.add_argument("b", help="second trace (normally QEMU's)")
    ap.add_argument("--ignore", default="", help="registers never compared, e.g. rsp,cr4")
    ap.add_argument("--ignore-insn", default=DEFAULT_IGNORE_INSN,
                    help=f"instructions whose outputs may differ (default {DEFAULT_IGNORE_INSN};"
                    " '' for none)")
    ap.add_argument("--rflags-mask", type=parse_int, default=0x3effd7,
                    help="RFLAGS bits compared (default 0x3effd7: all but RF and reserved bits)")
    ap.add_argument("--window", type=int, default=20000,
                    help="records searched ahead on each side to resynchronise")
    ap.add_argument("--match", type=int, default=16,
                    help="RIPs in a row that must agree to call the traces resynchronised")
    ap.add_argument("--sync", type=parse_int, help="start both traces at this RIP")
    ap.add_argument("--strict-taint", action="store_true",
                    help="do not taint a difference because its instruction read a tainted"
                    " register")
    ap.add_argument("--keep-going", action="store_true",
                    help="report every register divergence, not only the first")
    ap.add_argument("--max-reports", type=int, default=50)
    ap.add_argument("--max-control", type=int, default=1000,
                    help="stop after this many control-flow divergences")
    ap.add_argument("--no-resync", action="store_true",
                    help="stop at the first control-flow divergence")
    ap.add_argument("--strict-control", action="store_true",
                    help="exit 1 for control-flow divergences too")
    ap.add_argument("--no-collapse", action="store_true",
                    help="keep QEMU's one record per REP iteration and repeated records")
    ap.add_argument("--context", type=int, default=4, help="records shown around a report")
    ap.add_argument("--context-reports", type=int, default=5,
                    help="control-flow divergences shown with context")
    ap.add_argument("--symbols", help="a System.map or an ELF with symbols, for names")
    ap.add_argument("--elf", help="an ELF to disassemble records without code bytes from"
                    " (a vmlinux; default: --symbols when it is an ELF)")
    ap.add_argument("--names", help="labels of the two sides, e.g. ember,qemu")
    args = ap.parse_args()
    try:
        a = list(tracefmt.read_trace(args.a))
        b = list(tracefmt.read_trace(args.b))
    except OSError as e:
        print(f"compare.py: {e}", file=sys.stderr)
        return 2
    if not args.no_collapse:
        rep = {r.rip for r in a if is_rep_string(r)} | {r.rip for r in b if is_rep_string(r)}
        a, b = collapse(a, rep), collapse(b, rep)
    names = (args.names.split(",") if args.names else
             [side_name(args.a, "A"), side_name(args.b, "B")])
    if names[0] == names[1]:
        names = [names[0] + "-A", names[1] + "-B"]
    print(f"{names[0]}: {args.a}: {len(a)} records; {names[1]}: {args.b}: {len(b)} records")
    return Compare(a, b, args, Symbols(args.symbols), names).run()


if __name__ == "__main__":
    sys.exit(main())
