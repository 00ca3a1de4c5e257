// A private redis-server for one test: its own port on 127.0.0.1, its own
// directory in the temp dir, no RDB snapshots, AOF on request. Restartable
// on the same port and directory, so AOF data survives stop() + start().
#pragma once

#include "process.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace pushd::test {

struct RedisOptions {
    bool appendonly = false;              // --appendonly yes|no
    uint16_t port = 0;                    // 0: a free_port()
    std::vector<std::string> extra_args;  // appended, e.g. {"--maxmemory", "10mb"}
};

// One redis-server process (redis-server from PATH).
class RedisProcess {
public:
    // Chooses the port and directory; starts nothing.
    explicit RedisProcess(RedisOptions options = {});

    // Stops the server if it is running (SIGTERM, then SIGKILL).
    ~RedisProcess();

    RedisProcess(const RedisProcess&) = delete;
    RedisProcess& operator=(const RedisProcess&) = delete;

    // Starts redis-server --port P --bind 127.0.0.1 --save "" --appendonly
    // yes|no --dir D and waits until it answers PING with PONG. False (see
    // error() and log()) when it exited or did not answer in `timeout_ms`;
    // the process is then stopped.
    bool start(int timeout_ms = 10000);

    // SIGTERM (redis flushes its AOF and exits), waits up to `timeout_ms`,
    // SIGKILL as the fallback. Data in the directory is kept.
    ProcessExit stop(int timeout_ms = 10000);

    // SIGKILL at once: a crash, the AOF is not flushed beyond what fsync did.
    ProcessExit kill();

    // Sends `sig` (e.g. SIGSTOP/SIGCONT to make it unresponsive for a while).
    bool signal(int sig);

    bool running() { return child_.running(); }
    pid_t pid() const { return child_.pid(); }
    uint16_t port() const { return options_.port; }
    // "127.0.0.1:P", the form of pushd's Redis.Host.
    std::string host_port() const;
    const std::string& dir() const { return dir_; }
    const std::string& log_path() const { return log_path_; }
    std::string log() const;
    const std::string& error() const { return error_; }

private:
    RedisOptions options_;
    std::string dir_;
    std::string log_path_;
    std::string error_;
    ChildProcess child_;
};

}  // namespace pushd::test
