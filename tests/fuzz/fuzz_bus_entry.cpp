// libFuzzer target: core/bus_entry, which turns Redis stream entries into
// what pushd delivers. The notify stream is written by other services, so
// its entries are hostile input; history, bus and inbox entries are ours
// but read back from a store anyone with Redis access can write.
//
// Input: parts separated by NUL bytes: the entry id, then field name,
// value, name, value... The same entry is read as notify, history, bus and
// inbox entry, and its first value as a notify target.
//
// Invariants checked besides the sanitizers: a notification's data is a
// JSON object within the documented size, its users distinct and at most
// kMaxNotifyUsers; every frame built from an accepted entry (notification,
// new_message, replayed or not) is a valid JSON object; a refusal says why.
#include "core/bus_entry.hpp"
#include "core/json_check.hpp"
#include "fuzz_util.hpp"

#include <set>

using namespace pushd;

namespace {

void check_frame(const std::string& frame) { FUZZ_CHECK(json_object_text_valid(frame, 64)); }

void check_message(const std::optional<StoredMessage>& m, const std::string& why) {
    if (!m) {
        FUZZ_CHECK(!why.empty());
        return;
    }
    check_frame(build_new_message(*m, false));
    check_frame(build_new_message(*m, true));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::string_view> parts = fuzz::split(fuzz::as_text(data, size), '\0', 64);
    std::string_view id = parts[0];
    EntryFields fields;
    for (size_t i = 1; i + 1 < parts.size(); i += 2) fields.emplace_back(parts[i], parts[i + 1]);

    std::string why;
    if (!fields.empty()) {
        std::optional<NotifyTarget> t = parse_notify_target(fields[0].second, &why);
        if (t) {
            FUZZ_CHECK(t->users.size() <= kMaxNotifyUsers);
            FUZZ_CHECK(std::set<std::string>(t->users.begin(), t->users.end()).size() == t->users.size());
        } else {
            FUZZ_CHECK(!why.empty());
        }
    }

    why.clear();
    if (std::optional<Notification> n = notification_from_notify_entry(id, fields, &why)) {
        FUZZ_CHECK(n->data.size() <= kMaxNotificationDataBytes);
        FUZZ_CHECK(n->data.empty() || json_object_text_valid(n->data, kMaxNotificationDepth));
        check_frame(build_notification(n->id, n->data, n->timestamp_ms, false));
        if (n->target.kind == NotifyTargetKind::users) FUZZ_CHECK(!n->target.users.empty());
    } else {
        FUZZ_CHECK(!why.empty());
    }

    why.clear();
    check_message(message_from_history_entry("g1", id, fields, &why), why);
    why.clear();
    check_message(message_from_bus_entry(fields, &why), why);

    why.clear();
    if (std::optional<StoredNotification> s = notification_from_inbox_entry(id, fields, &why)) {
        check_frame(build_notification(s->id, s->data, s->timestamp_ms, true));
    } else {
        FUZZ_CHECK(!why.empty());
    }
    return 0;
}
