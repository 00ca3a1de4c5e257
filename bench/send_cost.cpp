// send_cost: the kernel's price of one small write to one of many loopback
// TCP connections, written with one send(2) each or submitted together
// through io_uring (what pushd's write path does, io/send_batch). No
// WebSocket, no Redis: the floor under bench/run.sh's 100 msg/s scenario.
//
//   send_cost MODE [ROUNDS]    MODE: send | uring
//
// A child process (pinned to CPU 1) opens 1,000 connections and reads them
// with a busy epoll loop, as pushd-bench does; the parent (pinned to CPU
// 0) writes 200 bytes to every connection, 100 rounds a second, sleeping in
// between, and prints its CPU time (getrusage) per write.
#include <liburing.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

namespace {

constexpr int kConnections = 1000;
constexpr int kRoundsPerSecond = 100;
constexpr size_t kBytes = 200;

void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

double now_s() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double cpu_us() {
    rusage u;
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// The child: connects, then reads everything until `expected` bytes came or
// a deadline passed.
int reader(const sockaddr_in& addr, long long expected, double deadline) {
    pin(1);
    int ep = epoll_create1(0);
    std::vector<int> fds;
    for (int i = 0; i < kConnections; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return 1;
        fcntl(fd, F_SETFL, O_NONBLOCK);
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.u32 = static_cast<uint32_t>(i);
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        fds.push_back(fd);
    }
    long long got = 0;
    static char buf[65536];
    while (got < expected && now_s() < deadline) {
        epoll_event ev[256];
        int n = epoll_wait(ep, ev, 256, 0);
        for (int i = 0; i < n; i++) {
            ssize_t r = recv(fds[ev[i].data.u32], buf, sizeof buf, 0);
            if (r > 0) got += r;
        }
    }
    return got == expected ? 0 : 2;
}

// Sends `len` bytes to every connection `rounds` times at kRoundsPerSecond,
// with send(2) or (ring non-null) one io_uring batch per round. Returns the
// writes that took less than everything.
long long send_rounds(const std::vector<int>& conns, io_uring* ring, const char* msg, size_t len, int rounds) {
    long long short_writes = 0;
    const double t0 = now_s();
    for (int k = 0; k < rounds; k++) {
        while (now_s() < t0 + k / double(kRoundsPerSecond)) usleep(200);
        if (!ring) {
            for (int fd : conns)
                if (send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) != static_cast<ssize_t>(len)) short_writes++;
            continue;
        }
        for (int fd : conns) io_uring_prep_send(io_uring_get_sqe(ring), fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        io_uring_submit(ring);
        unsigned head, seen = 0;
        io_uring_cqe* cqe;
        io_uring_for_each_cqe(ring, head, cqe) {
            if (cqe->res != static_cast<int>(len)) short_writes++;
            seen++;
        }
        io_uring_cq_advance(ring, seen);
    }
    return short_writes;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || (std::strcmp(argv[1], "send") != 0 && std::strcmp(argv[1], "uring") != 0)) {
        std::fprintf(stderr, "usage: send_cost send|uring [ROUNDS]\n");
        return 2;
    }
    const bool uring = std::strcmp(argv[1], "uring") == 0;
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 500;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(ls, 2048) != 0 ||
        getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        std::perror("listen");
        return 1;
    }
    const long long expected = static_cast<long long>(kConnections) * rounds * static_cast<long long>(kBytes);
    pid_t child = fork();
    if (child == 0) _exit(reader(addr, expected, now_s() + rounds / double(kRoundsPerSecond) + 30));
    pin(0);
    std::vector<int> conns;
    for (int i = 0; i < kConnections; i++) {
        int fd = accept(ls, nullptr, nullptr);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        conns.push_back(fd);
    }
    io_uring ring;
    if (uring && io_uring_queue_init(kConnections, &ring, 0) != 0) {
        std::perror("io_uring_queue_init");
        return 1;
    }
    char msg[kBytes];
    std::memset(msg, 'x', sizeof msg);
    usleep(200000);
    const double cpu0 = cpu_us();
    const long long short_writes = send_rounds(conns, uring ? &ring : nullptr, msg, sizeof msg, rounds);
    const double cpu = cpu_us() - cpu0;
    int status = 0;
    waitpid(child, &status, 0);
    std::printf("%s: %.2f us of CPU per write (%d connections x %d rounds, %lld short writes, reader %s)\n", argv[1],
                cpu / (double(kConnections) * rounds), kConnections, rounds, short_writes,
                WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "got everything" : "MISSED BYTES");
    return 0;
}
