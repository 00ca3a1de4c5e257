// pushctl bench report: renders a bench/run.sh results file as a Markdown
// table (pushd, seedref, ratios, the targets).
#pragma once

#include <string>

namespace pushctl::bench {

/* Prints the table for the results file at `path` to stdout. Returns 0, or
 * 1 with `err` set when the file cannot be read or is not a JSON object.
 * Missing figures (a server or scenario that did not run) print as "-". */
int print_report(const std::string& path, std::string& err);

}  // namespace pushctl::bench
