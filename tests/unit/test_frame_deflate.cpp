#include "core/frame_deflate.hpp"
#include "core/outq.hpp"

#include <zlib.h>
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

using namespace pushd;

namespace {

// A JSON push of about `n` bytes, compressible as real pushes are.
std::string sample_json(size_t n) {
    std::string s = R"({"type":"new_message","message_id":"1732600000000-0","data":{"content":")";
    while (s.size() + 3 < n) s += "hello world, ";
    s.resize(n - 3);
    return s + "\"}}";
}

std::string payload_of(const SharedFrame* f) {
    return std::string(reinterpret_cast<const char*>(frame_wire(f)) + f->header_len, f->payload_len);
}

}  // namespace

TEST_CASE("a frame is compressed once into an RSV1 twin that inflates back", "[deflate]") {
    FrameDeflater d;
    const std::string json = sample_json(1024);
    SharedFrame* plain = frame_create_text(json, 16);
    REQUIRE(plain);
    SharedFrame* twin = d.variant_for(plain, 16);
    REQUIRE(twin != plain);
    CHECK(frame_wire(twin)[0] == 0xC1);   // FIN | RSV1 | text
    CHECK(frame_wire(plain)[0] == 0x81);  // the plain frame is unchanged
    CHECK(twin->payload_len < plain->payload_len / 2);
    CHECK(d.variant_for(plain, 16) == twin);  // built once, then shared
    CHECK(d.compressed() == 1);
    CHECK(d.bytes_in() == json.size());
    CHECK(d.bytes_out() == twin->payload_len);

    MessageInflater inf;
    std::string out;
    REQUIRE(inf.inflate(payload_of(twin), 1 << 20, out));
    CHECK(out == json);
    // A queue holds its own reference: the twin outlives the plain frame.
    frame_ref(twin);
    frame_unref(plain);
    REQUIRE(inf.inflate(payload_of(twin), 1 << 20, out));
    CHECK(out == json);
    frame_unref(twin);
}

TEST_CASE("short and incompressible payloads go uncompressed", "[deflate]") {
    FrameDeflater d;
    SharedFrame* small = frame_create_text(std::string(kDeflateMinPayload - 1, 'a'), 0);
    CHECK(d.variant_for(small, 0) == small);
    frame_unref(small);

    std::mt19937 rng(7);
    std::string noise(4096, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    SharedFrame* random = frame_create_text(noise, 0);
    CHECK(d.variant_for(random, 0) == random);
    CHECK(d.variant_for(random, 0) == random);  // decided once
    frame_unref(random);
    CHECK(d.compressed() == 0);
}

TEST_CASE("a receiver keeps its context across messages from a resetting sender", "[deflate]") {
    // The server compresses every message on a fresh stream; clients inflate
    // them all on one stream, as browsers do.
    FrameDeflater d;
    MessageInflater inf;
    for (int i = 0; i < 20; i++) {
        std::string json = sample_json(200 + 37 * i);
        SharedFrame* plain = frame_create_text(json, 0);
        SharedFrame* twin = d.variant_for(plain, 0);
        REQUIRE(twin != plain);
        std::string out;
        REQUIRE(inf.inflate(payload_of(twin), 1 << 20, out));
        CHECK(out == json);
        frame_unref(plain);
    }
}

TEST_CASE("deflate_message round-trips and the inflater enforces its limit and rejects garbage", "[deflate]") {
    const std::string json = sample_json(50000);
    std::string z;
    REQUIRE(deflate_message(json, z));
    CHECK(z.size() < json.size() / 10);
    std::string out;
    {
        MessageInflater inf;
        REQUIRE(inf.inflate(z, json.size(), out));
        CHECK(out == json);
    }
    {
        MessageInflater inf;
        CHECK_FALSE(inf.inflate(z, json.size() - 1, out));  // a bomb stops at the limit
        CHECK_FALSE(inf.inflate(z, 1 << 20, out));          // and the stream stays failed
    }
    {
        MessageInflater inf;
        CHECK_FALSE(inf.inflate(std::string("\xff\xff\xff\xff garbage", 12), 1 << 20, out));
    }
}

TEST_CASE("the inflater reads messages that end with a BFINAL block", "[deflate]") {
    // RFC 7692 7.2.3.3: a sender may end a message with a final block
    // instead of an empty stored one; the receiver starts a fresh stream.
    auto finished = [](const std::string& msg) {
        z_stream z{};
        REQUIRE(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
        std::vector<Bytef> buf(deflateBound(&z, msg.size()) + 16);
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(msg.data()));
        z.avail_in = static_cast<uInt>(msg.size());
        z.next_out = buf.data();
        z.avail_out = static_cast<uInt>(buf.size());
        REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
        std::string out(reinterpret_cast<const char*>(buf.data()), z.total_out);
        deflateEnd(&z);
        return out;
    };
    MessageInflater inf;
    std::string out;
    REQUIRE(inf.inflate(finished("first message"), 1 << 20, out));
    CHECK(out == "first message");
    REQUIRE(inf.inflate(finished("second"), 1 << 20, out));
    CHECK(out == "second");
    std::string z;
    REQUIRE(deflate_message("then a flushed one", z));
    REQUIRE(inf.inflate(z, 1 << 20, out));
    CHECK(out == "then a flushed one");
}

TEST_CASE("the client's offer decides whether our 2^15 window may be used", "[deflate]") {
    CHECK(deflate_offer_allows_our_window(""));
    CHECK(deflate_offer_allows_our_window("permessage-deflate"));
    CHECK(deflate_offer_allows_our_window("permessage-deflate; client_max_window_bits"));
    CHECK(deflate_offer_allows_our_window("permessage-deflate; server_max_window_bits=15"));
    CHECK(deflate_offer_allows_our_window("permessage-deflate; server_max_window_bits = \"15\""));
    CHECK(deflate_offer_allows_our_window("permessage-deflate; server_max_window_bits"));  // no value: no limit
    CHECK_FALSE(deflate_offer_allows_our_window("permessage-deflate; server_max_window_bits=10"));
    CHECK_FALSE(deflate_offer_allows_our_window("permessage-deflate; server_max_window_bits=8, permessage-deflate"));
    CHECK_FALSE(deflate_offer_allows_our_window("permessage-deflate; server_max_window_bits=x"));
}
