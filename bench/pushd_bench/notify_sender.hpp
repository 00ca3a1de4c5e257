// The broadcast scenario's publisher: a business service's side of the
// contract, an XADD of an `all` notification to the notify stream, on a
// blocking hiredis connection (the reply is the send's acknowledgement).
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string>

namespace pushd_bench {

class NotifySender {
public:
    /* Connects to `host_port` (IPv4 literal:port) within 3 s; the stream is
     * <key_prefix>notify. False with `err` set on failure. */
    bool connect(const std::string& host_port, const std::string& key_prefix, std::string& err);

    /* XADD <prefix>notify * target all data {"content":"<content>"};
     * `content` must need no JSON escaping. True when Redis stored it. */
    bool send_all(const std::string& content);

private:
    struct ContextFree {
        void operator()(redisContext* c) const { redisFree(c); }
    };
    std::unique_ptr<redisContext, ContextFree> ctx_;
    std::string stream_;
    std::string data_;  // reused
};

}  // namespace pushd_bench
