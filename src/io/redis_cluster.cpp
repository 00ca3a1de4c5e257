#include "io/redis_cluster.hpp"

#include "core/host_port.hpp"
#include "io/log.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>

namespace pushd {

struct RedisCluster::Request {
    std::vector<std::string> args;
    std::vector<std::string_view> argv;  // views of args (a Request never moves)
    bool keyed = true;
    uint16_t slot = 0;
    Callback cb;
    uint64_t timeout_ms = 0;
    int redirects = 0;
    std::string ask;  // an ASK's target: ASKING + the command go there
};

namespace {

// The timer's period; the map is asked for every kRefreshMs while the
// cluster is up, every kDownRefreshMs while it is not (a failover shows
// within that time of the cluster's own decision).
constexpr uint64_t kTickMs = 100;
constexpr uint64_t kDownRefreshMs = 300;

std::string host_of(const std::string& address) {
    std::optional<HostPort> hp = parse_host_port(address);
    return hp ? hp->host : std::string();
}

// "host:port" of a CLUSTER SLOTS node entry ([host, port, id, ...]); the
// host of the node asked when it names none; "" when unusable.
std::string read_node(const redisReply* node, const std::string& asked_host) {
    if (!node || node->type != REDIS_REPLY_ARRAY || node->elements < 2) return "";
    const redisReply* host = node->element[0];
    const redisReply* port = node->element[1];
    if (host->type != REDIS_REPLY_STRING || port->type != REDIS_REPLY_INTEGER) return "";
    if (port->integer < 1 || port->integer > 65535) return "";
    std::string h(host->str, host->len);
    if (h == "?") return "";
    if (h.empty()) h = asked_host;
    if (h.find(':') != std::string::npos) h = "[" + h + "]";  // an IPv6 literal
    return h + ":" + std::to_string(port->integer);
}

}  // namespace

bool redis_read_slots(const redisReply* reply, std::vector<SlotRange>& out, const std::string& asked_host) {
    out.clear();
    if (!reply || reply->type != REDIS_REPLY_ARRAY) return false;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply* r = reply->element[i];
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return false;
        const redisReply* first = r->element[0];
        const redisReply* last = r->element[1];
        if (first->type != REDIS_REPLY_INTEGER || last->type != REDIS_REPLY_INTEGER) return false;
        if (first->integer < 0 || last->integer < first->integer || last->integer >= long(kClusterSlots)) return false;
        SlotRange range;
        range.first = static_cast<uint16_t>(first->integer);
        range.last = static_cast<uint16_t>(last->integer);
        range.master = read_node(r->element[2], asked_host);
        for (size_t k = 3; k < r->elements; k++) {
            std::string replica = read_node(r->element[k], asked_host);
            if (!replica.empty()) range.replicas.push_back(std::move(replica));
        }
        if (!range.master.empty()) out.push_back(std::move(range));
    }
    return true;
}

RedisCluster::RedisCluster(uv_loop_t* loop, RedisLinkOptions base, std::vector<std::string> seeds,
                           RedisCounters* counters) :
    loop_(loop),
    base_(std::move(base)),
    seeds_(std::move(seeds)),
    counters_(counters) {
    base_.resolve = nullptr;
    candidates_ = seeds_;
    RedisLinkOptions o = base_;
    o.require_master = false;  // any node answers CLUSTER SLOTS
    o.max_in_flight = 4;
    o.backoff_max_ms = std::min<uint64_t>(o.backoff_max_ms, 1000);
    o.resolve = [this](std::string* host, int* port) { return probe_resolve(host, port); };
    probe_ = std::make_unique<RedisLink>(loop_, std::move(o), counters_);
    probe_->on_up = [this] {
        if (!have_map_ || refresh_wanted_) refresh();
    };
}

RedisCluster::~RedisCluster() = default;

bool RedisCluster::probe_resolve(std::string* host, int* port) {
    if (candidates_.empty()) return false;
    for (size_t tries = 0; tries < candidates_.size(); tries++) {
        const std::string& address = candidates_[next_candidate_++ % candidates_.size()];
        std::optional<HostPort> hp = parse_host_port(address);
        if (!hp) continue;
        *host = hp->host;
        *port = hp->port;
        probe_address_ = address;
        return true;
    }
    return false;
}

