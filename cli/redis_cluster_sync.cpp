#include "redis_cluster_sync.hpp"

#include "core/host_port.hpp"
#include "io/redis_cluster.hpp"

#include <sys/time.h>

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
    redisContext* c = node(address);
    if (!c) return nullptr;
    last_node_ = address;
    return run(c, args);
}

Reply ClusterSync::command(const std::vector<std::string>& args) {
    const std::vector<std::string_view> views(args.begin(), args.end());
    const std::optional<std::string_view> key = pushd::command_key(views);
    const uint16_t slot = key ? pushd::key_slot(*key) : 0;
    std::string address = key ? map_.master_of(slot) : (map_.masters().empty() ? "" : map_.masters().front());
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
        address = redirect->address;
        if (!asking) {
            map_.set(redirect->slot, address);
            read_map(address);  // the full map, when that node gives it
        }
    }
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
