#include "io/log.hpp"

#include "core/json_writer.hpp"

#include <libwebsockets.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace pushd {
namespace {

LogLevel g_level = LogLevel::info;
LogFormat g_format = LogFormat::text;
bool g_journal = false;

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
    if (lws_level & LLL_ERR)
        level = LogLevel::error;
    else if (lws_level & LLL_WARN)
        level = LogLevel::warn;
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
    if (name == "debug")
        *out = LogLevel::debug;
    else if (name == "info")
        *out = LogLevel::info;
    else if (name == "warn")
        *out = LogLevel::warn;
    else if (name == "error")
        *out = LogLevel::error;
    else
        return false;
    return true;
}

void log_set_level(LogLevel level) {
    g_level = level;
    int lws_levels = LLL_ERR | LLL_WARN;
    if (level == LogLevel::debug) lws_levels |= LLL_NOTICE;
    lws_set_log_level(lws_levels, lws_emit);
}

bool log_format_from_name(std::string_view name, LogFormat* out) {
    if (name == "text")
        *out = LogFormat::text;
    else if (name == "json")
        *out = LogFormat::json;
    else
        return false;
    return true;
}

void log_set_format(LogFormat format) { g_format = format; }

void log_detect_journal() {
    g_journal = false;
    const char* stream = std::getenv("JOURNAL_STREAM");
    struct stat st;
    if (stream == nullptr || fstat(2, &st) != 0) return;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return;
    g_journal = dev == static_cast<unsigned long long>(st.st_dev) && ino == static_cast<unsigned long long>(st.st_ino);
}

// syslog(3) priorities: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR.
const char* log_journal_prefix(LogLevel level) {
    if (!g_journal) return "";
    switch (level) {
    case LogLevel::debug: return "<7>";
    case LogLevel::info: return "<6>";
    case LogLevel::warn: return "<4>";
    case LogLevel::error: return "<3>";
    }
    return "";
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
    std::string line = log_journal_prefix(level);
    if (g_format == LogFormat::json) {
        timespec ts{};
        clock_gettime(CLOCK_REALTIME, &ts);
        tm utc{};
        gmtime_r(&ts.tv_sec, &utc);
        char when[40];
        size_t w = std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &utc);
        std::snprintf(when + w, sizeof when - w, ".%03ldZ", ts.tv_nsec / 1000000);
        line += "{\"ts\":\"";
        line += when;
        line += "\",\"level\":\"";
        line += level_tag(level);
        line += "\",\"msg\":";
        json_append_string(line, std::string_view(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1)));
        line += "}";
    } else {
        line += level_tag(level);
        line += ' ';
        line += buf;
    }
    line += '\n';
    // One write per line so that concurrent writers never interleave lines.
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace pushd
