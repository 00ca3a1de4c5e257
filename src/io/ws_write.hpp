// The write path of WebSocket connections: queued output (pre-framed by
// the hub) goes out once per loop iteration, directly, after everything
// that could queue more (reads, Redis replies, a bus slice) has run.
//
// Why not lws_callback_on_writable for every message: on libuv 1.44 each
// POLLOUT arm and disarm costs an EPOLL_CTL_DEL plus an ADD (uv_poll_start
// stops the watcher first), ~4 epoll_ctl per message, which was a third of
// the CPU per delivery at low rates. A direct write is one send() (or one
// entry of an io_uring batch for plain-TCP connections, io/send_batch);
// lws is only asked for POLLOUT when the socket does not take everything,
// and its buffered remainder always goes out first, so a frame stays whole
// on the wire.
#pragma once

#include "io/send_batch.hpp"

#include <libwebsockets.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace pushd {

struct ConnData;
struct Server;
struct Session;

// Bytes one write sends at most when it batches frames: the protocol's
// tx_packet_size, and the size of the shared scratch buffer.
inline constexpr size_t kWriteBatchBytes = 64 * 1024;

// One flush's sends through io_uring (io/send_batch): entries per submit,
// and the arena holding the gathered bytes of several frames per
// connection until the submit returns (a connection's single frame is sent
// from the shared frame itself).
inline constexpr unsigned kSendBatchEntries = 1024;
inline constexpr size_t kSendArenaBytes = 1024 * 1024;

// A send waiting in WritePath::batch for its result.
struct BatchedWrite {
    ConnData* conn;
    const uint8_t* bytes;
    uint32_t len;
    bool head_frame;  // the queue's head frame itself (popped once sent), else gathered bytes
};

// The write path's state of one instance.
struct WritePath {
    // One scratch buffer for batching queued frames into a single write;
    // writes are synchronous, so one per instance is enough.
    std::unique_ptr<uint8_t[]> scratch;
    // Batched sends (nullptr: io_uring unusable here, or --no-io-uring):
    // plain-TCP connections' writes of one flush go out in one system call.
    std::unique_ptr<SendBatch> batch;
    std::vector<BatchedWrite> batched;
    std::unique_ptr<uint8_t[]> arena;
    size_t arena_used = 0;
    // Connections that got output since the last flush (ConnData::flush_listed).
    std::vector<ConnData*> pending;
    uv_check_t flush_check{};  // runs ws_flush_pending at the end of every loop iteration
};

/* Sets up server.writes on server.loop: the scratch buffer, the io_uring
 * batch when `io_uring_allowed` and usable (logs which), and the
 * end-of-iteration flush. */
void ws_write_init(Server& server, bool io_uring_allowed);

/* Closes the flush's loop handle (shutdown; the loop must run afterwards). */
void ws_write_stop(Server& server);

/* Output was queued for `s`: lists its connection for ws_flush_pending (once). */
void ws_wake(Server& server, Session* s);

/* Writes the queued output of every listed connection (see the top of
 * this file). Call once per loop iteration, and after a bus slice. */
void ws_flush_pending(Server& server);

/* LWS_CALLBACK_SERVER_WRITEABLE for an established connection: one write
 * of its queue, re-armed while anything is left. Returns -1 when the socket
 * is broken. */
int ws_write_on_writeable(Server& server, ConnData* conn);

/* Takes `conn` off the flush list (it is closing for good). */
void ws_write_unlist(Server& server, ConnData* conn);

}  // namespace pushd
