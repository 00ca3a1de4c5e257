// Reads this process's CPU time, memory and descriptor counts from /proc.
#pragma once

#include "core/metrics.hpp"

namespace pushd {

// Fills a ProcessStats for the calling process. Fields it cannot read stay 0.
ProcessStats read_process_stats();

}  // namespace pushd
