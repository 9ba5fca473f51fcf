/*
 * A static x86-64 ELF executable into a user_mem, and its initial stack
 * (System V x86-64 psABI 3.4.1; Linux fs/binfmt_elf.c load_elf_binary and
 * create_elf_tables). Every header field is checked against the file before
 * it is used; nothing here trusts the file.
 */
#include "cpurun/elf_load.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpurun/cpurun.h"

#define ELF_MAX_FILE  GIB(1)
#define ELF_MAX_PHNUM 256
/* Arguments plus environment: Linux allows a quarter of the stack rlimit. */
#define ELF_MAX_ARGS (CPURUN_STACK_SIZE / 4)

/* The whole file, read once. */
static int read_file(const char *path, uint8_t **data, size_t *size, char *err, size_t errlen)
{
	int r = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cpu-run: %s: %s", path, strerror(errno));
		return r;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "cpu-run: %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(err, errlen, "cpu-run: %s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size < sizeof(Elf64_Ehdr) || (uint64_t)st.st_size > ELF_MAX_FILE) {
		r = -ENOEXEC;
		snprintf(err, errlen, "cpu-run: %s: not an x86-64 ELF executable", path);
		goto out;
	}
	*size = (size_t)st.st_size;
	*data = malloc(*size);
	if (!*data) {
		r = -ENOMEM;
		snprintf(err, errlen, "cpu-run: %s: out of memory", path);
		goto out;
	}
	for (size_t done = 0; done < *size;) {
		ssize_t n = pread(fd, *data + done, *size - done, (off_t)done);
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			snprintf(err, errlen, "cpu-run: %s: %s", path, strerror(-r));
			free(*data);
			*data = NULL;
			goto out;
		}
		done += (size_t)n;
	}
out:
	close(fd);
	return r;
}

static unsigned segment_prot(uint32_t p_flags)
{
	unsigned prot = 0;
	if (p_flags & PF_R)
		prot |= USER_PROT_READ;
	if (p_flags & PF_W)
		prot |= USER_PROT_WRITE | USER_PROT_READ; /* x86 pages that write can read */
	if (p_flags & PF_X)
		prot |= USER_PROT_EXEC | USER_PROT_READ;
	return prot;
}

/* The checks of the ELF header and program headers; sets bias. */
static int check_headers(const uint8_t *data, size_t size, const char *path, uint64_t *bias,
                         char *err, size_t errlen)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_ident[EI_VERSION] != EV_CURRENT ||
	    eh->e_machine != EM_X86_64 || (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)) {
		snprintf(err, errlen, "cpu-run: %s: not an x86-64 ELF executable", path);
		return -ENOEXEC;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > ELF_MAX_PHNUM || eh->e_phoff > size ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size - eh->e_phoff) {
		snprintf(err, errlen, "cpu-run: %s: bad program header table", path);
		return -ENOEXEC;
	}
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(data + eh->e_phoff);
	uint64_t lo = UINT64_MAX, hi = 0, align = USER_PAGE_SIZE;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_INTERP) {
			snprintf(err, errlen,
			         "cpu-run: %s: a dynamically linked executable (PT_INTERP): "
			         "only static ones run",
			         path);
			return -ENOEXEC;
		}
		if (ph[i].p_type != PT_LOAD)
			continue;
		const Elf64_Phdr *p = &ph[i];
		if (p->p_filesz > p->p_memsz || p->p_offset > size ||
		    p->p_filesz > size - p->p_offset || p->p_memsz > CPURUN_USER_TOP ||
		    p->p_vaddr > CPURUN_USER_TOP - p->p_memsz) {
			snprintf(err, errlen, "cpu-run: %s: bad PT_LOAD segment %u", path, i);
			return -ENOEXEC;
		}
		if (p->p_memsz == 0)
			continue;
		lo = MIN(lo, p->p_vaddr);
		hi = MAX(hi, p->p_vaddr + p->p_memsz);
		if (p->p_align > align && !(p->p_align & (p->p_align - 1)) && p->p_align <= MIB(2))
			align = p->p_align;
	}
	if (lo >= hi) {
		snprintf(err, errlen, "cpu-run: %s: no loadable segment", path);
		return -ENOEXEC;
	}
	/* As Linux: ELF_ET_DYN_BASE aligned down to the largest segment alignment. */
	*bias = 0;
	if (eh->e_type == ET_DYN)
		*bias = ALIGN_DOWN(CPURUN_PIE_BASE, align) - ALIGN_DOWN(lo, USER_PAGE_SIZE);
	uint64_t start = ALIGN_DOWN(lo + *bias, USER_PAGE_SIZE);
	uint64_t end = ALIGN_UP(hi + *bias, USER_PAGE_SIZE);
	if (start < CPURUN_MIN_ADDR || end > CPURUN_STACK_LOW - CPURUN_STACK_GUARD ||
	    eh->e_entry < lo || eh->e_entry >= hi) {
		snprintf(err, errlen, "cpu-run: %s: the image does not fit the user address space",
		         path);
		return -ENOEXEC;
	}
	return 0;
}

