// RFC 6455 section 5.1: a server must close a connection whose client sends
// an unmasked frame (1002). lws 4.1 records a frame's mask bit and never
// checks it, nor says it in any callback, so pushd looks at the bytes
// themselves: it follows the frame headers of each watched connection as
// lws reads them (plain TCP with recv(2), TLS with OpenSSL's SSL_read;
// pushd's own recv and SSL_read pass the bytes through and note an
// unmasked header). One loop thread.
//
// The same watch bounds the request head: lws 4.1 closes a head over its
// max_http_header_data without an answer and has no hook to answer it, so
// a watched plain-TCP head over kMaxRequestHeadBytes (io/ws_handshake.hpp)
// is answered 431 here and lws is handed the end of the stream. Under TLS
// the answer would have to go through OpenSSL: lws's limit closes it.
#pragma once

namespace pushd {

/* Starts watching descriptor `fd` (a connection just accepted, before any
 * byte of it was read): its request head, then its frames; `tls` when lws
 * reads it through OpenSSL. */
void mask_check_watch(int fd, bool tls);

/* Stops watching `fd` (the connection is plain HTTP, or closed). */
void mask_check_forget(int fd);

/* True once an unmasked frame header was read from watched `fd`. */
bool mask_check_unmasked(int fd);

}  // namespace pushd
