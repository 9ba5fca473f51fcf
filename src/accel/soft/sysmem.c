/*
 * System-mode memory (sysmem.h): the x86 page walker (SDM vol. 3, 4.3
 * 32-bit paging, 4.4 PAE paging, 4.5 4-level paging, 4.6 access rights,
 * 4.7 page-fault exceptions, 4.8 accessed and dirty flags) over the VM's
 * physical map, and the cross-vCPU bookkeeping of pages that hold code.
 */
#include "accel/soft/sysmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "accel/soft/cpuid.h"
#include "accel/soft/mem.h"
#include "accel/soft/tlb.h"
#include "arch/x86/cpu_state.h"
#include "core/log.h"

#define CR4_PSE (1ULL << 4)
#define CR4_PGE (1ULL << 7)

#define PTE_P    (1ULL << 0)
#define PTE_RW   (1ULL << 1)
#define PTE_US   (1ULL << 2)
#define PTE_A    (1ULL << 5)
#define PTE_D    (1ULL << 6)
#define PTE_PS   (1ULL << 7)
#define PTE_G    (1ULL << 8)
#define PTE_NX   (1ULL << 63)
#define PTE_ADDR 0x000ffffffffff000ULL

#define PF_P    (1u << 0)
#define PF_W    (1u << 1)
#define PF_U    (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_I    (1u << 4)

#define POST_MAX 64

/* A code range another vCPU wrote: host address of the bytes. */
struct posted {
	uintptr_t host;
	uint32_t len;
};

/* One vCPU's view of the physical map (cpu->mem_ctx after attach). */
struct sysmem_cpu {
	struct physmap *pm;
	struct cpu *cpu;
	int index;         /* this vCPU's code bit */
	uint64_t seen_gen; /* physmap code_gen at the last sync */
	/* Reserved bits of paging entries: above MAXPHYADDR (from CPUID). */
	const struct cpuid_entry *cpuid_seen;
	uint64_t rsvd_addr;
	pthread_mutex_t lock; /* posted[], overflow */
	unsigned nposted;
	bool overflow;
	struct posted posted[POST_MAX];
};

static struct sysmem_cpu *state_of(const struct cpu *cpu)
{
	return cpu->mem_ctx;
}

struct physmap *sysmem_physmap(const struct cpu *cpu)
{
	return state_of(cpu)->pm;
}

/* ---- the walk ---- */

struct walk {
	uint64_t gpa;   /* the translated address */
	unsigned shift; /* page size: 12, 21, 22 or 30 */
	bool global;
	bool wp_only;   /* a supervisor write allowed only because CR0.WP = 0 */
	uint32_t error; /* #PF error code when it failed */
	/* The entries used, to set A (and D on the last) once the access is allowed. */
	uint64_t ent_gpa[4];
	uint64_t ent_val[4];
	unsigned nent;
	bool wide; /* 8-byte entries (PAE, 4-level) */
};

/* Bits 51..MAXPHYADDR of an entry are reserved (4.5.4, table 4-15 etc.). */
static uint64_t rsvd_addr_bits(struct sysmem_cpu *s, const struct cpu *cpu)
{
	/* CPUID is fixed while the guest runs: recompute only when the table changes. */
	if (cpu->cpuid != s->cpuid_seen) {
		unsigned bits = 48;
		for (size_t k = 0; k < cpu->nr_cpuid; k++)
			if (cpu->cpuid[k].function == 0x80000008 && (cpu->cpuid[k].eax & 0xff))
				bits = cpu->cpuid[k].eax & 0xff;
		s->cpuid_seen = cpu->cpuid;
		s->rsvd_addr = bits >= 52 ? 0 : ((1ULL << 52) - 1) & ~((1ULL << bits) - 1);
	}
	return s->rsvd_addr;
}

/* Reads a paging entry; entries outside RAM read as not present. */
static uint64_t entry_read(struct physmap *pm, uint64_t gpa, bool wide)
{
	void *p = physmap_ptr(pm, gpa, wide ? 8 : 4);
	if (!p)
		return 0;
	if (wide)
		return __atomic_load_n((uint64_t *)p, __ATOMIC_ACQUIRE);
	return __atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE);
}

static void walk_use(struct walk *w, uint64_t gpa, uint64_t val)
{
	w->ent_gpa[w->nent] = gpa;
	w->ent_val[w->nent] = val;
	w->nent++;
}