void RedisCluster::start() {
    if (started_) return;
    started_ = true;
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
    timer_open_ = true;
    uv_timer_start(&timer_, on_tick, kTickMs, kTickMs);
    probe_->start();
}

void RedisCluster::stop() {
    if (!started_ || stopped_) return;
    stopped_ = true;
    if (timer_open_) {
        uv_timer_stop(&timer_);
        uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
        timer_open_ = false;
    }
    probe_->stop();
    for (auto& [address, link] : links_) link->stop();
    for (auto& link : retired_) link->stop();
    fresh_.clear();
    std::map<std::string, std::vector<std::shared_ptr<Request>>> waiting;
    waiting.swap(waiting_);
    for (auto& [address, requests] : waiting) fail_waiting(requests, "shutting down");
}

void RedisCluster::on_tick(uv_timer_t* t) { static_cast<RedisCluster*>(t->data)->tick(); }

void RedisCluster::tick() {
    // Links retired since the last tick stop now, outside their callbacks;
    // those stopped a tick ago have closed their timers and go.
    retired_old_.clear();
    for (auto& link : retired_) {
        link->stop();  // its commands in flight have failed: nobody waits on it
        if (on_link_retired) on_link_retired(*link);
    }
    retired_old_.swap(retired_);
    const uint64_t now = uv_now(loop_);
    expire_waits(now);
    const uint64_t every = up() ? kRefreshMs : kDownRefreshMs;
    if (now - last_refresh_ms_ >= every) refresh();
}

void RedisCluster::refresh() {
    if (!started_ || stopped_) return;
    if (refreshing_) {
        refresh_again_ = true;
        return;
    }
    std::string address = probe_address_;
    RedisLink* via = probe_->up() ? probe_.get() : any_up_link(&address);
    if (!via) {
        refresh_wanted_ = true;  // the map link asks once it is up
        return;
    }
    refresh_wanted_ = false;
    refreshing_ = true;
    last_refresh_ms_ = uv_now(loop_);
    const std::string host = host_of(address);
    via->command({"CLUSTER", "SLOTS"}, [this, host](const redisReply* r, std::string_view) {
        refreshing_ = false;
        if (stopped_) return;
        if (r) slots_answered(r, host);
        if (refresh_again_) {
            refresh_again_ = false;
            refresh();
        }
    });
}

RedisLink* RedisCluster::any_up_link(std::string* address) {
    for (auto& [a, link] : links_) {
        if (!link->up()) continue;
        *address = a;
        return link.get();
    }
    return nullptr;
}

void RedisCluster::slots_answered(const redisReply* reply, const std::string& host) {
    std::vector<SlotRange> ranges;
    if (redis_reply_is_error(reply) || !redis_read_slots(reply, ranges, host)) {
        LOG_WARN("redis cluster: CLUSTER SLOTS answered %s",
                 redis_reply_is_error(reply) ? std::string(redis_reply_text(reply)).c_str() : "in another shape");
        return;
    }
    if (ranges.empty()) return;  // no slot assigned yet (a cluster being created)
    SlotMap next;
    next.assign(ranges);
    apply(std::move(next), ranges);
}

void RedisCluster::apply(SlotMap next, const std::vector<SlotRange>& ranges) {
    // The map link's next candidates: the seeds, then every node named.
    std::vector<std::string> candidates = seeds_;
    for (const SlotRange& r : ranges) {
        candidates.push_back(r.master);
        candidates.insert(candidates.end(), r.replicas.begin(), r.replicas.end());
    }
    std::sort(candidates.begin() + static_cast<long>(seeds_.size()), candidates.end());
    candidates.erase(std::unique(candidates.begin() + static_cast<long>(seeds_.size()), candidates.end()),
                     candidates.end());
    candidates_ = std::move(candidates);
    const bool first = !have_map_;
    have_map_ = true;
    if (!first && next == map_) return;
    map_ = std::move(next);
    if (!first) map_changes_++;
    LOG_INFO("redis cluster: slot map %s (%zu masters%s)", first ? "read" : "changed", map_.masters().size(),
             map_.complete() ? "" : ", some slots have none");
    map_changed();
}

