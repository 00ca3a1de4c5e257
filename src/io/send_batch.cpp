#include "io/send_batch.hpp"

#include <liburing.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pushd {
namespace {

// Queues one MSG_DONTWAIT send and runs it; true when its completion was
// posted by the submit itself (no wait), with its result in *res.
bool probe_send(io_uring* ring, int fd, const char* byte, int* res) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (!sqe) return false;
    io_uring_prep_send(sqe, fd, byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (io_uring_submit(ring) != 1) return false;
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(ring, &cqe) != 0 || !cqe) return false;
    *res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return true;
}

// The promise submit() relies on, checked on a socket pair: a send to a
// full socket completes at once with -EAGAIN (not parked until there is
// room), and one to a socket with room completes at once with its bytes.
std::string probe_inline_completion(io_uring* ring) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return std::string("socketpair: ") + std::strerror(errno);
    std::string problem;
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    char chunk[4096] = {};
    // Bounded: a 4 KiB send buffer fills within a few hundred KiB at most.
    for (int i = 0; i < 4096 && send(sv[0], chunk, sizeof chunk, MSG_DONTWAIT) > 0; i++) {}
    int res = 0;
    const char byte = 'x';
    if (!probe_send(ring, sv[0], &byte, &res))
        problem = "a send to a full socket did not complete inline";
    else if (res != -EAGAIN)
        problem = "a send to a full socket returned " + std::to_string(res) + ", not -EAGAIN";
    if (problem.empty()) {
        while (recv(sv[1], chunk, sizeof chunk, MSG_DONTWAIT) > 0) {}
        if (!probe_send(ring, sv[0], &byte, &res))
            problem = "a send did not complete inline";
        else if (res != 1)
            problem = "a send returned " + std::to_string(res) + ", not 1";
    }
    close(sv[0]);
    close(sv[1]);
    return problem;
}

}  // namespace

std::unique_ptr<SendBatch> SendBatch::open(unsigned entries, std::string* why) {
    std::unique_ptr<SendBatch> b(new SendBatch());
    b->ring_ = std::make_unique<io_uring>();
    // SUBMIT_ALL: a send the kernel refuses at submission gets its own
    // failed completion instead of stopping the rest of the batch.
    io_uring_params params{};
    params.flags = IORING_SETUP_SUBMIT_ALL;
    int rc = io_uring_queue_init_params(entries, b->ring_.get(), &params);
    if (rc < 0) {
        *why = std::string("io_uring_setup: ") + std::strerror(-rc);
        return nullptr;
    }
    b->capacity_ = entries;
    if (std::string problem = probe_inline_completion(b->ring_.get()); !problem.empty()) {
        *why = problem;
        return nullptr;  // the destructor tears the ring down
    }
    return b;
}

SendBatch::~SendBatch() {
    if (capacity_) io_uring_queue_exit(ring_.get());
}

bool SendBatch::add(int fd, const void* buf, size_t len, uint32_t tag) {
    if (full() || broken_) return false;
    io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
    if (!sqe) return false;
    io_uring_prep_send(sqe, fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tag);
    queued_++;
    return true;
}

bool SendBatch::submit(DoneFn on_done, void* ctx) {
    if (broken_) return false;
    if (queued_ == 0) return true;
    const size_t want = queued_;
    queued_ = 0;
    int rc = io_uring_submit(ring_.get());
    if (rc < 0) {
        // Nothing was consumed, and the queued entries would go out with the
        // next submit, after their buffers are gone: never submit again.
        broken_ = true;
        return false;
    }
    // Every completion is posted before the submit returns (open() checked
    // that), so this never waits in practice; waiting is still right when
    // it would not hold, since the buffers must outlive the sends.
    size_t done = 0;
    while (done < want) {
        io_uring_cqe* cqe = nullptr;
        unsigned head;
        unsigned seen = 0;
        io_uring_for_each_cqe(ring_.get(), head, cqe) {
            on_done(ctx, static_cast<uint32_t>(cqe->user_data), cqe->res);
            seen++;
        }
        io_uring_cq_advance(ring_.get(), seen);
        done += seen;
        if (done < want) {
            int w;
            while ((w = io_uring_wait_cqe(ring_.get(), &cqe)) == -EINTR) {}
            if (w < 0) {
                broken_ = true;
                break;
            }
        }
    }
    return true;
}

}  // namespace pushd
