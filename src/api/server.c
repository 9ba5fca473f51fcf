/*
 * The API server on libmicrohttpd (see server.h): one internal polling
 * thread (epoll) on a listening AF_UNIX socket ember binds itself
 * (MHD_OPTION_LISTEN_SOCKET), a connection limit, a connection timeout,
 * and a body limit enforced from Content-Length before any byte of the
 * body is kept (and while reading, for chunked bodies).
 *
 * A request is answered only when its whole body has arrived; a truncated
 * body never reaches the VMM thread. While the VMM thread answers one
 * request the API thread waits, so requests are served one at a time in
 * arrival order, as in Firecracker.
 */
#include "api/server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/log.h"

struct api_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	char *path;
	struct api_channel *channel;
	size_t max_payload;
	/* Requests handed to the VMM thread whose answer is not sent yet. */
	_Atomic unsigned inflight;
};

/* How long api_server_destroy lets answers already given reach clients. */
#define DRAIN_MS 1000

/*
 * An over-limit body up to this size is read and thrown away before the 400
 * goes out. Answering at once and closing would leave the client's unsent
 * bytes with nowhere to go: its next write fails with EPIPE (and an AF_UNIX
 * close with unread data resets the peer), so curl -d @big.json reports a
 * send failure instead of the 400. Bigger bodies are answered at once.
 */
#define DISCARD_LIMIT (1u << 20)

/* One request being received. */
struct conn {
	char *body;
	size_t len, cap;
	uint64_t declared; /* Content-Length, 0 when absent */
	bool too_large;
	uint64_t discarded; /* bytes of an over-limit body thrown away */
	bool dispatched;    /* counted in inflight until completed */
	struct api_server *server;
};

/* A path that is a socket nobody listens on can go; anything else stays. */
static int clear_stale_socket(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0
		                       : err_set(err, errlen, -errno, "API socket %s: %s", path,
		                                 strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return err_set(err, errlen, -EEXIST,
		               "API socket %s: the path exists and is not a socket; not removing "
		               "it",
		               path);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, errlen, -errno, "socket: %s", strerror(errno));
	int r = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	int saved = errno;
	close(fd);
	if (r == 0)
		return err_set(err, errlen, -EADDRINUSE,
		               "API socket %s: another process is listening on it", path);
	if (saved != ECONNREFUSED)
		return err_set(err, errlen, -saved, "API socket %s: %s", path, strerror(saved));
	if (unlink(path) < 0)
		return err_set(err, errlen, -errno,
		               "API socket %s: cannot remove the stale socket: %s", path,
		               strerror(errno));
	log_info("api: removed the stale socket %s", path);
	return 0;
}