// The map changed (a full map or a MOVED): links for its masters, the
// others retired, the listeners told.
void RedisCluster::map_changed() {
    owners_.clear();
    std::vector<bool> seen(map_.masters().size(), false);
    for (size_t s = 0; s < kClusterSlots; s++) {
        const std::string& m = map_.master_of(static_cast<uint16_t>(s));
        if (m.empty()) continue;
        const size_t i = static_cast<size_t>(&m - map_.masters().data());
        if (i < seen.size() && !seen[i]) {
            seen[i] = true;
            owners_.push_back(m);
        }
    }
    for (const std::string& m : owners_) link_at(m);
    retire_unused();
    if (on_map_changed) on_map_changed();
}

// Links to nodes that serve no slot are retired: stopped at the next tick,
// as this may run inside one of their callbacks.
void RedisCluster::retire_unused() {
    std::vector<std::shared_ptr<Request>> rerouted;
    for (auto it = links_.begin(); it != links_.end();) {
        if (std::find(owners_.begin(), owners_.end(), it->first) != owners_.end()) {
            ++it;
            continue;
        }
        LOG_INFO("redis cluster: %s serves no slot, its link closes", it->first.c_str());
        fresh_.erase(it->first);
        auto w = waiting_.find(it->first);
        if (w != waiting_.end()) {
            rerouted.insert(rerouted.end(), w->second.begin(), w->second.end());
            waiting_.erase(w);
        }
        retired_.push_back(std::move(it->second));
        it = links_.erase(it);
    }
    for (const auto& req : rerouted) route(req);  // to the slot's new master
}

RedisLink* RedisCluster::link_at(const std::string& address) {
    auto it = links_.find(address);
    if (it != links_.end()) return it->second.get();
    if (!started_ || stopped_) return nullptr;
    std::optional<HostPort> hp = parse_host_port(address);
    if (!hp) return nullptr;
    if (links_.size() >= kMaxNodes) {
        LOG_WARN("redis cluster: more than %zu masters named, no link to %s", kMaxNodes, address.c_str());
        return nullptr;
    }
    RedisLinkOptions o = base_;
    o.host = hp->host;
    o.port = hp->port;
    o.require_master = true;  // a demoted master is refused, and the map asked again
    auto link = std::make_unique<RedisLink>(loop_, std::move(o), counters_);
    RedisLink* raw = link.get();
    raw->on_up = [this, raw, address] {
        if (refresh_wanted_) refresh();
        if (on_node_up) on_node_up(*raw);
        release(address);
    };
    raw->on_down = [this] {
        if (!stopped_) refresh();
    };
    links_.emplace(address, std::move(link));
    fresh_[address] = uv_now(loop_);
    raw->start();
    return raw;
}

void RedisCluster::command(std::string_view key, const std::vector<std::string_view>& argv, Callback cb,
                           uint64_t timeout_ms) {
    auto req = std::make_shared<Request>();
    req->args.assign(argv.begin(), argv.end());
    req->argv.assign(req->args.begin(), req->args.end());
    req->slot = key_slot(key);
    req->cb = std::move(cb);
    req->timeout_ms = timeout_ms;
    route(req);
}

void RedisCluster::command(const std::vector<std::string_view>& argv, Callback cb, uint64_t timeout_ms) {
    auto req = std::make_shared<Request>();
    req->args.assign(argv.begin(), argv.end());
    req->argv.assign(req->args.begin(), req->args.end());
    std::optional<std::string_view> key = command_key(argv);
    req->keyed = key.has_value();
    if (key) req->slot = key_slot(*key);
    req->cb = std::move(cb);
    req->timeout_ms = timeout_ms;
    route(req);
}

void RedisCluster::route(const std::shared_ptr<Request>& req) {
    if (stopped_) {
        req->cb(nullptr, "shutting down", nullptr);
        return;
    }
    std::string address = req->ask;
    if (address.empty() && req->keyed) address = map_.master_of(req->slot);
    if (address.empty() && !req->keyed && !owners_.empty()) {
        // Any master: the first whose link is up, else the first.
        address = owners_.front();
        for (const std::string& m : owners_) {
            auto it = links_.find(m);
            if (it == links_.end() || !it->second->up()) continue;
            address = m;
            break;
        }
    }
    RedisLink* link = address.empty() ? nullptr : link_at(address);
    if (!link) {
        const std::string why = !have_map_        ? "no slot map yet (" + probe_->reason() + ")"
                                : address.empty() ? "slot " + std::to_string(req->slot) + " has no master"
                                                  : "no link to " + address;
        req->cb(nullptr, why, nullptr);
        return;
    }
    auto fresh = fresh_.find(address);
    if (!link->up() && fresh != fresh_.end()) {
        auto& waiting = waiting_[address];
        if (waiting.size() < base_.max_in_flight) {
            waiting.push_back(req);
            return;
        }
    }
    // ASKING right before the command on the same connection: Redis runs
    // them in order, and the ASKING flag holds for the next command only.
    if (!req->ask.empty())
        link->command(
            {"ASKING"}, [](const redisReply*, std::string_view) {}, req->timeout_ms);
    link->command(
        req->argv,
        [this, req, address, link](const redisReply* r, std::string_view error) {
            answered(req, address, link, r, error);
        },
        req->timeout_ms);
}

