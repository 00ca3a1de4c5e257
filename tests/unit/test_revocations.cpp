#include "core/control_entry.hpp"
#include "core/revocations.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

namespace {
VerifiedToken token(const std::string& user, std::optional<int64_t> iat) {
    return VerifiedToken{user, 9'999'999'999, iat};
}
}  // namespace

TEST_CASE("a revocation refuses the user's tokens issued up to its second, or without iat, until it ends",
          "[revocations]") {
    Revocations r;
    REQUIRE(r.add("u", Revocation{10'000, 5}, 0));
    CHECK(r.refuses(token("u", 4), 0));
    CHECK(r.refuses(token("u", 5), 9'999));
    CHECK(r.refuses(token("u", std::nullopt), 0));
    CHECK_FALSE(r.refuses(token("u", 6), 0));                 // issued after
    CHECK_FALSE(r.refuses(token("other", std::nullopt), 0));  // another user
    CHECK_FALSE(r.refuses(token("u", 1), 10'000));            // over
}

TEST_CASE("revocations of one user merge to the later end and the later bound; prune forgets ended ones",
          "[revocations]") {
    Revocations r;
    r.add("u", Revocation{10'000, 5}, 0);
    r.add("u", Revocation{5'000, 8}, 0);
    CHECK(r.refuses(token("u", 8), 9'000));
    CHECK(r.size() == 1);
    r.add("v", Revocation{1'000, 1}, 0);
    r.prune(2'000);
    CHECK(r.size() == 1);
    CHECK_FALSE(r.refuses(token("v", 0), 500));
}

TEST_CASE("revocations are bounded: a full table takes a new user only in place of an ended one", "[revocations]") {
    Revocations r;
    for (size_t i = 0; i < kMaxRevocations; i++)
        REQUIRE(r.add("u" + std::to_string(i), Revocation{1'000 + int64_t(i % 2) * 10'000, 0}, 0));
    CHECK_FALSE(r.add("late", Revocation{50'000, 0}, 0));  // all in effect
    CHECK(r.add("late", Revocation{50'000, 0}, 2'000));    // half of them over: pruned
    CHECK(r.size() == kMaxRevocations / 2 + 1);
}

TEST_CASE("revocation text round-trips and refuses what is not one", "[revocations]") {
    CHECK(format_revocation(Revocation{1796606037202, 1796606037}) == "1796606037202:1796606037");
    auto r = parse_revocation("1796606037202:1796606037");
    REQUIRE(r);
    CHECK(r->until_ms == 1796606037202);
    CHECK(r->iat_bound_s == 1796606037);
    for (const char* bad : {"", ":", "1:", ":1", "1", "a:1", "1:2:3", "1 :2"}) CHECK_FALSE(parse_revocation(bad));
}

TEST_CASE("control entries: fields round-trip; malformed ones say why", "[control]") {
    ControlEntry d{ControlOp::disconnect, "u1", "bye", {}};
    std::vector<std::string> f = control_entry_fields(d);
    EntryFields fields;
    for (size_t i = 0; i + 1 < f.size(); i += 2) fields.emplace_back(f[i], f[i + 1]);
    CHECK(is_control_entry(fields));
    std::string why;
    auto back = control_from_entry(fields, &why);
    REQUIRE(back);
    CHECK(back->op == ControlOp::disconnect);
    CHECK(back->user_id == "u1");
    CHECK(back->reason == "bye");

    ControlEntry v{ControlOp::revoke, "u2", "", Revocation{100, 7}};
    f = control_entry_fields(v);
    fields.clear();
    for (size_t i = 0; i + 1 < f.size(); i += 2) fields.emplace_back(f[i], f[i + 1]);
    back = control_from_entry(fields, &why);
    REQUIRE(back);
    CHECK(back->op == ControlOp::revoke);
    CHECK(back->revocation.until_ms == 100);
    CHECK(back->revocation.iat_bound_s == 7);

    CHECK_FALSE(is_control_entry(EntryFields{{"group_id", "g"}}));
    CHECK_FALSE(control_from_entry(EntryFields{{"op", "explode"}, {"user_id", "u"}}, &why));
    CHECK(why == "unknown control op");
    CHECK_FALSE(control_from_entry(EntryFields{{"op", "disconnect"}}, &why));
    CHECK_FALSE(control_from_entry(EntryFields{{"op", "revoke"}, {"user_id", "u"}, {"revocation", "x"}}, &why));
}

TEST_CASE("close reasons are cut to 123 bytes at a character boundary", "[control]") {
    CHECK(close_reason_text("short") == "short");
    const std::string long_ascii(200, 'a');
    CHECK(close_reason_text(long_ascii).size() == 123);
    std::string accents;
    for (int i = 0; i < 100; i++) accents += "\xC3\xA9";  // é, two bytes each
    const std::string cut = close_reason_text(accents);
    CHECK(cut.size() == 122);
    CHECK((static_cast<unsigned char>(cut.back()) & 0xC0) == 0x80);  // ends with a whole character
}
