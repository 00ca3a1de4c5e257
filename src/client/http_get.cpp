// Blocking HTTP/1.1 GET over a POSIX socket, bounded by one deadline.
#include "client/http_get.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

namespace pushd {

namespace {

using Clock = std::chrono::steady_clock;

// Longest response head (status line and headers) read before giving up.
constexpr size_t kMaxHead = 65536;

// Closes the descriptor it holds.
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
};

int ms_left(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on `fd` until `deadline`; false on timeout or error.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        struct pollfd p = {fd, events, 0};
        int n = ::poll(&p, 1, ms_left(deadline));
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return false;
    }
}

std::string lower(std::string s) {
    for (auto& ch : s)
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    return s;
}

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

enum class Chunks { incomplete, complete, malformed };

// Decodes a chunked body (RFC 9112 section 7.1; trailers are skipped) into
// `out` when given. A chunk size is 1..15 hex digits, so that it cannot
// overflow, optionally followed by blanks and a ';' extension.
Chunks dechunk(std::string_view in, std::string* out) {
    size_t pos = 0;
    if (out) out->clear();
    for (;;) {
        size_t eol = in.find("\r\n", pos);
        if (eol == std::string_view::npos) return in.size() - pos > 4096 ? Chunks::malformed : Chunks::incomplete;
        std::string_view line = in.substr(pos, eol - pos);
        size_t digits = 0;
        uint64_t size = 0;
        for (; digits < line.size(); digits++) {
            char c = line[digits];
            int v = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (v < 0) break;
            if (digits == 15) return Chunks::malformed;
            size = size * 16 + static_cast<uint64_t>(v);
        }
        if (digits == 0) return Chunks::malformed;
        std::string_view rest = line.substr(digits);
        size_t blank = rest.find_first_not_of(" \t");
        if (blank != std::string_view::npos && rest[blank] != ';') return Chunks::malformed;
        pos = eol + 2;
        if (size == 0) return Chunks::complete;  // trailers, if any, are not needed
        // Compared without adding to pos, which could wrap around.
        if (size > in.size() - pos || in.size() - pos - size < 2) return Chunks::incomplete;
        if (in.substr(pos + size, 2) != "\r\n") return Chunks::malformed;
        if (out) out->append(in.substr(pos, size));
        pos += size + 2;  // chunk data, CRLF
    }
}

// Resolves and connects with a deadline; returns the fd or -1 with `err`.
int connect_to(const std::string& host, uint16_t port, Clock::time_point deadline, std::string& err) {
    struct addrinfo hints;
    std::memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo* res = nullptr;
    std::string service = std::to_string(port);
    int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
    if (rc != 0) {
        err = "resolve " + host + ": " + gai_strerror(rc);
        return -1;
    }
    int fd = -1;
    for (auto* ai = res; ai; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            err = std::string("socket: ") + std::strerror(errno);
            continue;
        }
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline)) {
            int so_error = 0;
            socklen_t sl = sizeof(so_error);
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &sl);
            if (so_error == 0) break;
            err = "connect " + host + ":" + service + ": " + std::strerror(so_error);
        } else if (errno == EINPROGRESS) {
            err = "connect " + host + ":" + service + ": timed out";
        } else {
            err = "connect " + host + ":" + service + ": " + std::strerror(errno);
        }
        ::close(fd);
        fd = -1;
    }
    ::freeaddrinfo(res);
    return fd;
}

struct SslCtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
};

// One connection: the socket, and the TLS session over it when https.
struct Link {
    int fd = -1;
    std::unique_ptr<SSL_CTX, SslCtxFree> ctx;
    std::unique_ptr<SSL, SslFree> ssl;
};

// Waits as OpenSSL asks after a WANT_READ / WANT_WRITE; false otherwise.
bool wait_ssl(const Link& l, int ssl_error, Clock::time_point deadline) {
    if (ssl_error == SSL_ERROR_WANT_READ) return wait_fd(l.fd, POLLIN, deadline);
    if (ssl_error == SSL_ERROR_WANT_WRITE) return wait_fd(l.fd, POLLOUT, deadline);
    return false;
}

std::string ssl_reason(const char* what) {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    char buf[256] = "unknown error";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    return std::string(what) + ": " + buf;
}

