// pushctl's blocking client for Redis.Mode cluster: one synchronous hiredis
// connection per node, opened when first needed; commands routed by the
// slot of their key (core/cluster_slots) with the map CLUSTER SLOTS gives,
// MOVED followed (the map patched, the command sent again), ASK followed
// (ASKING and the command on the named node), at most kMaxRedirects times.
#pragma once

#include <hiredis/hiredis.h>

#include "core/cluster_slots.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pushctl {

struct ReplyDeleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class ClusterSync {
public:
    static constexpr int kMaxRedirects = 5;

    // `seeds` are "host:port"; `pass` is sent as AUTH on each connection.
    ClusterSync(std::vector<std::string> seeds, std::string pass, int timeout_ms);

    // Reads the slot map from the first seed that answers. False with
    // error() set when none does or the map has a slot without a master.
    bool connect();

    // Runs `args` on the master of its key's slot (any master when it has
    // no key, see pushd::command_key: the master last used, so PUBLISH and
    // WAIT after a write go where it went). nullptr with error() set on a
    // connection failure or too many redirects (a node that cannot be
    // reached: the map is read again and the command tried once more, as it
    // was not sent); a Redis error is returned. WAIT goes
    // to the node of the command before it; MULTI ... EXEC to the master of
    // the first command's key, without redirects (a transaction over
    // several slots fails with EXECABORT: Redis cannot run one).
    Reply command(const std::vector<std::string>& args);

    // Runs `args` on the node at `address` ("host:port"), no redirect
    // followed (SCAN over each master, WAIT on the master written to).
    Reply command_on(const std::string& address, const std::vector<std::string>& args);

    // The masters that serve slots, in the map's order.
    std::vector<std::string> masters() const;

    // The node the last command() ran on ("" before any).
    const std::string& last_node() const { return last_node_; }
    const std::string& error() const { return error_; }

private:
    struct ContextDeleter {
        void operator()(redisContext* c) const { redisFree(c); }
    };
    using Context = std::unique_ptr<redisContext, ContextDeleter>;

    redisContext* node(const std::string& address);
    std::string route(const std::vector<std::string>& args, uint16_t* slot) const;
    Reply routed(const std::vector<std::string>& args);
    Reply transaction(const std::vector<std::string>& args);
    Reply run(redisContext* c, const std::vector<std::string>& args);
    bool read_map(const std::string& address);

    std::vector<std::string> seeds_;
    std::string pass_;
    int timeout_ms_;
    pushd::SlotMap map_;
    std::map<std::string, Context> nodes_;
    std::string last_node_;
    bool sent_ = false;         // the last command_on got as far as sending
    bool multi_ = false;        // inside MULTI ... EXEC
    bool multi_empty_ = false;  // no command queued yet
    std::string multi_node_;
    std::string error_;
};

}  // namespace pushctl
