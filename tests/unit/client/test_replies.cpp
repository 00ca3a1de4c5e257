#include "client/replies.hpp"
#include "core/protocol.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace pushd;

// The frames come from the server's own builders.
TEST_CASE("read_reply reads every server frame the server builds", "[replies]") {
    SECTION("a successful ack of join_group with since") {
        AckExtra x;
        x.replayed = 0;
        x.truncated = true;
        auto r = read_reply(build_ack_ok("j1", 1732600000000, x));
        REQUIRE(r);
        CHECK(r->type == "ack");
        CHECK(r->message_id == "j1");
        CHECK(r->data_message_id == "j1");
        CHECK(r->timestamp == 1732600000000);
        CHECK(r->success);
        CHECK(r->replayed == 0);
        CHECK(r->truncated);
    }
    SECTION("an ack of send_message") {
        AckExtra x;
        x.server_message_id = "5-0";
        x.duplicate = true;
        auto r = read_reply(build_ack_ok("m", 1, x));
        REQUIRE(r);
        CHECK(r->server_message_id == "5-0");
        CHECK(r->duplicate);
        CHECK(r->replayed == -1);
    }
    SECTION("a failed ack and an error") {
        auto r = read_reply(build_ack_fail("j", ReplyCode::forbidden, "not a member", 1));
        REQUIRE(r);
        CHECK_FALSE(r->success);
        CHECK(r->code == 403);
        CHECK(r->message == "not a member");
        r = read_reply(build_error(std::nullopt, ReplyCode::bad_request, "bad", 1));
        REQUIRE(r);
        CHECK(r->type == "error");
        CHECK(r->message_id.empty());
        CHECK(r->code == 400);
    }
    SECTION("auth_success and auth_failed") {
        auto r = read_reply(build_auth_success("a", "42", "s-1", 99000, 1));
        REQUIRE(r);
        CHECK(r->type == "auth_success");
        CHECK(r->user_id == "42");
        CHECK(r->session_id == "s-1");
        r = read_reply(build_auth_failed("a", "token expired", 1));
        REQUIRE(r);
        CHECK(r->type == "auth_failed");
        CHECK(r->message == "token expired");
    }
    SECTION("new_message, live and replayed") {
        StoredMessage m{"g1", "7-0", "c-1", "u1", 1, "hello", 7};
        auto r = read_reply(build_new_message(m, false));
        REQUIRE(r);
        CHECK(r->type == "new_message");
        CHECK(r->message_id == "7-0");
        CHECK(r->group_id == "g1");
        CHECK(r->sender_id == "u1");
        CHECK(r->content == "hello");
        CHECK_FALSE(r->replay);
        CHECK(read_reply(build_new_message(m, true))->replay);
    }
    SECTION("what is not a frame") {
        CHECK_FALSE(read_reply("not json"));
        CHECK_FALSE(read_reply("[1]"));
        CHECK_FALSE(read_reply(R"({"type":5})"));
        CHECK(read_reply(R"({"type":"pong"})")->type == "pong");
    }
}

TEST_CASE("peek_reply_kind agrees with read_reply on the server's frames", "[replies]") {
    StoredMessage m{"g1", "7-0", "c-1", "u1", 1, "hello", 7};
    CHECK(peek_reply_kind(build_new_message(m, false)) == ReplyKind::new_message);
    CHECK(peek_reply_kind(build_notification("9-0", R"({"a":1})", 1, false)) == ReplyKind::notification);
    CHECK(peek_reply_kind(build_ack_ok("j", 1)) == ReplyKind::ack_ok);
    CHECK(peek_reply_kind(build_ack_fail("j", ReplyCode::storage_unavailable, "x", 1)) == ReplyKind::ack_failed);
    CHECK(peek_reply_kind(build_auth_success("a", "1", "s", 1, 1)) == ReplyKind::auth_success);
    CHECK(peek_reply_kind(build_auth_failed("a", "no", 1)) == ReplyKind::auth_failed);
    CHECK(peek_reply_kind(build_error("e", ReplyCode::bad_request, "bad", 1)) == ReplyKind::error);
    CHECK(peek_reply_kind(build_pong(std::nullopt, 1)) == ReplyKind::other);
    CHECK(peek_reply_kind(R"({"type" : "ack", "data": {"success" : true}})") == ReplyKind::ack_ok);
    CHECK(peek_reply_kind(R"({"type":"ack"})") == ReplyKind::ack_failed);
    CHECK(peek_reply_kind("garbage") == ReplyKind::other);
}