// TLS client handshake on l.fd (non-blocking) within the deadline.
bool start_tls(Link& l, const std::string& host, const HttpGetOptions& options, Clock::time_point deadline,
               std::string& err) {
    const bool insecure = options.tls_insecure;
    l.ctx.reset(SSL_CTX_new(TLS_client_method()));
    if (!l.ctx) {
        err = ssl_reason("tls");
        return false;
    }
    SSL_CTX_set_options(l.ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (!insecure) {
        SSL_CTX_set_default_verify_paths(l.ctx.get());
        if (!options.ca_file.empty() &&
            SSL_CTX_load_verify_locations(l.ctx.get(), options.ca_file.c_str(), nullptr) != 1) {
            err = ssl_reason(("tls: CA file '" + options.ca_file + "'").c_str());
            return false;
        }
        SSL_CTX_set_verify(l.ctx.get(), SSL_VERIFY_PEER, nullptr);
    }
    l.ssl.reset(SSL_new(l.ctx.get()));
    if (!l.ssl || SSL_set_fd(l.ssl.get(), l.fd) != 1) {
        err = ssl_reason("tls");
        return false;
    }
    SSL_set_tlsext_host_name(l.ssl.get(), host.c_str());
    if (!insecure) SSL_set1_host(l.ssl.get(), host.c_str());
    for (;;) {
        int rc = SSL_connect(l.ssl.get());
        if (rc == 1) return true;
        int e = SSL_get_error(l.ssl.get(), rc);
        if (wait_ssl(l, e, deadline)) continue;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            err = "tls handshake: timed out";
        } else if (long v = SSL_get_verify_result(l.ssl.get()); v != X509_V_OK) {
            ERR_clear_error();
            err = std::string("tls handshake: certificate not trusted: ") + X509_verify_cert_error_string(v);
        } else {
            err = ssl_reason("tls handshake");
        }
        return false;
    }
}

// Sends all of `data` before the deadline.
bool send_all(const Link& l, const std::string& data, Clock::time_point deadline, std::string& err) {
    size_t sent = 0;
    while (sent < data.size()) {
        if (l.ssl) {
            int n = SSL_write(l.ssl.get(), data.data() + sent, static_cast<int>(data.size() - sent));
            if (n > 0) {
                sent += static_cast<size_t>(n);
                continue;
            }
            int e = SSL_get_error(l.ssl.get(), n);
            if (wait_ssl(l, e, deadline)) continue;
            err = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? "send: timed out" : ssl_reason("send");
            return false;
        }
        ssize_t n = ::send(l.fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(l.fd, POLLOUT, deadline)) {
                err = "send: timed out";
                return false;
            }
            continue;
        }
        err = std::string("send: ") + std::strerror(errno);
        return false;
    }
    return true;
}

// Reads what is available (waiting until the deadline for something):
// > 0 bytes read, 0 at the end of the stream, -1 on error or timeout.
ssize_t recv_some(const Link& l, char* buf, size_t size, Clock::time_point deadline, std::string& err) {
    for (;;) {
        if (l.ssl) {
            int n = SSL_read(l.ssl.get(), buf, static_cast<int>(size));
            if (n > 0) return n;
            int e = SSL_get_error(l.ssl.get(), n);
            if (e == SSL_ERROR_ZERO_RETURN) return 0;
            if (wait_ssl(l, e, deadline)) continue;
            err =
                (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? "receive: timed out" : ssl_reason("receive");
            return -1;
        }
        ssize_t n = ::recv(l.fd, buf, size, 0);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
            if (wait_fd(l.fd, POLLIN, deadline)) continue;
            err = "receive: timed out";
            return -1;
        }
        err = std::string("receive: ") + std::strerror(errno);
        return -1;
    }
}

}  // namespace

HttpResponseReader::Status HttpResponseReader::fail(std::string why) {
    r_.status = 0;
    r_.error = std::move(why);
    return status_ = Status::failed;
}

