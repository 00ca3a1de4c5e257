// Runs one pushd instance on a libuv loop: signals, readiness and shutdown.
#pragma once

namespace pushd {

struct Server;

// Starts the listener, tells systemd READY=1, serves until SIGTERM/SIGINT,
// drains (close 1001 to every connection, bounded by ShutdownTimeout) and
// tears everything down. `server.config`, `config_path` and `env` must be set.
// Returns the process exit status: 0 after a clean shutdown, 1 when the
// listener could not start.
int server_run(Server& server);

}  // namespace pushd
