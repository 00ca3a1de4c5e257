// The counters of pushd-bench's network loop (loop.hpp), apart so that the
// pure window arithmetic (window.hpp) can read them without the loop.
#pragma once

#include <cstdint>

namespace pushd_bench {

// Counters of the whole loop.
struct LoopStats {
    uint64_t reads = 0;  // recv() calls that returned data
    uint64_t bytes_in = 0;
    uint64_t writes = 0;         // send() calls
    uint64_t messages_in = 0;    // text messages handed to on_text
    uint64_t compressed_in = 0;  // of which arrived compressed (permessage-deflate)
    uint64_t pings = 0;
    uint64_t polls = 0;       // epoll_wait calls
    uint64_t busy_polls = 0;  // of which returned at least one event
    uint64_t busy_ns = 0;     // time spent handling events
};

}  // namespace pushd_bench
