// pushd-bench report: renders a bench/run.sh results file as a Markdown
// table (pushd, seedref, ratios, the targets).
#pragma once

#include <string>

namespace pushd_bench {

/* Renders the table for the results file at `path` into `out`. Returns
 * true, or false with `err` set when the file cannot be read or is not a
 * JSON object. Missing figures (a server or scenario that did not run)
 * show as "-". */
bool render_report(const std::string& path, std::string& out, std::string& err);

}  // namespace pushd_bench
