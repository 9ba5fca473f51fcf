/*
 * The test guest's main: the `hello` fast path, then boot info, the tests
 * the command line selects (ember.test=NAME[,NAME...], default all), the
 * EMBER-TEST-DONE line and the end ember.end asks for.
 */
#include "guest.h"
#include "virtio.h"

extern char _bss_start[], _bss_end[];

static struct boot_info boot_info __attribute__((section(".bss.noclear")));

struct gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
};
static struct gate idt[32] __attribute__((section(".bss.noclear"), aligned(16)));

struct test {
	const char *name;
	bool in_all;
};

/* The order the tests run in. Only `all` members run by default; the rest run when named. */
enum {
	T_BOOTPARAMS,
	T_E820,
	T_CMDLINE,
	T_INITRD,
	T_ACPI,
	T_SMP,
	T_RTC,
	T_UART,
	T_OUTPUT,
	T_TRIPLEFAULT,
	T_SPIN,
	T_PIO,
	T_ECHO,
	T_VIRTIO_RNG,
	T_VIRTIO_BLK_READ,
	T_VIRTIO_BLK_BENCH,
	T_VIRTIO_BLK,
	T_VIRTIO_BLK_RESET,
	T_VIRTIO_HOSTILE,
	T_COUNT
};
static const struct test tests[T_COUNT] = {
    [T_BOOTPARAMS] = {"bootparams", true},
    [T_E820] = {"e820", true},
    [T_CMDLINE] = {"cmdline", true},
    [T_INITRD] = {"initrd", true},
    [T_ACPI] = {"acpi", true},
    [T_SMP] = {"smp", true},
    [T_RTC] = {"rtc", true},
    [T_UART] = {"uart", true},
    [T_OUTPUT] = {"output", false},
    [T_TRIPLEFAULT] = {"triplefault", false},
    [T_SPIN] = {"spin", false},
    [T_PIO] = {"pio", false},
    [T_ECHO] = {"echo", false},
    [T_VIRTIO_RNG] = {"virtio-rng", false},
    [T_VIRTIO_BLK_READ] = {"virtio-blk-read", false},
    [T_VIRTIO_BLK_BENCH] = {"virtio-blk-bench", false},
    [T_VIRTIO_BLK] = {"virtio-blk", false},
    [T_VIRTIO_BLK_RESET] = {"virtio-blk-reset", false},
    [T_VIRTIO_HOSTILE] = {"virtio-hostile", false},
};

static bool word_is(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);
	return len == n && memcmp(s, word, n) == 0;
}

NORETURN void guest_halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/*
 * A VMM may finish the stop asynchronously (QEMU does): give it a moment
 * (~0.3 ms of host time under TCG, ~0.2 s at nested KVM's 0.5 us per
 * instruction) before saying the VM is still running.
 */
static NORETURN void still_running(void)
{
	for (unsigned i = 0; i < 200000; i++)
		__asm__ volatile("" ::: "memory");
	uart_puts("EMBER-TEST end FAIL still running\n");
	guest_halt();
}

NORETURN void guest_poweroff_simple(void)
{
	outb(LAYOUT_ACPI_SLEEP_CTL_PORT, (LAYOUT_ACPI_S5_SLP_TYP << 2) | (1 << 5));
	still_running();
}

/*
 * poweroff (default): ACPI S5 through the FADT's sleep control register;
 * reset: i8042 command 0xfe; acpi-reset: the FADT reset register;
 * triplefault: empty IDT + ud2; hang: cli; hlt forever.
 */
NORETURN void guest_end(const struct boot_info *bi, const char *how, size_t len)
{
	if (!how || word_is(how, len, "poweroff")) {
		acpi_poweroff(bi);
	} else if (word_is(how, len, "reset")) {
		outb(LAYOUT_I8042_CMD_PORT, 0xfe);
	} else if (word_is(how, len, "acpi-reset")) {
		acpi_reset(bi);
	} else if (word_is(how, len, "triplefault")) {
		guest_triple_fault();
	} else if (word_is(how, len, "hang")) {
		guest_halt();
	} else {
		report("end", false, "unknown ember.end, powering off");
		acpi_poweroff(bi);
	}
	still_running();
}

NORETURN void guest_exception(const uint64_t *frame)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	report("exception", false, "vec=%lu err=0x%lx rip=0x%lx cr2=0x%lx rsp=0x%lx", frame[0],
	       frame[1], frame[2], cr2, frame[5]);
	guest_poweroff_simple();
}

