// Ack before push on its own: which pushes wait for which ack.
#include "core/ack_order.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

namespace {

struct Frames {
    std::vector<FrameRef> made;
    SharedFrame* make(const std::string& text) {
        made.push_back(FrameRef::adopt(frame_create_text(text, 0)));
        return made.back().get();
    }
};

std::string text(const FrameRef& f) {
    return std::string(reinterpret_cast<const char*>(frame_payload(f.get())), f.get()->payload_len);
}

}  // namespace

TEST_CASE("keys name a send by group and client message id, unambiguously", "[ack_order]") {
    CHECK(AckOrder::key("g", "1") != AckOrder::key("g1", ""));
    CHECK(AckOrder::key("g", "1") == AckOrder::key("g", "1"));
}

TEST_CASE("the own push waits for its ack, and every push after it waits too", "[ack_order]") {
    Frames fr;
    AckOrder order(100);
    const std::string k1 = AckOrder::key("g", "m1");
    CHECK(order.offer(1, "", fr.make("before")) == AckOrder::Offer::deliver);
    order.expect(1, k1);
    CHECK(order.active(1));
    CHECK(order.offer(1, "", fr.make("other")) == AckOrder::Offer::deliver);  // nothing waits yet
    CHECK(order.offer(1, k1, fr.make("own")) == AckOrder::Offer::held);
    CHECK(order.offer(1, "", fr.make("after")) == AckOrder::Offer::held);  // behind the own one
    CHECK(order.offer(2, k1, fr.make("another session")) == AckOrder::Offer::deliver);
    bool idle = false;
    auto out = order.acked(1, k1, &idle);
    REQUIRE(out.size() == 2);
    CHECK(text(out[0]) == "own");
    CHECK(text(out[1]) == "after");
    CHECK(idle);
    CHECK_FALSE(order.active(1));
}

TEST_CASE("two sends in flight: a push waits only for its own ack, in order", "[ack_order]") {
    Frames fr;
    AckOrder order(100);
    const std::string k1 = AckOrder::key("g", "m1"), k2 = AckOrder::key("g", "m2");
    order.expect(1, k1);
    order.expect(1, k2);
    CHECK(order.offer(1, k1, fr.make("one")) == AckOrder::Offer::held);
    CHECK(order.offer(1, k2, fr.make("two")) == AckOrder::Offer::held);
    bool idle = true;
    auto out = order.acked(1, k2, &idle);  // the second ack first: "one" still waits, "two" behind it
    CHECK(out.empty());
    CHECK_FALSE(idle);
    out = order.acked(1, k1, &idle);
    REQUIRE(out.size() == 2);
    CHECK(text(out[0]) == "one");
    CHECK(text(out[1]) == "two");
    CHECK(idle);
}

TEST_CASE("held pushes are bounded; forget drops them", "[ack_order]") {
    Frames fr;
    AckOrder order(2);
    const std::string k = AckOrder::key("g", "m");
    order.expect(1, k);
    CHECK(order.offer(1, k, fr.make("a")) == AckOrder::Offer::held);
    CHECK(order.offer(1, "", fr.make("b")) == AckOrder::Offer::held);
    CHECK(order.offer(1, "", fr.make("c")) == AckOrder::Offer::full);
    order.forget(1);
    CHECK_FALSE(order.active(1));
    CHECK(order.offer(1, "", fr.make("d")) == AckOrder::Offer::deliver);
}
