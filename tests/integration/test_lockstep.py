"""The lockstep tools (docs/lockstep.md) end to end in user mode: ember cpu-run with
EMBER_SOFT_TRACE against qemu-x86_64's `-singlestep -d cpu` log, on a freestanding program
that sets its own stack (so both sides hold the same values), then compare.py on planted
differences."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import BUILD, REPO

TOOLS = REPO / "tools" / "lockstep"
QEMU_USER = shutil.which("qemu-x86_64")

PROGRAM = r"""
    .globl _start
    .text
_start:
    lea stack_top(%rip), %rsp
    mov $300, %ecx
    xor %eax, %eax
    mov $0x12345678, %ebx
1:  add %rcx, %rax
    imul $33, %rax, %rax
    xor %rbx, %rax
    rol $7, %rbx
    mov %rax, %rdx
    shr $3, %rdx
    push %rdx
    pop %r8
    dec %ecx
    jnz 1b
    lea src(%rip), %rsi
    lea dst(%rip), %rdi
    mov $64, %ecx
    rep movsb
    call twice
    rdtsc
    xor %eax, %eax
    cpuid
    mov $60, %eax
    xor %edi, %edi
    syscall
twice:
    push %rbx
    lea (%rax,%rax), %rbx
    mov %rbx, %rax
    pop %rbx
    ret
    .data
src: .fill 64, 1, 0x5a
    .bss
dst: .space 64
    .space 8192
stack_top:
"""

USER_IGNORE = ["--ignore", "cr0,cr4,efer,ds,es"]


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    if not QEMU_USER or not shutil.which("gcc"):
        pytest.skip("needs qemu-x86_64 and gcc")
    ember = BUILD / "ember"
    if not ember.exists():
        pytest.fail(f"{ember} is missing")
    d = tmp_path_factory.mktemp("lockstep")
    src, prog = d / "prog.S", d / "prog"
    src.write_text(PROGRAM)
    subprocess.run(["gcc", "-nostdlib", "-static", "-no-pie", "-o", str(prog), str(src)],
                   check=True)
    et, ql = d / "ember.trace", d / "qemu.log"
    env = dict(os.environ, EMBER_SOFT_TRACE=f"file={et}")
    subprocess.run([str(ember), "cpu-run", str(prog)], env=env, check=True, timeout=60)
    subprocess.run([QEMU_USER, "-singlestep", "-d", "cpu,nochain", "-D", str(ql), str(prog)],
                   check=True, timeout=60)
    return d, et, ql


def compare(*args):
    p = subprocess.run([sys.executable, str(TOOLS / "compare.py"), *map(str, args)],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def records(path):
    return [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]


def test_bad_spec_is_exit_2(traces):
    d, _, _ = traces
    env = dict(os.environ, EMBER_SOFT_TRACE="count=x")
    p = subprocess.run([str(BUILD / "ember"), "cpu-run", str(d / "prog")], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "EMBER_SOFT_TRACE" in p.stderr


def test_ember_and_qemu_agree(traces):
    _, et, ql = traces
    n = len(records(et))
    assert 300 * 10 < n < 300 * 10 + 40
    rc, out = compare(et, ql, *USER_IGNORE)
    assert rc == 0, out
    assert "0 register divergence(s), 0 control-flow divergence(s)" in out
    # cpuid's outputs differ (ember's table is not QEMU's) and must have been tainted.
    assert "reached the end" in out


def test_planted_register_difference_is_reported(traces):
    d, et, ql = traces
    lines = et.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if not ln.startswith("#")) + 500
    victim = lines[k]
    rip = victim.split(" rip=")[1].split()[0]
    old = victim.split(" r8=")[1].split()[0]
    lines[k] = victim.replace(f" r8={old} ", " r8=dead ", 1)
    bad = d / "planted.trace"
    bad.write_text("\n".join(lines) + "\n")
    rc, out = compare(bad, ql, *USER_IGNORE)
    assert rc == 1, out
    assert f"REGISTERS DIFFER before rip={int(rip, 16):#x}" in out
    assert "r8" in out.split("REGISTERS DIFFER", 1)[1].splitlines()[1]


def test_missing_stretch_is_resynchronised(traces):
    d, et, ql = traces
    lines = et.read_text().splitlines()
    first = next(i for i, ln in enumerate(lines) if not ln.startswith("#"))
    # Drop 7 records inside the loop, as if QEMU had run instructions ember did not (one
    # side taking an interrupt): the records after the gap still hold the real state.
    cut = lines[:first + 1000] + lines[first + 1007:]
    gap = d / "gap.trace"
    gap.write_text("\n".join(cut) + "\n")
    rc, out = compare(gap, ql, *USER_IGNORE, "--names", "ember,qemu")
    assert "CONTROL FLOW DIFFERS" in out, out
    assert "resynchronised at" in out
    assert "qemu: skipped" in out
    assert "0 register divergence(s), 1 control-flow divergence(s)" in out
    assert rc == 0
