#include "core/registry.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <random>
#include <set>
#include <vector>

using namespace pushd;

namespace {

// Checks every back-index in both directions; returns the number of
// subscriptions seen so tests can compare with what they expect.
size_t check_consistency(const Registry& r, const std::vector<std::unique_ptr<Session>>& sessions,
                         const std::set<std::string>& group_ids) {
    size_t total = 0;
    for (const auto& s : sessions) {
        for (size_t i = 0; i < s->subscriptions.size(); i++) {
            const auto& sub = s->subscriptions[i];
            REQUIRE(sub.member_index < sub.group->members.size());
            REQUIRE(sub.group->members[sub.member_index].session == s.get());
            REQUIRE(sub.group->members[sub.member_index].subscription_index == i);
            REQUIRE(r.is_subscribed(s.get(), sub.group->id));
            total++;
        }
    }
    size_t members = 0;
    for (const auto& id : group_ids) {
        if (const GroupEntry* g = r.find_group(id)) {
            REQUIRE_FALSE(g->members.empty());
            members += g->members.size();
        }
    }
    REQUIRE(members == total);
    return total;
}

}  // namespace

TEST_CASE("subscribe, unsubscribe and disconnect leave nothing behind", "[registry]") {
    Registry r;
    Session a, b;
    CHECK(r.subscribe(&a, "g1", 100) == Registry::SubscribeResult::added);
    CHECK(r.subscribe(&a, "g1", 100) == Registry::SubscribeResult::already);
    CHECK(r.subscribe(&b, "g1", 100) == Registry::SubscribeResult::added);
    CHECK(r.subscribe(&a, "g2", 100) == Registry::SubscribeResult::added);
    CHECK(r.group_count() == 2);
    REQUIRE(r.find_group("g1"));
    CHECK(r.find_group("g1")->members.size() == 2);

    CHECK(r.unsubscribe(&a, "g1"));
    CHECK_FALSE(r.unsubscribe(&a, "g1"));
    CHECK_FALSE(r.is_subscribed(&a, "g1"));
    CHECK(r.is_subscribed(&b, "g1"));
    CHECK(r.find_group("g1")->members.size() == 1);

    r.remove_session(&a);
    CHECK(a.subscriptions.empty());
    CHECK(r.find_group("g2") == nullptr);  // its last subscriber left: the group is gone
    r.remove_session(&b);
    CHECK(r.group_count() == 0);
    CHECK_FALSE(r.unsubscribe(&b, "nope"));
}

TEST_CASE("the per-session subscription limit refuses and changes nothing", "[registry]") {
    Registry r;
    Session s;
    CHECK(r.subscribe(&s, "a", 2) == Registry::SubscribeResult::added);
    CHECK(r.subscribe(&s, "b", 2) == Registry::SubscribeResult::added);
    CHECK(r.subscribe(&s, "c", 2) == Registry::SubscribeResult::limit);
    CHECK(r.find_group("c") == nullptr);
    CHECK(r.subscribe(&s, "a", 2) == Registry::SubscribeResult::already);
    r.remove_session(&s);
}

TEST_CASE("users: sessions oldest first, distinct count, removal from any position", "[registry]") {
    Registry r;
    Session s1, s2, s3, t1;
    r.add_user_session(&s1, "u1");
    r.add_user_session(&s2, "u1");
    r.add_user_session(&s3, "u1");
    r.add_user_session(&t1, "u2");
    CHECK(r.user_count() == 2);
    const UserEntry* u = r.find_user("u1");
    REQUIRE(u);
    CHECK(u->count == 3);
    CHECK(u->oldest == &s1);
    CHECK(u->newest == &s3);

    r.remove_session(&s2);  // the middle one
    u = r.find_user("u1");
    CHECK(u->count == 2);
    CHECK(u->oldest == &s1);
    CHECK(s1.user_next == &s3);
    CHECK(s3.user_prev == &s1);

    r.remove_session(&s1);
    CHECK(r.find_user("u1")->oldest == &s3);
    r.remove_session(&s3);
    CHECK(r.find_user("u1") == nullptr);
    CHECK(r.user_count() == 1);
    r.remove_session(&t1);
    CHECK(r.user_count() == 0);
}

TEST_CASE("random churn keeps every back-index consistent", "[registry]") {
    Registry r;
    std::vector<std::unique_ptr<Session>> sessions;
    for (int i = 0; i < 40; i++) sessions.push_back(std::make_unique<Session>());
    std::set<std::string> group_ids;
    for (int i = 0; i < 12; i++) group_ids.insert("g" + std::to_string(i));
    std::vector<std::string> ids(group_ids.begin(), group_ids.end());
    std::mt19937 rng(12345);
    std::set<std::pair<Session*, std::string>> model;
    for (int step = 0; step < 20000; step++) {
        Session* s = sessions[rng() % sessions.size()].get();
        const std::string& g = ids[rng() % ids.size()];
        switch (rng() % 5) {
        case 0:
        case 1:
        case 2: {
            auto res = r.subscribe(s, g, 1000);
            CHECK((res == Registry::SubscribeResult::added) == model.insert({s, g}).second);
            break;
        }
        case 3: CHECK(r.unsubscribe(s, g) == (model.erase({s, g}) == 1)); break;
        case 4:
            if (rng() % 20 == 0) {
                r.remove_session(s);
                for (auto it = model.begin(); it != model.end();) {
                    it = it->first == s ? model.erase(it) : std::next(it);
                }
            }
            break;
        }
        if (step % 500 == 0) CHECK(check_consistency(r, sessions, group_ids) == model.size());
    }
    CHECK(check_consistency(r, sessions, group_ids) == model.size());
    for (auto& s : sessions) r.remove_session(s.get());
    CHECK(r.group_count() == 0);
}
