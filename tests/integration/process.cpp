// fork/exec of test children, pidfd-based waits, stop by PID.
#include "process.hpp"

#include "harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>

extern char** environ;

namespace pushd::test {

namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

ProcessExit decode(int status) {
    ProcessExit e;
    e.finished = true;
    if (WIFEXITED(status))
        e.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        e.signal = WTERMSIG(status);
    return e;
}

// The environment for a child: ours without PUSHD_*, plus `extra`.
std::vector<std::string> child_env(const EnvVars& extra) {
    std::vector<std::string> out;
    for (char** e = environ; e && *e; e++) {
        std::string kv = *e;
        std::string name = kv.substr(0, kv.find('='));
        if (name.rfind("PUSHD_", 0) == 0) continue;
        bool overridden = false;
        for (const auto& [k, v] : extra)
            if (k == name) overridden = true;
        if (!overridden) out.push_back(kv);
    }
    for (const auto& [k, v] : extra) out.push_back(k + "=" + v);
    return out;
}

}  // namespace

std::string ProcessExit::describe() const {
    if (!finished) return "still running";
    std::string s = signal ? "signal " + std::to_string(signal) : "exit " + std::to_string(exit_code);
    if (killed) s += " (killed by the harness)";
    return s;
}

std::string find_in_path(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t pos = 0;
    while (pos <= p.size()) {
        size_t end = p.find(':', pos);
        if (end == std::string::npos) end = p.size();
        std::string dir = p.substr(pos, end - pos);
        if (dir.empty()) dir = ".";
        std::string full = dir + "/" + name;
        if (::access(full.c_str(), X_OK) == 0) return full;
        pos = end + 1;
    }
    return "";
}

ChildProcess::~ChildProcess() {
    if (alive_) stop(SIGKILL, 5000);
    if (pidfd_ >= 0) ::close(pidfd_);
}

bool ChildProcess::start(const std::vector<std::string>& argv, const EnvVars& env, const std::string& log_path,
                         std::string& error) {
    if (alive_ && running()) {
        error = "already running";
        return false;
    }
    if (argv.empty()) {
        error = "empty argv";
        return false;
    }
    std::string exe = find_in_path(argv[0]);
    if (exe.empty()) {
        error = argv[0] + ": not found in PATH";
        return false;
    }

    // Everything the child needs is prepared before fork: after it, the
    // child only calls async-signal-safe functions.
    std::vector<std::string> envs = child_env(env);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);

    int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        error = log_path + ": " + std::strerror(errno);
        return false;
    }
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int report[2];  // exec failure errno, CLOEXEC: EOF means exec succeeded
    if (null_fd < 0 || ::pipe2(report, O_CLOEXEC) != 0) {
        error = std::string("pipe: ") + std::strerror(errno);
        ::close(log_fd);
        if (null_fd >= 0) ::close(null_fd);
        return false;
    }
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        error = std::string("fork: ") + std::strerror(errno);
        ::close(log_fd);
        ::close(null_fd);
        ::close(report[0]);
        ::close(report[1]);
        return false;
    }
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::setpgid(0, 0);
        struct sigaction sa;
        std::memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        ::sigaction(SIGPIPE, &sa, nullptr);  // the test runner ignores it
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::dup2(null_fd, 0);
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        int wfd = report[1];
        if (wfd != 3) {
            ::dup2(wfd, 3);  // keep the report pipe, close everything else
            ::fcntl(3, F_SETFD, FD_CLOEXEC);
        }
        if (::close_range(4, ~0U, 0) != 0)
            for (int fd = 4; fd < 65536; fd++) ::close(fd);
        ::execve(exe.c_str(), cargv.data(), cenv.data());
        int err = errno;
        ssize_t w = ::write(3, &err, sizeof(err));
        (void)w;
        ::_exit(127);
    }
    ::close(log_fd);
    ::close(null_fd);
    ::close(report[1]);
    int child_errno = 0;
    ssize_t n;
    do {
        n = ::read(report[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    ::close(report[0]);

    pid_ = pid;
    alive_ = true;
    exit_.reset();
    if (pidfd_ >= 0) ::close(pidfd_);
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (n == static_cast<ssize_t>(sizeof(child_errno))) {
        reap(5000);
        error = exe + ": exec failed: " + std::strerror(child_errno);
        return false;
    }
    return true;
}

bool ChildProcess::reap(int timeout_ms) {
    if (!alive_) return true;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            exit_ = decode(status);
            alive_ = false;
            return true;
        }
        if (r < 0 && errno != EINTR) {  // not our child any more: nothing to reap
            exit_ = ProcessExit{true, -1, 0, false};
            alive_ = false;
            return true;
        }
        int left = ms_left(deadline);
        if (left == 0) return false;
        if (pidfd_ >= 0) {
            struct pollfd p = {pidfd_, POLLIN, 0};
            ::poll(&p, 1, left);  // readable when the child exits
        } else {
            // No pidfd (old kernel): short waits between checks.
            struct timespec ts = {0, 2 * 1000 * 1000};
            ::nanosleep(&ts, nullptr);
        }
    }
}

bool ChildProcess::running() {
    if (!alive_) return false;
    return !reap(0);
}

bool ChildProcess::signal(int sig) {
    if (!running()) return false;
    return ::kill(pid_, sig) == 0;
}

ProcessExit ChildProcess::wait(int timeout_ms) {
    if (!alive_) return exit_.value_or(ProcessExit{});
    if (reap(timeout_ms)) return *exit_;
    return ProcessExit{};
}

ProcessExit ChildProcess::stop(int sig, int timeout_ms) {
    if (!alive_) return exit_.value_or(ProcessExit{});
    if (reap(0)) return *exit_;
    ::kill(pid_, sig);
    if (sig != SIGKILL && sig != SIGCONT) ::kill(pid_, SIGCONT);  // a SIGSTOPped child could not act on `sig`
    if (reap(timeout_ms)) return *exit_;
    ::kill(pid_, SIGKILL);
    reap(10000);
    if (exit_) exit_->killed = true;
    return exit_.value_or(ProcessExit{});
}

RunResult run_to_exit(const std::vector<std::string>& argv, const EnvVars& env, int timeout_ms) {
    RunResult r;
    std::string out_path = unique_temp_path("run", ".out");
    ChildProcess child;
    if (!child.start(argv, env, out_path, r.error)) {
        r.output = read_file(out_path);
        return r;
    }
    r.exit = child.wait(timeout_ms);
    if (!r.exit.finished) {
        r.exit = child.stop(SIGKILL, 10000);
        r.exit.killed = true;
    }
    r.output = read_file(out_path);
    ::unlink(out_path.c_str());
    return r;
}

}  // namespace pushd::test
