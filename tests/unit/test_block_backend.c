/*
 * Unit tests for the host block backends (src/backends/): both engines
 * (io_uring and sync) on a temporary image -- read back what was written,
 * flush, discard punches a hole, write-zeroes, batching, O_DIRECT with
 * misaligned buffers, a short read at the end of a shrunk image --
 * block_file_open's checks and OFD locking, and the host side of --disk:
 * CLI parsing and config loading (opening, locking, duplicates, root=).
 * The io_uring cases are skipped, with the reason printed, where io_uring
 * cannot be set up.
 */
#define _GNU_SOURCE /* O_DIRECT, SEEK_HOLE */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/block.h"
#include "config/cli.h"

#define IMG_SIZE (1u << 20)

struct fixture {
	enum block_engine engine;
	char path[64];
	int fd; /* the test's own view of the image */
	struct block_backend *b;
	int completions, last_result, batches;
};

static void on_done(struct block_request *req, int result);

static struct fixture *current; /* the callback's way back */

static void on_done(struct block_request *req, int result)
{
	current->completions++;
	current->last_result = result;
}

static void on_batch(void *opaque)
{
	((struct fixture *)opaque)->batches++;
}

static void make_image(struct fixture *f, size_t size)
{
	strcpy(f->path, "/tmp/ember-blk-XXXXXX");
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	uint8_t *data = malloc(size);
	assert_non_null(data);
	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(pwrite(f->fd, data, size, 0), (ssize_t)size);
	free(data);
	assert_int_equal(fsync(f->fd), 0);
}

/* Creates the backend on a fresh image; false (test skipped) when the
 * engine cannot run here. */
static bool open_backend(struct fixture *f, bool direct)
{
	int fd = open(f->path, O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
	assert_true(fd >= 0);
	struct block_backend_params p = {.fd = fd,
	                                 .direct = direct,
	                                 .align = 512,
	                                 .queue_depth = 64,
	                                 .engine = f->engine,
	                                 .batch_done = on_batch,
	                                 .opaque = f};
	int r = block_backend_create(&p, &f->b);
	if (r && f->engine == BLOCK_ENGINE_URING) {
		printf("io_uring unavailable here (%s): skipping\n", strerror(-r));
		return false;
	}
	assert_int_equal(r, 0);
	assert_string_equal(block_backend_name(f->b),
	                    f->engine == BLOCK_ENGINE_URING ? "io_uring" : "sync");
	return true;
}

static int setup(void **state, enum block_engine engine)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->engine = engine;
	make_image(f, IMG_SIZE);
	current = f;
	*state = f;
	return 0;
}

static int setup_uring(void **state)
{
	return setup(state, BLOCK_ENGINE_URING);
}

