// Blocking HTTP/1.1 GET over a POSIX socket, bounded by one deadline.
#include "client/http_get.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pushd {

namespace {

using Clock = std::chrono::steady_clock;

// Closes the descriptor it holds.
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    ~Fd() {
        if (fd >= 0)
            ::close(fd);
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
        if (n > 0)
            return true;
        if (n == 0)
            return false;
        if (errno != EINTR)
            return false;
    }
}

std::string lower(std::string s) {
    for (auto& ch : s)
        if (ch >= 'A' && ch <= 'Z')
            ch = static_cast<char>(ch - 'A' + 'a');
    return s;
}

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos)
        return "";
    size_t e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

// Decodes a chunked body; false when it is incomplete or malformed.
bool dechunk(const std::string& in, std::string& out) {
    size_t pos = 0;
    out.clear();
    for (;;) {
        size_t eol = in.find("\r\n", pos);
        if (eol == std::string::npos)
            return false;
        std::string size_line = in.substr(pos, eol - pos);
        size_t semi = size_line.find(';');
        if (semi != std::string::npos)
            size_line.resize(semi);
        char* end = nullptr;
        unsigned long size = std::strtoul(size_line.c_str(), &end, 16);
        if (end == size_line.c_str())
            return false;
        pos = eol + 2;
        if (size == 0)
            return true;
        if (pos + size > in.size())
            return false;
        out.append(in, pos, size);
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
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline)) {
            int so_error = 0;
            socklen_t sl = sizeof(so_error);
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &sl);
            if (so_error == 0)
                break;
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
        if (!options.ca_file.empty() && SSL_CTX_load_verify_locations(l.ctx.get(), options.ca_file.c_str(), nullptr) != 1) {
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
            err = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? "receive: timed out"
                                                                          : ssl_reason("receive");
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

std::string HttpResponse::header(const std::string& name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? std::string() : it->second;
}

HttpResponse http_get(const std::string& host, uint16_t port, const std::string& path, int timeout_ms) {
    return http_get(host, port, path, timeout_ms, HttpGetOptions{});
}

HttpResponse http_get(const std::string& host, uint16_t port, const std::string& path, int timeout_ms,
                      const HttpGetOptions& options) {
    HttpResponse r;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    Fd sock(connect_to(host, port, deadline, r.error));
    if (sock.fd < 0)
        return r;
    Link link;
    link.fd = sock.fd;
    if (options.tls && !start_tls(link, host, options, deadline, r.error))
        return r;

    std::string req = "GET " + (path.empty() ? std::string("/") : path) + " HTTP/1.1\r\n" +
                      "Host: " + host + ":" + std::to_string(port) + "\r\n" +
                      "User-Agent: pushd-client\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    if (!send_all(link, req, deadline, r.error))
        return r;

    // Read until the response is complete (by length or chunks) or EOF.
    std::string raw;
    size_t header_end = std::string::npos;
    long long content_length = -1;
    bool chunked = false;
    bool eof = false;
    char buf[16384];
    for (;;) {
        if (header_end != std::string::npos) {
            size_t have = raw.size() - header_end;
            if (content_length >= 0 && have >= static_cast<size_t>(content_length))
                break;
            if (chunked) {
                std::string tmp;
                if (dechunk(raw.substr(header_end), tmp))
                    break;
            }
        }
        if (eof)
            break;
        ssize_t n = recv_some(link, buf, sizeof(buf), deadline, r.error);
        if (n < 0) {
            r.status = 0;
            return r;
        }
        if (n == 0)
            eof = true;
        raw.append(buf, static_cast<size_t>(n));

        if (header_end == std::string::npos) {
            size_t p = raw.find("\r\n\r\n");
            if (p == std::string::npos) {
                if (eof) {
                    r.error = "connection closed before the response headers ended";
                    return r;
                }
                continue;
            }
            header_end = p + 4;
            // Status line: "HTTP/1.1 200 OK"
            size_t eol = raw.find("\r\n");
            std::string status_line = raw.substr(0, eol);
            if (status_line.rfind("HTTP/", 0) != 0 || status_line.size() < 12) {
                r.error = "bad status line: " + status_line;
                return r;
            }
            int status = std::atoi(status_line.c_str() + status_line.find(' ') + 1);
            size_t pos = eol + 2;
            while (pos < p) {
                size_t le = raw.find("\r\n", pos);
                std::string line = raw.substr(pos, le - pos);
                pos = le + 2;
                size_t colon = line.find(':');
                if (colon == std::string::npos)
                    continue;
                std::string name = lower(trim(line.substr(0, colon)));
                std::string value = trim(line.substr(colon + 1));
                auto [it, inserted] = r.headers.emplace(name, value);
                if (!inserted)
                    it->second += ", " + value;
            }
            if (r.headers.count("content-length"))
                content_length = std::atoll(r.headers["content-length"].c_str());
            chunked = lower(r.header("transfer-encoding")).find("chunked") != std::string::npos;
            if (chunked)
                content_length = -1;
            r.status = status;
        }
    }

    std::string body = raw.substr(header_end);
    if (chunked) {
        if (!dechunk(body, r.body)) {
            r.status = 0;
            r.error = "incomplete chunked body";
        }
    } else if (content_length >= 0) {
        if (body.size() < static_cast<size_t>(content_length)) {
            r.status = 0;
            r.error = "connection closed before the body ended";
        } else {
            r.body = body.substr(0, static_cast<size_t>(content_length));
        }
    } else {
        r.body = std::move(body);
    }
    return r;
}

}  // namespace pushd
