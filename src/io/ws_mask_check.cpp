#include "io/ws_mask_check.hpp"

#include "io/read_again.hpp"
#include "io/ws_handshake.hpp"

#include <dlfcn.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace pushd {
namespace {

// Where a watched connection's byte stream is.
enum class Phase : uint8_t {
    off,      // not watched (or no longer: plain HTTP, TLS)
    head,     // in the HTTP request head, looking for its blank line
    header,   // in a frame header
    payload,  // skipping a frame's payload
    refused,  // the request head was too long: answered 431, lws reads the end
};

struct Watch {
    Phase phase = Phase::off;
    uint8_t head_match = 0;   // bytes of "\r\n\r\n" matched so far
    uint32_t head_bytes = 0;  // bytes of the request head read so far
    uint8_t header[14] = {};  // the frame header being read
    uint8_t header_len = 0;
    uint64_t payload_left = 0;
    bool tls = false;       // read through SSL_read: the head is lws's to bound
    bool unmasked = false;  // a client frame without the mask bit was read
};

// A watch at rest: between two frames of an upgraded connection, nothing
// seen amiss. That is where an idle connection always is, so it costs one
// bit in `watched` and no Watch: only connections in their request head,
// with a frame read partly, or with something seen amiss have an entry in
// `active` (a table of Watch per descriptor cost ~50 bytes per idle
// connection). A single loop thread reads them (one Server per thread
// would need one table each; pushd runs one).
bool at_rest(const Watch& w) {
    return w.phase == Phase::header && w.header_len == 0 && w.payload_left == 0 && !w.unmasked;
}

struct Watches {
    std::vector<uint64_t> watched;  // bit fd: fd is watched
    std::unordered_map<int, Watch> active;
};

Watches& watches() {
    static Watches table;
    return table;
}

bool is_watched(int fd) {
    const std::vector<uint64_t>& bits = watches().watched;
    const size_t word = static_cast<size_t>(fd) / 64;
    return fd >= 0 && word < bits.size() && (bits[word] >> (static_cast<size_t>(fd) % 64) & 1);
}

void set_watched(int fd, bool on) {
    std::vector<uint64_t>& bits = watches().watched;
    const size_t word = static_cast<size_t>(fd) / 64;
    if (word >= bits.size()) {
        if (!on) return;
        bits.resize(word + 1);
    }
    const uint64_t bit = uint64_t{1} << (static_cast<size_t>(fd) % 64);
    bits[word] = on ? (bits[word] | bit) : (bits[word] & ~bit);
}

// The watch of `fd` when it is not at rest, else nullptr.
Watch* active_watch(int fd) {
    std::unordered_map<int, Watch>& active = watches().active;
    const auto it = active.find(fd);
    return it == active.end() ? nullptr : &it->second;
}

// Bytes a frame header takes in all, once its first two are known.
uint8_t header_size(const uint8_t* h) {
    const uint8_t len7 = h[1] & 0x7f;
    const uint8_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    return static_cast<uint8_t>(2 + ext + ((h[1] & 0x80) ? 4 : 0));
}

uint64_t payload_size(const uint8_t* h) {
    const uint8_t len7 = h[1] & 0x7f;
    if (len7 < 126) return len7;
    uint64_t n = 0;
    const int bytes = len7 == 126 ? 2 : 8;
    for (int i = 0; i < bytes; i++) n = (n << 8) | h[2 + i];
    return n;
}

// Follows the stream over `n` bytes just read. False when the request head
// runs past kMaxRequestHeadBytes (the watch is then `refused`).
bool follow(Watch& w, const uint8_t* p, size_t n) {
    static const char kEnd[] = "\r\n\r\n";
    size_t i = 0;
    while (i < n) {
        switch (w.phase) {
        case Phase::off:
        case Phase::refused: return true;
        case Phase::head:
            if (!w.tls && ++w.head_bytes > kMaxRequestHeadBytes) {
                w.phase = Phase::refused;
                return false;
            }
            w.head_match = p[i] == static_cast<uint8_t>(kEnd[w.head_match]) ? w.head_match + 1 : (p[i] == '\r' ? 1 : 0);
            i++;
            if (w.head_match == 4) w.phase = Phase::header;
            break;
        case Phase::header:
            w.header[w.header_len++] = p[i++];
            if (w.header_len < 2 || w.header_len < header_size(w.header)) break;
            if (!(w.header[1] & 0x80)) w.unmasked = true;
            w.payload_left = payload_size(w.header);
            w.header_len = 0;
            if (w.payload_left) w.phase = Phase::payload;
            break;
        case Phase::payload: {
            const uint64_t take = std::min<uint64_t>(w.payload_left, n - i);
            w.payload_left -= take;
            i += static_cast<size_t>(take);
            if (!w.payload_left) w.phase = Phase::header;
            break;
        }
        }
    }
    return true;
}

// Answers a request head that ran past kMaxRequestHeadBytes (lws 4.1 has no
// hook to answer it) and ends our side; lws then reads the end of the
// stream and closes the connection.
void refuse_head(int fd) {
    const std::string reply = http_refusal(kHttpHeadTooLarge);
    (void)::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(fd, SHUT_WR);
}

// Follows `n` bytes just read from watched `fd` (follow's answer); keeps
// its Watch only while it is not at rest.
bool follow_fd(int fd, const uint8_t* p, size_t n) {
    std::unordered_map<int, Watch>& active = watches().active;
    const auto it = active.find(fd);
    Watch w = it == active.end() ? Watch{Phase::header} : it->second;
    const bool ok = follow(w, p, n);
    if (at_rest(w)) {
        if (it != active.end()) active.erase(it);
    } else if (it != active.end()) {
        it->second = w;
    } else {
        active.emplace(fd, w);
    }
    return ok;
}

}  // namespace

