// redis-server lifecycle for tests: start, wait for PONG, stop by PID.
#include "redis_process.hpp"

#include "harness.hpp"

#include <chrono>
#include <csignal>

namespace pushd::test {

RedisProcess::RedisProcess(RedisOptions options) : options_(std::move(options)) {
    if (options_.port == 0) options_.port = free_port();
    dir_ = make_temp_subdir("redis-" + std::to_string(options_.port));
    log_path_ = dir_ + "/redis.log";
}

RedisProcess::~RedisProcess() {
    if (child_.running()) stop(5000);
}

std::string RedisProcess::host_port() const { return "127.0.0.1:" + std::to_string(options_.port); }

std::string RedisProcess::log() const { return read_file(log_path_); }

bool RedisProcess::start(int timeout_ms) {
    std::vector<std::string> argv = {
        "redis-server",
        "--port",
        std::to_string(options_.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        options_.appendonly ? "yes" : "no",
        "--dir",
        dir_,
        "--daemonize",
        "no",
        "--protected-mode",
        "no",
        "--logfile",
        "",  // log to stdout, which is log_path_
    };
    argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
    error_.clear();
    if (!child_.start(argv, {}, log_path_, error_)) return false;

    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
        RespValue pong = redis_command(options_.port, {"PING"}, 500);
        if (pong.type == RespValue::Type::status && pong.str == "PONG") return true;
        // Redis answers "-LOADING ..." while it replays its AOF: not ready yet.
        last = pong.describe();
        // Waits for the child's exit (pidfd) as the pause between attempts,
        // so a server that died is noticed at once.
        ProcessExit e = child_.wait(10);
        if (e.finished) {
            error_ = "redis-server exited during startup (" + e.describe() + "); log:\n" + log();
            return false;
        }
    }
    error_ = "redis-server did not answer PING within " + std::to_string(timeout_ms) + " ms (last: " + last + ")";
    child_.stop(SIGKILL, 5000);
    return false;
}

ProcessExit RedisProcess::stop(int timeout_ms) { return child_.stop(SIGTERM, timeout_ms); }

ProcessExit RedisProcess::kill() { return child_.stop(SIGKILL, 5000); }

bool RedisProcess::signal(int sig) { return child_.signal(sig); }

}  // namespace pushd::test
