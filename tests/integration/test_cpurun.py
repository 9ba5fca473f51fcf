"""`ember cpu-run`: static x86-64 Linux programs on the software CPU.

Three kinds of guest: a freestanding program built here from C with raw
syscalls and integer code only (it needs nothing but the interpreter's
integer core), a glibc static program (glibc's string functions need SSE2),
and the guest kit's busybox-static. Each run is compared with the same
binary run natively where the output is deterministic; a crash is compared
with the signal the native run died of (cpu-run exits 128+signal)."""
import hashlib
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import ASAN_BUILD, BUILD, REPO, run_ember

BUSYBOX = BUILD / "guest-kit" / "root-busybox" / "bin" / "busybox"
ENV = {"LANG": "C", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "CPURUN_TEST": "1"}

# The freestanding guest: one binary, a command per argv[1].
GUEST_C = r"""
/* A freestanding test program for ember cpu-run: raw syscalls, no libc, integer code only. */
typedef unsigned long u64;
typedef long i64;

__asm__(".globl _start\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call cmain\n"
	"	hlt\n");

static i64 sc(i64 n, i64 a, i64 b, i64 c, i64 d, i64 e, i64 f)
{
	register i64 r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
	i64 r;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}
#define S0(n) sc(n, 0, 0, 0, 0, 0, 0)
#define S1(n, a) sc(n, (i64)(a), 0, 0, 0, 0, 0)
#define S2(n, a, b) sc(n, (i64)(a), (i64)(b), 0, 0, 0, 0)
#define S3(n, a, b, c) sc(n, (i64)(a), (i64)(b), (i64)(c), 0, 0, 0)
#define S4(n, a, b, c, d) sc(n, (i64)(a), (i64)(b), (i64)(c), (i64)(d), 0, 0)
#define S5(n, a, b, c, d, e) sc(n, (i64)(a), (i64)(b), (i64)(c), (i64)(d), (i64)(e), 0)
#define S6(n, a, b, c, d, e, f) sc(n, (i64)(a), (i64)(b), (i64)(c), (i64)(d), (i64)(e), (i64)(f))

void *memset(void *d, int c, u64 n);
void *memcpy(void *d, const void *s, u64 n);
void *memset(void *d, int c, u64 n)
{
	volatile char *p = d;
	while (n--)
		*p++ = (char)c;
	return d;
}
void *memcpy(void *d, const void *s, u64 n)
{
	volatile char *p = d;
	const char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

static u64 slen(const char *s)
{
	u64 n = 0;
	while (s[n])
		n++;
	return n;
}
static int seq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}
static void out(const char *s)
{
	S3(1, 1, s, slen(s));
}
/* Decimal by subtracting powers of ten: no multiply, divide or shift, which are not the
 * integer core's. */
static const u64 pow10[] = { 10000000000000000000ULL, 1000000000000000000ULL,
	100000000000000000ULL, 10000000000000000ULL, 1000000000000000ULL, 100000000000000ULL,
	10000000000000ULL, 1000000000000ULL, 100000000000ULL, 10000000000ULL, 1000000000ULL,
	100000000ULL, 10000000ULL, 1000000ULL, 100000ULL, 10000ULL, 1000ULL, 100ULL, 10ULL, 1ULL };
static void outn(i64 v)
{
	char b[24], *p = b;
	u64 u = (u64)v;
	if (v < 0) {
		*p++ = '-';
		u = -u;
	}
	int started = 0;
	for (unsigned i = 0; i < sizeof(pow10) / sizeof(pow10[0]); i++) {
		char d = '0';
		while (u >= pow10[i]) {
			u -= pow10[i];
			d++;
		}
		if (d != '0' || started || pow10[i] == 1) {
			*p++ = d;
			started = 1;
		}
	}
	*p = 0;
	out(b);
}
static void kv(const char *k, i64 v)
{
	out(k);
	out("=");
	outn(v);
	out("\n");
}
static i64 parse(const char *s)
{
	i64 v = 0;
	while (*s >= '0' && *s <= '9') {
		i64 v2 = v + v, v8 = v2 + v2;
		v8 = v8 + v8;
		v = v8 + v2 + (*s++ - '0');
	}
	return v;
}
static __attribute__((noreturn)) void die(int code)
{
	for (;;)
		S1(231, code);
}

static volatile u64 kernel_only[] = { 33, 51, 27, 28, 29, 30 };
/* Volatile so that building them takes no shift (not the integer core's). */
static volatile u64 noncanonical = 0x800000000000ULL, kernel_addr = 0xffff800000000000ULL;

static int cmd_args(u64 *sp)
{
	u64 argc = sp[0];
	char **argv = (char **)(sp + 1), **envp = argv + argc + 1, **e = envp;
	kv("sp_mod16", (i64)((u64)sp & 15));
	kv("argc", (i64)argc);
	for (u64 i = 0; i < argc; i++) {
		out("argv: ");
		out(argv[i]);
		out("\n");
	}
	while (*e) {
		out("env: ");
		out(*e++);
		out("\n");
	}
	u64 *aux = (u64 *)(e + 1);
	char *last = argc ? argv[argc - 1] : 0, *execfn = 0, *platform = 0;
	u64 random = 0;
	int contiguous = 1;
	for (u64 i = 0; i + 1 < argc; i++)
		contiguous &= argv[i + 1] == argv[i] + slen(argv[i]) + 1;
	if (envp[0]) {
		contiguous &= envp[0] == last + slen(last) + 1;
		for (u64 i = 0; envp[i + 1]; i++)
			contiguous &= envp[i + 1] == envp[i] + slen(envp[i]) + 1;
		for (e = envp; e[1]; e++)
			;
		last = *e;
	}
	out("auxv types:");
	for (u64 *a = aux; a[0]; a += 2) {
		u64 t = a[0];
		/* Only what ember provides: kernels add vDSO, rseq and signal-stack entries. */
		int skip = 0;
		for (unsigned i = 0; i < sizeof(kernel_only) / sizeof(kernel_only[0]); i++)
			skip |= t == kernel_only[i];
		if (skip)
			continue;
		out(" ");
		outn((i64)t);
	}
	out("\n");
	for (u64 *a = aux; a[0]; a += 2) {
		switch (a[0]) {
		case 16: kv("AT_HWCAP_FPU_TSC_CX8", (a[1] & 0x111) == 0x111); break;
		case 6: kv("AT_PAGESZ", (i64)a[1]); break;
		case 17: kv("AT_CLKTCK", (i64)a[1]); break;
		case 3: kv("AT_PHDR", (i64)a[1]); break;
		case 4: kv("AT_PHENT", (i64)a[1]); break;
		case 5: kv("AT_PHNUM", (i64)a[1]); break;
		case 7: kv("AT_BASE", (i64)a[1]); break;
		case 8: kv("AT_FLAGS", (i64)a[1]); break;
		case 9: kv("AT_ENTRY", (i64)a[1]); break;
		case 11: kv("AT_UID", (i64)a[1]); break;
		case 12: kv("AT_EUID", (i64)a[1]); break;
		case 13: kv("AT_GID", (i64)a[1]); break;
		case 14: kv("AT_EGID", (i64)a[1]); break;
		case 23: kv("AT_SECURE", (i64)a[1]); break;
		case 25: random = a[1]; break;
		case 31: execfn = (char *)a[1]; break;
		case 15: platform = (char *)a[1]; break;
		}
	}
	out("AT_EXECFN=");
	out(execfn);
	out("\nAT_PLATFORM=");
	out(platform);
	out("\n");
	contiguous &= execfn == last + slen(last) + 1;
	kv("strings_contiguous", contiguous);
	kv("execfn_at_top", (((u64)execfn + slen(execfn) + 1 + 8) & 4095) == 0);
	kv("random_below_platform", random + 16 == (u64)platform);
	/* The ELF header is mapped at AT_PHDR - e_phoff. */
	return 0;
}

static int cmd_brk(void)
{
	u64 b0 = (u64)S1(12, 0);
	u64 b1 = (u64)S1(12, b0 + 100000);
	kv("grown", b1 == b0 + 100000);
	volatile unsigned char *p = (unsigned char *)b0;
	u64 sum = 0;
	for (u64 i = 0; i < 100000; i++)
		p[i] = (unsigned char)i;
	for (u64 i = 0; i < 100000; i++)
		sum += p[i];
	kv("sum", (i64)sum);
	kv("shrunk", (u64)S1(12, b0 + 10) == b0 + 10);
	kv("regrown_zero_tail", (u64)S1(12, b0 + 50000) == b0 + 50000 && p[40000] == 0);
	kv("below_start_refused", (u64)S1(12, b0 - 4096 * 1000) == b0 + 50000);
	return 0;
}

static int cmd_mmap(const char *path)
{
	const u64 pg = 4096;
	unsigned char *p = (unsigned char *)S6(9, 0, 3 * pg, 3, 0x22, -1, 0);
	kv("anon_ok", (u64)p < (u64)-4096 && ((u64)p & 4095) == 0);
	kv("anon_zero", p[0] == 0 && p[3 * pg - 1] == 0);
	for (u64 i = 0; i < 3 * pg; i++)
		p[i] = (unsigned char)(i * 7);
	kv("munmap_mid", S2(11, p + pg, pg));
	unsigned char *q = (unsigned char *)S6(9, p + pg, pg, 3, 0x32 /* FIXED */, -1, 0);
	kv("fixed_same", q == p + pg);
	kv("fixed_zero", q[0] == 0 && p[pg - 1] == (unsigned char)((pg - 1) * 7));
	kv("noreplace_eexist", S6(9, p, pg, 3, 0x100022 /* FIXED_NOREPLACE */, -1, 0));
	if (path) { /* I/O on a buffer that spans two separate mappings */
		int fd = (int)S2(2, path, 0);
		kv("read_across", S3(0, fd, p + pg - 8, 16));
		out("across: ");
		S3(1, 1, p + pg - 8, 16);
		out("\n");
		S1(3, fd);
	}
	kv("mprotect", S3(10, p, pg, 1));
	kv("mprotect_unaligned", S3(10, p + 1, pg, 1));
	unsigned char *m = (unsigned char *)S6(9, 0, 3 * pg, 3, 0x22, -1, 0);
	for (u64 i = 0; i < 3 * pg; i++)
		m[i] = (unsigned char)(i * 7);
	unsigned char *r = (unsigned char *)S5(25, m, 3 * pg, 64 * pg, 1 /* MAYMOVE */, 0);
	kv("mremap_ok", (u64)r < (u64)-4096);
	kv("mremap_kept", r[5] == 35 && r[2 * pg + 1] == (unsigned char)((2 * pg + 1) * 7));
	kv("mremap_new_zero", r[64 * pg - 1] == 0);
	kv("munmap_bad", S2(11, r + 1, pg));
	kv("einval_len0", S6(9, 0, 0, 3, 0x22, -1, 0));
	if (path) {
		int fd = (int)S2(2, path, 0);
		char *f = (char *)S6(9, 0, 10000, 1, 2 /* PRIVATE */, fd, 0);
		out("file_map: ");
		S3(1, 1, f, 10);
		out("\n");
		kv("file_map_tail_zero", f[8000] == 0);
		char *g = (char *)S6(9, 0, pg, 3, 2, fd, pg);
		out("file_map_off: ");
		S3(1, 1, g, 4);
		out("\n");
		kv("shared_write_on_rdonly", S6(9, 0, pg, 3, 1 /* SHARED */, fd, 0));
		S1(3, fd);
	}
	return 0;
}

static int cmd_file(const char *path, const char *newpath)
{
	char buf[64];
	u64 st[18]; /* struct stat: 144 bytes */
	int fd = (int)S2(2, path, 0);
	kv("fd", fd >= 3);
	kv("fstat", S2(5, fd, st));
	kv("size", (i64)st[6]);
	kv("read", S3(0, fd, buf, 5));
	S3(1, 1, buf, 5);
	out("\n");
	kv("lseek", S3(8, fd, 2, 0));
	kv("read2", S3(0, fd, buf, 3));
	S3(1, 1, buf, 3);
	out("\n");
	kv("pread", S4(17, fd, buf, 4, 6));
	S3(1, 1, buf, 4);
	out("\n");
	kv("lseek_end", S3(8, fd, 0, 2));
	kv("read_eof", S3(0, fd, buf, 5));
	u64 st2[18];
	kv("newfstatat", S4(262, -100, path, st2, 0));
	kv("same_ino", st2[1] == st[1]);
	kv("close", S1(3, fd));
	kv("close_again", S1(3, fd));
	kv("enoent", S2(2, "/nonexistent/file", 0));
	int w = (int)S4(257, -100, newpath, 0101 | 01000 /* WRONLY|CREAT|TRUNC */, 0600);
	struct { const char *b; u64 l; } iov[2] = { { "hello ", 6 }, { "vector\n", 7 } };
	kv("writev", S3(20, w, iov, 2));
	S1(3, w);
	fd = (int)S2(2, newpath, 0);
	kv("read_back", S3(0, fd, buf, 64));
	S3(1, 1, buf, 13);
	S1(3, fd);
	kv("access", S2(21, newpath, 4));
	kv("unlink", S1(87, newpath));
	kv("access_gone", S2(21, newpath, 4));
	return 0;
}

static int cmd_ls(const char *dir)
{
	char buf[4096];
	int fd = (int)S2(2, dir, 0200000 /* O_DIRECTORY */);
	i64 n;
	while ((n = S3(217, fd, buf, sizeof(buf))) > 0) {
		for (i64 off = 0; off < n;) {
			unsigned short reclen = *(unsigned short *)(buf + off + 16);
			const char *name = buf + off + 19;
			if (name[0] != '.') {
				out(name);
				out("\n");
			}
			off += reclen;
		}
	}
	kv("end", n);
	return 0;
}

static int cmd_fs(void)
{
	static u64 block[4] = { 11, 22, 33, 44 };
	kv("set_fs", S2(158, 0x1002, block));
	u64 v;
	__asm__ volatile("mov %%fs:8, %0" : "=r"(v));
	kv("fs_8", (i64)v);
	u64 got = 0;
	kv("get_fs", S2(158, 0x1003, &got));
	kv("get_fs_same", got == (u64)block);
	kv("set_gs", S2(158, 0x1001, block + 2));
	__asm__ volatile("mov %%gs:0, %0" : "=r"(v));
	kv("gs_0", (i64)v);
	kv("bad_code", S2(158, 0x9999, 0));
	kv("noncanonical", S2(158, 0x1002, noncanonical));
	return 0;
}

static int cmd_misc(void)
{
	unsigned char r[32] = { 0 };
	kv("getrandom", S3(318, r, 32, 0));
	int nz = 0;
	for (int i = 0; i < 32; i++)
		nz |= r[i];
	kv("random_nonzero", nz != 0);
	u64 ts[2];
	kv("clock_gettime", S2(228, 0, ts));
	out("realtime=");
	outn((i64)ts[0]);
	out("\n");
	kv("time_close", (u64)S1(201, 0) - ts[0] < 5);
	u64 tv[2];
	kv("gettimeofday", S2(96, tv, 0));
	kv("tv_close", tv[0] - ts[0] < 5);
	u64 req[2] = { 0, 1000000 };
	kv("nanosleep", S2(35, req, 0));
	char uts[390];
	kv("uname", S1(63, uts));
	out("sysname=");
	out(uts);
	out("\nmachine=");
	out(uts + 4 * 65);
	out("\n");
	i64 pid = S0(39);
	kv("pid_positive", pid > 0);
	kv("gettid_is_pid", S0(186) == pid);
	u64 rl[2];
	kv("getrlimit_stack", S2(97, 3, rl));
	kv("sigaction", S4(13, 10, 0, 0, 8));
	kv("sigprocmask", S4(14, 0, 0, 0, 8));
	kv("enosys", S0(500));
	char cwd[4096];
	kv("getcwd_positive", S2(79, cwd, sizeof(cwd)) > 0);
	out("cwd=");
	out(cwd);
	out("\n");
	int fds[2];
	kv("pipe", S2(293, fds, 0));
	kv("pipe_write", S3(1, fds[1], "abc", 3));
	char pb[8];
	kv("pipe_read", S3(0, fds[0], pb, 8));
	kv("umask", (u64)S1(95, 022) < 4096);
	u64 mask = 0;
	kv("affinity", S3(204, 0, 8, &mask));
	kv("affinity_nonzero", mask != 0);
	return 0;
}

static int cmd_efault(const char *path)
{
	kv("write", S3(1, 1, 8, 5));
	int fd = (int)S2(2, path, 0);
	kv("read", S3(0, fd, 8, 5));
	kv("read_kernel_addr", S3(0, fd, kernel_addr, 5));
	kv("open", S2(2, 8, 0));
	kv("clock_gettime", S2(228, 0, 8));
	kv("uname", S1(63, 8));
	kv("pipe", S1(22, 8));
	kv("writev_iov", S3(20, 1, 8, 1));
	kv("stat", S2(4, path, 8));
	return 0;
}

static int cmd_selfexe(void)
{
	char buf[4096];
	i64 n = S3(89, "/proc/self/exe", buf, sizeof(buf));
	kv("readlink", n > 0);
	S3(1, 1, buf, n);
	out("\n");
	return 0;
}

static int cmd_cat(void)
{
	char buf[1000];
	i64 n;
	while ((n = S3(0, 0, buf, sizeof(buf))) > 0)
		S3(1, 1, buf, n);
	return n == 0 ? 0 : 1;
}

static int cmd_sigpipe(void)
{
	int fds[2];
	S1(22, fds);
	S1(3, fds[0]);
	S3(1, fds[1], "x", 1);
	out("survived\n");
	return 0;
}

int cmain(u64 *sp);
int cmain(u64 *sp)
{
	u64 argc = sp[0];
	char **argv = (char **)(sp + 1);
	const char *cmd = argc > 1 ? argv[1] : "hello";
	const char *arg = argc > 2 ? argv[2] : 0;
	int r = 0;
	if (seq(cmd, "hello"))
		out("hello, world\n");
	else if (seq(cmd, "exit"))
		r = (int)parse(arg);
	else if (seq(cmd, "args"))
		r = cmd_args(sp);
	else if (seq(cmd, "brk"))
		r = cmd_brk();
	else if (seq(cmd, "mmap"))
		r = cmd_mmap(arg);
	else if (seq(cmd, "file"))
		r = cmd_file(arg, argv[3]);
	else if (seq(cmd, "ls"))
		r = cmd_ls(arg);
	else if (seq(cmd, "fs"))
		r = cmd_fs();
	else if (seq(cmd, "misc"))
		r = cmd_misc();
	else if (seq(cmd, "efault"))
		r = cmd_efault(arg);
	else if (seq(cmd, "selfexe"))
		r = cmd_selfexe();
	else if (seq(cmd, "fork"))
		kv("fork", S0(57));
	else if (seq(cmd, "cat"))
		r = cmd_cat();
	else if (seq(cmd, "sigpipe"))
		r = cmd_sigpipe();
	else if (seq(cmd, "abort"))
		S2(62, S0(39), 6);
	else if (seq(cmd, "segv"))
		*(volatile int *)(u64)parse("16") = 1;
	else if (seq(cmd, "ud2"))
		__asm__ volatile("ud2");
	else if (seq(cmd, "exit_thread"))
		for (;;)
			S1(60, 7);
	else
		r = 99;
	die(r);
}
"""

