// Process-wide logging to stderr (journald adds the unit and timestamps under
// systemd). The level is the only process-wide mutable state in pushd: it is
// set at start and on reload, and read by every module.
#pragma once

#include <string_view>

namespace pushd {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

// Parses "debug" | "info" | "warn" | "error"; returns false (and leaves *out
// unchanged) for anything else. Config validation guarantees a valid name.
bool log_level_from_name(std::string_view name, LogLevel* out);

// How lines are written: "LEVEL message", or one JSON object a line
// ({"ts": RFC 3339 UTC, "level", "msg"}) for log shippers (Log.Format).
enum class LogFormat { text = 0, json = 1 };

// Parses "text" | "json"; false (and *out unchanged) for anything else.
bool log_format_from_name(std::string_view name, LogFormat* out);

// Sets the line format (at start and on reload).
void log_set_format(LogFormat format);

// Decides once, at start, whether stderr is the journal: JOURNAL_STREAM (set
// by systemd for a unit's stdout/stderr) names stderr's device and inode.
// Then every line starts with its syslog priority, "<3>" error, "<4>" warn,
// "<6>" info, "<7>" debug, which journald strips and stores, so that
// `journalctl -p err` filters. Stderr redirected elsewhere by the unit keeps
// plain lines.
void log_detect_journal();

// "<3>".."<7>" for `level` when log_detect_journal found the journal, else
// "": for the lines main prints itself before logging is set up (a bad
// configuration is an error that `journalctl -p err` must show).
const char* log_journal_prefix(LogLevel level);

// Sets the minimum level that is printed, and routes libwebsockets' own
// errors and warnings through log_printf (its notices too at debug).
void log_set_level(LogLevel level);

// True when a message at `level` would be printed; lets callers skip
// building expensive messages.
bool log_enabled(LogLevel level);

// Prints one line to stderr when `level` is enabled: "LEVEL message", or
// the JSON object, after the priority prefix under the journal. The
// format is printf's; a trailing newline in it is not needed.
void log_printf(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace pushd

#define LOG_DEBUG(...) ::pushd::log_printf(::pushd::LogLevel::debug, __VA_ARGS__)
#define LOG_INFO(...) ::pushd::log_printf(::pushd::LogLevel::info, __VA_ARGS__)
#define LOG_WARN(...) ::pushd::log_printf(::pushd::LogLevel::warn, __VA_ARGS__)
#define LOG_ERROR(...) ::pushd::log_printf(::pushd::LogLevel::error, __VA_ARGS__)
