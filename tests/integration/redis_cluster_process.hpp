// A private Redis Cluster for one test, from real processes: N masters with
// R replicas each (redis-server --cluster-enabled yes, each in its own
// directory and on its own free port of 127.0.0.1, node timeout 1000 ms),
// joined by `redis-cli --cluster create`. Helpers to find who serves a
// slot, crash a master, and move a slot step by step (so a test can hold it
// migrating, where Redis answers ASK, and then finish it, where it answers
// MOVED). Every node is stopped by its PID when the object goes.
#pragma once

#include "redis_process.hpp"
#include "resp_client.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pushd::test {

class RedisClusterProcess {
public:
    // Chooses ports and directories; starts nothing.
    explicit RedisClusterProcess(size_t masters = 3, size_t replicas_per_master = 1);
    RedisClusterProcess(const RedisClusterProcess&) = delete;
    RedisClusterProcess& operator=(const RedisClusterProcess&) = delete;

    // Starts every node, creates the cluster, waits until every node says
    // cluster_state:ok, agrees on the slots and every replica is in sync.
    // False (see error()) otherwise.
    bool start(int timeout_ms = 60000);
    const std::string& error() const { return error_; }

    // "127.0.0.1:P" of every node, in start order (the seeds for a client).
    std::vector<std::string> addresses() const;
    // The node process at "127.0.0.1:P"; nullptr when none.
    RedisProcess* node(const std::string& address);
    uint16_t port_of(const std::string& address) const;

    // The master serving `slot` as a live node's CLUSTER SLOTS says ("" when
    // none answers or none serves it).
    std::string master_of(uint16_t slot);
    // The masters that serve slots, as a live node's CLUSTER SLOTS says.
    std::vector<std::string> masters();
    // The replicas of the master at `address` (its INFO replication).
    std::vector<std::string> replicas_of(const std::string& address);
    // A node's id (CLUSTER MYID); "" on failure.
    std::string node_id(const std::string& address);

    // Runs one command on the node at `address`.
    RespValue command(const std::string& address, const std::vector<std::string>& args, int timeout_ms = 5000);

    // SIGKILL to the node at `address` (a crash).
    bool kill(const std::string& address);

    // Every live node says cluster_state:ok and names the same master for
    // every slot, within `timeout_ms`.
    bool wait_ok(int timeout_ms = 20000);

    // Moving a slot: IMPORTING on `to`, then MIGRATING on `from` (the spec's
    // order). From here `from` answers ASK for the slot's keys it no longer has.
    bool begin_move(uint16_t slot, const std::string& from, const std::string& to);
    // MIGRATEs every key of `slot` still on `from` to `to`.
    bool migrate_keys(uint16_t slot, const std::string& from, const std::string& to);
    // CLUSTER SETSLOT NODE <to> on `to`, `from` and every other master: the
    // slot is `to`'s for good, others answer MOVED. Waits until every live
    // node agrees.
    bool finish_move(uint16_t slot, const std::string& from, const std::string& to);

private:
    bool fail(const std::string& why);
    bool all_agree();
    bool replicas_in_sync();
    std::string any_live();

    size_t masters_;
    size_t replicas_;
    std::vector<std::unique_ptr<RedisProcess>> nodes_;
    std::string error_;
};

}  // namespace pushd::test
