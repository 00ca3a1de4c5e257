#include "io/redis_sentinel.hpp"

#include "core/config.hpp"
#include "io/log.hpp"

#include <hiredis/hiredis.h>

namespace pushd {

RedisSentinel::RedisSentinel(uv_loop_t* loop, std::vector<std::string> sentinels, std::string master_name,
                             RedisCounters* counters) :
    loop_(loop),
    sentinels_(std::move(sentinels)),
    master_name_(std::move(master_name)),
    counters_(counters) {
    RedisLinkOptions o;
    o.id = RedisLinkId::sentinel;
    o.connect_timeout_ms = 500;  // a dead sentinel is skipped quickly
    o.backoff_max_ms = 1000;
    o.max_in_flight = 4;
    // Each attempt asks the next sentinel: one that is down is not retried
    // before the others.
    o.resolve = [this](std::string* host, int* port) {
        if (sentinels_.empty()) return false;
        std::optional<HostPort> hp = parse_host_port(sentinels_[next_++ % sentinels_.size()]);
        if (!hp) return false;
        *host = hp->host;
        *port = hp->port;
        return true;
    };
    link_ = std::make_unique<RedisLink>(loop_, std::move(o), counters_);
    link_->on_up = [this] { ask(); };
}

RedisSentinel::~RedisSentinel() = default;

void RedisSentinel::start() {
    if (!timer_open_) {
        uv_timer_init(loop_, &poll_timer_);
        poll_timer_.data = this;
        timer_open_ = true;
    }
    uv_timer_start(&poll_timer_, on_poll_timer, kPollMs, kPollMs);
    link_->start();
}

void RedisSentinel::stop() {
    link_->stop();
    if (timer_open_) {
        uv_timer_stop(&poll_timer_);
        uv_close(reinterpret_cast<uv_handle_t*>(&poll_timer_), nullptr);
        timer_open_ = false;
    }
}

bool RedisSentinel::master(std::string* host, int* port) const {
    if (host_.empty()) return false;
    *host = host_;
    *port = port_;
    return true;
}

std::string RedisSentinel::master_text() const {
    return host_.empty() ? std::string() : host_ + ":" + std::to_string(port_);
}

void RedisSentinel::ask_now() { ask(); }

void RedisSentinel::on_poll_timer(uv_timer_t* t) { static_cast<RedisSentinel*>(t->data)->ask(); }

void RedisSentinel::ask() {
    if (asking_ || !link_->up()) return;
    asking_ = true;
    link_->command({"SENTINEL", "get-master-addr-by-name", master_name_},
                   [this](const redisReply* r, std::string_view) {
                       asking_ = false;
                       if (r) answered(r);
                   });
}

void RedisSentinel::answered(const redisReply* reply) {
    std::string host;
    int port = 0;
    if (!redis_read_address(reply, &host, &port)) {
        LOG_WARN("redis sentinel: no master named '%s' (%s)", master_name_.c_str(),
                 redis_reply_is_error(reply) ? std::string(redis_reply_text(reply)).c_str() : "not monitored");
        return;
    }
    if (host == host_ && port == port_) return;
    const bool first = host_.empty();
    LOG_INFO("redis sentinel: master '%s' is %s:%d%s", master_name_.c_str(), host.c_str(), port,
             first ? "" : " (failover)");
    host_ = std::move(host);
    port_ = port;
    if (first) return;
    counters_->failovers++;
    if (on_master_changed) on_master_changed();
}

}  // namespace pushd
