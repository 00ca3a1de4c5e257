// The tests' Redis connection on hiredis's synchronous API (see resp_client.hpp).
#include "resp_client.hpp"

#include <hiredis/hiredis.h>

#include <sys/time.h>

namespace pushd::test {
namespace {

timeval to_timeval(int ms) {
    timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

RespValue failure(const std::string& why) {
    RespValue v;
    v.type = RespValue::Type::failure;
    v.str = why;
    return v;
}

// hiredis's reply as a RespValue (recursively for arrays).
RespValue from_reply(const redisReply* r) {
    RespValue v;
    switch (r->type) {
    case REDIS_REPLY_STATUS: v.type = RespValue::Type::status; break;
    case REDIS_REPLY_ERROR: v.type = RespValue::Type::error; break;
    case REDIS_REPLY_STRING: v.type = RespValue::Type::bulk; break;
    case REDIS_REPLY_INTEGER: v.type = RespValue::Type::integer; break;
    case REDIS_REPLY_NIL: v.type = RespValue::Type::nil; break;
    case REDIS_REPLY_ARRAY: v.type = RespValue::Type::array; break;
    default: return failure("unexpected reply type " + std::to_string(r->type));
    }
    if (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STRING)
        v.str.assign(r->str, r->len);
    v.integer = r->integer;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        v.elements.push_back(from_reply(r->element[i]));
    return v;
}

}  // namespace

const std::string& RespValue::text() const {
    static const std::string empty;
    return (type == Type::bulk || type == Type::status) ? str : empty;
}

std::string RespValue::describe() const {
    switch (type) {
    case Type::failure: return "(failure) " + str;
    case Type::status: return str;
    case Type::error: return "(error) " + str;
    case Type::integer: return "(integer) " + std::to_string(integer);
    case Type::bulk: return "\"" + str + "\"";
    case Type::nil: return "(nil)";
    case Type::array: {
        std::string s = "[";
        for (size_t i = 0; i < elements.size(); i++) s += (i ? ", " : "") + elements[i].describe();
        return s + "]";
    }
    }
    return "?";
}

RespClient::~RespClient() { disconnect(); }

void RespClient::disconnect() {
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
}

bool RespClient::connect(uint16_t port, int timeout_ms) {
    disconnect();
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port, to_timeval(timeout_ms));
    if (!c || c->err) {
        error_ = "connect 127.0.0.1:" + std::to_string(port) + ": " + (c ? c->errstr : "cannot allocate a context");
        if (c) redisFree(c);
        return false;
    }
    ctx_ = c;
    error_.clear();
    return true;
}

RespValue RespClient::command(const std::vector<std::string>& args, int timeout_ms) {
    if (!ctx_) return failure(error_.empty() ? "not connected" : error_);
    std::vector<const char*> argv;
    std::vector<size_t> argvlen;
    for (const auto& a : args) {
        argv.push_back(a.data());
        argvlen.push_back(a.size());
    }
    redisSetTimeout(ctx_, to_timeval(timeout_ms));
    auto* r =
        static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), argvlen.data()));
    if (!r) {
        // The context is unusable after an I/O or protocol error.
        error_ = ctx_->errstr[0] ? ctx_->errstr : "no reply";
        disconnect();
        return failure(error_);
    }
    RespValue v = from_reply(r);
    freeReplyObject(r);
    return v;
}

RespValue redis_command(uint16_t port, const std::vector<std::string>& args, int timeout_ms) {
    RespClient c;
    if (!c.connect(port, timeout_ms)) return failure(c.error());
    return c.command(args, timeout_ms);
}

}  // namespace pushd::test
