#!/usr/bin/env python3
"""Runs the same guest on ember's software CPU and on QEMU TCG and compares the traces.

System mode (default): Linux from the guest kit, PVH entry (vmlinux) on both sides,
    lockstep.py --from 0x1000850 --count 20000
  1. ember run --accel soft with EMBER_SOFT_TRACE="from=RIP#HITS,count=N,file=OUT/ember.trace"
     (stopped once the trace is complete);
  2. QEMU's -cpu from the CPUID table in ember's trace (qemu_cpu.py), unless --qemu-cpu;
  3. qemu_trace.py: qemu-system-x86_64 -accel tcg -M q35 (PVH), same kernel, initrd, memory,
     command line, N instructions from the same RIP/hit (-> OUT/qemu.trace);
  4. compare.py OUT/ember.trace OUT/qemu.trace --symbols OUT/kallsyms (the Debian kernel is
     stripped: kallsyms.py takes the names from a QEMU boot, once) [COMPARE OPTIONS after --].
User mode:
    lockstep.py --user PROGRAM [ARGS...]
  ember cpu-run with EMBER_SOFT_TRACE vs qemu-x86_64 -singlestep -d cpu,nochain, compared
  with the program's symbols (static programs; stacks and heap addresses differ between the
  two, so pointer registers show up as tainted).
Exit status: compare.py's (0 same, 1 divergence), 2 when a side could not produce a trace.
"""
import argparse
import os
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KIT = os.path.join(ROOT, "build", "guest-kit")
sys.path.insert(0, HERE)
import qemu_cpu  # noqa: E402


def log(msg):
    print(f"lockstep: {msg}", file=sys.stderr, flush=True)


def trace_done(path):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 4096))
            return b"# end:" in f.read()
    except OSError:
        return False


def run_ember_system(a, out):
    trace = os.path.join(out, "ember.trace")
    spec = f"from={a.start},count={a.count},file={trace}"
    env = dict(os.environ, EMBER_SOFT_TRACE=spec)
    argv = [a.ember, "run", "--accel", "soft", "--kernel", a.kernel, "--cpus", "1",
            "--memory", str(a.memory), "--cmdline", a.cmdline]
    if a.initrd:
        argv += ["--initrd", a.initrd]
    log(f"ember: EMBER_SOFT_TRACE={spec} {shlex.join(argv)}")
    with open(os.path.join(out, "ember.console"), "wb") as console:
        p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=console,
                             stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        while p.poll() is None and not trace_done(trace):
            if time.monotonic() - t0 > a.timeout:
                log(f"ember: no complete trace after {a.timeout:.0f} s")
                break
            time.sleep(0.2)
        if p.poll() is None:
            p.kill()
        p.wait()
    log(f"ember: done in {time.monotonic() - t0:.1f} s")
    return trace if os.path.exists(trace) else None


def run_qemu_system(a, out, cpu):
    trace = os.path.join(out, "qemu.trace" if a.method == "gdb" else "qemu.log")
    qemu = [a.qemu, "-accel", "tcg", "-M", a.machine, "-nodefaults", "-no-user-config",
            "-nographic", "-no-reboot", "-serial", f"file:{os.path.join(out, 'qemu.console')}",
            "-m", str(a.memory), "-smp", "1", "-kernel", a.kernel, "-append", a.cmdline]
    if a.initrd:
        qemu += ["-initrd", a.initrd]
    if cpu:
        qemu += ["-cpu", cpu]
    argv = [sys.executable, os.path.join(HERE, "qemu_trace.py"), "--out", trace,
            "--from", a.start, "--count", str(a.count), "--method", a.method,
            "--timeout", str(a.timeout), "--qemu-stderr", os.path.join(out, "qemu.stderr")]
    if a.irq:
        argv.append("--irq")
    log(f"qemu: {shlex.join(argv + ['--'] + qemu)}")
    r = subprocess.run(argv + ["--"] + qemu)
    try:
        with open(os.path.join(out, "qemu.stderr")) as f:
            for line in f:
                if "warning" in line:
                    log("qemu " + line.strip())
    except OSError:
        pass
    return trace if r.returncode == 0 or os.path.exists(trace) else None


