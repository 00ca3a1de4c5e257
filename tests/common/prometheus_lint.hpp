// A strict checker for Prometheus text exposition format 0.0.4, used by the
// unit tests (on rendered text) and the integration tests (on /metrics).
#pragma once

#include <map>
#include <regex>
#include <sstream>
#include <string>

namespace pushd_test {

// Returns "" when `text` is valid exposition text, else the first problem
// with its line number. Checks: every line is a comment, blank, or a sample
// `name{labels} value`; names and label names are legal; each family has
// at most one HELP and one TYPE, given before its samples; TYPE is known;
// values parse as floats; the text ends with a newline.
inline std::string prometheus_lint(const std::string& text) {
    static const std::regex help_re(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
    static const std::regex type_re(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
    static const std::regex sample_re(
        R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? ([-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN))( -?[0-9]+)?$)");
    if (text.empty()) return "empty exposition";
    if (text.back() != '\n') return "does not end with a newline";
    std::map<std::string, int> helps, types, samples_seen;
    std::istringstream in(text);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        n++;
        std::smatch m;
        const std::string where = "line " + std::to_string(n) + ": ";
        if (line.empty()) continue;
        if (line.rfind("# HELP ", 0) == 0) {
            if (!std::regex_match(line, m, help_re)) return where + "bad HELP: " + line;
            if (helps[m[1]]++) return where + "second HELP for " + m[1].str();
            continue;
        }
        if (line.rfind("# TYPE ", 0) == 0) {
            if (!std::regex_match(line, m, type_re)) return where + "bad TYPE: " + line;
            if (types[m[1]]++) return where + "second TYPE for " + m[1].str();
            if (samples_seen.count(m[1])) return where + "TYPE after samples for " + m[1].str();
            continue;
        }
        if (line[0] == '#') continue;
        if (!std::regex_match(line, m, sample_re)) return where + "bad sample: " + line;
        samples_seen[m[1]]++;
    }
    return "";
}

}  // namespace pushd_test