/*
 * Walks the tables for vaddr. Returns false with w->error's P/RSVD bits
 * set when an entry is not present or has reserved bits; otherwise
 * *rights has the combined R/W, U/S and NX of every level.
 */
static bool walk_tables(struct cpu *cpu, struct sysmem_cpu *s, uint64_t vaddr, struct walk *w,
                        uint64_t *rights)
{
	struct physmap *pm = s->pm;
	bool nxe = cpu->efer & X86_EFER_NXE;
	uint64_t rw_us = PTE_RW | PTE_US, nx = 0;
	w->nent = 0;
	w->global = false;
	if (!(cpu->cr4 & X86_CR4_PAE)) {
		/* 32-bit paging: two levels of 4-byte entries (4.3). */
		w->wide = false;
		uint64_t pde_gpa = (cpu->cr3 & 0xfffff000) + ((vaddr >> 22) & 0x3ff) * 4;
		uint64_t pde = entry_read(pm, pde_gpa, false);
		if (!(pde & PTE_P))
			return false;
		walk_use(w, pde_gpa, pde);
		rw_us &= pde;
		if ((pde & PTE_PS) && (cpu->cr4 & CR4_PSE)) {
			/* 4 MiB page; PSE-36 puts address bits 39:32 in 20:13, bit 21 reserved. */
			uint64_t hi = ((pde >> 13) & 0xff) << 32;
			if ((pde & (1ULL << 21)) || (hi & rsvd_addr_bits(s, cpu))) {
				w->error |= PF_P | PF_RSVD;
				return false;
			}
			w->gpa = (pde & 0xffc00000) | hi | (vaddr & 0x3fffff);
			w->shift = 22;
			w->global = pde & PTE_G;
		} else {
			uint64_t pte_gpa = (pde & 0xfffff000) + ((vaddr >> 12) & 0x3ff) * 4;
			uint64_t pte = entry_read(pm, pte_gpa, false);
			if (!(pte & PTE_P))
				return false;
			walk_use(w, pte_gpa, pte);
			rw_us &= pte;
			w->gpa = (pte & 0xfffff000) | (vaddr & 0xfff);
			w->shift = 12;
			w->global = pte & PTE_G;
		}
		*rights = rw_us;
		return true;
	}

	w->wide = true;
	uint64_t rsvd = rsvd_addr_bits(s, cpu) | (nxe ? 0 : PTE_NX);
	uint64_t table;
	int level;
	if (cpu->efer & X86_EFER_LMA) {
		table = cpu->cr3 & PTE_ADDR & ~rsvd_addr_bits(s, cpu);
		level = 4;
	} else {
		/* PAE: the PDPTE (4.4.1) has no R/W, U/S or NX; bits 2:1, 8:5 reserved. */
		uint64_t pdpte_gpa = (cpu->cr3 & 0xffffffe0) + ((vaddr >> 30) & 3) * 8;
		uint64_t pdpte = entry_read(pm, pdpte_gpa, true);
		if (!(pdpte & PTE_P))
			return false;
		if (pdpte & (rsvd_addr_bits(s, cpu) | PTE_NX | 0x1e6)) {
			w->error |= PF_P | PF_RSVD;
			return false;
		}
		table = pdpte & PTE_ADDR;
		level = 2;
		vaddr = (uint32_t)vaddr;
	}
	for (;; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);
		uint64_t e_gpa = table + ((vaddr >> shift) & 511) * 8;
		uint64_t e = entry_read(pm, e_gpa, true);
		if (!(e & PTE_P))
			return false;
		uint64_t bad = e & rsvd;
		if (level == 4)
			bad |= e & PTE_PS; /* PML4E bit 7 is reserved */
		bool leaf = level == 1 || (level <= 3 && (e & PTE_PS));
		if (leaf && level > 1) /* large page: address bits below it are reserved, but PAT */
			bad |= e & (((1ULL << shift) - 1) & ~0x1fffULL);
		if (bad) {
			w->error |= PF_P | PF_RSVD;
			return false;
		}
		walk_use(w, e_gpa, e);
		rw_us &= e;
		nx |= e & PTE_NX;
		if (leaf) {
			uint64_t mask = (1ULL << shift) - 1;
			w->gpa = (e & PTE_ADDR & ~mask) | (vaddr & mask);
			w->shift = shift;
			w->global = e & PTE_G;
			break;
		}
		table = e & PTE_ADDR;
	}
	*rights = rw_us | nx;
	return true;
}