/* Maps the pages of one segment not mapped by an earlier one, writable for loading. */
static int map_segment(struct user_mem *mem, uint64_t start, uint64_t end)
{
	for (uint64_t va = start; va < end;) {
		if (user_mem_ptr(mem, va, 1, 0)) {
			va += USER_PAGE_SIZE;
			continue;
		}
		uint64_t run = va;
		while (run < end && !user_mem_ptr(mem, run, 1, 0))
			run += USER_PAGE_SIZE;
		int r = user_mem_map(mem, va, run - va, USER_PROT_READ | USER_PROT_WRITE, NULL);
		if (r)
			return r;
		va = run;
	}
	return 0;
}

static int load_segments(struct user_mem *mem, const uint8_t *data, struct elf_image *img)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(data + eh->e_phoff);
	int r;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		uint64_t va = p->p_vaddr + img->bias;
		r = map_segment(mem, ALIGN_DOWN(va, USER_PAGE_SIZE),
		                ALIGN_UP(va + p->p_memsz, USER_PAGE_SIZE));
		if (r)
			return r;
		/* Fresh pages are zero: that is the .bss. */
		r = user_mem_write(mem, va, data + p->p_offset, p->p_filesz);
		if (r)
			return r;
		img->end = MAX(img->end, ALIGN_UP(va + p->p_memsz, USER_PAGE_SIZE));
		/* AT_PHDR: the segment holding the program header table (as Linux 6.1). */
		if (!img->phdr && p->p_offset <= eh->e_phoff &&
		    eh->e_phoff < p->p_offset + p->p_filesz)
			img->phdr = eh->e_phoff - p->p_offset + va;
	}
	/* Final protections; a page two segments share gets both. */
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		uint64_t start = ALIGN_DOWN(p->p_vaddr + img->bias, USER_PAGE_SIZE);
		uint64_t end = ALIGN_UP(p->p_vaddr + img->bias + p->p_memsz, USER_PAGE_SIZE);
		r = user_mem_protect(mem, start, end - start, segment_prot(p->p_flags));
		if (r)
			return r;
		for (unsigned j = 0; j < i; j++) {
			const Elf64_Phdr *q = &ph[j];
			if (q->p_type != PT_LOAD || q->p_memsz == 0)
				continue;
			uint64_t qs = ALIGN_DOWN(q->p_vaddr + img->bias, USER_PAGE_SIZE);
			uint64_t qe = ALIGN_UP(q->p_vaddr + img->bias + q->p_memsz, USER_PAGE_SIZE);
			uint64_t s = MAX(start, qs), e = MIN(end, qe);
			if (s < e) {
				r = user_mem_protect(mem, s, e - s,
				                     segment_prot(p->p_flags | q->p_flags));
				if (r)
					return r;
			}
		}
	}
	return 0;
}

int elf_load_image(struct user_mem *mem, const char *path, struct elf_image *img, char *err,
                   size_t errlen)
{
	uint8_t *data = NULL;
	size_t size = 0;
	int r = read_file(path, &data, &size, err, errlen);
	if (r)
		return r;
	*img = (struct elf_image){0};
	r = check_headers(data, size, path, &img->bias, err, errlen);
	if (r)
		goto out;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(data + eh->e_phoff);
	img->entry = eh->e_entry + img->bias;
	img->phnum = eh->e_phnum;
	img->phent = sizeof(Elf64_Phdr);
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_GNU_STACK)
			img->exec_stack = ph[i].p_flags & PF_X;
		if (ph[i].p_type == PT_PHDR && ph[i].p_vaddr <= CPURUN_USER_TOP)
			img->phdr = ph[i].p_vaddr + img->bias;
	}
	r = load_segments(mem, data, img);
	if (r)
		snprintf(err, errlen, "cpu-run: %s: cannot map the image: %s", path, strerror(-r));
out:
	free(data);
	return r;
}

/* The strings of argv or envp: count, and the stack they take (NULs, pointers). */
static int count_strings(char *const v[], uint64_t *count, uint64_t *bytes)
{
	*count = 0;
	for (; v && v[*count]; (*count)++) {
		*bytes += strlen(v[*count]) + 1 + sizeof(uint64_t); /* and its pointer */
		if (*bytes > ELF_MAX_ARGS)
			return -E2BIG;
	}
	return 0;
}

