// A Redis Cluster of real redis-server processes for tests (see
// redis_cluster_process.hpp).
#include "redis_cluster_process.hpp"

#include "harness.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <set>

namespace pushd::test {

namespace {

// The master of each slot in a CLUSTER SLOTS answer ("" where none).
std::vector<std::string> slot_owners(const RespValue& slots) {
    std::vector<std::string> owners(16384);
    for (const RespValue& range : slots.elements) {
        if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) continue;
        const RespValue& node = range.elements[2];
        const std::string address = node.elements[0].str + ":" + std::to_string(node.elements[1].integer);
        for (long long s = range.elements[0].integer; s <= range.elements[1].integer && s < 16384; s++)
            owners[static_cast<size_t>(s)] = address;
    }
    return owners;
}

// True when a TCP socket can bind 127.0.0.1:`port` now.
bool bindable(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    ::close(fd);
    return ok;
}

// A port for a cluster node: Redis refuses ports over 55535 (its cluster
// bus listens on port + 10000), and free_port() hands out ephemeral ones
// up to 60999. Ports from 20000 up (below the ephemeral range), where both
// it and its bus port are free, each handed out once per process.
uint16_t cluster_port() {
    static std::set<uint16_t> handed_out;
    static uint16_t next = static_cast<uint16_t>(20000 + (::getpid() * 37) % 9000);
    for (int attempt = 0; attempt < 2000; attempt++) {
        const uint16_t port = next;
        next = static_cast<uint16_t>(next + 1 >= 29999 ? 20000 : next + 1);
        if (handed_out.count(port) || !bindable(port) || !bindable(static_cast<uint16_t>(port + 10000))) continue;
        handed_out.insert(port);
        return port;
    }
    return 0;
}

}  // namespace

RedisClusterProcess::RedisClusterProcess(size_t masters, size_t replicas_per_master) :
    masters_(masters),
    replicas_(replicas_per_master) {
    for (size_t i = 0; i < masters * (1 + replicas_per_master); i++) {
        RedisOptions o;
        o.port = cluster_port();
        o.extra_args = {"--cluster-enabled",      "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-node-timeout", "1000"};
        nodes_.push_back(std::make_unique<RedisProcess>(o));
    }
}

bool RedisClusterProcess::fail(const std::string& why) {
    error_ = why;
    return false;
}

std::vector<std::string> RedisClusterProcess::addresses() const {
    std::vector<std::string> out;
    for (const auto& n : nodes_) out.push_back(n->host_port());
    return out;
}

RedisProcess* RedisClusterProcess::node(const std::string& address) {
    for (auto& n : nodes_)
        if (n->host_port() == address) return n.get();
    return nullptr;
}

uint16_t RedisClusterProcess::port_of(const std::string& address) const {
    const size_t colon = address.rfind(':');
    return colon == std::string::npos ? 0 : static_cast<uint16_t>(std::stoi(address.substr(colon + 1)));
}

RespValue RedisClusterProcess::command(const std::string& address, const std::vector<std::string>& args,
                                       int timeout_ms) {
    return redis_command(port_of(address), args, timeout_ms);
}

bool RedisClusterProcess::start(int timeout_ms) {
    for (auto& n : nodes_)
        if (!n->start()) return fail("node " + n->host_port() + ": " + n->error());
    std::vector<std::string> argv = {"redis-cli", "--cluster", "create"};
    for (const std::string& a : addresses()) argv.push_back(a);
    argv.insert(argv.end(), {"--cluster-replicas", std::to_string(replicas_), "--cluster-yes"});
    RunResult created = run_to_exit(argv, {}, timeout_ms);
    if (!created.exit.ok())
        return fail("redis-cli --cluster create: " + created.exit.describe() + "\n" + created.output);
    if (!wait_ok(timeout_ms)) return fail("the cluster did not become ok: " + error_);
    if (!wait_until([&] { return replicas_in_sync(); }, timeout_ms, 50)) return fail("replicas did not sync");
    return true;
}

std::string RedisClusterProcess::any_live() {
    for (auto& n : nodes_)
        if (n->running()) return n->host_port();
    return "";
}

bool RedisClusterProcess::all_agree() {
    std::vector<std::string> first;
    bool have_first = false;
    for (auto& n : nodes_) {
        if (!n->running()) continue;
        const RespValue info = command(n->host_port(), {"CLUSTER", "INFO"}, 1000);
        if (info.str.find("cluster_state:ok") == std::string::npos) {
            error_ = n->host_port() + " says " + info.describe();
            return false;
        }
        std::vector<std::string> owners = slot_owners(command(n->host_port(), {"CLUSTER", "SLOTS"}, 1000));
        if (std::find(owners.begin(), owners.end(), "") != owners.end()) {
            error_ = n->host_port() + " knows no master for some slot";
            return false;
        }
        if (have_first && owners != first) {
            error_ = n->host_port() + " disagrees on the slots";
            return false;
        }
        first = std::move(owners);
        have_first = true;
    }
    return have_first;
}

