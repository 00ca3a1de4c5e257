// WebSocket sessions over real connections: the protocol, auth, groups,
// fan-out, limits (PROTOCOL.md sections 2 to 5, one instance).
#include "harness.hpp"

#include <catch2/catch.hpp>
#include <cJSON.h>

#include <memory>

using namespace pushd::test;
using pushd::WsClientHub;

namespace {

// A JSON field of a received message ("type", or "data.code").
std::string jfield(const std::string& json, const std::string& path) {
    cJSON* root = cJSON_Parse(json.c_str());
    if (!root) return "<not json>";
    cJSON* v = root;
    size_t start = 0;
    while (v && start <= path.size()) {
        size_t dot = path.find('.', start);
        std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        v = cJSON_GetObjectItemCaseSensitive(v, key.c_str());
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    std::string out;
    if (cJSON_IsString(v)) out = v->valuestring;
    else if (cJSON_IsBool(v)) out = cJSON_IsTrue(v) ? "true" : "false";
    else if (cJSON_IsNumber(v)) out = std::to_string(static_cast<long long>(v->valuedouble));
    else if (v) {
        char* t = cJSON_PrintUnformatted(v);
        out = t;
        cJSON_free(t);
    }
    cJSON_Delete(root);
    return out;
}

}  // namespace

TEST_CASE("close codes: binary 1003, auth timeout 4001", "[sessions][close]") {
    PushdProcess pushd;
    REQUIRE(pushd.start(standard_options(free_port(), {{"Auth.AuthTimeout", "1"}})));
    WsClientHub hub;
    int bin = hub.connect(pushd.ws_options());
    int idle = hub.connect(pushd.ws_options());
    REQUIRE(hub.wait_open(bin, 5000));
    REQUIRE(hub.wait_open(idle, 5000));
    hub.send_binary(bin, "\x01\x02");
    REQUIRE(hub.wait_closed(bin, 5000));
    CHECK(hub.close_code(bin) == 1003);
    auto m = hub.recv_text(idle, 3000);
    REQUIRE(m);
    CHECK(jfield(*m, "type") == "auth_failed");
    CHECK(jfield(*m, "data.message") == "auth timeout");
    REQUIRE(hub.wait_closed(idle, 3000));
    CHECK(hub.close_code(idle) == 4001);
}