static int setup_sync(void **state)
{
	return setup(state, BLOCK_ENGINE_SYNC);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	block_backend_destroy(f->b);
	close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

/* Kicks, then polls until n more requests completed (or 5 s passed). */
static void run(struct fixture *f, int n)
{
	int want = f->completions + n;
	block_backend_kick(f->b);
	for (int i = 0; i < 500 && f->completions < want; i++) {
		struct pollfd pfd = {.fd = block_backend_fd(f->b), .events = POLLIN};
		poll(&pfd, 1, 10);
		block_backend_poll(f->b);
	}
	assert_int_equal(f->completions, want);
}

static int do_op(struct fixture *f, enum block_op op, uint64_t off, uint64_t len, bool unmap)
{
	struct block_request req = {
	    .op = op, .offset = off, .len = len, .unmap = unmap, .done = on_done};
	block_backend_submit(f->b, &req);
	run(f, 1);
	return f->last_result;
}

static int do_rw(struct fixture *f, enum block_op op, uint64_t off, uint8_t *a, size_t alen,
                 uint8_t *b, size_t blen)
{
	struct iovec iov[2] = {{a, alen}, {b, blen}};
	struct block_request req = {
	    .op = op, .offset = off, .iov = iov, .iovcnt = blen ? 2 : 1, .done = on_done};
	block_backend_submit(f->b, &req);
	run(f, 1);
	return f->last_result;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void test_write_read_flush(void **state)
{
	struct fixture *f = *state;
	if (!open_backend(f, false))
		skip();
	uint8_t a[1024], b[512], ra[512], rb[1024];
	memset(a, 0xa5, sizeof(a));
	memset(b, 0x5a, sizeof(b));
	assert_int_equal(do_rw(f, BLOCK_OP_WRITE, 4096, a, sizeof(a), b, sizeof(b)), 0);
	/* Read it back split differently. */
	assert_int_equal(do_rw(f, BLOCK_OP_READ, 4096, ra, sizeof(ra), rb, sizeof(rb)), 0);
	assert_true(all_bytes(ra, sizeof(ra), 0xa5));
	assert_true(all_bytes(rb, 512, 0xa5) && all_bytes(rb + 512, 512, 0x5a));
	assert_int_equal(do_op(f, BLOCK_OP_FLUSH, 0, 0, false), 0);
	/* The file itself has it. */
	uint8_t check[1536];
	assert_int_equal(pread(f->fd, check, sizeof(check), 4096), (ssize_t)sizeof(check));
	assert_memory_equal(check, a, sizeof(a));
	assert_true(f->batches >= 3);
}

static void test_batch_of_writes(void **state)
{
	struct fixture *f = *state;
	if (!open_backend(f, false))
		skip();
	static uint8_t bufs[48][512];
	struct iovec iov[48];
	struct block_request reqs[48];
	for (unsigned i = 0; i < 48; i++) {
		memset(bufs[i], (int)i, 512);
		iov[i] = (struct iovec){bufs[i], 512};
		reqs[i] = (struct block_request){.op = BLOCK_OP_WRITE,
		                                 .offset = 512ULL * i,
		                                 .iov = &iov[i],
		                                 .iovcnt = 1,
		                                 .done = on_done};
		block_backend_submit(f->b, &reqs[i]);
	}
	run(f, 48);
	assert_int_equal(f->last_result, 0);
	uint8_t check[512];
	for (unsigned i = 0; i < 48; i++) {
		assert_int_equal(pread(f->fd, check, 512, 512 * i), 512);
		assert_true(all_bytes(check, 512, (uint8_t)i));
	}
}

static void test_discard_punches_hole(void **state)
{
	struct fixture *f = *state;
	if (!open_backend(f, false))
		skip();
	struct stat before, after;
	assert_int_equal(fstat(f->fd, &before), 0);
	assert_int_equal(do_op(f, BLOCK_OP_DISCARD, 256 * 1024, 256 * 1024, false), 0);
	assert_int_equal(fstat(f->fd, &after), 0);
	assert_int_equal(after.st_size, IMG_SIZE);
	assert_true(after.st_blocks < before.st_blocks);
	assert_int_equal(lseek(f->fd, 0, SEEK_HOLE), 256 * 1024);
}

static void test_write_zeroes(void **state)
{
	struct fixture *f = *state;
	if (!open_backend(f, false))
		skip();
	uint8_t buf[8192];
	assert_int_equal(do_op(f, BLOCK_OP_WRITE_ZEROES, 8192, 8192, false), 0);
	assert_int_equal(pread(f->fd, buf, sizeof(buf), 8192), (ssize_t)sizeof(buf));
	assert_true(all_bytes(buf, sizeof(buf), 0));
	assert_int_equal(pread(f->fd, buf, 1, 8192 - 1), 1);
	assert_int_not_equal(buf[0], 0); /* nothing before the range */
	/* With unmap: zeroes too, and the blocks may go. */
	assert_int_equal(do_op(f, BLOCK_OP_WRITE_ZEROES, 512 * 1024, 64 * 1024, true), 0);
	assert_int_equal(pread(f->fd, buf, sizeof(buf), 512 * 1024), (ssize_t)sizeof(buf));
	assert_true(all_bytes(buf, sizeof(buf), 0));
	struct stat st;
	assert_int_equal(fstat(f->fd, &st), 0);
	assert_int_equal(st.st_size, IMG_SIZE);
}

static void test_direct_misaligned_bounces(void **state)
{
	struct fixture *f = *state;
	if (!open_backend(f, true))
		skip();
	uint8_t *mem = aligned_alloc(4096, 3 * 4096);
	assert_non_null(mem);
	/* Aligned: straight through. */
	memset(mem, 0x11, 4096);
	assert_int_equal(do_rw(f, BLOCK_OP_WRITE, 0, mem, 4096, NULL, 0), 0);
	/* Misaligned address and 512-multiple length: bounced. */
	uint8_t *odd = mem + 4096 + 3;
	memset(odd, 0x22, 1536);
	assert_int_equal(do_rw(f, BLOCK_OP_WRITE, 8192, odd, 1024, odd + 1024, 512), 0);
	memset(odd, 0, 1536);
	assert_int_equal(do_rw(f, BLOCK_OP_READ, 8192, odd, 512, odd + 512, 1024), 0);
	assert_true(all_bytes(odd, 1536, 0x22));
	uint8_t check[4096];
	assert_int_equal(pread(f->fd, check, 4096, 0), 4096);
	assert_true(all_bytes(check, 4096, 0x11));
	free(mem);
}

static void test_read_past_shrunk_end(void **state)
{
	struct fixture *f = *state;
	if (!open_backend(f, false))
		skip();
	assert_int_equal(ftruncate(f->fd, 4096), 0);
	uint8_t buf[8192];
	assert_int_equal(do_rw(f, BLOCK_OP_READ, 0, buf, sizeof(buf), NULL, 0), -EIO);
}

static void test_open_checks_and_locks(void **state)
{
	struct fixture *f = *state;
	char err[256];
	struct block_file *a, *b;
	assert_int_equal(block_file_open(f->path, false, false, &a, err, sizeof(err)), 0);
	assert_int_equal(a->size, IMG_SIZE);
	assert_int_equal(a->logical_block, 512);
	/* A second writer, or a reader, of a writable image is refused. */
	assert_int_equal(block_file_open(f->path, false, false, &b, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "is locked by another process"));
	char pid[32];
	snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
	assert_non_null(strstr(err, pid)); /* the holder is named */
	assert_int_equal(block_file_open(f->path, true, false, &b, err, sizeof(err)), -EBUSY);
	block_file_close(a);
	/* Readers share. */
	assert_int_equal(block_file_open(f->path, true, false, &a, err, sizeof(err)), 0);
	assert_int_equal(block_file_open(f->path, true, false, &b, err, sizeof(err)), 0);
	struct block_file *c;
	assert_int_equal(block_file_open(f->path, false, false, &c, err, sizeof(err)), -EBUSY);
	block_file_close(a);
	block_file_close(b);
	/* The lock outlives the fd it was taken through while a dup lives. */
	assert_int_equal(block_file_open(f->path, false, false, &a, err, sizeof(err)), 0);
	int dup_fd = dup(a->fd);
	block_file_close(a);
	assert_int_equal(block_file_open(f->path, false, false, &b, err, sizeof(err)), -EBUSY);
	close(dup_fd);
	assert_int_equal(block_file_open(f->path, false, false, &b, err, sizeof(err)), 0);
	block_file_close(b);
}

static void test_open_bad_images(void **state)
{
	struct fixture *f = *state;
	char err[256];
	struct block_file *a = (struct block_file *)1;
	assert_int_equal(ftruncate(f->fd, IMG_SIZE + 100), 0);
	assert_int_equal(block_file_open(f->path, false, false, &a, err, sizeof(err)), -EINVAL);
	assert_null(a);
	assert_non_null(strstr(err, "not a multiple of 512"));
	assert_int_equal(block_file_open("/nonexistent/img", false, false, &a, err, sizeof(err)),
	                 -ENOENT);
	assert_non_null(strstr(err, "--disk /nonexistent/img: No such file"));
	assert_int_equal(block_file_open("/tmp", true, false, &a, err, sizeof(err)) < 0, 1);
	assert_int_equal(block_file_open("/dev/null", true, false, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file or block device"));
}

/* ---- --disk and config loading ---- */

#define ARGV(...) ((char *const[]){"ember", "run", "--kernel", "k", __VA_ARGS__, NULL})
#define ARGC(...)                                                                                  \
	((int)(sizeof((const char *[]){"e", "r", "--kernel", "k", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(cli, err, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cli, err, sizeof(err))

static void test_cli_disk(void **state)
{
	struct cli cli;
	char err[256];
	assert_int_equal(PARSE(&cli, err, "--disk", "a.img", "--rng",
	                       "--disk=b.img,ro,root,id=data-1,cache=none"),
	                 0);
	struct vm_config *c = &cli.config;
	assert_int_equal(c->nr_devices, 3);
	assert_int_equal(c->devices[0].kind, VM_DEVICE_BLK);
	assert_string_equal(c->devices[0].blk.path, "a.img");
	assert_false(c->devices[0].blk.read_only || c->devices[0].blk.root);
	assert_int_equal(c->devices[0].blk.cache, VM_DISK_CACHE_WRITEBACK);
	assert_string_equal(c->devices[0].blk.id, "");
	assert_int_equal(c->devices[1].kind, VM_DEVICE_RNG);
	const struct vm_disk_config *b = &c->devices[2].blk;
	assert_string_equal(b->path, "b.img");
	assert_true(b->read_only && b->root);
	assert_string_equal(b->id, "data-1");
	assert_int_equal(b->cache, VM_DISK_CACHE_NONE);
	vm_config_fini(c);

	struct {
		char *arg;
		const char *msg;
	} bad[] = {
	    {"--disk=a.img,rw", "unknown option 'rw'"},
	    {"--disk=a.img,cache=unsafe", "unknown option 'cache=unsafe'"},
	    {"--disk=a.img,id=", "id '' is not"},
	    {"--disk=a.img,id=123456789012345678901", "is not 1 to 20"},
	    {"--disk=a.img,id=a b", "is not 1 to 20"},
	    {"--disk=", "PATH is required"},
	    {"--disk=,ro", "PATH is required"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(PARSE(&cli, err, bad[i].arg), -EINVAL);
		assert_non_null(strstr(err, bad[i].msg));
		vm_config_fini(&cli.config);
	}
	assert_int_equal(PARSE(&cli, err, "--disk=a,root", "--disk=b,root"), -EINVAL);
	assert_non_null(strstr(err, "only one disk can be root"));
	vm_config_fini(&cli.config);
	assert_int_equal(PARSE(&cli, err, "--disk=1", "--disk=2", "--disk=3", "--disk=4",
	                       "--disk=5", "--disk=6", "--disk=7", "--disk=8", "--disk=9"),
	                 -EINVAL);
	assert_non_null(strstr(err, "at most 8 disks"));
	vm_config_fini(&cli.config);
	assert_non_null(strstr(cli_usage(), "--disk PATH"));
}

/* A bzImage that boot_probe_kernel accepts (never run). */
static void write_fake_kernel(const char *path)
{
	static uint8_t k[5 * 512 + 4096];
	memset(k, 0, sizeof(k));
	k[0x1f1] = 4;
	k[0x1fe] = 0x55;
	k[0x1ff] = 0xaa;
	memcpy(k + 0x202, "HdrS", 4);
	uint16_t version = 0x020f, xlf = 0x3;
	uint32_t align = 0x200000, init = 0x100000, cmdmax = 2047, initrd_max = 0x7fffffff;
	memcpy(k + 0x206, &version, 2);
	k[0x211] = 1; /* LOADED_HIGH */
	memcpy(k + 0x22c, &initrd_max, 4);
	memcpy(k + 0x230, &align, 4);
	k[0x234] = 1;
	memcpy(k + 0x236, &xlf, 2);
	memcpy(k + 0x238, &cmdmax, 4);
	memcpy(k + 0x260, &init, 4);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(k, 1, sizeof(k), fp), sizeof(k));
	fclose(fp);
}

static int load(struct cli *cli, char *err, size_t errlen, int argc, char *const *argv)
{
	int r = cli_parse(argc, argv, cli, err, errlen);
	if (r)
		return r;
	return vm_config_load(&cli->config, err, errlen);
}

static void test_config_load_disks(void **state)
{
	char kernel[] = "/tmp/ember-kernel-XXXXXX", img[] = "/tmp/ember-img-XXXXXX";
	char odd[] = "/tmp/ember-odd-XXXXXX";
	close(mkstemp(kernel));
	write_fake_kernel(kernel);
	int fd = mkstemp(img);
	assert_int_equal(ftruncate(fd, 65536), 0);
	close(fd);
	fd = mkstemp(odd);
	assert_int_equal(ftruncate(fd, 1000), 0);
	close(fd);
	char link[64];
	snprintf(link, sizeof(link), "%s.link", img);
	assert_int_equal(symlink(img, link), 0);
	char dw[80], dr[80], dlr[80], droot[80], dodd[80];
	snprintf(dw, sizeof(dw), "--disk=%s", img);
	snprintf(dr, sizeof(dr), "--disk=%s,ro", img);
	snprintf(dlr, sizeof(dlr), "--disk=%s,ro", link);
	snprintf(droot, sizeof(droot), "--disk=%s,ro,root", link);
	snprintf(dodd, sizeof(dodd), "--disk=%s", odd);
	struct cli cli;
	char err[256];

	/* Two disks, the second the root: vdb, and it is locked while loaded. */
	char *a1[] = {"ember", "run", "--kernel", kernel, dr, droot, NULL};
	assert_int_equal(load(&cli, err, sizeof(err), 6, a1), 0);
	assert_string_equal(cli.config.cmdline, "console=ttyS0 root=/dev/vdb");
	assert_non_null(cli.config.devices[0].blk.file);
	assert_int_equal(cli.config.devices[0].blk.file->size, 65536);
	struct block_file *other;
	assert_int_equal(block_file_open(img, false, false, &other, err, sizeof(err)), -EBUSY);
	vm_config_fini(&cli.config);
	/* A root= of the user's wins. */
	char *a2[] = {"ember",          "run", "--kernel", kernel, "--cmdline",
	              "root=/dev/sda1", droot, NULL};
	assert_int_equal(load(&cli, err, sizeof(err), 7, a2), 0);
	assert_string_equal(cli.config.cmdline, "console=ttyS0 root=/dev/sda1");
	vm_config_fini(&cli.config);
	/* The same image twice, once writable (through a symlink too). */
	char *a3[] = {"ember", "run", "--kernel", kernel, dw, dlr, NULL};
	assert_int_equal(load(&cli, err, sizeof(err), 6, a3), -EINVAL);
	assert_non_null(strstr(err, "a writable image can be attached once"));
	vm_config_fini(&cli.config);
	/* A size that is not a multiple of 512, a missing image. */
	char *a4[] = {"ember", "run", "--kernel", kernel, dodd, NULL};
	assert_int_equal(load(&cli, err, sizeof(err), 5, a4), -EINVAL);
	assert_non_null(strstr(err, "not a multiple of 512"));
	vm_config_fini(&cli.config);
	char *a5[] = {"ember", "run", "--kernel", kernel, "--disk=/nonexistent.img", NULL};
	assert_int_equal(load(&cli, err, sizeof(err), 5, a5), -ENOENT);
	assert_string_equal(err, "--disk /nonexistent.img: No such file or directory");
	vm_config_fini(&cli.config);

	unlink(link);
	unlink(kernel);
	unlink(img);
	unlink(odd);
}

/* Each backend case once per engine, named after both. */
#define BOTH(fn)                                                                                   \
	{#fn "/sync", fn, setup_sync, teardown, NULL},                                             \
	{                                                                                          \
#fn "/io_uring", fn, setup_uring, teardown, NULL                                   \
	}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_write_read_flush),
	    BOTH(test_batch_of_writes),
	    BOTH(test_discard_punches_hole),
	    BOTH(test_write_zeroes),
	    BOTH(test_direct_misaligned_bounces),
	    BOTH(test_read_past_shrunk_end),
	    cmocka_unit_test_setup_teardown(test_open_checks_and_locks, setup_sync, teardown),
	    cmocka_unit_test_setup_teardown(test_open_bad_images, setup_sync, teardown),
	    cmocka_unit_test(test_cli_disk),
	    cmocka_unit_test(test_config_load_disks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
