// The integration-test layer: include this one header in a test file.
//
// It brings in
//   process.hpp        ChildProcess, run_to_exit (any child, stop by PID)
//   redis_process.hpp  RedisProcess: a private redis-server per test
//   resp_client.hpp    redis_command(): raw RESP commands to that server
//   pushd_process.hpp  PushdProcess, standard_config(), run_pushd()
//   test_tokens.hpp    make_token() and friends (JWTs for tests)
//   test_cert.hpp      TestCert: a self-signed certificate for TLS tests
//   client/ws_client.hpp, client/http_get.hpp  the clients under test
// and declares the basics below: free ports, the per-process temp dir,
// files, polling waits.
//
// Typical test:
//   RedisProcess redis;             REQUIRE(redis.start());
//   PushdProcess pushd;             REQUIRE(pushd.start(standard_options(redis.port())));
//   WsClientHub hub;
//   int c = hub.connect({.port = pushd.port(), .path = "/ws?token=" + user_token("42")});
//   REQUIRE(hub.wait_open(c, 3000));
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace pushd::test {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read,
// closed). Another process may still take it before it is used; each call
// returns a port not returned before by this process.
uint16_t free_port();

// This test process's temp dir (/tmp/pushd-it-<pid>-XXXXXX), created on
// first use and removed with everything in it when the process exits. Set
// PUSHD_KEEP_TMP=1 to keep it for a post-mortem (its path is printed).
// Dirs of earlier test processes that died without cleaning up (their pid
// no longer exists) are removed when the first one is created.
const std::string& temp_dir();

// Removes /tmp/pushd-it-<pid>-* dirs of test processes that died without
// running their exit handlers (killed by a timeout, crashed). A dir whose
// pid still exists, or whose name has no pid, is left alone.
void sweep_stale_temp_dirs();

// A path in temp_dir() not handed out before: "<dir>/<stem>-<n><suffix>".
// Nothing is created.
std::string unique_temp_path(const std::string& stem, const std::string& suffix = "");

// Creates and returns a new directory in temp_dir() named after `stem`.
std::string make_temp_subdir(const std::string& stem);

// The whole content of `path`; "" when it cannot be read.
std::string read_file(const std::string& path);

// Writes `content` to `path` (truncating). False on failure.
bool write_file(const std::string& path, const std::string& content);

// Checks `condition` every `step_ms` until it is true (true) or `timeout_ms`
// passed (false, after a last check). For conditions outside any event
// loop (files, other processes); a WsClientHub has its own wait_for.
bool wait_until(const std::function<bool()>& condition, int timeout_ms, int step_ms = 10);

// A field of a JSON message by dotted path ("type", "data.code", an array
// item by its index: "messages.0.content"): strings
// as they are, booleans "true"/"false", numbers as integers, objects and
// arrays as compact JSON; "" when absent, "<not json>" when unparsable.
std::string jfield(const std::string& json, const std::string& path);

// Milliseconds since the Unix epoch, and seconds.
int64_t unix_ms();
int64_t unix_s();

}  // namespace pushd::test

#include "client/http_get.hpp"
#include "client/ws_client.hpp"
#include "process.hpp"
#include "pushd_process.hpp"
#include "redis_process.hpp"
#include "resp_client.hpp"
#include "test_cert.hpp"
#include "test_tokens.hpp"
