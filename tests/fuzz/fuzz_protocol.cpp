// libFuzzer target: core/protocol parse_request (a client's whole text
// message, as the server hands it over after reassembly) and the frame
// builders fed with what it returns.
//
// Invariants checked besides the sanitizers:
//  - a parsed request obeys protocol.hpp: a message_id of 1..128 bytes on
//    every type but ping, a valid group_id where the type has one, msg_type
//    in 0..2^31-1, a non-empty token for auth;
//  - for input that is valid UTF-8 (the server refuses anything else with
//    1007 before parsing), every reply and push built from the parsed fields
//    (error, ack, auth_failed, new_message) is a valid JSON object, so that
//    no request can make pushd send a frame a browser cannot read.
#include "core/json_check.hpp"
#include "core/protocol.hpp"
#include "fuzz_util.hpp"

using namespace pushd;

namespace {

constexpr int64_t kNow = 1732600000000;

void check_frame(const std::string& frame) {
    std::string why;
    if (!json_object_text_valid(frame, 64, &why)) {
        std::fprintf(stderr, "built frame is not a JSON object (%s): %s\n", why.c_str(), frame.c_str());
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text = fuzz::as_text(data, size);
    ParseResult r = parse_request(text);
    const bool utf8 = utf8_valid(text);

    if (r.status == ParseStatus::malformed) {
        FUZZ_CHECK(!r.message.empty());
        if (utf8) check_frame(build_error(r.message_id, ReplyCode::bad_request, r.message, kNow));
        return 0;
    }
    const Request& q = r.request;
    FUZZ_CHECK(r.message_id == q.message_id);
    if (q.message_id) FUZZ_CHECK(!q.message_id->empty() && q.message_id->size() <= 128);
    if (q.type != RequestType::ping) FUZZ_CHECK(q.message_id.has_value());
    if (r.status == ParseStatus::invalid_field) {
        FUZZ_CHECK(!r.message.empty());
        if (utf8 && q.message_id) check_frame(build_ack_fail(*q.message_id, ReplyCode::invalid_field, r.message, kNow));
        if (utf8 && q.type == RequestType::auth) check_frame(build_auth_failed(q.message_id, r.message, kNow));
        return 0;
    }
    FUZZ_CHECK(r.message.empty());
    switch (q.type) {
    case RequestType::ping:
        if (utf8) check_frame(build_pong(q.message_id, kNow));
        break;
    case RequestType::auth: FUZZ_CHECK(!q.token.empty()); break;
    case RequestType::send_message:
        FUZZ_CHECK(valid_group_id(q.group_id));
        FUZZ_CHECK(q.msg_type >= 0 && q.msg_type <= 2147483647);
        if (utf8) {
            StoredMessage m{q.group_id, "1732600000000-0", *q.message_id, "u1", q.msg_type, q.content, kNow};
            check_frame(build_new_message(m, false));
            check_frame(build_new_message(m, true));
        }
        break;
    case RequestType::join_group:
    case RequestType::leave_group:
    case RequestType::mark_read: FUZZ_CHECK(valid_group_id(q.group_id)); break;
    }
    if (utf8 && q.message_id) {
        AckExtra extra;
        extra.server_message_id = q.read_message_id.empty() ? q.since : q.read_message_id;
        check_frame(build_ack_ok(*q.message_id, kNow, extra));
    }
    return 0;
}
