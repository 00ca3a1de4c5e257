#include "client/ws_codec.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

using namespace pushd::ws;

namespace {

// An unmasked server frame, as a server would send it.
std::string server_frame(uint8_t first_byte, std::string_view payload, int length_form = 0) {
    std::string f;
    f.push_back(static_cast<char>(first_byte));
    size_t n = payload.size();
    // length_form forces 16 or 64 for non-minimal encodings
    if (length_form == 0 && n < 126) {
        f.push_back(static_cast<char>(n));
    } else if (length_form == 16 || (length_form == 0 && n <= 0xFFFF)) {
        f.push_back(static_cast<char>(126));
        f.push_back(static_cast<char>(n >> 8));
        f.push_back(static_cast<char>(n & 0xFF));
    } else {
        f.push_back(static_cast<char>(127));
        for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xFF));
    }
    f.append(payload);
    return f;
}

std::string text(std::string_view p) { return server_frame(0x81, p); }

struct Event {
    std::string kind;  // "text", "binary", "ping", "pong", "close"
    std::string payload;
    int code = 0;
};

struct Recorder {
    std::vector<Event> events;
    FrameSink sink() {
        FrameSink s;
        s.ctx = this;
        s.on_message = [](void* c, Opcode op, std::string_view p) {
            static_cast<Recorder*>(c)->events.push_back({op == Opcode::text ? "text" : "binary", std::string(p), 0});
        };
        s.on_control = [](void* c, Opcode op, std::string_view p) {
            static_cast<Recorder*>(c)->events.push_back({op == Opcode::ping ? "ping" : "pong", std::string(p), 0});
        };
        s.on_close = [](void* c, int code, std::string_view reason) {
            static_cast<Recorder*>(c)->events.push_back({"close", std::string(reason), code});
        };
        return s;
    }
};

// Feeds `bytes` in pieces of `step` bytes; returns the last status.
FeedStatus feed_in_steps(FrameParser& p, const std::string& bytes, Recorder& r, size_t step) {
    FrameSink s = r.sink();
    FeedStatus st = FeedStatus::ok;
    for (size_t i = 0; i < bytes.size(); i += step) {
        st = p.feed(std::string_view(bytes).substr(i, step), s);
        if (st != FeedStatus::ok) break;
    }
    return st;
}

// Undoes a client frame: returns {opcode byte, fin, payload}; checks the mask bit.
struct Decoded {
    uint8_t b0 = 0;
    std::string payload;
    uint32_t mask = 0;
    size_t header_len = 0;
};

Decoded unmask(const std::string& f) {
    Decoded d;
    d.b0 = static_cast<uint8_t>(f[0]);
    uint8_t b1 = static_cast<uint8_t>(f[1]);
    REQUIRE((b1 & 0x80) != 0);
    uint64_t n = b1 & 0x7F;
    size_t h = 2;
    if (n == 126) {
        n = (uint64_t{static_cast<uint8_t>(f[2])} << 8) | static_cast<uint8_t>(f[3]);
        h = 4;
    } else if (n == 127) {
        n = 0;
        for (int i = 0; i < 8; ++i) n = (n << 8) | static_cast<uint8_t>(f[2 + i]);
        h = 10;
    }
    uint8_t m[4];
    for (int i = 0; i < 4; ++i) m[i] = static_cast<uint8_t>(f[h + i]);
    d.mask = (uint32_t{m[0]} << 24) | (uint32_t{m[1]} << 16) | (uint32_t{m[2]} << 8) | m[3];
    h += 4;
    d.header_len = h;
    REQUIRE(f.size() == h + n);
    for (size_t i = 0; i < n; ++i) d.payload.push_back(static_cast<char>(static_cast<uint8_t>(f[h + i]) ^ m[i & 3]));
    return d;
}

}  // namespace

