#include "core/session_output.hpp"

namespace pushd {

bool SessionOutput::queue(Session* s, SharedFrame* frame) {
    const bool was_empty = s->outq.empty();
    if (!s->outq.push(frame, static_cast<size_t>(ctx_.config->limits.max_queue_bytes))) return false;
    queued_bytes_ += frame_wire_len(frame);
    if (was_empty) ctx_.transport.wake(s);
    return true;
}

// Pushes only: compressed once per frame and shared by every compressing
// recipient. Replies are built per connection and short; compressing them
// would cost a deflate per reply.
SharedFrame* SessionOutput::compressed(SharedFrame* frame) {
    if (!deflater_) deflater_ = std::make_unique<FrameDeflater>();
    const uint64_t before = deflater_->compressed();
    frame = deflater_->variant_for(frame, ctx_.frame_headroom);
    if (deflater_->compressed() != before) {
        ctx_.counters.deflate_messages = deflater_->compressed();
        ctx_.counters.deflate_bytes_in = deflater_->bytes_in();
        ctx_.counters.deflate_bytes_out = deflater_->bytes_out();
    }
    return frame;
}

bool SessionOutput::push(Session* s, SharedFrame* frame, OutType type) {
    if (s->closing) return false;
    if (s->deflate && (type == OutType::new_message || type == OutType::notification)) frame = compressed(frame);
    if (!queue(s, frame)) {
        on_overflow_(s);
        return false;
    }
    ctx_.counters.out[static_cast<size_t>(type)]++;
    return true;
}

bool SessionOutput::reply(Session* s, const std::string& json, OutType type) {
    FrameRef f = FrameRef::adopt(frame_create_text(json, ctx_.frame_headroom));
    return f && push(s, f.get(), type);
}

void SessionOutput::ack_fail(Session* s, std::string_view message_id, ReplyCode code, const char* message,
                             int64_t now_ms) {
    reply(s, build_ack_fail(message_id, code, message, now_ms), OutType::ack);
}

bool SessionOutput::ping(Session* s, std::string_view payload) {
    if (!ping_frame_) ping_frame_ = FrameRef::adopt(frame_create_ping(payload, ctx_.frame_headroom));
    return ping_frame_ && queue(s, ping_frame_.get());
}

size_t SessionOutput::gather(Session* s, uint8_t* dst, size_t max, SharedFrame** big) {
    *big = nullptr;
    SharedFrame* head = s->outq.front();
    if (!head) return 0;
    if (frame_wire_len(head) > max) {
        *big = head;
        return 0;
    }
    size_t n = s->outq.gather(dst, max);
    queued_bytes_ -= n;
    ctx_.counters.bytes_out += n;
    return n;
}

void SessionOutput::consume_big(Session* s) {
    SharedFrame* head = s->outq.front();
    if (!head) return;
    const size_t len = frame_wire_len(head);
    s->outq.pop_front();
    queued_bytes_ -= len;
    ctx_.counters.bytes_out += len;
}

void SessionOutput::discard(Session* s) {
    queued_bytes_ -= s->outq.bytes();
    s->outq.clear();
}

}  // namespace pushd
