#include "redis_cluster_sync.hpp"

#include "core/host_port.hpp"
#include "io/redis_cluster.hpp"

#include <strings.h>
#include <sys/time.h>

#include <algorithm>

namespace pushctl {

ClusterSync::ClusterSync(std::vector<std::string> seeds, std::string pass, int timeout_ms) :
    seeds_(std::move(seeds)),
    pass_(std::move(pass)),
    timeout_ms_(timeout_ms) {}

bool ClusterSync::connect() {
    std::string errors;
    for (const std::string& seed : seeds_) {
        if (read_map(seed)) return true;
        errors += (errors.empty() ? "" : "; ") + error_;
    }
    error_ = seeds_.empty() ? "Redis.Nodes names no node" : "redis cluster: " + errors;
    return false;
}

bool ClusterSync::read_map(const std::string& address) {
    redisContext* c = node(address);
    if (!c) return false;
    Reply r = run(c, {"CLUSTER", "SLOTS"});
    if (!r) return false;
    std::vector<pushd::SlotRange> ranges;
    const std::optional<pushd::HostPort> hp = pushd::parse_host_port(address);
    if (r->type == REDIS_REPLY_ERROR || !pushd::redis_read_slots(r.get(), ranges, hp ? hp->host : "")) {
        error_ = address + ": CLUSTER SLOTS answered " +
                 (r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "in another shape");
        return false;
    }
    pushd::SlotMap map;
    map.assign(ranges);
    if (!map.complete()) {
        error_ = address + ": some slots have no master (cluster_state not ok?)";
        return false;
    }
    map_ = std::move(map);
    return true;
}

redisContext* ClusterSync::node(const std::string& address) {
    auto it = nodes_.find(address);
    if (it != nodes_.end()) return it->second.get();
    const std::optional<pushd::HostPort> hp = pushd::parse_host_port(address);
    if (!hp) {
        error_ = "not a host:port: '" + address + "'";
        return nullptr;
    }
    timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
    Context c(redisConnectWithTimeout(hp->host.c_str(), hp->port, tv));
    if (!c || c->err) {
        error_ = "redis " + address + ": " + (c ? c->errstr : "cannot allocate a context");
        return nullptr;
    }
    redisSetTimeout(c.get(), tv);
    if (!pass_.empty()) {
        Reply r = run(c.get(), {"AUTH", pass_});
        if (!r) return nullptr;
        if (r->type == REDIS_REPLY_ERROR) {
            error_ = "redis " + address + " AUTH: " + std::string(r->str, r->len);
            return nullptr;
        }
    }
    redisContext* raw = c.get();
    nodes_.emplace(address, std::move(c));
    return raw;
}

Reply ClusterSync::run(redisContext* c, const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    Reply r(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!r) {
        error_ = std::string("redis: ") + (c->errstr[0] ? c->errstr : "no reply");
        // A broken connection is not used again.
        for (auto it = nodes_.begin(); it != nodes_.end(); ++it) {
            if (it->second.get() != c) continue;
            nodes_.erase(it);
            break;
        }
    }
    return r;
}

Reply ClusterSync::command_on(const std::string& address, const std::vector<std::string>& args) {
    sent_ = false;
    redisContext* c = node(address);
    if (!c) return nullptr;
    last_node_ = address;
    sent_ = true;
    return run(c, args);
}

namespace {

bool is(const std::string& name, const char* upper) { return strcasecmp(name.c_str(), upper) == 0; }

}  // namespace

std::string ClusterSync::route(const std::vector<std::string>& args, uint16_t* slot) const {
    const std::vector<std::string_view> views(args.begin(), args.end());
    const std::optional<std::string_view> key = pushd::command_key(views);
    *slot = key ? pushd::key_slot(*key) : 0;
    if (key) return map_.master_of(*slot);
    // Any master: the last one used while it still is one (PUBLISH then
    // WAIT after a write count that write's replicas), else the first.
    const std::vector<std::string> m = masters();
    if (std::find(m.begin(), m.end(), last_node_) != m.end()) return last_node_;
    return m.empty() ? "" : m.front();
}

Reply ClusterSync::command(const std::vector<std::string>& args) {
    if (args.empty()) {
        error_ = "no command";
        return nullptr;
    }
    if (is(args[0], "MULTI") || multi_) return transaction(args);
    // WAIT counts the replicas of the writes before it: on their node.
    if (is(args[0], "WAIT") && !last_node_.empty()) return command_on(last_node_, args);
    Reply r = routed(args);
    if (r || sent_) return r;  // sent and not answered: it may have run, no second try
    // The node cannot be reached (a failover?): the map again, one more try.
    const std::string failed = error_;
    if (!connect()) {
        error_ = failed + "; " + error_;
        return nullptr;
    }
    return routed(args);
}

Reply ClusterSync::routed(const std::vector<std::string>& args) {
    sent_ = false;
    uint16_t slot = 0;
    std::string address = route(args, &slot);
    bool asking = false;
    for (int redirects = 0;; redirects++) {
        if (address.empty()) {
            error_ = "redis cluster: slot " + std::to_string(slot) + " has no master";
            return nullptr;
        }
        if (asking && !command_on(address, {"ASKING"})) return nullptr;
        Reply r = command_on(address, args);
        if (!r || r->type != REDIS_REPLY_ERROR) return r;
        std::optional<pushd::Redirect> redirect = pushd::parse_redirect(std::string_view(r->str, r->len));
        if (!redirect) return r;
        if (redirects >= kMaxRedirects) {
            error_ = "redis cluster: too many redirects (last: " + std::string(r->str, r->len) + ")";
            return nullptr;
        }
        asking = redirect->ask;
        if (redirect->address.front() == ':') {  // the node does not know its address: the one asked
            const std::optional<pushd::HostPort> hp = pushd::parse_host_port(address);
            if (hp) redirect->address = hp->host + redirect->address;
        }
        address = redirect->address;
        if (!asking) {
            map_.set(redirect->slot, address);
            read_map(address);  // the full map, when that node gives it
        }
    }
}

// A transaction runs on one node: MULTI goes to the first master, and moves
// (DISCARD there, MULTI again) to the master of the first command's key.
// Its commands are not redirected: one whose slot another master serves is
// refused by Redis (MOVED), and EXEC then fails (EXECABORT), as a
// transaction over several slots cannot run in a cluster.
Reply ClusterSync::transaction(const std::vector<std::string>& args) {
    if (is(args[0], "MULTI")) {
        const std::vector<std::string> m = masters();
        if (m.empty()) {
            error_ = "redis cluster: no master known";
            return nullptr;
        }
        Reply r = command_on(m.front(), args);
        multi_ = r && r->type != REDIS_REPLY_ERROR;
        multi_node_ = m.front();
        multi_empty_ = true;
        return r;
    }
    if (is(args[0], "EXEC") || is(args[0], "DISCARD")) {
        multi_ = false;
        return command_on(multi_node_, args);
    }
    uint16_t slot = 0;
    const std::string target = route(args, &slot);
    if (multi_empty_ && !target.empty() && target != multi_node_) {
        Reply discarded = command_on(multi_node_, {"DISCARD"});
        Reply begun = command_on(target, {"MULTI"});
        if (!begun || begun->type == REDIS_REPLY_ERROR) {
            multi_ = false;
            return begun;
        }
        multi_node_ = target;
    }
    multi_empty_ = false;
    return command_on(multi_node_, args);
}

std::vector<std::string> ClusterSync::masters() const {
    std::vector<std::string> out;
    for (const std::string& m : map_.masters()) {
        for (size_t s = 0; s < pushd::kClusterSlots; s++) {
            if (map_.master_of(static_cast<uint16_t>(s)) != m) continue;
            out.push_back(m);
            break;
        }
    }
    return out;
}

}  // namespace pushctl
