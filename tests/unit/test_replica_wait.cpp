#include "core/replica_wait.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace pushd;

TEST_CASE("online replicas are read from INFO replication; syncing ones do not count", "[replica_wait]") {
    const std::string info =
        "# Replication\r\nrole:master\r\nconnected_slaves:3\r\n"
        "slave0:ip=127.0.0.1,port=7001,state=online,offset=196,lag=0\r\n"
        "slave1:ip=127.0.0.1,port=7002,state=wait_bgsave,offset=0,lag=0\r\n"
        "slave2:ip=127.0.0.1,port=7003,state=online,offset=196,lag=1\r\n"
        "master_failover_state:no-failover\r\nmaster_repl_offset:196\r\n";
    CHECK(online_replicas(info) == 2);
    CHECK(online_replicas("# Replication\r\nrole:master\r\nconnected_slaves:0\r\nslave_read_only:1\r\n") == 0);
    // A replica (a demoted master) has no replicas of its own to wait for.
    CHECK(!online_replicas("# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\n").has_value());
    CHECK(!online_replicas("").has_value());
}

namespace {

// A link whose WAITs the test answers.
struct FakeLink {
    std::vector<WaitBatch::Answer> waits;
    int64_t answer_at_once = -2;  // >= -1: answer inside issue (a link that is down: -1)
    // Answers WAIT `i` (moved out first: answering may send the next one).
    void answer(size_t i, int64_t confirmed) {
        WaitBatch::Answer a = std::move(waits.at(i));
        a(confirmed);
    }
    WaitBatch::Issue issue() {
        return [this](WaitBatch::Answer a) {
            if (answer_at_once >= -1)
                a(answer_at_once);
            else
                waits.push_back(std::move(a));
        };
    }
};

}  // namespace

TEST_CASE("one WAIT in flight; confirmations asked meanwhile share the next", "[replica_wait]") {
    FakeLink link;
    WaitBatch batch(1, link.issue());
    std::vector<std::string> done;
    auto note = [&](std::string name) { return [&done, name](bool ok) { done.push_back(name + (ok ? "+" : "-")); }; };
    batch.after(note("a"));
    REQUIRE(link.waits.size() == 1);
    batch.after(note("b"));
    batch.after(note("c"));
    CHECK(link.waits.size() == 1);  // b and c wait for the next WAIT
    CHECK(batch.waiting() == 3);
    link.answer(0, 1);  // the first WAIT: one replica confirmed
    CHECK(done == std::vector<std::string>{"a+"});
    REQUIRE(link.waits.size() == 2);  // sent at once for b and c
    link.answer(1, 0);                // fewer than N: not confirmed
    CHECK(done == std::vector<std::string>{"a+", "b-", "c-"});
    CHECK(batch.waiting() == 0);
    CHECK(batch.waits() == 2);
    CHECK(batch.unconfirmed() == 1);
}

TEST_CASE("N replicas are needed; an unanswered WAIT confirms nothing", "[replica_wait]") {
    FakeLink link;
    WaitBatch batch(2, link.issue());
    int ok = 0, not_ok = 0;
    auto count = [&](bool confirmed) { confirmed ? ok++ : not_ok++; };
    batch.after(count);
    link.answer(0, 1);
    batch.after(count);
    link.answer(1, 2);
    batch.after(count);
    link.answer(2, -1);  // the link dropped
    CHECK(ok == 1);
    CHECK(not_ok == 2);
}

TEST_CASE("a link that fails at once answers every confirmation, without recursion", "[replica_wait]") {
    FakeLink link;
    link.answer_at_once = -1;
    WaitBatch batch(1, link.issue());
    int answered = 0;
    // A done that asks again when told ok (never here) and one that asks
    // for another confirmation of its own: both end.
    batch.after([&](bool ok) {
        answered++;
        if (!ok && answered < 3) batch.after([&](bool) { answered++; });
    });
    CHECK(answered == 2);
    CHECK(batch.waiting() == 0);
    CHECK(batch.waits() == 2);
}