static int bind_socket(const char *path, int *out, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (!*path || strlen(path) >= sizeof(addr.sun_path))
		return err_set(err, errlen, -ENAMETOOLONG,
		               "API socket '%.200s': the path must be 1 to %zu bytes", path,
		               sizeof(addr.sun_path) - 1);
	int r = clear_stale_socket(path, err, errlen);
	if (r)
		return r;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(err, errlen, -errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, API_SERVER_MAX_CONNECTIONS) < 0) {
		r = err_set(err, errlen, -errno, "API socket %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

static enum MHD_Result send_response(struct MHD_Connection *mc, const struct api_response *r,
                                     bool close_after)
{
	size_t len = r->body ? strlen(r->body) : 0;
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, r->body ? r->body : (char *)"", MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (len)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (close_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, "ember (Firecracker API)");
	enum MHD_Result ret = MHD_queue_response(mc, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result too_large(struct api_server *s, struct MHD_Connection *mc, uint64_t size)
{
	struct api_response r = {0};
	/* Firecracker answers 400 and drops the connection. */
	api_reply_error(&r, API_STATUS_BAD_REQUEST,
	                "Request payload with size %llu is larger than the limit of %zu allowed "
	                "by server.",
	                (unsigned long long)size, s->max_payload);
	enum MHD_Result ret = send_response(mc, &r, true);
	api_response_fini(&r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct api_server *s = cls;
	struct conn *c = *con_cls;
	if (!c) {
		if (!(c = calloc(1, sizeof(*c))))
			return MHD_NO;
		c->server = s;
		*con_cls = c;
		const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(cl, &end, 10);
			c->declared = errno || *end ? UINT64_MAX : v;
		}
		if (c->declared > s->max_payload) {
			c->too_large = true;
			if (c->declared > DISCARD_LIMIT)
				return too_large(s, mc, c->declared);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (c->too_large) {
			/* A chunked body has no declared end: stop listening after
			 * the discard limit rather than read forever. */
			c->discarded += n;
			return c->discarded > DISCARD_LIMIT ? MHD_NO : MHD_YES;
		}
		if (n > s->max_payload - c->len) {
			/* Chunked, or more than Content-Length said: stop keeping it. */
			c->too_large = true;
			c->declared = c->len + n;
			free(c->body);
			c->body = NULL;
			return MHD_YES;
		}
		if (c->len + n > c->cap) {
			size_t cap = MAX(c->cap * 2, c->len + n);
			char *b = realloc(c->body, MIN(cap, s->max_payload) + 1);
			if (!b)
				return MHD_NO;
			c->body = b;
			c->cap = MIN(cap, s->max_payload);
		}
		memcpy(c->body + c->len, upload, n);
		c->len += n;
		return MHD_YES;
	}
	if (c->too_large)
		return too_large(s, mc, c->declared);
	if (c->body)
		c->body[c->len] = '\0';
	struct api_request req = {
	    .method = api_method_parse(method),
	    .method_name = method,
	    .path = url,
	    .body = c->len ? c->body : NULL,
	    .body_len = c->len,
	};
	struct api_response resp;
	c->dispatched = true;
	atomic_fetch_add(&s->inflight, 1);
	api_channel_call(s->channel, &req, &resp);
	enum MHD_Result ret = send_response(mc, &resp, false);
	api_response_fini(&resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
	struct conn *c = *con_cls;
	if (c) {
		if (c->dispatched)
			atomic_fetch_sub(&c->server->inflight, 1);
		free(c->body);
		free(c);
		*con_cls = NULL;
	}
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decoding of the path, in place, except %00: a NUL would cut the
 * path short ("/x%00y" must not become "/x"), so it stays as written. */
static size_t unescape(void *cls, struct MHD_Connection *mc, char *s)
{
	char *out = s;
	for (const char *in = s; *in;) {
		int hi = in[0] == '%' ? hex(in[1]) : -1;
		int lo = hi >= 0 ? hex(in[2]) : -1;
		if (lo >= 0 && (hi | lo)) {
			*out++ = (char)(hi << 4 | lo);
			in += 3;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
	return (size_t)(out - s);
}

__attribute__((format(printf, 2, 0))) static void on_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("api: http: %s", line);
}

int api_server_create(const struct api_server_params *p, struct api_server **out, char *err,
                      size_t errlen)
{
	struct api_server *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	s->listen_fd = -1;
	s->channel = p->channel;
	s->max_payload = p->max_payload;
	s->path = strdup(p->socket_path);
	int r = s->path ? bind_socket(p->socket_path, &s->listen_fd, err, errlen)
	                : err_set(err, errlen, -ENOMEM, "out of memory");
	if (r)
		goto fail;
	unsigned timeout = p->timeout_s ? p->timeout_s : API_SERVER_TIMEOUT_S;
	s->daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    on_request, s, MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)API_SERVER_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, timeout,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_log,
	    NULL, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
	if (!s->daemon) {
		r = err_set(err, errlen, -EIO, "API socket %s: cannot start the HTTP server",
		            p->socket_path);
		goto fail;
	}
	s->listen_fd = -1; /* MHD_stop_daemon closes it */
	*out = s;
	return 0;
fail:
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->path);
	}
	free(s->path);
	free(s);
	return r;
}

void api_server_destroy(struct api_server *s)
{
	if (!s)
		return;
	/* An answer the VMM thread gave (InstanceStart's, say, just before the
	 * guest powered off) still reaches its client. */
	for (int waited = 0; atomic_load(&s->inflight) && waited < DRAIN_MS; waited++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	if (s->daemon)
		MHD_stop_daemon(s->daemon); /* closes the listening socket */
	unlink(s->path);
	free(s->path);
	free(s);
}
