// The protocol half of one WebSocket client connection on a raw socket,
// shared by pushd-bench's epoll loop and the tests' blocking client: the
// upgrade (its request, the check of the answer), text frames out (masked;
// deflated once permessage-deflate is on, when the caller asks) and
// messages in (reassembled by client/ws_codec, inflated here).
//
// No sockets, no clocks, no randomness: the caller moves the bytes and
// supplies the nonce and the mask keys. Not thread-safe; one per connection.
#pragma once

#include "client/ws_codec.hpp"
#include "core/frame_deflate.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace pushd {

// What feed() reports. Function pointers and a context, as ws::FrameSink.
struct RawWsSink {
    void* ctx = nullptr;
    // A whole data message, inflated when it arrived compressed
    // (`compressed` says so); `text` is valid only during the call.
    void (*on_message)(void* ctx, ws::Opcode op, std::string_view text, bool compressed) = nullptr;
    // A ping frame's payload (valid only during the call).
    void (*on_ping)(void* ctx, std::string_view payload) = nullptr;
};

class RawWsConn {
public:
    explicit RawWsConn(size_t max_message_bytes = 1 << 20) :
        max_message_bytes_(max_message_bytes),
        parser_(max_message_bytes) {}

    /* Starts over and returns the upgrade request for `path` on `host`
     * (the Host header's value), with the Sec-WebSocket-Key made of
     * `nonce16` and, when `extensions` is not empty, offering them. */
    std::string begin(std::string_view host, std::string_view path, std::string_view nonce16,
                      std::string_view extensions = {});

    /* Feeds bytes of the answer to the upgrade. On `ok` the connection is
     * open, deflate() says whether permessage-deflate was accepted and
     * `rest` holds the bytes that followed the answer's head (frames). */
    ws::UpgradeCheck on_upgrade_bytes(std::string_view data, std::string& rest);

    /* True once the server accepted permessage-deflate. */
    bool deflate() const { return inflater_ != nullptr; }

    /* Appends `payload` to `out` as one text frame masked with `mask`,
     * deflated (RSV1) when `compress` and deflate(). False, with nothing
     * appended, when deflating failed. */
    bool append_text(std::string& out, std::string_view payload, uint32_t mask, bool compress) const;

    /* Feeds bytes of the open connection, calling `sink` for each message
     * and ping in stream order. error also when a compressed message does
     * not inflate (error_text() says which). */
    ws::FeedStatus feed(std::string_view data, const RawWsSink& sink);

    /* Why feed() returned error; static text. */
    const char* error_text() const;
    /* The close frame's code once feed() returned closed. */
    int close_code() const { return parser_.close_code(); }

    /* Frees the memory of the handshake (a connection dropped or open). */
    void release_handshake();

private:
    size_t max_message_bytes_;
    std::string key_;   // Sec-WebSocket-Key
    std::string head_;  // the upgrade answer's bytes until its head is complete
    bool offered_ = false;
    ws::FrameParser parser_;
    std::unique_ptr<MessageInflater> inflater_;
    std::string inflated_;  // reused output buffer
    bool corrupt_ = false;
};

}  // namespace pushd
