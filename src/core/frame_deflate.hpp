// permessage-deflate (RFC 7692) for shared pre-framed frames.
//
// Why here and not in libwebsockets' extension: lws compresses inside
// lws_write, per connection, with a deflate stream per connection (~256 KiB
// of zlib state each once used). A message fanned out to N compressing
// connections would be compressed N times and could not leave in our batched
// raw writes. Instead each message is compressed ONCE per instance, without
// context takeover (a fresh stream per message), into a second shared frame
// (RSV1 set) that every compressing recipient queues by reference. A
// message compressed without reference to earlier ones is valid for any
// receiver, whether or not it keeps its own context (RFC 7692 section 7.1.1:
// a server may always choose not to use context takeover). lws still does
// the negotiation and inflates what clients send.
//
// Pure: zlib only.
#pragma once

#include "core/outq.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace pushd {

// Payloads shorter than this go uncompressed (RFC 7692 allows uncompressed
// messages on a compressing connection): below it the deflate block and
// the CPU cost more than the bytes saved. (The hub compresses only pushes,
// new_message and notification; replies always go uncompressed.)
inline constexpr size_t kDeflateMinPayload = 128;

// The LZ77 window used: 2^15, the RFC's default. Connections that limited
// server_max_window_bits below it get uncompressed frames (the io layer
// decides; see ws_protocol.cpp).
inline constexpr int kDeflateWindowBits = 15;

// Whether a client's Sec-WebSocket-Extensions offer lets us send frames
// compressed with a 2^kDeflateWindowBits window: false when any offer
// limits server_max_window_bits below it (we then send that connection
// uncompressed frames, which is always allowed). `offer` is the header
// value as received.
bool deflate_offer_allows_our_window(std::string_view offer);

class FrameDeflater {
public:
    FrameDeflater();
    ~FrameDeflater();
    FrameDeflater(const FrameDeflater&) = delete;
    FrameDeflater& operator=(const FrameDeflater&) = delete;

    // The frame to queue for a connection that negotiated permessage-deflate
    // in place of `plain`: its compressed twin (built on the first call and
    // kept in plain->deflated), or `plain` itself when the payload is short,
    // does not shrink, or zlib fails. The result is borrowed: the caller
    // takes its own reference when it queues it. `headroom` as for
    // frame_create_text.
    SharedFrame* variant_for(SharedFrame* plain, size_t headroom);

    // Messages compressed, and their payload bytes before and after.
    uint64_t compressed() const { return compressed_; }
    uint64_t bytes_in() const { return bytes_in_; }
    uint64_t bytes_out() const { return bytes_out_; }

private:
    struct Stream;
    std::unique_ptr<Stream> stream_;  // one zlib stream, reset per message
    uint64_t compressed_ = 0;
    uint64_t bytes_in_ = 0;
    uint64_t bytes_out_ = 0;
};

// Compresses one message on a fresh stream (no context takeover) into
// `out` (replaced), without the 00 00 ff ff tail: the payload of a
// permessage-deflate message. For clients; the server uses FrameDeflater.
bool deflate_message(std::string_view message, std::string& out);

// The receiving side, for clients (the load generator and tests): inflates
// one compressed message after another on one stream, keeping the LZ77
// context between messages as RFC 7692 requires of a receiver that did not
// negotiate no_context_takeover (so it works whether the sender resets or not).
class MessageInflater {
public:
    MessageInflater();
    ~MessageInflater();
    MessageInflater(const MessageInflater&) = delete;
    MessageInflater& operator=(const MessageInflater&) = delete;

    // Inflates the payload of one compressed message (as received, without
    // the 00 00 ff ff tail) into `out` (replaced). False on corrupt data or
    // when the result would exceed `max_bytes`; the stream is then unusable.
    bool inflate(std::string_view compressed, size_t max_bytes, std::string& out);

private:
    struct Stream;
    std::unique_ptr<Stream> stream_;
};

}  // namespace pushd