HttpResponseReader::Status HttpResponseReader::feed(std::string_view bytes) {
    if (status_ != Status::incomplete) return status_;
    size_t old = raw_.size();
    raw_.append(bytes);
    if (header_end_ == std::string::npos) {
        // The blank line may straddle the previous feed: look 3 bytes back.
        size_t p = raw_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
        // The same limit whatever the split: without a blank line in
        // kMaxHead bytes, none can end the head within kMaxHead.
        if (p == std::string::npos ? raw_.size() >= kMaxHead : p + 4 > kMaxHead)
            return fail("response headers longer than " + std::to_string(kMaxHead) + " bytes");
        if (p == std::string::npos) return Status::incomplete;
        header_end_ = p + 4;
        // Status line: "HTTP/1.1 200 OK": three digits after the first space.
        size_t eol = raw_.find("\r\n");
        std::string status_line = raw_.substr(0, eol);
        size_t sp = status_line.find(' ');
        if (status_line.rfind("HTTP/", 0) != 0 || sp == std::string::npos || sp + 4 > status_line.size() ||
            status_line[sp + 1] < '1' || status_line[sp + 1] > '9' ||  // 100..999
            !std::isdigit(static_cast<unsigned char>(status_line[sp + 2])) ||
            !std::isdigit(static_cast<unsigned char>(status_line[sp + 3])) ||
            (sp + 4 < status_line.size() && status_line[sp + 4] != ' '))
            return fail("bad status line: " + status_line.substr(0, 200));
        int status = std::stoi(status_line.substr(sp + 1, 3));
        size_t pos = eol + 2;
        while (pos < p) {
            size_t le = raw_.find("\r\n", pos);
            std::string line = raw_.substr(pos, le - pos);
            pos = le + 2;
            size_t colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string name = lower(trim(line.substr(0, colon)));
            std::string value = trim(line.substr(colon + 1));
            auto [it, inserted] = r_.headers.emplace(name, value);
            if (!inserted) it->second += ", " + value;
        }
        chunked_ = lower(r_.header("transfer-encoding")).find("chunked") != std::string::npos;
        if (!chunked_ && r_.headers.count("content-length")) {
            // Digits only (a repeated header joined with ", " is refused too):
            // atoll would read "-1" or "12abc" as a length.
            const std::string& v = r_.headers["content-length"];
            if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
                return fail("bad Content-Length: " + v.substr(0, 40));
            content_length_ = std::stoll(v);
        }
        r_.status = status;
    }
    return check();
}

HttpResponseReader::Status HttpResponseReader::finish() {
    if (status_ != Status::incomplete) return status_;
    eof_ = true;
    if (header_end_ == std::string::npos) return fail("connection closed before the response headers ended");
    return check();
}

HttpResponseReader::Status HttpResponseReader::check() {
    std::string_view body = std::string_view(raw_).substr(header_end_);
    if (chunked_) {
        Chunks c = dechunk(body, nullptr);
        if (c == Chunks::malformed) return fail("malformed chunked body");
        if (c == Chunks::incomplete) return eof_ ? fail("incomplete chunked body") : Status::incomplete;
        dechunk(body, &r_.body);
        return status_ = Status::complete;
    }
    if (content_length_ >= 0) {
        if (body.size() < static_cast<size_t>(content_length_))
            return eof_ ? fail("connection closed before the body ended") : Status::incomplete;
        r_.body = std::string(body.substr(0, static_cast<size_t>(content_length_)));
        return status_ = Status::complete;
    }
    if (!eof_) return Status::incomplete;
    r_.body = std::string(body);
    return status_ = Status::complete;
}

std::string HttpResponse::header(const std::string& name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? std::string() : it->second;
}

HttpResponse http_get(const std::string& host, uint16_t port, const std::string& path, int timeout_ms) {
    return http_get(host, port, path, timeout_ms, HttpGetOptions{});
}

HttpResponse http_get(const std::string& host, uint16_t port, const std::string& path, int timeout_ms,
                      const HttpGetOptions& options) {
    HttpRequest req;
    req.path = path;
    return http_request(host, port, req, timeout_ms, options);
}

HttpResponse http_request(const std::string& host, uint16_t port, const HttpRequest& request, int timeout_ms,
                          const HttpGetOptions& options) {
    HttpResponse r;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    Fd sock(connect_to(host, port, deadline, r.error));
    if (sock.fd < 0) return r;
    Link link;
    link.fd = sock.fd;
    if (options.tls && !start_tls(link, host, options, deadline, r.error)) return r;

    std::string req = request.method + " " + (request.path.empty() ? std::string("/") : request.path) +
                      " HTTP/1.1\r\n" + "Host: " + host + ":" + std::to_string(port) + "\r\n" +
                      "User-Agent: pushd-client\r\nAccept: */*\r\nConnection: close\r\n";
    for (const auto& [name, value] : request.headers) req += name + ": " + value + "\r\n";
    if (!request.body.empty() || request.method == "POST")
        req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(request.body.size()) + "\r\n";
    req += "\r\n";
    req += request.body;
    if (!send_all(link, req, deadline, r.error)) return r;

    // Read until the response is complete (by length or chunks) or EOF.
    HttpResponseReader reader;
    HttpResponseReader::Status st = HttpResponseReader::Status::incomplete;
    char buf[16384];
    while (st == HttpResponseReader::Status::incomplete) {
        ssize_t n = recv_some(link, buf, sizeof(buf), deadline, r.error);
        if (n < 0) return r;
        st = n == 0 ? reader.finish() : reader.feed(std::string_view(buf, static_cast<size_t>(n)));
    }
    return std::move(reader.response());
}

}  // namespace pushd
