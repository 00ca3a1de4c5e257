// This instance's presence counts and what they tell Redis; the section 9
// answers built from the query scripts' replies.
#include "core/presence_schema.hpp"
#include "core/presence_tracker.hpp"
#include "core/registry.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace pushd;

namespace {

// take_changes in a fixed order, for comparisons.
PresenceChanges sorted(PresenceChanges c) {
    std::sort(c.users.begin(), c.users.end(), [](const auto& a, const auto& b) { return a.user_id < b.user_id; });
    std::sort(c.groups.begin(), c.groups.end(), [](const auto& a, const auto& b) {
        return std::tie(a.group_id, a.user_id) < std::tie(b.group_id, b.user_id);
    });
    return c;
}

}  // namespace

TEST_CASE("presence tracker reads the registry's counts per user and reports each changed count once", "[presence]") {
    Registry r;
    PresenceTracker t;
    r.set_presence(&t);
    int wakes = 0;
    t.on_change = [&] { wakes++; };
    Session a, b, c;
    r.add_user_session(&a, "u1");
    r.add_user_session(&b, "u1");
    r.add_user_session(&c, "u2");
    CHECK(wakes == 1);  // one wake per batch, not per change
    CHECK(t.user_connections("u1") == 2);
    PresenceChanges ch = sorted(t.take_changes());
    CHECK(ch.users == std::vector<PresenceUserCount>{{"u1", 2}, {"u2", 1}});
    CHECK(ch.groups.empty());
    CHECK_FALSE(t.has_changes());
    CHECK(t.take_changes().empty());

    r.unlink_user(&a);
    CHECK(wakes == 2);
    CHECK(t.take_changes().users == std::vector<PresenceUserCount>{{"u1", 1}});
    r.remove_session(&b);
    CHECK(t.take_changes().users == std::vector<PresenceUserCount>{{"u1", 0}});  // 0: remove it in Redis
    CHECK(t.user_count() == 1);

    SECTION("a connect and a close within one batch still send the count (no net change is harmless)") {
        Session d;
        r.add_user_session(&d, "u3");
        r.unlink_user(&d);
        CHECK(t.take_changes().users == std::vector<PresenceUserCount>{{"u3", 0}});
    }
    SECTION("a session already gone from its user changes nothing") {
        r.unlink_user(&a);
        r.remove_session(&a);
        CHECK_FALSE(t.has_changes());
    }
    SECTION("a tracker reading no registry counts no one") {
        PresenceTracker alone;
        alone.user_changed("u2");
        CHECK(alone.take_changes().users == std::vector<PresenceUserCount>{{"u2", 0}});
        CHECK(alone.user_count() == 0);
    }
    r.remove_session(&c);
}

TEST_CASE("presence tracker counts (group, user) pairs, whatever characters the ids hold", "[presence]") {
    PresenceTracker t;
    t.join("g:1", "u1");
    t.join("g:1", "u1");
    t.join("g", ":1u1");  // the same concatenation, another pair
    t.join("g2", "u1");
    CHECK(t.group_connections("g:1", "u1") == 2);
    CHECK(t.group_connections("g", ":1u1") == 1);
    CHECK(t.group_pair_count() == 3);
    PresenceChanges c = sorted(t.take_changes());
    CHECK(c.groups == std::vector<PresenceGroupCount>{{"g", ":1u1", 1}, {"g2", "u1", 1}, {"g:1", "u1", 2}});
    t.leave("g:1", "u1");
    t.leave("g:1", "u1");
    t.leave("g:1", "u1");  // one too many: ignored
    CHECK(t.take_changes().groups == std::vector<PresenceGroupCount>{{"g:1", "u1", 0}});
    CHECK(t.group_pair_count() == 2);
}

TEST_CASE("presence tracker: snapshot says everything; unsent changes are sent again as they are then", "[presence]") {
    Registry r;
    PresenceTracker t;
    r.set_presence(&t);
    Session a, b, c;
    r.add_user_session(&a, "u1");
    t.join("g", "u1");
    PresenceChanges sent = t.take_changes();
    t.mark_unsent(sent);
    r.add_user_session(&b, "u1");  // changed again before the retry
    PresenceChanges again = t.take_changes();
    CHECK(again.users == std::vector<PresenceUserCount>{{"u1", 2}});
    CHECK(again.groups == std::vector<PresenceGroupCount>{{"g", "u1", 1}});

    r.add_user_session(&c, "u2");
    PresenceChanges all = sorted(t.snapshot());
    CHECK(all.users == std::vector<PresenceUserCount>{{"u1", 2}, {"u2", 1}});
    CHECK(all.groups == std::vector<PresenceGroupCount>{{"g", "u1", 1}});
    CHECK_FALSE(t.has_changes());
    for (Session* s : {&a, &b, &c}) r.remove_session(s);
}

TEST_CASE("presence script arguments: prefix, name, ttl, users, then group triples", "[presence]") {
    PresenceChanges c;
    c.users = {{"u1", 2}};
    c.groups = {{"g", "u1", 0}};
    CHECK(presence_apply_args("p:", "A", c) ==
          std::vector<std::string>{"p:", "A", std::to_string(kPresenceTtlMs), "1", "u1", "2", "g", "u1", "0"});
    CHECK(presence_sync_args("p:", "A", {}, false) ==
          std::vector<std::string>{"p:", "A", std::to_string(kPresenceTtlMs), "0", "0"});
}

TEST_CASE("presence answers: the query scripts' replies as section 9's JSON", "[presence]") {
    auto g = read_group_presence("g1", {"u1", "2", "u\"2", "1"});
    REQUIRE(g);
    CHECK(group_presence_json(*g) ==
          R"({"group_id":"g1","users":[{"user_id":"u1","connections":2},{"user_id":"u\"2","connections":1}]})");
    CHECK(group_presence_json(*read_group_presence("g", {})) == R"({"group_id":"g","users":[]})");
    CHECK_FALSE(read_group_presence("g", {"u1"}));
    CHECK_FALSE(read_group_presence("g", {"u1", "x"}));

    auto u = read_user_presence("u1", {"3", "a", "b"});
    REQUIRE(u);
    CHECK(user_presence_json(*u) == R"({"user_id":"u1","online":true,"connections":3,"instances":["a","b"]})");
    CHECK(user_presence_json(*read_user_presence("u2", {"0"})) ==
          R"({"user_id":"u2","online":false,"connections":0,"instances":[]})");
    CHECK_FALSE(read_user_presence("u", {}));
    CHECK_FALSE(read_user_presence("u", {"-1"}));
}