void RedisCluster::answered(const std::shared_ptr<Request>& req, const std::string& address, RedisLink* link,
                            const redisReply* reply, std::string_view error) {
    if (!reply) {
        req->cb(nullptr, address + ": " + std::string(error), nullptr);
        return;
    }
    std::optional<Redirect> redirect;
    if (redis_reply_is_error(reply) && !stopped_) redirect = parse_redirect(redis_reply_text(reply));
    if (!redirect) {
        if (redis_reply_is_error(reply) && redis_reply_text(reply).substr(0, 11) == "CLUSTERDOWN") refresh();
        req->cb(reply, error, link);
        return;
    }
    if (req->redirects >= kMaxRedirects) {
        req->cb(nullptr, "too many redirects (last: " + std::string(redis_reply_text(reply)) + ")", nullptr);
        return;
    }
    req->redirects++;
    if (redirect->address.front() == ':') redirect->address = host_of(address) + redirect->address;
    if (redirect->ask) {
        asks_++;
        req->ask = redirect->address;
    } else {
        moved_++;
        req->ask.clear();
        if (map_.master_of(redirect->slot) != redirect->address) {
            map_.set(redirect->slot, redirect->address);
            map_changes_++;
            map_changed();
        }
        refresh();
    }
    route(req);
}

void RedisCluster::release(const std::string& address) {
    fresh_.erase(address);
    auto it = waiting_.find(address);
    if (it == waiting_.end()) return;
    std::vector<std::shared_ptr<Request>> requests = std::move(it->second);
    waiting_.erase(it);
    for (const auto& req : requests) route(req);
}

void RedisCluster::expire_waits(uint64_t now) {
    for (auto it = fresh_.begin(); it != fresh_.end();) {
        if (now - it->second < base_.connect_timeout_ms) {
            ++it;
            continue;
        }
        const std::string address = it->first;
        it = fresh_.erase(it);
        auto w = waiting_.find(address);
        if (w == waiting_.end()) continue;
        std::vector<std::shared_ptr<Request>> requests = std::move(w->second);
        waiting_.erase(w);
        auto link = links_.find(address);
        fail_waiting(requests, address + ": " + (link == links_.end() ? "no link" : link->second->reason()));
        // (fail_waiting's callbacks may change fresh_: start over.)
        it = fresh_.lower_bound(address);
    }
}

void RedisCluster::fail_waiting(std::vector<std::shared_ptr<Request>>& requests, const std::string& why) {
    for (const auto& req : requests) req->cb(nullptr, why, nullptr);
}

bool RedisCluster::up() const {
    if (!have_map_ || !map_.complete()) return false;
    for (const std::string& m : owners_) {
        auto it = links_.find(m);
        if (it == links_.end() || !it->second->up()) return false;
    }
    return true;
}

std::string RedisCluster::reason() const {
    if (!have_map_) return "no slot map yet (" + probe_->reason() + ")";
    for (size_t s = 0; s < kClusterSlots; s++)
        if (map_.master_of(static_cast<uint16_t>(s)).empty()) return "slot " + std::to_string(s) + " has no master";
    for (const std::string& m : owners_) {
        auto it = links_.find(m);
        if (it == links_.end()) return m + ": no link";
        if (!it->second->up()) return m + ": " + it->second->reason();
    }
    return "";
}

RedisLink* RedisCluster::link_for(uint16_t slot) {
    const std::string& m = map_.master_of(slot);
    return m.empty() ? nullptr : link_at(m);
}

std::vector<RedisLink*> RedisCluster::links() {
    std::vector<RedisLink*> out;
    for (auto& [address, link] : links_) out.push_back(link.get());
    return out;
}

}  // namespace pushd