FREESTANDING = ["-nostdlib", "-ffreestanding", "-fno-builtin", "-fno-stack-protector",
                "-fno-tree-loop-distribute-patterns", "-mgeneral-regs-only", "-O2"]

GLIBC_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
	char *s = malloc(100);
	snprintf(s, 100, "%s has %d arguments", argv[0][0] ? "glibc" : "?", argc - 1);
	puts(s);
	FILE *f = fopen(argv[1], "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		printf("%zu:%s", strlen(line), line);
	free(s);
	return 3;
}
"""


@pytest.fixture(scope="session")
def guests(tmp_path_factory):
    if not shutil.which("gcc"):
        pytest.skip("no gcc on this host")
    d = tmp_path_factory.mktemp("cpurun")
    (d / "t.c").write_text(GUEST_C)
    (d / "g.c").write_text(GLIBC_C)
    data = d / "data"
    data.write_bytes(b"The quick brown fox jumps over the lazy dog\n" +
                     b"".join(b"line %04d %s\n" % (i, b"xyz" * (i % 20)) for i in range(300)))
    out = {"dir": d, "data": data}
    builds = {"t": FREESTANDING + ["-static"], "tpie": FREESTANDING + ["-static-pie", "-fPIE"],
              "glibc": ["-static", "-O2"]}
    for name, flags in builds.items():
        srcfile = d / ("g.c" if name == "glibc" else "t.c")
        r = subprocess.run(["gcc", *flags, "-o", str(d / name), str(srcfile)],
                           capture_output=True, text=True)
        if r.returncode and name == "glibc":
            out[name] = None  # no libc.a (libc6-dev): only that test is skipped
            continue
        if r.returncode:
            pytest.fail(f"gcc {name}: {r.stderr}")
        out[name] = d / name
    return out


def cpurun(args, stdin=subprocess.DEVNULL, timeout=120, env=ENV):
    return run_ember(["cpu-run", *map(str, args)], stdin=stdin, timeout=timeout, env=env)


def native(args, stdin=subprocess.DEVNULL, env=ENV):
    r = subprocess.run(list(map(str, args)), stdin=stdin, capture_output=True, timeout=60,
                       env=env)
    status = r.returncode if r.returncode >= 0 else 128 - r.returncode
    return status, r.stdout.decode("utf-8", "replace")


def same_as_native(args, drop=(), **kw):
    """Runs args natively and under cpu-run; both must agree (lines starting with one of
    drop excepted). Returns the cpu-run Run."""
    status, out = native(args, **{k: v for k, v in kw.items() if k != "timeout"})
    run = cpurun(args, **kw)
    keep = lambda text: [l for l in text.splitlines() if not l.startswith(tuple(drop))]
    assert keep(run.stdout) == keep(out), run.stderr
    assert run.status == status, run.stderr
    return run


# ---- the freestanding guest: integer core and syscall layer ----

def test_hello(guests):
    run = same_as_native([guests["t"], "hello"])
    assert run.stdout == "hello, world\n" and run.status == 0


@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_exit_status(guests, code):
    same_as_native([guests["t"], "exit", code])


def test_exit_ends_the_process(guests):
    assert cpurun([guests["t"], "exit_thread"]).status == 7


def test_initial_stack_is_linuxs(guests):
    """argc/argv/envp/auxv layout, auxv order and values, string placement,
    AT_RANDOM under AT_PLATFORM, RSP 16-byte aligned at entry."""
    run = same_as_native([guests["t"], "args", "one", "two words", ""])
    assert "sp_mod16=0" in run.stdout and "env: CPURUN_TEST=1" in run.stdout
    assert "strings_contiguous=1" in run.stdout and "execfn_at_top=1" in run.stdout
    assert "random_below_platform=1" in run.stdout and "AT_HWCAP_FPU_TSC_CX8=1" in run.stdout


def test_static_pie(guests):
    run = cpurun([guests["tpie"], "args"])
    assert run.status == 0, run.stderr
    entry = int(re.search(r"AT_ENTRY=(\d+)", run.stdout).group(1))
    assert entry >= 0x555555554000
    assert cpurun([guests["tpie"], "hello"]).stdout == "hello, world\n"


def test_brk(guests):
    same_as_native([guests["t"], "brk"])


def test_mmap_munmap_mprotect_mremap(guests):
    run = same_as_native([guests["t"], "mmap", guests["data"]])
    assert "file_map: The quick " in run.stdout and "across: The quick brown" in run.stdout


def test_file_io(guests):
    new = guests["dir"] / "new-file"
    run = same_as_native([guests["t"], "file", guests["data"], new])
    assert "hello vector" in run.stdout and not new.exists()


def test_getdents64(guests):
    same_as_native([guests["t"], "ls", guests["dir"]])


def test_arch_prctl_fs_gs(guests):
    run = same_as_native([guests["t"], "fs"])
    assert "fs_8=22" in run.stdout and "gs_0=33" in run.stdout


def test_misc_syscalls(guests):
    run = same_as_native([guests["t"], "misc"], drop=("realtime=",))
    now = int(re.search(r"realtime=(\d+)", run.stdout).group(1))
    assert abs(now - time.time()) < 30
    assert "enosys=-38" in run.stdout and "machine=x86_64" in run.stdout


def test_bad_pointers_are_efault(guests):
    run = same_as_native([guests["t"], "efault", guests["data"]])
    assert "write=-14" in run.stdout


def test_proc_self_exe(guests):
    run = same_as_native([guests["t"], "selfexe"])
    assert str(guests["t"]) in run.stdout


def test_stdin_to_stdout(guests):
    data = guests["data"].read_bytes()
    with open(guests["data"], "rb") as f:
        run = cpurun([guests["t"], "cat"], stdin=f)
    assert run.status == 0 and run.stdout.encode() == data


def test_fork_is_enosys(guests):
    assert "fork=-38" in cpurun([guests["t"], "fork"]).stdout


def test_segfault(guests):
    run = same_as_native([guests["t"], "segv"])
    assert run.status == 139
    assert re.search(r"guest fault: #PF at rip 0x[0-9a-f]+ addr 0x10\b", run.stderr), run.stderr


def test_illegal_instruction(guests):
    run = same_as_native([guests["t"], "ud2"])
    assert run.status == 132
    assert re.search(r"guest fault: #UD at rip 0x[0-9a-f]+ bytes: 0f 0b", run.stderr), run.stderr


def test_abort_and_sigpipe(guests):
    assert same_as_native([guests["t"], "abort"]).status == 134
    assert same_as_native([guests["t"], "sigpipe"]).status == 141


def test_trace_and_stats(guests):
    run = cpurun(["--trace", "--stats", guests["t"], "misc"])
    assert run.status == 0, run.stderr
    assert re.search(r"^cpu-run: write\(1, 0x[0-9a-f]+, \d+\) = \d+$", run.stderr, re.M)
    assert re.search(r"^cpu-run: syscall_500\(.*\) = -38 ENOSYS", run.stderr, re.M)
    assert re.search(r"^cpu-run: exit_group\(0\) = \?$", run.stderr, re.M)
    m = re.search(r"ember cpu-run: (\d+) instructions in ([\d.]+) s: ([\d.]+) MIPS", run.stderr)
    assert m and int(m.group(1)) > 1000


def test_guest_arguments_are_not_ember_options(guests):
    """Everything after ELF is the program's, even --trace."""
    run = cpurun([guests["t"], "args", "--trace", "--stats"])
    assert "argv: --trace" in run.stdout and "instructions in" not in run.stderr