bool RedisClusterProcess::wait_ok(int timeout_ms) {
    return wait_until([&] { return all_agree(); }, timeout_ms, 50);
}

bool RedisClusterProcess::replicas_in_sync() {
    size_t synced = 0;
    for (auto& n : nodes_) {
        if (!n->running()) continue;
        const std::string info = command(n->host_port(), {"INFO", "replication"}, 1000).str;
        if (info.find("role:slave") != std::string::npos && info.find("master_link_status:up") != std::string::npos &&
            info.find("master_sync_in_progress:0") != std::string::npos)
            synced++;
    }
    return synced == masters_ * replicas_;
}

std::string RedisClusterProcess::master_of(uint16_t slot) {
    const std::string live = any_live();
    if (live.empty()) return "";
    return slot_owners(command(live, {"CLUSTER", "SLOTS"}, 1000))[slot];
}

std::vector<std::string> RedisClusterProcess::masters() {
    std::vector<std::string> out;
    const std::string live = any_live();
    if (live.empty()) return out;
    for (const std::string& m : slot_owners(command(live, {"CLUSTER", "SLOTS"}, 1000)))
        if (!m.empty() && std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    return out;
}

std::vector<std::string> RedisClusterProcess::replicas_of(const std::string& address) {
    std::vector<std::string> out;
    const std::string info = command(address, {"INFO", "replication"}, 1000).str;
    // slave0:ip=127.0.0.1,port=21001,state=online,offset=...,lag=0
    for (size_t p = 0; (p = info.find(",port=", p)) != std::string::npos; p++) {
        const size_t ip = info.rfind("ip=", p);
        if (ip == std::string::npos) continue;
        const size_t end = info.find(',', p + 6);
        out.push_back(info.substr(ip + 3, p - ip - 3) + ":" + info.substr(p + 6, end - p - 6));
    }
    return out;
}

std::string RedisClusterProcess::node_id(const std::string& address) {
    return command(address, {"CLUSTER", "MYID"}).text();
}

bool RedisClusterProcess::kill(const std::string& address) {
    RedisProcess* n = node(address);
    if (!n || !n->running()) return false;
    return n->kill().finished;
}

bool RedisClusterProcess::begin_move(uint16_t slot, const std::string& from, const std::string& to) {
    const std::string s = std::to_string(slot);
    const RespValue importing = command(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", node_id(from)});
    if (importing.text() != "OK") return fail("SETSLOT IMPORTING: " + importing.describe());
    const RespValue migrating = command(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", node_id(to)});
    if (migrating.text() != "OK") return fail("SETSLOT MIGRATING: " + migrating.describe());
    return true;
}

bool RedisClusterProcess::migrate_keys(uint16_t slot, const std::string& from, const std::string& to) {
    const RedisProcess* target = node(to);
    if (!target) return fail("no node " + to);
    for (;;) {
        const RespValue keys = command(from, {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "100"});
        if (keys.type != RespValue::Type::array) return fail("GETKEYSINSLOT: " + keys.describe());
        if (keys.elements.empty()) return true;
        std::vector<std::string> args = {"MIGRATE", "127.0.0.1", std::to_string(target->port()), "", "0",
                                         "5000",    "KEYS"};
        for (const RespValue& k : keys.elements) args.push_back(k.str);
        const RespValue migrated = command(from, args);
        if (migrated.text() != "OK") return fail("MIGRATE: " + migrated.describe());
    }
}

bool RedisClusterProcess::finish_move(uint16_t slot, const std::string& from, const std::string& to) {
    const std::string id = node_id(to);
    const std::string s = std::to_string(slot);
    // The spec's order: the importing node first, then the migrating one,
    // then the other masters (they would learn it by gossip too).
    std::vector<std::string> order = {to, from};
    for (const std::string& m : masters())
        if (m != to && m != from) order.push_back(m);
    for (const std::string& a : order) {
        const RespValue r = command(a, {"CLUSTER", "SETSLOT", s, "NODE", id});
        if (r.text() != "OK") return fail("SETSLOT NODE on " + a + ": " + r.describe());
    }
    return wait_until([&] { return all_agree() && master_of(slot) == to; }, 10000, 20);
}

}  // namespace pushd::test
