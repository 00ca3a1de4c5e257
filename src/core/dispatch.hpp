// Dispatch: one client request from its text to its answer. Rate limit
// first (every frame takes a token), AutoJoin's hold next, then parse,
// check and route: ping and auth here; send_message and mark_read through
// storage; join_group and leave_group to GroupJoin. Every failure is
// answered with the code PROTOCOL.md names (ReplyCode).
#pragma once

#include "core/auth.hpp"
#include "core/hub_context.hpp"
#include "core/protocol.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pushd {

class AutoJoin;
class FanOut;
class GroupJoin;
class InboxReplay;
class SessionLife;
class SessionOutput;

// The modules a request may reach.
struct DispatchPeers {
    SessionLife& life;
    AutoJoin& auto_join;
    InboxReplay& inbox;
    GroupJoin& groups;
    FanOut& fanout;
};

class Dispatch {
public:
    Dispatch(HubContext& ctx, SessionOutput& output, DispatchPeers peers) : ctx_(ctx), output_(output), peers_(peers) {}
    Dispatch(const Dispatch&) = delete;
    Dispatch& operator=(const Dispatch&) = delete;

    // One whole text message arrived on `s`.
    void on_text(Session* s, std::string_view text, int64_t now_ms);

    // Parses and handles (or, rate_limited, answers 429 to) one request
    // (AutoJoin replays the ones it held through here).
    void process_text(Session* s, std::string_view text, bool rate_limited, int64_t now_ms);

    // Authenticates `s` as the token's user (auth, or the handshake's
    // token): auth_success, then AutoJoin and the inbox replay (since).
    void authenticate(Session* s, const VerifiedToken& token, const std::optional<std::string>& message_id,
                      int64_t now_ms, const std::optional<std::string>& since = std::nullopt);

private:
    void answer_rate_limited(Session* s, const ParseResult& parsed, int64_t now_ms);
    void answer_invalid_field(Session* s, const ParseResult& parsed, int64_t now_ms);
    void handle(Session* s, const Request& req, int64_t now_ms);
    void handle_auth(Session* s, const Request& req, int64_t now_ms);
    void fail_auth(Session* s, const std::optional<std::string>& message_id, AuthError error, int64_t now_ms,
                   const char* message = nullptr);
    void handle_send(Session* s, const Request& req, int64_t now_ms);
    void append(Session* s, const Request& req, int64_t now_ms);
    void handle_join(Session* s, const Request& req, int64_t now_ms);
    void handle_mark_read(Session* s, const Request& req, int64_t now_ms);

    HubContext& ctx_;
    SessionOutput& output_;
    DispatchPeers peers_;
};

}  // namespace pushd
