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

// Sets the minimum level that is printed, and routes libwebsockets' own
// errors and warnings through log_printf (its notices too at debug).
void log_set_level(LogLevel level);

// True when a message at `level` would be printed; lets callers skip
// building expensive messages.
bool log_enabled(LogLevel level);

// Prints one line "LEVEL message" to stderr when `level` is enabled. The
// format is printf's; a trailing newline in it is not needed.
void log_printf(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace pushd

#define LOG_DEBUG(...) ::pushd::log_printf(::pushd::LogLevel::debug, __VA_ARGS__)
#define LOG_INFO(...) ::pushd::log_printf(::pushd::LogLevel::info, __VA_ARGS__)
#define LOG_WARN(...) ::pushd::log_printf(::pushd::LogLevel::warn, __VA_ARGS__)
#define LOG_ERROR(...) ::pushd::log_printf(::pushd::LogLevel::error, __VA_ARGS__)
