// RESP2 encoding, a recursive reply parser, and blocking I/O with deadlines.
#include "resp_client.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pushd::test {

namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        struct pollfd p = {fd, events, 0};
        int n = ::poll(&p, 1, ms_left(deadline));
        if (n > 0)
            return true;
        if (n == 0 || errno != EINTR)
            return false;
    }
}

// Parses one reply from buf starting at pos. Returns 1 when complete (pos
// advanced past it), 0 when more bytes are needed, -1 when malformed.
int parse(const std::string& buf, size_t& pos, RespValue& out) {
    if (pos >= buf.size())
        return 0;
    size_t eol = buf.find("\r\n", pos);
    if (eol == std::string::npos)
        return 0;
    char kind = buf[pos];
    std::string line = buf.substr(pos + 1, eol - pos - 1);
    size_t next = eol + 2;
    switch (kind) {
    case '+':
        out.type = RespValue::Type::status;
        out.str = line;
        pos = next;
        return 1;
    case '-':
        out.type = RespValue::Type::error;
        out.str = line;
        pos = next;
        return 1;
    case ':':
        out.type = RespValue::Type::integer;
        out.integer = std::atoll(line.c_str());
        pos = next;
        return 1;
    case '$': {
        long long n = std::atoll(line.c_str());
        if (n < 0) {
            out.type = RespValue::Type::nil;
            pos = next;
            return 1;
        }
        if (buf.size() < next + static_cast<size_t>(n) + 2)
            return 0;
        out.type = RespValue::Type::bulk;
        out.str = buf.substr(next, static_cast<size_t>(n));
        pos = next + static_cast<size_t>(n) + 2;
        return 1;
    }
    case '*': {
        long long n = std::atoll(line.c_str());
        if (n < 0) {
            out.type = RespValue::Type::nil;
            pos = next;
            return 1;
        }
        RespValue arr;
        arr.type = RespValue::Type::array;
        size_t p = next;
        for (long long i = 0; i < n; i++) {
            RespValue el;
            int r = parse(buf, p, el);
            if (r <= 0)
                return r;
            arr.elements.push_back(std::move(el));
        }
        out = std::move(arr);
        pos = p;
        return 1;
    }
    default:
        return -1;
    }
}

RespValue failure(const std::string& why) {
    RespValue v;
    v.type = RespValue::Type::failure;
    v.str = why;
    return v;
}

}  // namespace

const std::string& RespValue::text() const {
    static const std::string empty;
    return (type == Type::bulk || type == Type::status) ? str : empty;
}

std::string RespValue::describe() const {
    switch (type) {
    case Type::failure: return "(failure) " + str;
    case Type::status: return str;
    case Type::error: return "(error) " + str;
    case Type::integer: return "(integer) " + std::to_string(integer);
    case Type::bulk: return "\"" + str + "\"";
    case Type::nil: return "(nil)";
    case Type::array: {
        std::string s = "[";
        for (size_t i = 0; i < elements.size(); i++)
            s += (i ? ", " : "") + elements[i].describe();
        return s + "]";
    }
    }
    return "?";
}

RespClient::~RespClient() {
    disconnect();
}

void RespClient::disconnect() {
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
    buf_.clear();
}

bool RespClient::connect(uint16_t port, int timeout_ms) {
    disconnect();
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        error_ = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    struct sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        int err = errno;
        if (err == EINPROGRESS && wait_fd(fd, POLLOUT, deadline)) {
            socklen_t sl = sizeof(err);
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl);
        } else if (err == EINPROGRESS) {
            err = ETIMEDOUT;
        }
        if (err != 0) {
            error_ = "connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(err);
            ::close(fd);
            return false;
        }
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fd_ = fd;
    error_.clear();
    return true;
}

RespValue RespClient::command(const std::vector<std::string>& args, int timeout_ms) {
    if (fd_ < 0)
        return failure(error_.empty() ? "not connected" : error_);
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string req = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args)
        req += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";

    size_t sent = 0;
    while (sent < req.size()) {
        ssize_t n = ::send(fd_, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(fd_, POLLOUT, deadline)) {
                error_ = "send: timed out";
                disconnect();
                return failure(error_);
            }
        } else {
            error_ = std::string("send: ") + std::strerror(errno);
            disconnect();
            return failure(error_);
        }
    }
    for (;;) {
        size_t pos = 0;
        RespValue v;
        int r = parse(buf_, pos, v);
        if (r == 1) {
            buf_.erase(0, pos);
            return v;
        }
        if (r < 0) {
            error_ = "malformed reply";
            disconnect();
            return failure(error_);
        }
        if (!wait_fd(fd_, POLLIN, deadline)) {
            error_ = "receive: timed out";
            disconnect();
            return failure(error_);
        }
        char tmp[16384];
        ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
        if (n > 0) {
            buf_.append(tmp, static_cast<size_t>(n));
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        } else {
            error_ = n == 0 ? "connection closed" : std::string("receive: ") + std::strerror(errno);
            disconnect();
            return failure(error_);
        }
    }
}

RespValue redis_command(uint16_t port, const std::vector<std::string>& args, int timeout_ms) {
    RespClient c;
    if (!c.connect(port, timeout_ms))
        return failure(c.error());
    return c.command(args, timeout_ms);
}

}  // namespace pushd::test
