// Re-servicing connections whose read filled lws's buffer (see read_again.hpp).
#include "io/read_again.hpp"

#include <libwebsockets.h>

#include <vector>

namespace pushd {
namespace {

// Noted descriptors, each at most once (a bit per descriptor): bounded by
// the number of descriptors.
struct Noted {
    std::vector<int> fds;
    std::vector<bool> listed;
    std::vector<int> round;  // the round being serviced (kept: no allocation per iteration)
};

Noted& noted() {
    static Noted n;
    return n;
}

}  // namespace

void read_again_note(int fd) {
    if (fd < 0) return;
    Noted& n = noted();
    const auto i = static_cast<size_t>(fd);
    if (i >= n.listed.size()) n.listed.resize(i + 1024);
    if (n.listed[i]) return;
    n.listed[i] = true;
    n.fds.push_back(fd);
}

void read_again_forget(int fd) {
    Noted& n = noted();
    const auto i = static_cast<size_t>(fd);
    if (fd < 0 || i >= n.listed.size() || !n.listed[i]) return;
    n.listed[i] = false;
    for (int& f : n.fds)
        if (f == fd) f = -1;
}

void read_again_service(lws_context* context, size_t max_rounds) {
    Noted& n = noted();
    std::vector<int>& round = n.round;
    for (size_t r = 0; r < max_rounds && !n.fds.empty(); r++) {
        round.swap(n.fds);
        n.fds.clear();
        for (int fd : round)
            if (fd >= 0) n.listed[static_cast<size_t>(fd)] = false;
        for (int fd : round) {
            if (fd < 0) continue;  // forgotten
            // lws finds the connection by its descriptor; one closed
            // meanwhile is simply not found.
            lws_pollfd pfd{};
            pfd.fd = fd;
            pfd.events = LWS_POLLIN;
            pfd.revents = LWS_POLLIN;
            lws_service_fd(context, &pfd);
        }
    }
    // Left after max_rounds: the next iteration's poll reports them again
    // (level-triggered), so nothing is lost by forgetting them here.
    for (int fd : n.fds)
        if (fd >= 0) n.listed[static_cast<size_t>(fd)] = false;
    n.fds.clear();
}

}  // namespace pushd