void mask_check_watch(int fd, bool tls) {
    if (fd < 0) return;
    set_watched(fd, true);
    Watch w{Phase::head};
    w.tls = tls;
    watches().active[fd] = w;
}

void mask_check_forget(int fd) {
    if (fd < 0) return;
    set_watched(fd, false);
    watches().active.erase(fd);
}

bool mask_check_unmasked(int fd) {
    const Watch* w = active_watch(fd);
    return w && w->unmasked;
}

}  // namespace pushd

// lws 4.1 reads plain (not TLS) sockets with recv(2) and records the mask
// bit of a client frame without checking it. pushd's own recv follows the
// request head and frames of watched descriptors on their way into lws;
// every other descriptor (hiredis reads with recv too) passes straight
// through.
extern "C" ssize_t recv(int fd, void* buf, size_t len, int flags) {
    const bool watched = pushd::is_watched(fd);
    if (watched) {
        const pushd::Watch* w = pushd::active_watch(fd);
        if (w && w->phase == pushd::Phase::refused) return 0;  // answered 431: lws reads the end
    }
    const ssize_t n = ::recvfrom(fd, buf, len, flags, nullptr, nullptr);
    if (n > 0 && !(flags & MSG_PEEK) && watched &&
        !pushd::follow_fd(fd, static_cast<const uint8_t*>(buf), static_cast<size_t>(n))) {
        pushd::refuse_head(fd);
        return 0;
    }
    if (watched && !(flags & MSG_PEEK) && n > 0 && static_cast<size_t>(n) == len) pushd::read_again_note(fd);
    return n;
}

// lws 4.1 reads TLS connections with SSL_read: the same watch follows the
// decrypted bytes (the descriptor is the one lws gave OpenSSL). Every
// other caller (pushctl's and the tests' clients) passes straight through.
extern "C" int SSL_read(SSL* ssl, void* buf, int num) {
    using Read = int (*)(SSL*, void*, int);
    static const Read real = reinterpret_cast<Read>(dlsym(RTLD_NEXT, "SSL_read"));
    if (!real) return -1;
    const int n = real(ssl, buf, num);
    if (n > 0) {
        const int fd = SSL_get_fd(ssl);
        if (pushd::is_watched(fd)) {
            pushd::follow_fd(fd, static_cast<const uint8_t*>(buf), static_cast<size_t>(n));
            if (n == num) pushd::read_again_note(fd);
        }
    }
    return n;
}
