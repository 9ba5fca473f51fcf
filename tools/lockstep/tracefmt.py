"""Readers for the traces the lockstep tools compare (docs/lockstep.md).

Two formats, detected per file:

* ember's (src/accel/soft/lockstep.c; tools/lockstep/qemu_trace.py writes it
  too): one record per line, `key=value` fields, values in hex except `i`;
  `insn="..."` is quoted; lines starting with `#` are comments/events.
* QEMU's `-d cpu` log (with -singlestep/one instruction per TB: one dump per
  instruction, the state before it runs), 64-bit (`RAX=`) or 32-bit (`EAX=`)
  layout; `-d int` dumps (after a `v=XX` line) become events, not records;
  `-d exec` `Trace` lines are skipped.

A record is a Record: seq (position in the file), rip, regs (name -> int,
lower-case, QEMU's names mapped to ember's: eax -> rax, eflags -> rfl),
width (32 when the source only had 32-bit registers), insn text and code
bytes when known, icount when known, and the events seen just before it.
"""
import re

# The registers both formats have, in QEMU's dump order; compare.py checks these.
GPRS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
SEGS = ["cs", "ss", "ds", "es", "fs", "gs"]
CTRL = ["cr0", "cr2", "cr3", "cr4", "efer"]
BASES = ["fsb", "gsb"]
ALL_REGS = GPRS + ["rfl"] + SEGS + BASES + CTRL


class Record:
    __slots__ = ("seq", "rip", "regs", "width", "insn", "bytes", "icount", "events", "line")

    def __init__(self, seq, rip, regs, width=64, insn=None, code=None, icount=None,
                 events=None, line=0):
        self.seq = seq
        self.rip = rip
        self.regs = regs
        self.width = width
        self.insn = insn
        self.bytes = code
        self.icount = icount
        self.events = events or []
        self.line = line

    def where(self):
        i = f" i={self.icount}" if self.icount is not None else ""
        return f"#{self.seq}{i} (line {self.line})"


def _parse_ember_line(line):
    fields = {}
    q = line.find(' insn="')
    if q >= 0:
        e = line.find('"', q + 7)
        fields["insn"] = line[q + 7:e]
        line = line[:q] + line[e + 1:]
    for part in line.split():
        k, eq, v = part.partition("=")
        if eq:
            fields[k] = v
    return fields


def _read_ember(f, first):
    seq = 0
    events = []
    lineno = 0
    lines = [first] if first is not None else []

    def all_lines():
        yield from lines
        yield from f

    for line in all_lines():
        lineno += 1
        line = line.rstrip("\n")
        if not line:
            continue
        if line.startswith("#"):
            text = line[1:].strip()
            if not text.startswith(("ember-lockstep", "qemu-lockstep")):
                events.append(text)
            continue
        fl = _parse_ember_line(line)
        if "rip" not in fl:
            continue
        regs = {}
        for k in ALL_REGS:
            if k in fl:
                try:
                    regs[k] = int(fl[k], 16)
                except ValueError:
                    pass
        insn = fl.get("insn")
        code = fl.get("b")
        code = bytes.fromhex(code) if code and code != "-" else None
        icount = int(fl["i"]) if "i" in fl and fl["i"].isdigit() else None
        yield Record(seq, int(fl["rip"], 16), regs, 64, insn, code, icount, events, lineno)
        seq += 1
        events = []


_QREG = re.compile(r"\b([A-Z][A-Z0-9]{1,3})\s*=([0-9a-fA-F]+)")
_QSEG = re.compile(r"^(ES|CS|SS|DS|FS|GS) =([0-9a-f]{4}) ([0-9a-f]+)")
_QINT = re.compile(r"^\s*\d+: v=([0-9a-f]+) e=([0-9a-f]+) i=(\d) cpl=(\d) IP=([0-9a-f]+):([0-9a-f]+)")
_QNAME = {"RAX": "rax", "RBX": "rbx", "RCX": "rcx", "RDX": "rdx", "RSI": "rsi", "RDI": "rdi",
          "RBP": "rbp", "RSP": "rsp", "EAX": "rax", "EBX": "rbx", "ECX": "rcx", "EDX": "rdx", "ESI": "rsi", "EDI": "rdi",
          "EBP": "rbp", "ESP": "rsp", "EIP": "rip", "RIP": "rip", "EFL": "rfl", "RFL": "rfl",
          "CR0": "cr0", "CR2": "cr2", "CR3": "cr3", "CR4": "cr4", "EFER": "efer"}


