#include "core/redis_schema.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace pushd;

TEST_CASE("append script arguments are in the order the script reads them", "[redis_schema]") {
    RedisKeys keys("p:");
    AppendRequest req;
    req.group_id = "g1";
    req.client_message_id = "m:1";
    req.sender_id = "ops";
    req.msg_type = 7;
    req.content = "hello";
    ScriptArgs a = append_script_args(keys, req, 300, 1000);
    // KEYS[1] dedup, KEYS[2] group history, KEYS[3] bus.
    CHECK(a.keys == std::vector<std::string>{"p:dedup:3:ops:2:g1:m:1", "p:group:g1", "p:bus"});
    // ARGV: window, history cap, bus cap, group, client id, sender, type, content.
    CHECK(a.args ==
          std::vector<std::string>{"300", "1000", std::to_string(kBusMaxLen), "g1", "m:1", "ops", "7", "hello"});
    // The script reads exactly ARGV[1..8].
    const std::string script = kAppendScript;
    CHECK(script.find("ARGV[8]") != std::string::npos);
    CHECK(script.find("ARGV[9]") == std::string::npos);
}

TEST_CASE("the bus starts at the instance's start in Redis's clock, less the margin", "[redis_schema]") {
    // Started at local 1000, Redis reached at local 61000 (a minute-long
    // outage) when Redis's clock read 500000: the start is 440000 - margin.
    CHECK(bus_start_id(500000, 61000, 1000) == std::to_string(440000 - kBusStartMarginMs) + "-0");
    // Redis's clock far behind the instance's: the same translation.
    CHECK(bus_start_id(5000, 3000, 1000) == std::to_string(3000 - kBusStartMarginMs) + "-0");
    // A local clock stepped back since the start counts as no time elapsed.
    CHECK(bus_start_id(500000, 900, 1000) == std::to_string(500000 - kBusStartMarginMs) + "-0");
    CHECK(bus_start_id(10, 5000, 1000) == "0-0");
}
