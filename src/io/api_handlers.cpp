#include "io/api_handlers.hpp"

#include "core/control_entry.hpp"
#include "core/presence_schema.hpp"
#include "core/stream_id.hpp"
#include "io/server.hpp"

#include <random>
#include <string>
#include <utility>

namespace pushd {
namespace {

constexpr const char* kStorageDown = "storage unavailable, retry later";

// A publish without message_id still needs one for the dedup key: a random
// one that no retry will repeat (the caller gave nothing to retry with).
std::string generated_message_id() {
    static std::mt19937_64 rng{std::random_device{}()};
    static const char kHex[] = "0123456789abcdef";
    std::string id = "api-";
    uint64_t v = rng();
    for (int i = 0; i < 16; i++, v >>= 4) id += kHex[v & 15];
    return id;
}

void publish(Server& server, ApiPublish p, ApiRespond respond) {
    AppendRequest req;
    req.group_id = std::move(p.group_id);
    req.client_message_id = p.message_id ? std::move(*p.message_id) : generated_message_id();
    req.sender_id = std::move(p.sender_id);
    req.msg_type = p.msg_type;
    req.content = std::move(p.content);
    req.now_ms = wall_ms();
    const std::string client_id = req.client_message_id;
    server.redis_store->ops().append(req, [client_id, respond = std::move(respond)](AppendResult r) {
        if (r.status == StoreStatus::unavailable) return respond(api_failed(503, kStorageDown));
        respond(api_published(r.server_message_id, client_id, r.status == StoreStatus::duplicate));
    });
}

void notify(Server& server, ApiNotify n, ApiRespond respond) {
    server.redis_store->add_notification(n.target, n.data, [respond = std::move(respond)](Result<std::string> id) {
        if (!id.ok()) return respond(api_failed(503, kStorageDown));
        respond(api_notified(id.value()));
    });
}

void history(Server& server, ApiHistory h, ApiRespond respond) {
    auto done = [respond = std::move(respond)](ReplayResult r) {
        if (r.status != StoreStatus::ok) return respond(api_failed(503, kStorageDown));
        respond(api_history(r.messages, r.truncated));
    };
    const size_t limit = static_cast<size_t>(h.limit);
    if (h.since)
        server.redis_store->ops().replay_group(h.group_id, *h.since, limit, std::move(done));
    else
        server.redis_store->history_newest(h.group_id, limit, std::move(done));
}

void disconnect(Server& server, ApiDisconnect d, ApiRespond respond) {
    ControlEntry entry;
    entry.op = ControlOp::disconnect;
    entry.user_id = std::move(d.user_id);
    entry.reason = close_reason_text(d.reason);
    server.redis_store->disconnect_user(entry, [respond = std::move(respond)](Status st) {
        respond(st.ok() ? api_done() : api_failed(503, kStorageDown));
    });
}

// Tokens issued up to the request's second are refused for `seconds`.
void revoke(Server& server, ApiRevoke r, ApiRespond respond) {
    const int64_t now = wall_ms();
    const Revocation revocation{now + r.seconds * 1000, now / 1000};
    server.redis_store->revoke_user(r.user_id, revocation, [respond = std::move(respond)](Status st) {
        respond(st.ok() ? api_done() : api_failed(503, kStorageDown));
    });
}

void presence(Server& server, ApiPresence q, ApiRespond respond) {
    // Always answered from Redis: with Groups.Presence false here, other
    // instances may still keep presence.
    if (q.group) {
        server.redis_presence->query_group(*q.group, [respond = std::move(respond)](Result<GroupPresence> p) {
            respond(p.ok() ? ApiAnswer{200, group_presence_json(p.value())} : api_failed(503, kStorageDown));
        });
        return;
    }
    server.redis_presence->query_user(*q.user, [respond = std::move(respond)](Result<UserPresence> p) {
        respond(p.ok() ? ApiAnswer{200, user_presence_json(p.value())} : api_failed(503, kStorageDown));
    });
}

}  // namespace

void api_carry_out(Server& server, ApiRequest request, ApiRespond respond) {
    if (Status redis = server_redis_status(server); !redis.ok()) return respond(api_failed(503, redis.error()));
    if (auto* p = std::get_if<ApiPublish>(&request)) return publish(server, std::move(*p), std::move(respond));
    if (auto* n = std::get_if<ApiNotify>(&request)) return notify(server, std::move(*n), std::move(respond));
    if (auto* h = std::get_if<ApiHistory>(&request)) return history(server, std::move(*h), std::move(respond));
    if (auto* d = std::get_if<ApiDisconnect>(&request)) return disconnect(server, std::move(*d), std::move(respond));
    if (auto* r = std::get_if<ApiRevoke>(&request)) return revoke(server, std::move(*r), std::move(respond));
    presence(server, std::move(std::get<ApiPresence>(request)), std::move(respond));
}

}  // namespace pushd
