// A blocking Redis connection for tests to read and write what pushd stores
// (and to PING a redis-server the harness started): hiredis's synchronous
// API behind an interface that returns plain values. No pipelining, no
// pub/sub.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct redisContext;

namespace pushd::test {

// One RESP reply.
struct RespValue {
    enum class Type { failure, status, error, integer, bulk, nil, array };
    Type type = Type::failure;        // failure: no reply (I/O error, timeout); see str
    std::string str;                  // status/error/bulk text, or the failure reason
    long long integer = 0;            // for integer
    std::vector<RespValue> elements;  // for array

    bool ok() const { return type != Type::failure && type != Type::error; }
    bool is_nil() const { return type == Type::nil; }
    // Bulk or status text; "" for others.
    const std::string& text() const;
    // A readable rendering for test messages: "PONG", "(error) ERR ...",
    // "(integer) 3", "(nil)", ["a", "b"].
    std::string describe() const;
};

// One connection to a Redis server at 127.0.0.1:`port`.
class RespClient {
public:
    RespClient() = default;
    ~RespClient();
    RespClient(const RespClient&) = delete;
    RespClient& operator=(const RespClient&) = delete;

    // Connects; false (see error()) when the server does not accept within
    // `timeout_ms`.
    bool connect(uint16_t port, int timeout_ms = 2000);

    // Sends one command (each argument a bulk string) and reads its reply,
    // all within `timeout_ms`. After a failure the connection is closed.
    RespValue command(const std::vector<std::string>& args, int timeout_ms = 5000);

    bool connected() const { return ctx_ != nullptr; }
    const std::string& error() const { return error_; }

private:
    void disconnect();
    redisContext* ctx_ = nullptr;
    std::string error_;
};

// Opens a connection, runs one command, closes. For the occasional command.
RespValue redis_command(uint16_t port, const std::vector<std::string>& args, int timeout_ms = 5000);

}  // namespace pushd::test
