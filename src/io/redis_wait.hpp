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

/* The same with a SET of `marker_key` (which must hash to a slot the
 * link's server serves) instead of the PUBLISH: a cluster does not
 * replicate PUBLISH. A refused SET makes the WAIT count as not answered. */
WaitBatch::Issue redis_marker_wait_issue(RedisLink* link, std::string marker_key, int64_t replicas);

class RedisCluster;
/* The same for a cluster node's link: a cluster does not replicate
 * PUBLISH, so the write before the WAIT is a SET of
 * "<prefix>{<tag>}:wait" in a slot the node serves (slot_tag); when that
 * write is refused (the slot moved meanwhile) the WAIT counts as not
 * answered. */
WaitBatch::Issue redis_cluster_wait_issue(RedisLink* link, RedisCluster* cluster, std::string prefix, int64_t replicas);

/* Asks `link` for INFO replication; `done` gets the online replicas, or
 * -1 when not answered or not a master. */
void redis_count_replicas(RedisLink* link, std::function<void(int64_t online)> done);

}  // namespace pushd