def _read_qemu(f, first):
    """QEMU -d cpu[,int] logs."""
    seq = 0
    events = []
    cur = None          # the dump being read: dict
    skip_dump = False   # the dump after a -d int line is the interrupt's, not a record
    lineno = 0
    start_line = 0

    def finish(d, line_of_dump):
        nonlocal seq, events
        if d is None or "rip" not in d["regs"]:
            return None
        r = Record(seq, d["regs"].pop("rip"), d["regs"], d["width"], None, None, None,
                   events, line_of_dump)
        seq += 1
        events = []
        return r

    def lines():
        if first is not None:
            yield first
        yield from f

    for line in lines():
        lineno += 1
        if line.startswith(("RAX=", "EAX=")):
            r = finish(cur if cur and not cur["skip"] else None, start_line)
            if r is not None:
                yield r
            cur = None
            if skip_dump:
                skip_dump = False
                cur = {"regs": {}, "width": 64, "skip": True}
            else:
                cur = {"regs": {}, "width": 64 if line.startswith("RAX") else 32,
                       "skip": False}
            start_line = lineno
        m = _QINT.match(line)
        if m:
            r = finish(cur if cur and not cur["skip"] else None, start_line)
            if r is not None:
                yield r
            cur = None
            events.append(f"qemu: interrupt/exception v={m.group(1)} e={m.group(2)} "
                          f"{'soft' if m.group(3) == '1' else 'hw'} at "
                          f"{m.group(5)}:{m.group(6)}")
            skip_dump = True
            continue
        if line.startswith("check_exception"):
            continue
        if cur is None or cur["skip"]:
            continue
        ms = _QSEG.match(line)
        if ms:
            cur["regs"][ms.group(1).lower()] = int(ms.group(2), 16)
            if ms.group(1) in ("FS", "GS"):
                cur["regs"][ms.group(1).lower()[0] + "sb"] = int(ms.group(3), 16)
            continue
        if line.startswith(("LDT=", "TR =", "GDT=", "IDT=", "DR", "CCS=", "FCW=", "FPR", "XMM",
                            "YMM", "ZMM", "Trace", "CPL")):
            continue
        for name, val in _QREG.findall(line):
            key = _QNAME.get(name)
            if key is None and re.fullmatch(r"R\d+", name):
                key = name.lower()
            if key:
                cur["regs"][key] = int(val, 16)
    r = finish(cur if cur and not cur["skip"] else None, start_line)
    if r is not None:
        yield r


def read_trace(path):
    """Yields the Records of path (either format)."""
    f = open(path, errors="replace")
    first = None
    for line in f:
        if line.strip():
            first = line
            break
    if first is None:
        f.close()
        return
    try:
        if first.startswith(("RAX=", "EAX=")) or "v=" in first or first.startswith(
                ("check_exception", "Trace")) or re.match(r"\s*\d+: v=", first):
            yield from _read_qemu(f, first)
        else:
            yield from _read_ember(f, first)
    finally:
        f.close()


def format_record(rec, regs=None):
    """One line in ember's format (qemu_trace.py writes its records with it)."""
    parts = []
    if rec.icount is not None:
        parts.append(f"i={rec.icount}")
    parts.append(f"rip={rec.rip:x}")
    if "cpl" in (regs or {}):
        parts.append(f"cpl={regs['cpl']}")
    parts.append("b=" + (rec.bytes.hex() if rec.bytes else "-"))
    parts.append(f'insn="{rec.insn or ""}"')
    for k in ALL_REGS:
        if k in rec.regs:
            v = rec.regs[k]
            parts.append(f"{k}={v:04x}" if k in SEGS else f"{k}={v:x}")
    return " ".join(parts)