TEST_CASE("client frames are masked with the caller's key, every length class", "[ws_codec]") {
    SECTION("7-bit length") {
        std::string f = client_text_frame("hello", 0x37fa213d);
        // RFC 6455 5.7's example of a masked "Hello" uses this key.
        std::string g = client_text_frame("Hello", 0x37fa213d);
        CHECK(g == std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
        Decoded d = unmask(f);
        CHECK(d.b0 == 0x81);
        CHECK(d.payload == "hello");
        CHECK(d.mask == 0x37fa213d);
        CHECK(d.header_len == 6);
    }
    SECTION("125 and 126 bytes straddle the 16-bit form") {
        CHECK(unmask(client_text_frame(std::string(125, 'a'), 1)).header_len == 6);
        Decoded d = unmask(client_text_frame(std::string(126, 'b'), 2));
        CHECK(d.header_len == 8);
        CHECK(d.payload == std::string(126, 'b'));
    }
    SECTION("65535 and 65536 bytes straddle the 64-bit form") {
        CHECK(unmask(client_text_frame(std::string(65535, 'c'), 3)).header_len == 8);
        Decoded d = unmask(client_text_frame(std::string(65536, 'd'), 0xdeadbeef));
        CHECK(d.header_len == 14);
        CHECK(d.payload == std::string(65536, 'd'));
    }
    SECTION("empty payload") {
        std::string f = client_text_frame("", 5);
        CHECK(f.size() == 6);
        CHECK(unmask(f).payload.empty());
    }
    SECTION("non-final fragment, continuation, pong and close") {
        std::string out;
        append_client_frame(out, Opcode::text, "ab", 7, false);
        CHECK(static_cast<uint8_t>(out[0]) == 0x01);
        out.clear();
        append_client_frame(out, Opcode::continuation, "cd", 7, true);
        CHECK(static_cast<uint8_t>(out[0]) == 0x80);
        out.clear();
        append_client_frame(out, Opcode::pong, "xy", 9);
        CHECK(static_cast<uint8_t>(out[0]) == 0x8A);
        CHECK(unmask(out).payload == "xy");
        out.clear();
        append_client_close(out, 1000, "bye", 11);
        Decoded d = unmask(out);
        CHECK(d.b0 == 0x88);
        CHECK(d.payload == std::string("\x03\xe8"
                                       "bye",
                                       5));
        out.clear();
        append_client_close(out, 4001, std::string(200, 'r'), 11);
        CHECK(unmask(out).payload.size() == 125);
    }
    SECTION("frames append to what the buffer already holds") {
        std::string out = "prefix";
        append_client_frame(out, Opcode::text, "x", 0);
        CHECK(out.substr(0, 6) == "prefix");
        CHECK(out.size() == 6 + 6 + 1);
    }
}

TEST_CASE("sha1, base64 and the accept value match the standards' vectors", "[ws_codec]") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
    CHECK(base64_encode(sha1("abc")) == "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    CHECK(base64_encode(sha1("")) == "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
    // 56 bytes: the padding needs a second block.
    CHECK(base64_encode(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
          "hJg+RBw70m66rkqh+VEp5eVGcPE=");
    // 1,000,000 'a' (FIPS 180 long vector): 34aa973c d4c4daa4 f61eeb2b dbad2731 6534016f
    CHECK(base64_encode(sha1(std::string(1000000, 'a'))) == "NKqXPNTE2qT2Husr260nMWU0AW8=");
    // RFC 6455 section 1.3.
    CHECK(websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(make_websocket_key("the sample nonce") == "dGhlIHNhbXBsZSBub25jZQ==");
    CHECK(make_websocket_key("short").size() == 24);
}

TEST_CASE("the upgrade request and the check of the 101", "[ws_codec]") {
    const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
    std::string req = upgrade_request("127.0.0.1:8889", "/ws?x=1", key);
    CHECK(req ==
          "GET /ws?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8889\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");

    const std::string good =
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

    SECTION("a valid 101; bytes after the head are frames") {
        std::string rx = good + text("hi");
        UpgradeCheck c = check_upgrade_response(rx, key);
        CHECK(c.status == UpgradeStatus::ok);
        CHECK(c.http_status == 101);
        CHECK(c.header_bytes == good.size());
        CHECK(rx.substr(c.header_bytes) == text("hi"));
    }
    SECTION("incomplete until the blank line, at every split") {
        for (size_t i = 0; i < good.size(); ++i)
            CHECK(check_upgrade_response(std::string_view(good).substr(0, i), key).status == UpgradeStatus::incomplete);
    }
    SECTION("a refusal carries its status") {
        UpgradeCheck c = check_upgrade_response("HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n", key);
        CHECK(c.status == UpgradeStatus::refused);
        CHECK(c.http_status == 429);
        c = check_upgrade_response("HTTP/1.0 503\r\n\r\n", key);
        CHECK(c.status == UpgradeStatus::refused);
        CHECK(c.http_status == 503);
    }
    SECTION("wrong accept, missing headers, extensions, garbage") {
        std::string wrong = good;
        wrong.replace(wrong.find("s3pP"), 4, "AAAA");
        CHECK(check_upgrade_response(wrong, key).status == UpgradeStatus::bad);
        CHECK(check_upgrade_response(good, "b3RoZXIga2V5IDEyMzQ1Ng==").status == UpgradeStatus::bad);
        CHECK(check_upgrade_response("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n"
                                     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                                     key)
                  .status == UpgradeStatus::bad);
        CHECK(check_upgrade_response("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
                                     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                                     key)
                  .status == UpgradeStatus::bad);
        CHECK(check_upgrade_response("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", key)
                  .status == UpgradeStatus::bad);
        std::string ext = good;
        ext.insert(ext.size() - 2, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        UpgradeCheck c = check_upgrade_response(ext, key);
        CHECK(c.status == UpgradeStatus::bad);
        CHECK(c.error.find("extension") != std::string::npos);
        CHECK(check_upgrade_response("SSH-2.0-OpenSSH\r\n\r\n", key).status == UpgradeStatus::bad);
        CHECK(check_upgrade_response("HTTP/1.1 1x1 OK\r\n\r\n", key).status == UpgradeStatus::bad);
        CHECK(check_upgrade_response("HTTP/1.1 101 OK\r\nno colon here\r\n\r\n", key).status == UpgradeStatus::bad);
    }
    SECTION("deflate is reported only on an accepted 101") {
        // Found by fuzz_ws_codec: a malformed header line after the
        // extensions header used to return bad with .deflate still set.
        std::string ext = good;
        ext.insert(ext.size() - 2, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        CHECK(check_upgrade_response(ext, key, true).deflate);
        ext.insert(ext.size() - 2, "no colon here\r\n");
        UpgradeCheck c = check_upgrade_response(ext, key, true);
        CHECK(c.status == UpgradeStatus::bad);
        CHECK_FALSE(c.deflate);
    }
    SECTION("an endless head is refused once it passes the limit") {
        std::string big = "HTTP/1.1 101 OK\r\nX: " + std::string(kMaxUpgradeResponseBytes, 'x');
        CHECK(check_upgrade_response(big, key).status == UpgradeStatus::bad);
    }
}

TEST_CASE("the parser emits whole messages for every length class and any split", "[ws_codec]") {
    const std::string p300(300, 'm');
    const std::string p70k(70000, 'L');
    std::string stream = text("a") + text("") + text(p300) + server_frame(0x82, "bin") + text(p70k) +
                         server_frame(0x81, "sixteen", 16) + server_frame(0x81, "sixty-four", 64);
    for (size_t step : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{125}, size_t{4096}, stream.size()}) {
        CAPTURE(step);
        FrameParser p(1 << 20);
        Recorder r;
        CHECK(feed_in_steps(p, stream, r, step) == FeedStatus::ok);
        REQUIRE(r.events.size() == 7);
        CHECK(r.events[0].payload == "a");
        CHECK(r.events[1].payload.empty());
        CHECK(r.events[1].kind == "text");
        CHECK(r.events[2].payload == p300);
        CHECK(r.events[3].kind == "binary");
        CHECK(r.events[3].payload == "bin");
        CHECK(r.events[4].payload == p70k);
        CHECK(r.events[5].payload == "sixteen");
        CHECK(r.events[6].payload == "sixty-four");
        CHECK_FALSE(p.in_message());
        CHECK(p.buffered_bytes() == 0);
    }
}

TEST_CASE("fragmented messages are reassembled with control frames interleaved", "[ws_codec]") {
    std::string stream = server_frame(0x01, "Hel") + server_frame(0x89, "p1") + server_frame(0x00, "lo, ") +
                         server_frame(0x8A, "") + server_frame(0x80, "world") + text("next") +
                         server_frame(0x02, "\x01\x02") + server_frame(0x80, "\x03");
    for (size_t step : {size_t{1}, size_t{5}, stream.size()}) {
        CAPTURE(step);
        FrameParser p(1024);
        Recorder r;
        CHECK(feed_in_steps(p, stream, r, step) == FeedStatus::ok);
        REQUIRE(r.events.size() == 5);
        CHECK(r.events[0].kind == "ping");
        CHECK(r.events[0].payload == "p1");
        CHECK(r.events[1].kind == "pong");
        CHECK(r.events[2].kind == "text");
        CHECK(r.events[2].payload == "Hello, world");
        CHECK(r.events[3].payload == "next");
        CHECK(r.events[4].kind == "binary");
        CHECK(r.events[4].payload == "\x01\x02\x03");
    }
    SECTION("a fragment split mid-header and mid-payload") {
        FrameParser p(1024);
        Recorder r;
        FrameSink s = r.sink();
        std::string a = server_frame(0x01, std::string(200, 'x'));
        std::string b = server_frame(0x80, std::string(100, 'y'));
        CHECK(p.feed(a.substr(0, 3), s) == FeedStatus::ok);
        CHECK(p.in_message());
        CHECK(p.feed(a.substr(3) + b.substr(0, 50), s) == FeedStatus::ok);
        CHECK(r.events.empty());
        CHECK(p.feed(b.substr(50), s) == FeedStatus::ok);
        REQUIRE(r.events.size() == 1);
        CHECK(r.events[0].payload == std::string(200, 'x') + std::string(100, 'y'));
    }
}

TEST_CASE("close frames end the stream and carry their code", "[ws_codec]") {
    SECTION("code and reason; later bytes are ignored") {
        FrameParser p;
        Recorder r;
        std::string s = text("last") +
                        server_frame(0x88, std::string("\x0f\xa8"
                                                       "slow",
                                                       6)) +
                        text("ignored");
        CHECK(p.feed(s, r.sink()) == FeedStatus::closed);
        REQUIRE(r.events.size() == 2);
        CHECK(r.events[1].kind == "close");
        CHECK(r.events[1].code == 4008);
        CHECK(r.events[1].payload == "slow");
        CHECK(p.close_code() == 4008);
        CHECK(p.feed(text("more"), r.sink()) == FeedStatus::closed);
        CHECK(r.events.size() == 2);
    }
    SECTION("no payload means 1005; split close frame") {
        FrameParser p;
        Recorder r;
        CHECK(feed_in_steps(p, server_frame(0x88, ""), r, 1) == FeedStatus::closed);
        CHECK(p.close_code() == kCloseNoStatus);
        FrameParser q;
        Recorder r2;
        CHECK(feed_in_steps(q, server_frame(0x88, std::string("\x03\xe9", 2)), r2, 1) == FeedStatus::closed);
        CHECK(q.close_code() == 1001);
    }
    SECTION("a 1-byte close payload is a protocol error") {
        FrameParser p;
        Recorder r;
        CHECK(p.feed(server_frame(0x88, "x"), r.sink()) == FeedStatus::error);
        CHECK(p.error() == ParseError::bad_close);
    }
}

TEST_CASE("protocol violations are errors that stick", "[ws_codec]") {
    struct Case {
        std::string bytes;
        ParseError error;
    };
    std::string masked(
        "\x81\x82"
        "abcd"
        "xy",
        8);
    std::string huge_len("\x81\x7f\x80\x00\x00\x00\x00\x00\x00\x01", 10);
    std::vector<Case> cases = {
        {masked, ParseError::masked},
        {server_frame(0xC1, "x"), ParseError::reserved_bits},
        {server_frame(0xA1, "x"), ParseError::reserved_bits},
        {server_frame(0x83, "x"), ParseError::bad_opcode},
        {server_frame(0x8B, "x"), ParseError::bad_opcode},
        {server_frame(0x09, "x"), ParseError::bad_control},
        {server_frame(0x89, std::string(126, 'p')), ParseError::bad_control},
        {server_frame(0x80, "x"), ParseError::bad_continuation},
        {server_frame(0x01, "a") + server_frame(0x81, "b"), ParseError::bad_continuation},
        {huge_len, ParseError::bad_length},
        {text(std::string(101, 'z')), ParseError::too_big},
        {server_frame(0x01, std::string(60, 'a')) + server_frame(0x80, std::string(41, 'b')), ParseError::too_big},
    };
    for (size_t i = 0; i < cases.size(); ++i) {
        CAPTURE(i);
        for (size_t step : {size_t{1}, cases[i].bytes.size()}) {
            FrameParser p(100);
            Recorder r;
            CHECK(feed_in_steps(p, cases[i].bytes, r, step) == FeedStatus::error);
            CHECK(p.error() == cases[i].error);
            CHECK(r.events.empty());
            CHECK(p.feed(text("ok"), r.sink()) == FeedStatus::error);
            CHECK(r.events.empty());
        }
    }
    CHECK(parse_error_close_code(ParseError::too_big) == 1009);
    CHECK(parse_error_close_code(ParseError::masked) == 1002);
    CHECK(parse_error_close_code(ParseError::none) == 1000);
    CHECK(std::string(parse_error_text(ParseError::masked)) == "server frame is masked");
}

TEST_CASE("a message of exactly max_message_bytes passes, whole or fragmented", "[ws_codec]") {
    FrameParser p(100);
    Recorder r;
    std::string s = text(std::string(100, 'a')) + server_frame(0x01, std::string(60, 'b')) +
                    server_frame(0x80, std::string(40, 'c'));
    CHECK(feed_in_steps(p, s, r, 9) == FeedStatus::ok);
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[0].payload.size() == 100);
    CHECK(r.events[1].payload == std::string(60, 'b') + std::string(40, 'c'));
}

TEST_CASE("a sink with null callbacks ignores those events", "[ws_codec]") {
    FrameParser p;
    FrameSink none;
    CHECK(p.feed(text("a") + server_frame(0x89, "") + server_frame(0x88, "\x03\xe8"), none) == FeedStatus::closed);
    CHECK(p.close_code() == 1000);
}

TEST_CASE("permessage-deflate: the offer, its acceptance and RSV1 frames", "[ws_codec][deflate]") {
    const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
    std::string req = upgrade_request("h:1", "/ws", key, "permessage-deflate; client_max_window_bits");
    CHECK(req.find("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n") !=
          std::string::npos);
    const std::string head =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    const std::string deflate =
        head + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n\r\n";
    UpgradeCheck c = check_upgrade_response(deflate, key, true);
    CHECK(c.status == UpgradeStatus::ok);
    CHECK(c.deflate);
    CHECK(check_upgrade_response(deflate, key, false).status == UpgradeStatus::bad);  // not offered
    c = check_upgrade_response(head + "\r\n", key, true);                             // offered, declined
    CHECK(c.status == UpgradeStatus::ok);
    CHECK_FALSE(c.deflate);
    CHECK(check_upgrade_response(head + "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n\r\n", key, true).status ==
          UpgradeStatus::bad);

    struct Got {
        std::vector<std::string> messages;
        std::vector<bool> compressed;
        FrameParser* parser = nullptr;
    } got;
    FrameSink sink;
    sink.ctx = &got;
    sink.on_message = [](void* ctx, Opcode, std::string_view p) {
        auto* g = static_cast<Got*>(ctx);
        g->messages.emplace_back(p);
        g->compressed.push_back(g->parser->message_compressed());
    };
    SECTION("RSV1 is a protocol error unless allowed") {
        FrameParser p;
        got.parser = &p;
        CHECK(p.feed(server_frame(0xC1, "zz"), sink) == FeedStatus::error);
        CHECK(p.error() == ParseError::reserved_bits);
    }
    SECTION("allowed: compressed and plain messages are told apart, whole or fragmented") {
        FrameParser p;
        got.parser = &p;
        p.set_allow_rsv1(true);
        CHECK(p.feed(server_frame(0xC1, "zz") + server_frame(0x81, "plain") + server_frame(0x41, "a") +
                         server_frame(0x80, "b"),
                     sink) == FeedStatus::ok);
        REQUIRE(got.messages == std::vector<std::string>{"zz", "plain", "ab"});
        CHECK(got.compressed == std::vector<bool>{true, false, true});
    }
    SECTION("RSV1 on a continuation or a control frame stays an error") {
        FrameParser p;
        got.parser = &p;
        p.set_allow_rsv1(true);
        CHECK(p.feed(server_frame(0x01, "a") + server_frame(0xC0, "b"), sink) == FeedStatus::error);
        FrameParser q;
        q.set_allow_rsv1(true);
        CHECK(q.feed(server_frame(0xC9, ""), sink) == FeedStatus::error);
        FrameParser r;
        r.set_allow_rsv1(true);
        CHECK(r.feed(server_frame(0xA1, "x"), sink) == FeedStatus::error);  // RSV2 never
    }
}
