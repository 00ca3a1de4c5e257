// Child processes for the integration tests: start with argv, environment
// overrides and output captured to a file; wait for exit with a timeout;
// stop by PID with a signal, SIGKILL as the fallback.
//
// Only processes started here are ever signalled, always by their own PID.
// Children die with the test process (PR_SET_PDEATHSIG), start in their own
// process group (a Ctrl-C on the test runner does not reach them directly),
// inherit no descriptor but stdin (/dev/null), stdout and stderr (the log
// file), and no PUSHD_* variable of the test runner's environment unless
// given explicitly.
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pushd::test {

// Environment overrides for a child: name -> value, added to (or replacing
// in) the test process's environment.
using EnvVars = std::vector<std::pair<std::string, std::string>>;

// How a child ended.
struct ProcessExit {
    bool finished = false;  // false: still running when the wait gave up
    int exit_code = -1;     // the exit status when it exited normally
    int signal = 0;         // the signal that ended it, 0 when it exited
    bool killed = false;    // the harness had to SIGKILL it (stop() fallback)

    // True when it exited normally with status 0.
    bool ok() const { return finished && signal == 0 && exit_code == 0; }
    // "exit 0", "signal 9 (killed by the harness)", "still running", ...
    std::string describe() const;
};

// One child process. Not copyable; the destructor SIGKILLs and reaps a child
// still running.
class ChildProcess {
public:
    ChildProcess() = default;
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Starts argv[0] (a path, or a name looked up in PATH) with `env` added
    // to the environment, stdout and stderr appended to `log_path`. Returns
    // false with `error` set when it could not be started (exec failure is
    // detected here, not later). Fails if a child is already running.
    bool start(const std::vector<std::string>& argv, const EnvVars& env, const std::string& log_path,
               std::string& error);

    // PID of the running (or last) child; 0 before the first start.
    pid_t pid() const { return pid_; }

    // True while the child has not exited (reaps it when it has).
    bool running();

    // Sends `sig` to the child. False when it is not running.
    bool signal(int sig);

    // Waits up to `timeout_ms` for the child to exit and reaps it. The
    // result has finished=false when it is still running.
    ProcessExit wait(int timeout_ms);

    // Sends `sig`, waits up to `timeout_ms` for the exit; if the child is
    // still running then, SIGKILLs it and reaps it (killed=true). Returns at
    // once with the recorded exit when the child already ended.
    ProcessExit stop(int sig, int timeout_ms);

    // The exit of the last child, once reaped.
    const std::optional<ProcessExit>& last_exit() const { return exit_; }

private:
    bool reap(int timeout_ms);  // true when reaped within timeout_ms

    pid_t pid_ = 0;
    int pidfd_ = -1;
    bool alive_ = false;
    std::optional<ProcessExit> exit_;
};

// Result of run_to_exit.
struct RunResult {
    ProcessExit exit;
    std::string output;  // stdout and stderr, interleaved as written
    std::string error;   // why it could not be started (exit.finished false)
};

// Runs argv to completion with `env` added, capturing its output. A child
// still running after `timeout_ms` is SIGKILLed (exit.killed, finished
// stays true with signal 9).
RunResult run_to_exit(const std::vector<std::string>& argv, const EnvVars& env = {}, int timeout_ms = 10000);

// Full path of `name` found in PATH (or `name` itself when it contains a
// '/'); "" when not found.
std::string find_in_path(const std::string& name);

}  // namespace pushd::test
