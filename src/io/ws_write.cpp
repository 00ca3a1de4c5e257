#include "io/ws_write.hpp"

#include "io/log.hpp"
#include "io/read_again.hpp"
#include "io/server.hpp"
#include "io/ws_conn.hpp"

#include <cerrno>

namespace pushd {
namespace {

// Writes what is queued for `conn`'s session: every queued frame that fits,
// back to back, pre-framed, as one raw write (or one frame too big for the
// batch, from the frame itself). Whatever the socket does not take, lws
// keeps and sends before anything else, so the frame stays whole on the
// wire and its own control frames can only come between two of ours.
// Returns lws_write's result (negative: the socket is broken).
int write_queued(Server& server, ConnData* conn) {
    Session* s = conn->session;
    uint8_t* buf = server.writes.scratch.get() + LWS_PRE;
    SharedFrame* big = nullptr;
    size_t n = server.hub->gather_output(s, buf, kWriteBatchBytes, &big);
    if (big) {
        int written = lws_write(conn->wsi, const_cast<uint8_t*>(frame_wire(big)), frame_wire_len(big), LWS_WRITE_RAW);
        server.hub->consume_big(s);
        return written;
    }
    return lws_write(conn->wsi, buf, n, LWS_WRITE_RAW);
}

// After a write of `done` of `w`'s bytes (0 on -EAGAIN): the rest goes to
// lws, which sends what the socket takes, keeps the remainder ahead of
// anything else and asks for POLLOUT itself, so the frame stays whole on
// the wire. Then the connection's queue continues from the writable callback.
void finish_write(Server& server, const BatchedWrite& w, int result) {
    ConnData* conn = w.conn;
    Session* s = conn->session;
    conn->write_batched = false;
    if (result < 0 && result != -EAGAIN) {
        // Broken socket: lws notices on its next service of the fd.
        server.hub->drop_session(s, kCloseGoingAway, "write failed");
        return;
    }
    const size_t done = result > 0 ? static_cast<size_t>(result) : 0;
    int rest = 0;
    if (done < w.len) rest = lws_write(conn->wsi, const_cast<uint8_t*>(w.bytes) + done, w.len - done, LWS_WRITE_RAW);
    if (w.head_frame) server.hub->consume_big(s);  // sent, or copied by lws
    if (rest < 0) {
        server.hub->drop_session(s, kCloseGoingAway, "write failed");
        return;
    }
    if (!s->outq.empty()) lws_callback_on_writable(conn->wsi);
}

// Runs the batched sends queued so far and settles each.
void run_send_batch(Server& server) {
    WritePath& wp = server.writes;
    if (wp.batched.empty()) return;
    server.counters.send_submits++;
    server.counters.batched_sends += wp.batched.size();
    const bool ran = wp.batch->submit(
        [](void* ctx, uint32_t tag, int result) {
            Server& sv = *static_cast<Server*>(ctx);
            finish_write(sv, sv.writes.batched[tag], result);
        },
        &server);
    if (!ran) {
        // The ring failed: nothing was sent; lws writes everything instead,
        // and this instance writes without io_uring from now on.
        log_printf(LogLevel::warn, "writes: io_uring failed, one send per connection from now on");
        for (const BatchedWrite& w : wp.batched) finish_write(server, w, -EAGAIN);
    }
    wp.batched.clear();
    wp.arena_used = 0;
}

// Queues `conn`'s output as one send of the batch: its single queued frame
// from the shared frame itself, several frames gathered into the arena.
// False when it must be written the usual way (TLS, a frame too big for one
// batched write).
bool batch_write(Server& server, ConnData* conn) {
    WritePath& wp = server.writes;
    Session* s = conn->session;
    if (lws_is_ssl(conn->wsi)) return false;
    if (wp.batch->full() || kSendArenaBytes - wp.arena_used < kWriteBatchBytes || conn->write_batched) {
        run_send_batch(server);
        // Settling that batch may have written or dropped `s` itself.
        if (s->closing || s->outq.empty() || lws_partial_buffered(conn->wsi)) return true;
    }
    if (wp.batch->broken()) return false;
    SharedFrame* head = s->outq.front();
    if (frame_wire_len(head) > kWriteBatchBytes) return false;
    BatchedWrite w{conn, nullptr, 0, false};
    if (s->outq.frames() == 1) {
        w.bytes = frame_wire(head);
        w.len = static_cast<uint32_t>(frame_wire_len(head));
        w.head_frame = true;
    } else {
        uint8_t* dst = wp.arena.get() + LWS_PRE + wp.arena_used;
        SharedFrame* big = nullptr;
        w.bytes = dst;
        w.len = static_cast<uint32_t>(server.hub->gather_output(s, dst, kWriteBatchBytes, &big));
        wp.arena_used += w.len;
    }
    const auto tag = static_cast<uint32_t>(wp.batched.size());
    wp.batched.push_back(w);
    conn->write_batched = true;
    if (!wp.batch->add(lws_get_socket_fd(conn->wsi), w.bytes, w.len, tag)) {
        // Cannot happen (room was made above); settle it the usual way.
        wp.batched.pop_back();
        finish_write(server, w, -EAGAIN);
    }
    return true;
}

// Opens the io_uring batch when allowed and usable; says which way writes go.
void open_send_batch(WritePath& wp, bool io_uring_allowed) {
    if (!io_uring_allowed) {
        log_printf(LogLevel::info, "writes: one send per connection (--no-io-uring)");
        return;
    }
    std::string why;
    wp.batch = SendBatch::open(kSendBatchEntries, &why);
    if (!wp.batch) {
        log_printf(LogLevel::info, "writes: one send per connection (io_uring not usable: %s)", why.c_str());
        return;
    }
    wp.arena = std::make_unique<uint8_t[]>(LWS_PRE + kSendArenaBytes);
    wp.batched.reserve(kSendBatchEntries);
    log_printf(LogLevel::info, "writes: batched through io_uring");
}

}  // namespace

void ws_write_init(Server& server, bool io_uring_allowed) {
    WritePath& wp = server.writes;
    wp.scratch = std::make_unique<uint8_t[]>(LWS_PRE + kWriteBatchBytes);
    open_send_batch(wp, io_uring_allowed);
    uv_check_init(server.loop, &wp.flush_check);
    wp.flush_check.data = &server;
    uv_check_start(&wp.flush_check, [](uv_check_t* h) {
        Server& server = *static_cast<Server*>(h->data);
        read_again_service(server.lws, kReadAgainRounds);  // what they ask is answered in this flush
        ws_flush_pending(server);
    });
    uv_unref(reinterpret_cast<uv_handle_t*>(&wp.flush_check));
}

void ws_write_stop(Server& server) {
    auto* h = reinterpret_cast<uv_handle_t*>(&server.writes.flush_check);
    if (h->loop && !uv_is_closing(h)) uv_close(h, nullptr);
}

void ws_wake(Server& server, Session* s) {
    auto* conn = static_cast<ConnData*>(s->transport);
    if (conn->flush_listed) return;
    conn->flush_listed = true;
    server.writes.pending.push_back(conn);
}

void ws_write_unlist(Server& server, ConnData* conn) {
    if (!conn->flush_listed) return;
    conn->flush_listed = false;
    for (ConnData*& p : server.writes.pending)
        if (p == conn) p = nullptr;
}

void ws_flush_pending(Server& server) {
    WritePath& wp = server.writes;
    // Index loop: a write may not add connections, but stay safe if it does.
    for (size_t i = 0; i < wp.pending.size(); i++) {
        ConnData* conn = wp.pending[i];
        if (!conn) continue;  // closed since it was listed
        conn->flush_listed = false;
        Session* s = conn->session;
        if (!s || s->closing || s->outq.empty() || conn->peer_closed) continue;
        if (lws_partial_buffered(conn->wsi)) {
            // lws still holds part of an earlier write: it asks for POLLOUT
            // itself and the writable callback continues after it.
            lws_callback_on_writable(conn->wsi);
            continue;
        }
        if (wp.batch && batch_write(server, conn)) continue;
        if (write_queued(server, conn) < 0) {
            // Broken socket: lws notices on its next service of the fd; make
            // sure that comes soon and nothing more is queued meanwhile.
            server.hub->drop_session(s, kCloseGoingAway, "write failed");
            continue;
        }
        if (!s->outq.empty()) lws_callback_on_writable(conn->wsi);
    }
    wp.pending.clear();
    if (wp.batch) run_send_batch(server);
}

int ws_write_on_writeable(Server& server, ConnData* conn) {
    Session* s = conn->session;
    if (write_queued(server, conn) < 0) return -1;
    if (!s->outq.empty() || s->closing) lws_callback_on_writable(conn->wsi);
    return 0;
}

}  // namespace pushd