def run_user(a, out):
    prog = a.user[0]
    trace = os.path.join(out, "ember.trace")
    spec = f"count={a.count},file={trace}" + (f",from={a.start}" if a.start else "")
    env = dict(os.environ, EMBER_SOFT_TRACE=spec)
    log(f"ember: EMBER_SOFT_TRACE={spec} {a.ember} cpu-run {shlex.join(a.user)}")
    subprocess.run([a.ember, "cpu-run"] + a.user, env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL)
    qlog = os.path.join(out, "qemu.log")
    qemu_user = a.qemu.replace("qemu-system-x86_64", "qemu-x86_64")
    log(f"qemu: {qemu_user} -singlestep -d cpu,nochain -D {qlog} {shlex.join(a.user)}")
    subprocess.run([qemu_user, "-singlestep", "-d", "cpu,nochain", "-D", qlog] + a.user,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return trace, qlog, prog


def kernel_symbols(a, out):
    """OUT/kallsyms: the kernel's symbols from a QEMU boot (kallsyms.py), made once."""
    path = os.path.join(out, "kallsyms")
    if not os.path.exists(path):
        log("symbols: booting the kernel on QEMU for its /proc/kallsyms (once per --out)")
        r = subprocess.run([sys.executable, os.path.join(HERE, "kallsyms.py"), path,
                            "--kernel", a.kernel, "--initrd", a.initrd, "--qemu", a.qemu])
        if r.returncode != 0:
            return None
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--kernel", default=os.path.join(KIT, "vmlinux"),
                    help="default: the kit's vmlinux (PVH entry on both sides)")
    ap.add_argument("--initrd", default=os.path.join(KIT, "initrd.img"))
    ap.add_argument("--cmdline", default="console=ttyS0 quiet")
    ap.add_argument("--memory", type=int, default=256)
    ap.add_argument("--from", dest="start", help="RIP[#HITS] in hex (system mode: required)")
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--method", choices=["gdb", "log"], default="gdb")
    ap.add_argument("--irq", action="store_true", help="QEMU gdb method: interrupts on")
    ap.add_argument("--machine", default="q35", help="QEMU machine (q35 boots PVH vmlinux)")
    ap.add_argument("--qemu-cpu", default="auto",
                    help="auto: from ember's CPUID table; none: QEMU's default; or a -cpu value")
    ap.add_argument("--symbols", help="System.map/kallsyms or ELF for names (default: the"
                    " kernel's /proc/kallsyms, taken once into OUT/kallsyms by kallsyms.py)")
    ap.add_argument("--no-symbols", action="store_true")
    ap.add_argument("--ember", default=os.path.join(ROOT, "build", "ember"))
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--out", default="lockstep-out", help="directory for traces and consoles")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--user", nargs=argparse.REMAINDER,
                    help="user mode: PROGRAM [ARGS...] (must come last)")
    a, compare_args = ap.parse_known_args()
    if compare_args[:1] == ["--"]:
        compare_args = compare_args[1:]
    os.makedirs(a.out, exist_ok=True)
    if a.user:
        ember_trace, qemu_trace, symbols = run_user(a, a.out)
        compare_args = ["--ignore", "cr0,cr4,efer,ds,es"] + compare_args
    else:
        if not a.start:
            ap.error("--from RIP[#HITS] is required in system mode (e.g. 0x1000850, the "
                     "kit's PVH entry: KIT_PVH_ENTRY in build/guest-kit/kit.env)")
        if not a.start.startswith(("0x", "0X")):
            a.start = "0x" + a.start
        ember_trace = run_ember_system(a, a.out)
        if not ember_trace:
            log("ember produced no trace")
            return 2
        cpu = None
        if a.qemu_cpu == "auto":
            table = qemu_cpu.read_cpuid(ember_trace)
            cpu = qemu_cpu.cpu_option(table, a.qemu) if table else None
        elif a.qemu_cpu != "none":
            cpu = a.qemu_cpu
        qemu_trace = run_qemu_system(a, a.out, cpu)
        if not qemu_trace:
            log("QEMU produced no trace")
            return 2
        symbols = a.symbols or (None if a.no_symbols else kernel_symbols(a, a.out))
    argv = [sys.executable, os.path.join(HERE, "compare.py"), ember_trace, qemu_trace]
    if symbols:
        argv += ["--symbols", symbols]
    if not a.user and open(a.kernel, "rb").read(4) == b"\x7fELF":
        argv += ["--elf", a.kernel]
    argv += compare_args
    log(shlex.join(argv))
    return subprocess.run(argv).returncode


if __name__ == "__main__":
    sys.exit(main())
