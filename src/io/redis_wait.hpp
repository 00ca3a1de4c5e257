// Redis.WaitReplicas on a link (core/replica_wait.hpp has the why): the
// PUBLISH + WAIT a WaitBatch sends, and the count of online replicas read
// from INFO replication.
#pragma once

#include "core/replica_wait.hpp"
#include "io/redis_link.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace pushd {

/* The WaitBatch::Issue of `link` (which must outlive it): PUBLISH
 * `channel` "" (a propagated write with no state: it moves the
 * connection's replication offset past everything executed before it),
 * then WAIT `replicas` kWaitTimeoutMs; answers the WAIT's count, or -1. */
WaitBatch::Issue redis_wait_issue(RedisLink* link, std::string channel, int64_t replicas);

/* Asks `link` for INFO replication; `done` gets the online replicas, or
 * -1 when not answered or not a master. */
void redis_count_replicas(RedisLink* link, std::function<void(int64_t online)> done);

}  // namespace pushd
