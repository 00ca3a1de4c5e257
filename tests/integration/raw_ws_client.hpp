// A blocking WebSocket client on a plain socket and client/raw_ws_conn
// (the protocol pushd-bench's connections use), for tests that must see
// the wire itself: which extension the server accepted, the RSV1 bit of
// each frame, compressed client frames. The lws client (src/client) hides
// all of that.
#pragma once

#include "client/raw_ws_conn.hpp"

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace pushd::test {

struct RawMessage {
    std::string text;         // inflated when it was compressed
    bool compressed = false;  // the frame carried RSV1
};

class RawWsClient {
public:
    RawWsClient() = default;
    ~RawWsClient();
    RawWsClient(const RawWsClient&) = delete;
    RawWsClient& operator=(const RawWsClient&) = delete;

    // Connects to 127.0.0.1:`port`, sends the upgrade for `path` offering
    // `extensions` (may be empty) and reads the answer. True on a valid
    // 101; deflate() then says whether permessage-deflate was accepted.
    bool open(uint16_t port, const std::string& path, const std::string& extensions, int timeout_ms = 5000);
    bool deflate() const { return ws_.deflate(); }
    const std::string& error() const { return error_; }
    int fd() const { return fd_; }

    // Sends one text message; `compress` sends it deflated with RSV1
    // (only after permessage-deflate was accepted).
    bool send_text(const std::string& text, bool compress = false);

    // Sends `bytes` (frames the caller built, e.g. several at once) as one write.
    bool send_raw(const std::string& bytes);

    // The next whole message, or nullopt after `timeout_ms` or on a
    // protocol error, close or EOF (see error()).
    std::optional<RawMessage> recv(int timeout_ms = 5000);

private:
    int fd_ = -1;
    std::string error_;
    uint32_t mask_ = 0x1234567u;
    RawWsConn ws_{1 << 20};
    std::deque<RawMessage> inbox_;
    std::string pending_;  // bytes read with the handshake answer
    bool closed_ = false;  // a close frame came (after the messages still in inbox_)
};

}  // namespace pushd::test
