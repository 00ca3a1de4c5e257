// The client side of the protocol's requests (contract sections 2 and 3):
// the JSON text of one request frame per function, written once for
// pushctl, pushd-bench and the tests.
//
// Pure: strings in, a string out. Every string is escaped as JSON (the
// caller passes valid UTF-8; the server refuses the rest). message_id is
// always sent as a string. An empty optional argument (`since`) is left
// out of the frame, as the contract's "?" fields are.
#pragma once

#include <string>
#include <string_view>

namespace pushd::requests {

/* {"type":"ping","message_id":ID}; without the message_id when `id` is empty. */
std::string ping(std::string_view id = {});

/* {"type":"auth","message_id":ID,"data":{"token":T,"since":S?}}: `since`
 * is the notification id after which the inbox is replayed. */
std::string auth(std::string_view id, std::string_view token, std::string_view since = {});

/* {"type":"join_group","message_id":ID,"data":{"group_id":G,"since":S?}}:
 * `since` is the group message id after which history is replayed. */
std::string join_group(std::string_view id, std::string_view group_id, std::string_view since = {});

/* {"type":"leave_group","message_id":ID,"data":{"group_id":G}} */
std::string leave_group(std::string_view id, std::string_view group_id);

/* {"type":"send_message","message_id":ID,"data":{"group_id":G,"msg_type":N,"content":C}} */
std::string send_message(std::string_view id, std::string_view group_id, std::string_view content, int msg_type = 1);

/* send_message appended to `out` (which keeps its capacity): for callers
 * that send many, such as the load generator's publisher. */
void append_send_message(std::string& out, std::string_view id, std::string_view group_id, std::string_view content,
                         int msg_type = 1);

/* {"type":"mark_read","message_id":ID,"data":{"group_id":G,"message_id":M}}:
 * `read_id` is the group message read up to. */
std::string mark_read(std::string_view id, std::string_view group_id, std::string_view read_id);

}  // namespace pushd::requests
