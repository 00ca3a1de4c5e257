// pushctl listen: connects to --server over WebSocket (wss:// for https://) as a user (a token
// signed with the configured secret, as `pushctl token` makes), sends
// `auth`, joins the groups given, and prints every server message as one
// JSON line, flushed at once: auth_success, the join acks, then new_message,
// notification, ... Ends with exit 0 on SIGINT/SIGTERM (after a close 1000),
// exit 1 when the connection cannot be made, auth or a join fails, or the
// server closes the connection (the close code and reason on stderr).
#include "client/replies.hpp"
#include "client/requests.hpp"
#include "client/ws_client.hpp"
#include "context.hpp"
#include "core/auth.hpp"
#include "core/json_check.hpp"
#include "core/protocol.hpp"
#include "stop_signal.hpp"

#include <cstdio>
#include <ctime>
#include <memory>

namespace pushctl {
namespace {

// How long the WebSocket handshake and the auth reply may take.
constexpr int kOpenTimeoutMs = 10000;
constexpr int kAuthTimeoutMs = 10000;
// Waits are sliced this fine so that a signal is acted on promptly.
constexpr int kSliceMs = 100;

struct ListenOptions {
    std::string user;
    std::vector<std::string> groups;
};

// A server message on one line (in valid JSON a raw line break can only be
// whitespace between tokens).
void print_line(std::string text) {
    for (char& ch : text) {
        if (ch == '\n' || ch == '\r') ch = ' ';
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

// The WebSocket URL of `server` at `path`, for messages.
std::string ws_url(const ServerAddress& server, const std::string& path) {
    const size_t scheme = server.url.find("://");
    std::string rest = scheme == std::string::npos ? server.url : server.url.substr(scheme + 3);
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    return (server.tls ? "wss://" : "ws://") + rest + path;
}

std::string join_id(size_t i) { return "listen-join-" + std::to_string(i); }

// Connects `hub` to the WebSocket endpoint of `server` at `path` and waits
// for it to open (or for a stop signal): kOk with `id` set, or the failure.
int connect_listen(Context& c, pushd::WsClientHub& hub, const ServerAddress& server, const std::string& path, int& id) {
    pushd::ConnectOptions co;
    co.host = server.host;
    co.port = server.port;
    co.path = path;
    co.tls = server.tls;
    co.tls_insecure = c.tls_insecure;
    id = hub.connect(co);
    const std::string where = ws_url(server, path);
    for (int waited = 0; !hub.is_open(id) && !stop_requested(); waited += kSliceMs) {
        const pushd::WsState st = hub.state(id);
        if (st == pushd::WsState::failed || st == pushd::WsState::closed || waited >= kOpenTimeoutMs) {
            const int status = hub.handshake_status(id);
            std::string why = status ? "HTTP " + std::to_string(status) : hub.error(id);
            if (why.empty()) why = "no answer within " + std::to_string(kOpenTimeoutMs / 1000) + " s";
            return c.fail(kFailed, where + ": cannot connect: " + c.with_tls_hint(why));
        }
        hub.wait_open(id, kSliceMs);
    }
    return kOk;
}

// Sends auth with `token`, the joins of `groups` after auth_success, and
// prints every server message until a stop signal (then closes with 1000),
// a failed auth or join, or the server's close.
int print_messages(Context& c, pushd::WsClientHub& hub, int id, const std::string& token,
                   const std::vector<std::string>& groups) {
    hub.send_text(id, pushd::requests::auth("listen-auth", token));
    bool authed = false;
    int waited = 0;
    while (!stop_requested()) {
        std::optional<std::string> text = hub.recv_text(id, kSliceMs);
        if (!text) {
            if (!hub.is_open(id)) {
                std::string reason = hub.close_reason(id);
                return c.fail(kFailed, "the server closed the connection: " + std::to_string(hub.close_code(id)) +
                                           (reason.empty() ? "" : " " + reason));
            }
            if (!authed && (waited += kSliceMs) >= kAuthTimeoutMs) return c.fail(kFailed, "no answer to auth");
            continue;
        }
        print_line(*text);
        const pushd::Reply r = pushd::read_reply(*text).value_or(pushd::Reply{});
        if (!authed && r.type == "auth_failed") return c.fail(kFailed, "auth failed: " + r.message);
        if (!authed && r.type == "auth_success") {
            authed = true;
            for (size_t i = 0; i < groups.size(); i++)
                hub.send_text(id, pushd::requests::join_group(join_id(i), groups[i]));
        }
        for (size_t i = 0; r.type == "ack" && !r.success && i < groups.size(); i++) {
            if (r.message_id == join_id(i))
                return c.fail(kFailed, "join_group " + groups[i] + ": " + std::to_string(r.code) + " " + r.message);
        }
    }
    hub.close(id, 1000);
    hub.wait_closed(id, 2000);
    return kOk;
}

int run_listen(Context& c, const ListenOptions& o) {
    const pushd::Config* cfg = c.config();
    if (!cfg) return kUsage;
    for (const std::string& g : o.groups) {
        if (!pushd::valid_group_id(g) || !pushd::utf8_valid(g))
            return c.fail(kUsage, "--group: a group id is 1..128 bytes of UTF-8 without control characters");
    }
    const std::optional<ServerAddress> server = c.server_address();
    if (!server) return c.error->status;
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    const std::string token =
        pushd::sign_token(cfg->auth.access_secret, cfg->auth.user_claim, o.user, now, now + cfg->auth.access_expire);
    if (token.empty()) return c.fail(kUsage, "--user: '" + o.user + "' cannot be a user id");

    install_stop_signals();
    pushd::WsHubOptions ho;
    ho.enable_tls = server->tls;
    ho.tls_ca_file = c.ca_file;
    pushd::WsClientHub hub(ho);
    if (!hub.ok()) return c.fail(kFailed, "cannot create the WebSocket client");
    int id = -1;
    if (const int status = connect_listen(c, hub, *server, cfg->path, id); status != kOk) return status;
    if (stop_requested()) return kOk;
    return print_messages(c, hub, id, token, o.groups);
}

}  // namespace

void set_listen_command(CLI::App* app, Context& ctx) {
    auto o = std::make_shared<ListenOptions>();
    CLI::App* cmd = app->add_subcommand("listen", "connect as a user and print every server message as a JSON line");
    cmd->add_option("--user", o->user, "user id")->required();
    cmd->add_option("--group", o->groups, "join this group (repeatable)");
    // Its lines are JSON already; the flag is taken so that --json works
    // on every command that prints (contract section 8).
    cmd->add_flag("--json", ctx.json, "the default: one JSON object a line");
    cmd->callback([&ctx, o] { ctx.run = [o](Context& c) -> int { return run_listen(c, *o); }; });
}

}  // namespace pushctl
