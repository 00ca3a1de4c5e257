// RFC 6455 section 5.1: a server must close a connection whose client sends
// an unmasked frame (1002). lws 4.1 records a frame's mask bit and never
// checks it, nor says it in any callback, so pushd looks at the bytes
// themselves: it follows the frame headers of each watched plain-TCP
// connection as lws reads them (lws reads those with recv(2); pushd's own
// recv passes the bytes through and notes an unmasked header). TLS
// connections are read by OpenSSL and are not watched. One loop thread.
#pragma once

namespace pushd {

/* Starts watching descriptor `fd` (a connection just accepted, before any
 * byte of it was read): its request head, then its frames. */
void mask_check_watch(int fd);

/* Stops watching `fd` (the connection is plain HTTP, or closed). */
void mask_check_forget(int fd);

/* True once an unmasked frame header was read from watched `fd`. */
bool mask_check_unmasked(int fd);

}  // namespace pushd