/* Sets A on every entry used and D on the leaf for a write; false if one changed meanwhile. */
static bool walk_commit(struct sysmem_cpu *s, struct walk *w, bool write)
{
	for (unsigned k = 0; k < w->nent; k++) {
		uint64_t want = PTE_A | ((write && k == w->nent - 1) ? PTE_D : 0);
		uint64_t old = w->ent_val[k];
		if ((old & want) == want)
			continue;
		void *p = physmap_ptr(s->pm, w->ent_gpa[k], w->wide ? 8 : 4);
		bool ok;
		if (w->wide) {
			uint64_t expect = old;
			ok = __atomic_compare_exchange_n((uint64_t *)p, &expect, old | want, false,
			                                 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		} else {
			uint32_t expect = (uint32_t)old;
			ok = __atomic_compare_exchange_n((uint32_t *)p, &expect,
			                                 (uint32_t)(old | want), false,
			                                 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		}
		if (!ok)
			return false;
	}
	return true;
}

/*
 * The translation of vaddr for access; false with w->error the #PF error
 * code. commit sets the accessed/dirty bits (retrying the walk when another
 * vCPU changed an entry between the read and the update).
 */
static bool translate_linear(struct cpu *cpu, struct sysmem_cpu *s, uint64_t vaddr, unsigned access,
                             struct walk *w, bool commit)
{
	bool user = cpu->cpl == 3 && !(access & CPU_ACCESS_SUPERVISOR);
	bool write = access & CPU_ACCESS_WRITE, fetch = access & CPU_ACCESS_FETCH;
	if (!(cpu->cr0 & X86_CR0_PG)) {
		w->gpa = (cpu->efer & X86_EFER_LMA) ? vaddr : (uint32_t)vaddr;
		w->shift = 12;
		w->global = false;
		w->wp_only = false;
		w->nent = 0;
		return true;
	}
	for (int tries = 0;; tries++) {
		uint64_t rights = 0;
		w->error = (user ? PF_U : 0) | (write ? PF_W : 0);
		/* I/D is reported when NX can be on: PAE or 4-level paging with EFER.NXE. */
		if (fetch && (cpu->efer & X86_EFER_NXE) && (cpu->cr4 & X86_CR4_PAE))
			w->error |= PF_I;
		if (!walk_tables(cpu, s, vaddr, w, &rights))
			return false;
		bool ok = true;
		w->wp_only = false;
		if (user && !(rights & PTE_US))
			ok = false;
		if (write && !(rights & PTE_RW)) {
			if (user || (cpu->cr0 & X86_CR0_WP))
				ok = false;
			else
				w->wp_only = true;
		}
		if (fetch && (rights & PTE_NX))
			ok = false;
		if (!ok) {
			w->error |= PF_P;
			return false;
		}
		if (!commit || walk_commit(s, w, write) || tries > 1000)
			return true;
	}
}

uint64_t sysmem_debug_translate(struct cpu *cpu, uint64_t vaddr, unsigned access, uint32_t *error)
{
	struct walk w = {0};
	if (!translate_linear(cpu, state_of(cpu), vaddr, access, &w, false)) {
		*error = w.error;
		return (uint64_t)-1;
	}
	return w.gpa;
}

/* ---- code pages shared between vCPUs ---- */

/* Asks target's thread to run sysmem sync at its next block boundary. */
static void kick(struct sysmem_cpu *target)
{
	cpu_interrupt(target->cpu, CPU_INT_MEM);
}

/* This vCPU decodes code from the page with code word cw; true when that is new. */
static bool code_mark(struct sysmem_cpu *s, _Atomic uint64_t *cw)
{
	uint64_t bit = 1ULL << s->index;
	if (atomic_load_explicit(cw, memory_order_relaxed) & bit)
		return false;
	uint64_t old = atomic_fetch_or(cw, bit);
	if (old)
		return true;
	/* A new code page: other vCPUs may hold write entries that skip the slow path. */
	atomic_fetch_add(physmap_code_gen(s->pm), 1);
	for (int k = 0; k < PHYSMAP_MAX_CPUS; k++) {
		struct sysmem_cpu *t = physmap_cpu_state(s->pm, k);
		if (t && t != s)
			kick(t);
	}
	return true;
}

static void post(struct sysmem_cpu *t, uintptr_t host, size_t len)
{
	pthread_mutex_lock(&t->lock);
	if (t->nposted < POST_MAX)
		t->posted[t->nposted++] = (struct posted){host, (uint32_t)len};
	else
		t->overflow = true;
	pthread_mutex_unlock(&t->lock);
	kick(t);
}

/* Drops own blocks on [host, host+len); clears own code bit when none are left. */
static void code_drop_local(struct sysmem_cpu *s, uintptr_t host, size_t len)
{
	if (cpu_code_invalidate(s->cpu, (const void *)host, len))
		return;
	uint64_t gpa;
	const struct physmap_slot *sl = physmap_find_host(s->pm, (const void *)host, &gpa);
	if (!sl)
		return;
	uint64_t bit = 1ULL << s->index;
	uint64_t old = atomic_fetch_and(physmap_code_word(sl, gpa), ~bit);
	/* No code left anywhere: let writes to the page take the fast path again. */
	if (old == bit)
		tlb_drop_host(s->cpu, host & ~(uintptr_t)(PHYSMAP_PAGE - 1));
}

/* The host address of the byte at vaddr that was just written (mem.c, string.c). */
static uintptr_t written_host(struct cpu *cpu, struct sysmem_cpu *s, uint64_t vaddr)
{
	const struct cpu_tlb_entry *e = &cpu->tlb[(vaddr >> 12) & (CPU_TLB_SIZE - 1)];
	uint64_t page = vaddr & ~(PHYSMAP_PAGE - 1);
	if (e->tag_write != TLB_TAG_EMPTY && (e->tag_write & ~TLB_FLAGS_MASK) == page &&
	    !(e->tag_write & TLB_MMIO))
		return (uintptr_t)((intptr_t)vaddr + e->addend);
	/* Not cached (CR0.WP = 0, an implicit supervisor write): walk without side effects. */
	struct walk w = {0};
	if (!translate_linear(cpu, s, vaddr, CPU_ACCESS_READ | CPU_ACCESS_SUPERVISOR, &w, false))
		return 0;
	void *h = physmap_ptr(s->pm, w.gpa, 1);
	return (uintptr_t)h;
}

static void sm_sync(struct cpu *cpu)
{
	struct sysmem_cpu *s = state_of(cpu);
	uint64_t gen = atomic_load(physmap_code_gen(s->pm));
	if (gen != s->seen_gen) {
		s->seen_gen = gen;
		tlb_drop_fast_writes(cpu);
	}
	struct posted local[POST_MAX];
	pthread_mutex_lock(&s->lock);
	unsigned n = s->nposted;
	bool overflow = s->overflow;
	memcpy(local, s->posted, n * sizeof(local[0]));
	s->nposted = 0;
	s->overflow = false;
	pthread_mutex_unlock(&s->lock);
	if (overflow) {
		cpu_code_flush(cpu);
		return;
	}
	for (unsigned k = 0; k < n; k++)
		code_drop_local(s, local[k].host, local[k].len);
}

static void sm_code_written(struct cpu *cpu, uint64_t vaddr, size_t len)
{
	struct sysmem_cpu *s = state_of(cpu);
	uint64_t end = vaddr + len;
	for (uint64_t va = vaddr; va < end;) {
		uint64_t page_end = (va & ~(PHYSMAP_PAGE - 1)) + PHYSMAP_PAGE;
		size_t n = (size_t)(MIN(end, page_end) - va);
		uintptr_t host = written_host(cpu, s, va);
		uint64_t gpa;
		const struct physmap_slot *sl =
		    host ? physmap_find_host(s->pm, (const void *)host, &gpa) : NULL;
		if (sl) {
			_Atomic uint64_t *cw = physmap_code_word(sl, gpa);
			uint64_t cpus = atomic_load(cw);
			if (!cpus) /* the code is gone: stop routing writes here */
				tlb_drop_host(cpu, host & ~(uintptr_t)(PHYSMAP_PAGE - 1));
			for (int k = 0; cpus; k++, cpus >>= 1) {
				if (!(cpus & 1))
					continue;
				struct sysmem_cpu *t = physmap_cpu_state(s->pm, k);
				if (t == s)
					code_drop_local(s, host, n);
				else if (t)
					post(t, host, n);
				else /* a vCPU that is gone */
					atomic_fetch_and(cw, ~(1ULL << k));
			}
		}
		va += n;
	}
}

void sysmem_dma_written(struct physmap *pm, uint64_t gpa, uint64_t len)
{
	uint64_t end = gpa + len;
	for (uint64_t page = gpa & ~(PHYSMAP_PAGE - 1); page < end; page += PHYSMAP_PAGE) {
		const struct physmap_slot *sl = physmap_find(pm, page);
		if (!sl)
			continue;
		_Atomic uint64_t *cw = physmap_code_word(sl, page);
		uint64_t cpus = atomic_load(cw);
		uint64_t lo = MAX(page, gpa), hi = MIN(page + PHYSMAP_PAGE, end);
		uintptr_t host = (uintptr_t)(sl->host + (lo - sl->gpa));
		for (int k = 0; cpus; k++, cpus >>= 1) {
			if (!(cpus & 1))
				continue;
			struct sysmem_cpu *t = physmap_cpu_state(pm, k);
			if (t)
				post(t, host, (size_t)(hi - lo));
			else
				atomic_fetch_and(cw, ~(1ULL << k));
		}
	}
}

/* ---- cpu_mem_ops ---- */

static uint8_t *sm_translate(struct cpu *cpu, uint64_t vaddr, unsigned access, unsigned *flags)
{
	struct sysmem_cpu *s = state_of(cpu);
	struct walk w;
	if (!translate_linear(cpu, s, vaddr, access, &w, true)) {
		cpu->cr2 = vaddr;
		cpu_raise(cpu, EXC_PF, w.error, true);
	}
	unsigned fl = 0;
	if (w.global && (cpu->cr4 & CR4_PGE))
		fl |= TLB_GLOBAL;
	if (w.shift > 12)
		fl |= TLB_LARGE;
	/* A supervisor write allowed only by CR0.WP = 0 must not open the page to later writes. */
	if (w.wp_only)
		fl |= TLB_NOFILL;
	uint64_t page = w.gpa & ~(PHYSMAP_PAGE - 1);
	const struct physmap_slot *sl = physmap_find(s->pm, page);
	if (!sl) {
		if (access & CPU_ACCESS_FETCH) {
			log_warn_ratelimited("soft CPU: instruction fetch from 0x%llx (not RAM) at "
			                     "0x%llx: #GP",
			                     (unsigned long long)w.gpa, (unsigned long long)vaddr);
			cpu_raise(cpu, EXC_GP, 0, true);
		}
		*flags = fl | TLB_MMIO;
		return (uint8_t *)(uintptr_t)page;
	}
	_Atomic uint64_t *cw = physmap_code_word(sl, page);
	if ((access & CPU_ACCESS_FETCH) && code_mark(s, cw))
		fl |= TLB_NEWCODE;
	if (atomic_load_explicit(cw, memory_order_acquire))
		fl |= TLB_CODE;
	*flags = fl;
	return sl->host + (page - sl->gpa);
}

static void sm_mmio(struct cpu *cpu, uint64_t gpa, void *data, unsigned size, bool is_write)
{
	if (cpu->sys && cpu->sys->mmio) {
		cpu->sys->mmio(cpu, gpa, data, size, is_write);
		return;
	}
	if (!is_write)
		memset(data, 0xff, size); /* nothing there: the bus floats high */
}

static void sm_attach(struct cpu *cpu)
{
	struct physmap *pm = cpu->mem_ctx;
	struct sysmem_cpu *s = calloc(1, sizeof(*s));
	if (!s)
		die("soft CPU: out of memory");
	s->pm = pm;
	s->cpu = cpu;
	s->seen_gen = atomic_load(physmap_code_gen(pm));
	pthread_mutex_init(&s->lock, NULL);
	s->index = physmap_cpu_register(pm, s);
	if (s->index < 0)
		die("soft CPU: more than %d vCPUs on one physical map", PHYSMAP_MAX_CPUS);
	cpu->mem_ctx = s;
}

static void sm_detach(struct cpu *cpu)
{
	struct sysmem_cpu *s = state_of(cpu);
	physmap_cpu_unregister(s->pm, s->index);
	pthread_mutex_destroy(&s->lock);
	cpu->mem_ctx = s->pm;
	free(s);
}

const struct cpu_mem_ops sysmem_ops = {
    .translate = sm_translate,
    .code_written = sm_code_written,
    .attach = sm_attach,
    .detach = sm_detach,
    .sync = sm_sync,
    .mmio = sm_mmio,
};
