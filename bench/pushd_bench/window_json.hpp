// A measured window as the results JSON of pushd-bench reports it (one
// object per window: the fanout's "windows", the sweep's "steps").
#pragma once

#include "window.hpp"

#include <cJSON.h>

namespace pushd_bench {

/* Adds the counters of `w`, its figures `f` and its verdict `v` to the
 * object `j` (owned by the caller). */
void add_window_json(cJSON* j, const Window& w, const WindowFigures& f, const Verdict& v);

}  // namespace pushd_bench
