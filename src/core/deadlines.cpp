#include "core/deadlines.hpp"

#include <algorithm>
#include <climits>

namespace pushd {
namespace {

// std::*_heap build a max-heap; "greater due" makes it a min-heap on due_ms.
bool later(const Deadline& a, const Deadline& b) { return a.due_ms > b.due_ms; }

}  // namespace

void DeadlineQueue::push(const Deadline& d) {
    heap_.push_back(d);
    std::push_heap(heap_.begin(), heap_.end(), later);
}

void DeadlineQueue::pop_due(int64_t now_ms, const std::function<void(const Deadline&)>& fn) {
    while (!heap_.empty() && heap_.front().due_ms <= now_ms) {
        std::pop_heap(heap_.begin(), heap_.end(), later);
        Deadline d = heap_.back();
        heap_.pop_back();
        fn(d);  // may push new entries: the heap is consistent here
    }
}

void DeadlineQueue::compact(const std::function<bool(const Deadline&)>& live) {
    heap_.erase(std::remove_if(heap_.begin(), heap_.end(), [&](const Deadline& d) { return !live(d); }), heap_.end());
    std::make_heap(heap_.begin(), heap_.end(), later);
}

int64_t DeadlineQueue::next_due() const { return heap_.empty() ? INT64_MAX : heap_.front().due_ms; }

}  // namespace pushd