@pytest.mark.skipif(not ASAN_BUILD, reason="no ASan build given (EMBER_ASAN_BUILD)")
def test_syscall_layer_under_asan(guests):
    """The syscall layer with every bad pointer and mapping change: no leak, no UB."""
    env = dict(ENV, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    new = guests["dir"] / "asan-file"
    for args in (["misc"], ["mmap", guests["data"]], ["file", guests["data"], new],
                 ["efault", guests["data"]], ["segv"]):
        run = run_ember(["cpu-run", "--trace", guests["t"], *map(str, args)],
                        build=REPO / ASAN_BUILD, env=env)
        assert "Sanitizer" not in run.stderr and "runtime error" not in run.stderr, run.stderr
        assert run.status == (139 if args == ["segv"] else 0), run.stderr


# ---- glibc ----

def test_glibc_static(guests):
    if not guests["glibc"]:
        pytest.skip("gcc -static cannot link glibc here (libc6-dev's libc.a missing)")
    run = same_as_native([guests["glibc"], guests["data"]])
    assert run.status == 3 and "glibc has 1 arguments" in run.stdout


# ---- busybox from the guest kit ----

@pytest.fixture(scope="session")
def busybox():
    if not BUSYBOX.exists():
        pytest.skip(f"{BUSYBOX} is missing: run tools/guest/build-kit.sh")
    return BUSYBOX


@pytest.mark.parametrize("args", [
    ["echo", "hi"],
    ["sh", "-c", "echo a; echo b"],
    ["awk", "BEGIN{print 6*7}"],
    ["true"],
    ["false"],
], ids=["echo", "sh-c", "awk", "true", "false"])
def test_busybox(busybox, args):
    same_as_native([busybox, *args], timeout=30)


def test_busybox_md5sum(busybox, guests):
    run = same_as_native([busybox, "md5sum", guests["data"]], timeout=30)
    assert run.stdout.split()[0] == hashlib.md5(guests["data"].read_bytes()).hexdigest()


def test_busybox_sort(busybox, tmp_path):
    lines = [f"{(i * 7919) % 1000:04d} item" for i in range(1000)]
    f = tmp_path / "unsorted"
    f.write_text("\n".join(lines) + "\n")
    run = same_as_native([busybox, "sort", f], timeout=30)
    assert run.stdout.splitlines() == sorted(lines)


# ---- bad input: one line, exit 2, nothing run ----

@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cpurun-bad")
    (d / "random").write_bytes(os.urandom(4096))
    (d / "short").write_bytes(b"\x7fELF")
    return d


DYNAMIC = "/bin/true"

CASES = [
    ("no-elf", lambda d: [], "no ELF given"),
    ("only-flags", lambda d: ["--trace", "--stats"], "no ELF given"),
    ("unknown-option", lambda d: ["--frobnicate", "x"], "unknown option '--frobnicate'"),
    ("missing", lambda d: ["/nonexistent/prog"], "/nonexistent/prog: No such file or directory"),
    ("directory", lambda d: [d], "not a regular file"),
    ("not-elf", lambda d: [d / "random"], "not an x86-64 ELF executable"),
    ("truncated", lambda d: [d / "short"], "not an x86-64 ELF executable"),
    ("dynamic", lambda d: [DYNAMIC], "dynamically linked"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2(ember_bin, bad_files, case):
    _, build_args, message = case
    start = time.monotonic()
    run = cpurun(build_args(bad_files), timeout=30)
    assert run.status == 2, run.stderr
    lines = [l for l in run.stderr.splitlines() if l]
    assert len(lines) == 1 and lines[0].startswith("ember: ") and message in lines[0], run.stderr
    assert time.monotonic() - start < 5


def test_help_mentions_cpu_run(ember_bin):
    run = run_ember(["--help"])
    assert run.status == 0 and "ember cpu-run [--trace] [--stats] ELF [ARGS...]" in run.stdout
