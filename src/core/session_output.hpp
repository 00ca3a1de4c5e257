// Output accounting: every frame the hub queues for a connection goes
// through here, within Limits.MaxQueueBytes, with the compression choice
// (permessage-deflate twins of pushes), the queued-bytes gauge and the
// per-type counters; the io layer takes whole frames out (gather, big).
//
// A frame that does not fit closes the connection as a slow consumer
// (4008) through the one handler SessionLife gives it.
#pragma once

#include "core/frame.hpp"
#include "core/frame_deflate.hpp"
#include "core/hub_context.hpp"
#include "core/protocol.hpp"
#include "core/status_codes.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace pushd {

class SessionOutput {
public:
    explicit SessionOutput(HubContext& ctx) : ctx_(ctx) {}
    SessionOutput(const SessionOutput&) = delete;
    SessionOutput& operator=(const SessionOutput&) = delete;

    // Who closes a connection whose queue is full (SessionLife).
    void set_overflow_handler(std::function<void(Session*)> fn) { on_overflow_ = std::move(fn); }

    // Queues `frame` (a new reference) for `s`: pushes (new_message,
    // notification) as their compressed twin when `s` negotiated
    // permessage-deflate. False when nothing was queued: `s` is closing, or
    // it was full and is now closed as a slow consumer.
    bool push(Session* s, SharedFrame* frame, OutType type);

    // Frames `json` for `s` alone (a reply) and queues it as push() does.
    bool reply(Session* s, const std::string& json, OutType type);

    // A failed ack for request `message_id`.
    void ack_fail(Session* s, std::string_view message_id, ReplyCode code, const char* message, int64_t now_ms);

    // Queues the shared heartbeat ping carrying `payload`. False when the
    // queue has no room (left alone: the next push closes it).
    bool ping(Session* s, std::string_view payload);

    // Copies queued output of `s` into `dst` (whole frames only, at most
    // `max` bytes) for one write; see Hub::gather_output.
    size_t gather(Session* s, uint8_t* dst, size_t max, SharedFrame** big);
    // Drops the oldest frame, written by the caller from gather's `big`.
    void consume_big(Session* s);

    // Drops everything queued for `s` (a drop, or the session's end).
    void discard(Session* s);

    uint64_t queued_bytes() const { return queued_bytes_; }
    const FrameDeflater* deflater() const { return deflater_.get(); }

private:
    // Appends within the cap, accounts bytes and wakes the writer.
    bool queue(Session* s, SharedFrame* frame);
    SharedFrame* compressed(SharedFrame* frame);

    HubContext& ctx_;
    std::function<void(Session*)> on_overflow_;
    std::unique_ptr<FrameDeflater> deflater_;  // created on first need (zlib state ~270 KiB)
    FrameRef ping_frame_;                      // built once, shared by every ping
    uint64_t queued_bytes_ = 0;
};

}  // namespace pushd