/* Copies the strings of v downwards from *p (the last one highest, as
 * Linux's copy_strings) and records where each went. */
static void put_strings(uint8_t *buf, uint64_t base, uint64_t *p, char *const v[], uint64_t n,
                        uint64_t *addrs)
{
	for (uint64_t i = n; i-- > 0;) {
		size_t len = strlen(v[i]) + 1;
		*p -= len;
		memcpy(buf + (*p - base), v[i], len);
		addrs[i] = *p;
	}
}

int elf_load_stack(struct user_mem *mem, const struct elf_image *img,
                   const struct elf_stack_info *info, char *const argv[], char *const envp[],
                   uint64_t *rsp, char *err, size_t errlen)
{
	static const char platform[] = "x86_64";
	uint64_t argc, envc, bytes = strlen(info->execfn) + 1;
	if (count_strings(argv, &argc, &bytes) || count_strings(envp, &envc, &bytes)) {
		snprintf(err, errlen, "cpu-run: argument list too long");
		return -E2BIG;
	}
	unsigned prot = USER_PROT_READ | USER_PROT_WRITE | (img->exec_stack ? USER_PROT_EXEC : 0);
	int r = user_mem_map(mem, CPURUN_STACK_LOW, CPURUN_STACK_SIZE, prot, NULL);
	if (r) {
		snprintf(err, errlen, "cpu-run: cannot map the stack: %s", strerror(-r));
		return r;
	}
	/* Built in a host copy of the stack's top, written in one go. */
	uint64_t top = CPURUN_USER_TOP;
	uint64_t span = ELF_MAX_ARGS + 4096; /* + auxv, platform, random bytes, padding */
	uint64_t base = top - span;
	uint8_t *buf = calloc(1, span);
	uint64_t *addrs = calloc(argc + envc + 1, sizeof(uint64_t));
	if (!buf || !addrs) {
		r = -ENOMEM;
		snprintf(err, errlen, "cpu-run: out of memory");
		goto out;
	}
	uint64_t p = top - sizeof(uint64_t); /* bprm->p = vm_end - sizeof(void *) */
	size_t len = strlen(info->execfn) + 1;
	p -= len;
	memcpy(buf + (p - base), info->execfn, len);
	uint64_t execfn = p;
	put_strings(buf, base, &p, envp, envc, addrs + argc);
	put_strings(buf, base, &p, argv, argc, addrs);

	/* create_elf_tables */
	p &= ~15ULL;
	p -= sizeof(platform);
	memcpy(buf + (p - base), platform, sizeof(platform));
	uint64_t u_platform = p;
	p -= 16;
	uint8_t *rnd = buf + (p - base);
	if (getrandom(rnd, 16, 0) != 16) {
		r = -EIO;
		snprintf(err, errlen, "cpu-run: getrandom: %s", strerror(errno));
		goto out;
	}
	uint64_t u_rand = p;

	const uint64_t auxv[][2] = {
	    {AT_HWCAP, info->hwcap},
	    {AT_PAGESZ, USER_PAGE_SIZE},
	    {AT_CLKTCK, 100},
	    {AT_PHDR, img->phdr},
	    {AT_PHENT, img->phent},
	    {AT_PHNUM, img->phnum},
	    {AT_BASE, 0}, /* no interpreter */
	    {AT_FLAGS, 0},
	    {AT_ENTRY, img->entry},
	    {AT_UID, info->uid},
	    {AT_EUID, info->euid},
	    {AT_GID, info->gid},
	    {AT_EGID, info->egid},
	    {AT_SECURE, 0},
	    {AT_RANDOM, u_rand},
	    {AT_HWCAP2, 0},
	    {AT_EXECFN, execfn},
	    {AT_PLATFORM, u_platform},
	    {AT_NULL, 0},
	};
	uint64_t items = (argc + 1) + (envc + 1) + 1;
	uint64_t sp = (p - sizeof(auxv) - items * 8) & ~15ULL;
	uint64_t *w = (uint64_t *)(void *)(buf + (sp - base));
	*w++ = argc;
	for (uint64_t i = 0; i < argc; i++)
		*w++ = addrs[i];
	*w++ = 0;
	for (uint64_t i = 0; i < envc; i++)
		*w++ = addrs[argc + i];
	*w++ = 0;
	memcpy(w, auxv, sizeof(auxv));

	r = user_mem_write(mem, sp, buf + (sp - base), top - sp);
	if (r) {
		snprintf(err, errlen, "cpu-run: cannot write the stack: %s", strerror(-r));
		goto out;
	}
	*rsp = sp;
out:
	free(addrs);
	free(buf);
	return r;
}
