/*
 * The API server: HTTP/1.1 on a Unix socket, served by libmicrohttpd on
 * its own thread (the API thread). It reads whole requests -- at most
 * API_SERVER_MAX_CONNECTIONS connections, bodies up to the payload limit,
 * slow clients cut off after a timeout -- and hands each to the VMM thread
 * over the channel, then writes the answer back. It never touches the VM.
 *
 * The socket: a stale socket file at the path (no one listening) is
 * removed; a live one, or anything else at the path, is an error.
 */
#ifndef EMBER_API_SERVER_H
#define EMBER_API_SERVER_H

#include <stddef.h>

#include "api/channel.h"
#include "core/macros.h"

#define API_SERVER_MAX_CONNECTIONS 10
#define API_SERVER_TIMEOUT_S       30

struct api_server_params {
	const char *socket_path;
	size_t max_payload; /* bytes of body; larger requests get 400 */
	struct api_channel *channel;
	unsigned timeout_s; /* idle connections are closed after this; 0: default */
};

struct api_server;

/* Binds the socket and starts the API thread. 0 or -errno + err. */
int api_server_create(const struct api_server_params *params, struct api_server **out, char *err,
                      size_t errlen) must_check;
/* Stops the API thread (call api_channel_close first, so no request
 * waits for the VMM thread), closes and removes the socket. NULL ok. */
void api_server_destroy(struct api_server *s);

#endif