static void idt_install(void)
{
	uint16_t cs;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) desc = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (unsigned i = 0; i < ARRAY_SIZE(idt); i++) {
		uint64_t a = (uint64_t)(uintptr_t)exception_stubs + 16 * i;
		idt[i] = (struct gate){.off0 = (uint16_t)a,
		                       .sel = cs,
		                       .type = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
		                       .off1 = (uint16_t)(a >> 16),
		                       .off2 = (uint32_t)(a >> 32)};
	}
	__asm__ volatile("lidt %0" : : "m"(desc));
}

static void parse_config(struct guest_config *cfg, const char *cmdline)
{
	size_t len;
	const char *v;

	memset(cfg, 0, sizeof(*cfg));
	cfg->test = cmdline_get(cmdline, "ember.test", &cfg->test_len);
	if (!cfg->test) {
		cfg->test = "all";
		cfg->test_len = 3;
	}
	cfg->end = cmdline_get(cmdline, "ember.end", &cfg->end_len);
	v = cmdline_get(cmdline, "ember.mem", &len);
	if (v && !parse_u64(v, len, 10, &cfg->mem_mib))
		report("config", false, "bad ember.mem");
	v = cmdline_get(cmdline, "ember.cpus", &len);
	if (v && !parse_u64(v, len, 10, &cfg->cpus))
		report("config", false, "bad ember.cpus");
}

/* Marks the tests the comma-separated list names; reports unknown names. */
static void select_tests(const struct guest_config *cfg, bool sel[T_COUNT])
{
	const char *p = cfg->test, *end = cfg->test + cfg->test_len;

	while (p < end) {
		const char *q = p;
		while (q < end && *q != ',')
			q++;
		size_t n = (size_t)(q - p);
		bool known = false;
		for (unsigned t = 0; t < T_COUNT; t++) {
			if (word_is(p, n, tests[t].name) ||
			    (word_is(p, n, "all") && tests[t].in_all)) {
				sel[t] = true;
				known = true;
			}
		}
		if (!known && n) {
			char name[64];
			size_t k = n < sizeof(name) - 1 ? n : sizeof(name) - 1;
			memcpy(name, p, k);
			name[k] = '\0';
			report(name, false, "unknown test");
		}
		p = q + 1;
	}
}

NORETURN void guest_main(uint32_t path, uint64_t raw)
{
	const char *cmdline = boot_cmdline(path, raw);
	struct guest_config cfg;
	size_t len;
	const char *v = cmdline_get(cmdline, "ember.test", &len);

	/* The startup benchmark's guest: as few instructions and exits as we can. */
	if (v && word_is(v, len, "hello")) {
		static const char msg[] = "EMBER-TEST hello PASS\n";
		uart_write(msg, sizeof(msg) - 1);
		v = cmdline_get(cmdline, "ember.end", &len);
		if (!v || word_is(v, len, "poweroff"))
			guest_poweroff_simple();
		memset(_bss_start, 0, (size_t)(_bss_end - _bss_start));
		boot_info_collect(&boot_info, path, raw);
		guest_end(&boot_info, v, len);
	}

	memset(_bss_start, 0, (size_t)(_bss_end - _bss_start));
	idt_install();
	boot_info_collect(&boot_info, path, raw);
	parse_config(&cfg, boot_info.cmdline);

	bool sel[T_COUNT] = {false};
	select_tests(&cfg, sel);
	const struct boot_info *bi = &boot_info;
	if (sel[T_BOOTPARAMS])
		test_bootparams(bi);
	if (sel[T_E820])
		test_e820(bi, &cfg);
	if (sel[T_CMDLINE])
		test_cmdline(bi);
	if (sel[T_INITRD])
		test_initrd(bi);
	if (sel[T_ACPI])
		test_acpi(bi, &cfg);
	if (sel[T_SMP])
		test_smp(bi, &cfg);
	if (sel[T_RTC])
		test_rtc();
	if (sel[T_UART])
		test_uart(bi);
	if (sel[T_OUTPUT])
		test_output();
	if (sel[T_SPIN])
		test_spin();
	if (sel[T_PIO])
		test_pio(bi);
	if (sel[T_ECHO])
		test_echo();
	if (sel[T_VIRTIO_RNG])
		test_virtio_rng(bi);
	/* Before virtio-blk, which writes sectors 0-7. */
	if (sel[T_VIRTIO_BLK_READ])
		test_virtio_blk_read(bi);
	if (sel[T_VIRTIO_BLK_BENCH])
		test_virtio_blk_bench(bi);
	if (sel[T_VIRTIO_BLK])
		test_virtio_blk(bi);
	if (sel[T_VIRTIO_BLK_RESET])
		test_virtio_blk_reset(bi);
	if (sel[T_VIRTIO_HOSTILE])
		test_virtio_hostile(bi);
	uart_puts("EMBER-TEST-DONE\n");
	if (sel[T_TRIPLEFAULT])
		guest_triple_fault();
	guest_end(bi, cfg.end, cfg.end_len);
}
