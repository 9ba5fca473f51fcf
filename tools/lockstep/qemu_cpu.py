#!/usr/bin/env python3
"""Turns the CPUID table of an ember lockstep trace into a QEMU -cpu option.

    qemu_cpu.py EMBER_TRACE        prints e.g. qemu64,vendor=GenuineIntel,family=6,...

Linux picks code paths from CPUID (alternatives patching, vendor quirks, x2APIC,
TSC-deadline...), so QEMU must show the guest the CPU ember shows it for a lockstep
comparison to stay aligned. ember writes its table at the start of a trace
("# cpuid LEAF.SUB: eax= ebx= ecx= edx=", src/accel/soft/lockstep.c); this maps the
vendor, family/model/stepping, levels, brand string and every feature bit QEMU has a
name for (set -> +name, clear -> -name), keeping only names this QEMU recognises.
QEMU's TCG may still drop a feature it cannot emulate (it warns "TCG doesn't support
requested feature"); the hypervisor leaf 0x40000000 cannot be copied (TCG has none).
"""
import re
import subprocess
import sys

# (leaf, subleaf, register, bit) -> QEMU's flag name (target/i386/cpu.c feature_word_info).
_FEATURES = {}


def _names(leaf, sub, reg, names):
    for bit, name in enumerate(names.split()):
        if name != "-":
            _FEATURES[(leaf, sub, reg, bit)] = name


_names(1, 0, "edx", "fpu vme de pse tsc msr pae mce cx8 apic - sep mtrr pge mca cmov pat "
       "pse36 pn clflush - ds acpi mmx fxsr sse sse2 ss ht tm ia64 pbe")
_names(1, 0, "ecx", "pni pclmulqdq dtes64 monitor ds-cpl vmx smx est tm2 ssse3 cid - fma cx16 "
       "xtpr pdcm - pcid dca sse4.1 sse4.2 x2apic movbe popcnt tsc-deadline aes xsave - avx "
       "f16c rdrand hypervisor")
_names(6, 0, "eax", "- - arat")
_names(7, 0, "ebx", "fsgsbase tsc-adjust sgx bmi1 hle avx2 - smep bmi2 erms invpcid rtm - - "
       "mpx - avx512f avx512dq rdseed adx smap avx512ifma pcommit clflushopt clwb intel-pt "
       "avx512pf avx512er avx512cd sha-ni avx512bw avx512vl")
_names(7, 0, "ecx", "- avx512vbmi umip pku - waitpkg avx512vbmi2 - gfni vaes vpclmulqdq "
       "avx512vnni avx512bitalg - avx512-vpopcntdq - la57 - - - - - rdpid - bus-lock-detect "
       "cldemote - movdiri movdir64b - sgxlc pks")
_names(7, 0, "edx", "- - avx512-4vnniw avx512-4fmaps fsrm - - - avx512-vp2intersect - "
       "md-clear - - - serialize - tsx-ldtrk - - arch-lbr - - - avx512-fp16 - - spec-ctrl "
       "stibp - arch-capabilities core-capability ssbd")
_names(0xd, 1, "eax", "xsaveopt xsavec xgetbv1 xsaves")
_names(0x80000001, 0, "ecx", "lahf-lm cmp-legacy svm extapic cr8legacy abm sse4a misalignsse "
       "3dnowprefetch osvw ibs xop skinit wdt - lwp fma4 tce - nodeid-msr - tbm topoext "
       "perfctr-core perfctr-nb")
_names(0x80000001, 0, "edx", "- - - - - - - - - - - syscall - - - - - - - - nx - mmxext - - "
       "fxsr-opt pdpe1gb rdtscp - lm 3dnowext 3dnow")
_names(0x80000007, 0, "edx", "- - - - - - - - invtsc")

_LINE = re.compile(r"^# cpuid ([0-9a-f]+)\.([0-9a-f]+): eax=([0-9a-f]+) ebx=([0-9a-f]+) "
                   r"ecx=([0-9a-f]+) edx=([0-9a-f]+)")


def read_cpuid(path):
    """{(leaf, subleaf): {"eax":..,"ebx":..,"ecx":..,"edx":..}} from a trace's header."""
    table = {}
    with open(path, errors="replace") as f:
        for n, line in enumerate(f):
            m = _LINE.match(line)
            if m:
                leaf, sub = int(m.group(1), 16), int(m.group(2), 16)
                table[(leaf, sub)] = dict(zip(("eax", "ebx", "ecx", "edx"),
                                              (int(m.group(k), 16) for k in range(3, 7))))
            elif not line.startswith("#") and n > 200:
                break
    return table


def known_flags(qemu):
    try:
        out = subprocess.run([qemu, "-cpu", "help"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return set(out.split("Recognized CPUID flags:", 1)[-1].split())


def regs_str(*vals):
    return b"".join(v.to_bytes(4, "little") for v in vals).decode("latin-1")


def cpu_option(table, qemu="qemu-system-x86_64", base="qemu64"):
    def get(leaf, sub=0):
        return table.get((leaf, sub), {"eax": 0, "ebx": 0, "ecx": 0, "edx": 0})

    l0, l1 = get(0), get(1)
    vendor = regs_str(l0["ebx"], l0["edx"], l0["ecx"])
    eax = l1["eax"]
    fam = (eax >> 8) & 0xf
    if fam == 0xf:
        fam += (eax >> 20) & 0xff
    model = ((eax >> 4) & 0xf) | (((eax >> 16) & 0xf) << 4)
    opts = [base, f"vendor={vendor}", f"family={fam}", f"model={model}",
            f"stepping={eax & 0xf}", f"level={l0['eax']}",
            f"xlevel={get(0x80000000)['eax']:#x}"]
    brand = "".join(regs_str(*(get(0x80000002 + k)[r] for r in ("eax", "ebx", "ecx", "edx")))
                    for k in range(3)).strip("\0 ")
    if brand and all(32 <= ord(c) < 127 for c in brand):
        opts.append("model-id=" + brand.replace(",", ",,"))
    known = known_flags(qemu)
    for (leaf, sub, reg, bit), name in sorted(_FEATURES.items()):
        if known is not None and name not in known:
            continue
        if (leaf, sub) not in table and leaf not in (6, 7, 0xd, 0x80000007):
            continue
        on = (get(leaf, sub)[reg] >> bit) & 1
        opts.append(("+" if on else "-") + name)
    return ",".join(opts)


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) == 2 else 2
    table = read_cpuid(sys.argv[1])
    if not table:
        print(f"qemu_cpu.py: no '# cpuid' lines in {sys.argv[1]}", file=sys.stderr)
        return 1
    print(cpu_option(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
