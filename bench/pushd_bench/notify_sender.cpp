// The broadcast scenario's publisher (see notify_sender.hpp).
#include "notify_sender.hpp"

#include <sys/time.h>

#include <cstdlib>

namespace pushd_bench {

bool NotifySender::connect(const std::string& host_port, const std::string& key_prefix, std::string& err) {
    const size_t colon = host_port.rfind(':');
    const int port = colon == std::string::npos ? 0 : std::atoi(host_port.c_str() + colon + 1);
    if (port <= 0 || port > 65535) {
        err = "--redis: expected IPv4:PORT, got '" + host_port + "'";
        return false;
    }
    const timeval tv{3, 0};
    ctx_.reset(redisConnectWithTimeout(host_port.substr(0, colon).c_str(), port, tv));
    if (!ctx_ || ctx_->err) {
        err = "redis " + host_port + ": " + (ctx_ ? ctx_->errstr : "out of memory");
        return false;
    }
    redisSetTimeout(ctx_.get(), tv);
    stream_ = key_prefix + "notify";
    return true;
}

bool NotifySender::send_all(const std::string& content) {
    data_.assign("{\"content\":\"").append(content).append("\"}");
    const char* argv[] = {"XADD", stream_.c_str(), "*", "target", "all", "data", data_.c_str()};
    const size_t lens[] = {4, stream_.size(), 1, 6, 3, 4, data_.size()};
    auto* r = static_cast<redisReply*>(redisCommandArgv(ctx_.get(), 7, argv, lens));
    const bool ok = r && r->type == REDIS_REPLY_STRING;
    if (r) freeReplyObject(r);
    return ok;
}

}  // namespace pushd_bench
