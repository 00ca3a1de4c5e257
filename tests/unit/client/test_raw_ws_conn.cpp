#include "client/raw_ws_conn.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace pushd;

namespace {

// An unmasked server frame with a 7-bit length.
std::string server_frame(uint8_t first_byte, std::string_view payload) {
    std::string f;
    f += static_cast<char>(first_byte);
    f += static_cast<char>(payload.size());
    f.append(payload);
    return f;
}

// The 101 a server answers to `request`, accepting `extensions` (may be empty).
std::string switching_protocols(const std::string& request, const std::string& extensions) {
    const std::string name = "Sec-WebSocket-Key: ";
    const size_t at = request.find(name) + name.size();
    const std::string key = request.substr(at, request.find("\r\n", at) - at);
    std::string r =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        ws::websocket_accept(key) + "\r\n";
    if (!extensions.empty()) r += "Sec-WebSocket-Extensions: " + extensions + "\r\n";
    return r + "\r\n";
}

struct Seen {
    std::vector<std::string> texts;
    std::vector<bool> compressed;
    std::vector<std::string> pings;
};

RawWsSink sink_into(Seen& seen) {
    RawWsSink s;
    s.ctx = &seen;
    s.on_message = [](void* p, ws::Opcode, std::string_view text, bool compressed) {
        static_cast<Seen*>(p)->texts.emplace_back(text);
        static_cast<Seen*>(p)->compressed.push_back(compressed);
    };
    s.on_ping = [](void* p, std::string_view payload) { static_cast<Seen*>(p)->pings.emplace_back(payload); };
    return s;
}

}  // namespace

TEST_CASE("a raw connection's upgrade, frames in and out, without an extension", "[raw_ws_conn]") {
    RawWsConn c;
    const std::string req = c.begin("127.0.0.1:1", "/ws", "0123456789abcdef");
    CHECK(req.rfind("GET /ws HTTP/1.1\r\n", 0) == 0);
    CHECK(req.find("Sec-WebSocket-Extensions") == std::string::npos);
    const std::string answer = switching_protocols(req, "") + server_frame(0x81, "hi");
    std::string rest;
    // The head in two pieces: incomplete first.
    CHECK(c.on_upgrade_bytes(answer.substr(0, 20), rest).status == ws::UpgradeStatus::incomplete);
    REQUIRE(c.on_upgrade_bytes(answer.substr(20), rest).status == ws::UpgradeStatus::ok);
    CHECK_FALSE(c.deflate());
    Seen seen;
    CHECK(c.feed(rest + server_frame(0x89, "p"), sink_into(seen)) == ws::FeedStatus::ok);
    CHECK(seen.texts == std::vector<std::string>{"hi"});
    CHECK(seen.compressed == std::vector<bool>{false});
    CHECK(seen.pings == std::vector<std::string>{"p"});
    std::string out;
    REQUIRE(c.append_text(out, "x", 0x01020304, true));  // no deflate negotiated: plain
    CHECK((static_cast<uint8_t>(out[0]) & 0x40) == 0);
    CHECK(c.feed(server_frame(0x88, std::string("\x03\xe8", 2)), sink_into(seen)) == ws::FeedStatus::closed);
    CHECK(c.close_code() == 1000);
}

TEST_CASE("a raw connection with permessage-deflate inflates and deflates", "[raw_ws_conn][deflate]") {
    RawWsConn c;
    const std::string req = c.begin("h", "/ws", "0123456789abcdef", "permessage-deflate");
    std::string rest;
    REQUIRE(c.on_upgrade_bytes(switching_protocols(req, "permessage-deflate"), rest).status == ws::UpgradeStatus::ok);
    CHECK(c.deflate());
    CHECK(rest.empty());
    std::string z;
    REQUIRE(deflate_message("hello hello hello", z));
    Seen seen;
    CHECK(c.feed(server_frame(0xC1, z), sink_into(seen)) == ws::FeedStatus::ok);  // FIN, RSV1, text
    CHECK(seen.texts == std::vector<std::string>{"hello hello hello"});
    CHECK(seen.compressed == std::vector<bool>{true});
    std::string out;
    REQUIRE(c.append_text(out, "hello hello hello", 0x01020304, true));
    CHECK((static_cast<uint8_t>(out[0]) & 0x40) != 0);
    // A compressed message that does not inflate is an error that sticks.
    CHECK(c.feed(server_frame(0xC1, "not deflate"), sink_into(seen)) == ws::FeedStatus::error);
    CHECK(std::string(c.error_text()) == "corrupt compressed message");
    CHECK(c.feed(server_frame(0x81, "x"), sink_into(seen)) == ws::FeedStatus::error);
}

TEST_CASE("a raw connection refuses a bad 101", "[raw_ws_conn]") {
    RawWsConn c;
    c.begin("h", "/ws", "0123456789abcdef");
    std::string rest;
    const ws::UpgradeCheck chk = c.on_upgrade_bytes("HTTP/1.1 429 Too Many Requests\r\n\r\n", rest);
    CHECK(chk.status == ws::UpgradeStatus::refused);
    CHECK(chk.http_status == 429);
}
