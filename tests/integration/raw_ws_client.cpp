#include "raw_ws_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace pushd::test {
namespace {

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Reads what is available within the time left; false on EOF, error or timeout.
bool read_some(int fd, std::string& into, std::chrono::steady_clock::time_point deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, remaining_ms(deadline)) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    into.append(buf, static_cast<size_t>(n));
    return true;
}

}  // namespace

RawWsClient::~RawWsClient() {
    if (fd_ >= 0) ::close(fd_);
}

bool RawWsClient::open(uint16_t port, const std::string& path, const std::string& extensions, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        error_ = std::string("connect: ") + std::strerror(errno);
        return false;
    }
    const std::string req = ws_.begin("127.0.0.1:" + std::to_string(port), path, "0123456789abcdef", extensions);
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
        error_ = "send of the upgrade failed";
        return false;
    }
    std::string rx;  // bytes read and not yet fed
    for (;;) {
        ws::UpgradeCheck c = ws_.on_upgrade_bytes(rx, pending_);
        rx.clear();
        if (c.status == ws::UpgradeStatus::ok) return true;
        if (c.status != ws::UpgradeStatus::incomplete) {
            error_ = c.error;
            return false;
        }
        if (!read_some(fd_, rx, deadline)) {
            error_ = "no upgrade answer";
            return false;
        }
    }
}

bool RawWsClient::send_text(const std::string& text, bool compress) {
    if (compress && !ws_.deflate()) return false;  // the caller's mistake: nothing negotiated
    std::string frame;
    mask_ = mask_ * 1103515245u + 12345u;
    if (!ws_.append_text(frame, text, mask_, compress)) return false;
    return ::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size());
}

bool RawWsClient::send_raw(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

std::optional<RawMessage> RawWsClient::recv(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    RawWsSink sink;
    sink.ctx = &inbox_;
    sink.on_message = [](void* p, ws::Opcode, std::string_view text, bool compressed) {
        static_cast<std::deque<RawMessage>*>(p)->push_back(RawMessage{std::string(text), compressed});
    };
    for (;;) {
        if (!inbox_.empty()) {
            RawMessage m = std::move(inbox_.front());
            inbox_.pop_front();
            return m;
        }
        // The close frame came in the same read as the messages just
        // returned: it ends the stream now, not a wait for more bytes.
        if (closed_) {
            error_ = "closed with " + std::to_string(ws_.close_code());
            return std::nullopt;
        }
        std::string bytes;
        bytes.swap(pending_);
        if (bytes.empty() && !read_some(fd_, bytes, deadline)) {
            error_ = "timeout or connection closed";
            return std::nullopt;
        }
        ws::FeedStatus st = ws_.feed(bytes, sink);
        if (st == ws::FeedStatus::error) {
            error_ = ws_.error_text();
            return std::nullopt;
        }
        if (st == ws::FeedStatus::closed) closed_ = true;
    }
}

}  // namespace pushd::test
