/*
 * raw_kvm: the floor of the startup benchmark (bench/startup). The least a VMM
 * must do to boot a PVH ELF on KVM and serve its port I/O, with no ember code:
 * VM + in-kernel irqchip, 128 MiB of anonymous RAM, the ELF's PT_LOAD segments,
 * a minimal hvm_start_info, one vCPU in flat 32-bit protected mode at the
 * XEN_ELFNOTE_PHYS32_ENTRY, and a bare KVM_RUN loop:
 *   out to 0x3f8 -> bytes to stdout; out to 0x600 -> exit(0);
 *   other port I/O -> ignored; any other exit -> exit(1).
 *
 * usage: raw_kvm GUEST.pvh "CMDLINE"
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAM_SIZE      (128ULL << 20)
#define START_INFO    0x6000ULL
#define MEMMAP        0x6100ULL
#define CMDLINE       0x20000ULL
#define CMDLINE_MAX   4096
#define PVH_MAGIC     0x336ec578U
#define XEN_NOTE_PVH  18
#define PORT_COM1     0x3f8
#define PORT_POWEROFF 0x600

static void die(const char *what)
{
	fprintf(stderr, "raw_kvm: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(fd, req, arg);
	if (r < 0)
		die(what);
	return r;
}

/* Copies PT_LOAD segments to guest RAM; returns the PVH 32-bit entry. */
static uint32_t load_pvh(const char *path, uint8_t *ram)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		die(path);
	const uint8_t *f = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f == MAP_FAILED)
		die("mmap kernel");
	close(fd);
	const Elf64_Ehdr *eh = (const void *)f;
	if ((size_t)st.st_size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > (uint64_t)st.st_size) {
		fprintf(stderr, "raw_kvm: %s: not a 64-bit ELF\n", path);
		exit(1);
	}
	uint32_t entry = 0;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(f + eh->e_phoff + i * sizeof(Elf64_Phdr));
		if (ph->p_offset + ph->p_filesz > (uint64_t)st.st_size) {
			fprintf(stderr, "raw_kvm: segment %u outside the file\n", i);
			exit(1);
		}
		if (ph->p_type == PT_LOAD) {
			if (ph->p_paddr + ph->p_memsz > RAM_SIZE || ph->p_filesz > ph->p_memsz) {
				fprintf(stderr, "raw_kvm: segment %u outside RAM\n", i);
				exit(1);
			}
			memcpy(ram + ph->p_paddr, f + ph->p_offset, ph->p_filesz);
		} else if (ph->p_type == PT_NOTE) {
			const uint8_t *n = f + ph->p_offset, *end = n + ph->p_filesz;
			while (n + sizeof(Elf64_Nhdr) <= end) {
				const Elf64_Nhdr *nh = (const void *)n;
				const uint8_t *name = n + sizeof(*nh);
				const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3U);
				if (desc + nh->n_descsz > end)
					break;
				if (nh->n_type == XEN_NOTE_PVH && nh->n_namesz == 4 &&
				    !memcmp(name, "Xen", 4) && nh->n_descsz >= 4)
					memcpy(&entry, desc, 4);
				n = desc + ((nh->n_descsz + 3) & ~3U);
			}
		}
	}
	munmap((void *)(uintptr_t)f, (size_t)st.st_size);
	if (!entry) {
		fprintf(stderr, "raw_kvm: %s: no Xen PVH entry note\n", path);
		exit(1);
	}
	return entry;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static struct kvm_segment seg(uint16_t sel, uint8_t type, uint32_t limit, uint8_t s)
{
	struct kvm_segment r = {.base = 0, .limit = limit, .selector = sel, .type = type,
	                        .present = 1, .dpl = 0, .db = s, .s = s, .l = 0,
	                        .g = limit > 0xfffff, .avl = 0};
	return r;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: raw_kvm GUEST.pvh CMDLINE\n");
		return 2;
	}
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	int vm = xioctl(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	xioctl(vm, KVM_SET_TSS_ADDR, (void *)0xfffbd000UL, "KVM_SET_TSS_ADDR");
	xioctl(vm, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");

	uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
	                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap RAM");
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = RAM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)ram};
	xioctl(vm, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");

	uint32_t entry = load_pvh(argv[1], ram);
	size_t clen = strlen(argv[2]);
	if (clen >= CMDLINE_MAX) {
		fprintf(stderr, "raw_kvm: command line too long\n");
		return 2;
	}
	memcpy(ram + CMDLINE, argv[2], clen + 1);
	uint8_t *si = ram + START_INFO;
	put32(si + 0, PVH_MAGIC);       /* magic */
	put32(si + 4, 1);               /* version */
	put64(si + 24, CMDLINE);        /* cmdline_paddr */
	put64(si + 40, MEMMAP);         /* memmap_paddr */
	put32(si + 48, 1);              /* memmap_entries */
	put64(ram + MEMMAP + 0, 0);     /* one RAM entry: addr, size, type 1 */
	put64(ram + MEMMAP + 8, RAM_SIZE);
	put32(ram + MEMMAP + 16, 1);

	int vcpu = xioctl(vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
	int mmap_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	                           vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");

	const unsigned nent = 256;
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(cpuid->entries[0]));
	if (!cpuid)
		die("calloc");
	cpuid->nent = nent;
	xioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid, "KVM_GET_SUPPORTED_CPUID");
	xioctl(vcpu, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2");
	free(cpuid);

	struct kvm_sregs sregs;
	xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	sregs.cs = seg(0x08, 0xb, 0xffffffff, 1);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg(0x10, 0x3, 0xffffffff, 1);
	sregs.tr = seg(0x18, 0xb, 0x67, 0);
	sregs.cr0 = 0x11; /* PE | ET */
	sregs.cr4 = 0;
	sregs.efer = 0;
	xioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	struct kvm_regs regs = {.rip = entry, .rbx = START_INFO, .rflags = 0x2};
	xioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");

	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN");
		}
		if (run->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "raw_kvm: unexpected exit %u\n", run->exit_reason);
			return 1;
		}
		if (run->io.direction != KVM_EXIT_IO_OUT)
			continue; /* reads: leave the data page as is */
		if (run->io.port == PORT_COM1) {
			const char *p = (const char *)run + run->io.data_offset;
			size_t n = (size_t)run->io.size * run->io.count;
			while (n > 0) {
				ssize_t w = write(STDOUT_FILENO, p, n);
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					return 1;
				p += w;
				n -= (size_t)w;
			}
		} else if (run->io.port == PORT_POWEROFF) {
			return 0;
		}
	}
}
