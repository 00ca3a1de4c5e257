#include "io/log.hpp"

#include <libwebsockets.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace pushd {
namespace {

LogLevel g_level = LogLevel::info;

const char* level_tag(LogLevel level) {
    switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    }
    return "?";
}

// lws hands us complete lines prefixed with its own timestamp; keep only the
// message and map its level onto ours.
void lws_emit(int lws_level, const char* line) {
    LogLevel level = LogLevel::debug;
    if (lws_level & LLL_ERR) level = LogLevel::error;
    else if (lws_level & LLL_WARN) level = LogLevel::warn;
    if (!log_enabled(level)) return;
    const char* msg = line;
    if (const char* close = std::strchr(line, ']'); close && line[0] == '[') msg = close + 1;
    while (*msg == ' ' || *msg == ':') msg++;
    size_t len = std::strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r')) len--;
    log_printf(level, "lws: %.*s", static_cast<int>(len), msg);
}

}  // namespace

bool log_level_from_name(std::string_view name, LogLevel* out) {
    if (name == "debug") *out = LogLevel::debug;
    else if (name == "info") *out = LogLevel::info;
    else if (name == "warn") *out = LogLevel::warn;
    else if (name == "error") *out = LogLevel::error;
    else return false;
    return true;
}

void log_set_level(LogLevel level) {
    g_level = level;
    int lws_levels = LLL_ERR | LLL_WARN;
    if (level == LogLevel::debug) lws_levels |= LLL_NOTICE;
    lws_set_log_level(lws_levels, lws_emit);
}

bool log_enabled(LogLevel level) { return level >= g_level; }

void log_printf(LogLevel level, const char* fmt, ...) {
    if (!log_enabled(level)) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    // One fprintf per line so that concurrent writers never interleave lines.
    std::fprintf(stderr, "%s %s\n", level_tag(level), buf);
}

}  // namespace pushd
