// Internal to the configuration loader (config.cpp, config_yaml.cpp): the
// table of keys, the value converters shared by the YAML reader and the
// environment overrides, and the state a load builds up. Other modules use
// config.hpp only.
#pragma once

#include "core/config.hpp"
#include "core/status.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pushd::config_detail {

using StringList = std::vector<std::string>;

// What a key holds; equals the index of its accessor in KeySpec::field.
enum class KeyKind { Int = 0, Bool = 1, String = 2, StringList = 3 };

// One row of the table: everything the loader, the environment overrides,
// the reload diff and config_to_lines know about a key.
struct KeySpec {
    std::string_view name;  // dotted, exactly as in PROTOCOL.md section 7
    std::variant<int64_t& (*)(Config&), bool& (*)(Config&), std::string& (*)(Config&),
                 StringList& (*)(Config&)>
        field;        // the member this key sets
    int64_t min = 0;  // Int keys: inclusive bounds
    int64_t max = 0;
    bool reloadable = false;  // SIGHUP applies it (else restart-only)
    bool secret = false;      // masked in config_to_lines, never echoed in errors

    KeyKind kind() const { return static_cast<KeyKind>(field.index()); }
    int64_t& int_ref(Config& c) const { return std::get<0>(field)(c); }
    bool& bool_ref(Config& c) const { return std::get<1>(field)(c); }
    std::string& string_ref(Config& c) const { return std::get<2>(field)(c); }
    StringList& list_ref(Config& c) const { return std::get<3>(field)(c); }
};

/* The table, in PROTOCOL.md order. Static storage; never empty. */
std::span<const KeySpec> config_keys();

/* The row named `dotted` (case-sensitive), or nullptr. */
const KeySpec* find_key(std::string_view dotted);

/* True when `dotted` names a section: a proper prefix of some key's name
 * ending at a '.' ("Redis", "Security", "Security.TLS"). */
bool is_section(std::string_view dotted);

/* The row whose name equals `dotted` ignoring ASCII case, or nullptr; for
 * "did you mean" hints on unknown keys. */
const KeySpec* find_key_ignoring_case(std::string_view dotted);

/* "PUSHD_" + the dotted name upper-cased with '.' -> '_'
 * ("Security.TLS.Cert" -> "PUSHD_SECURITY_TLS_CERT"). */
std::string env_var_name(std::string_view dotted);

/* Parses a full decimal integer ([+-]?digits, no leading zeros) and checks
 * the row's bounds. Returns nullopt and sets `out`, or the message without
 * location or key ("expected an integer, got 'abc'",
 * "70000 is out of range 1..65535"). */
Status parse_int_value(const KeySpec& spec, std::string_view text, int64_t& out);

/* Parses "true" or "false" in any case. Returns nullopt and sets `out`, or
 * the message ("expected true or false, got 'yes'"). */
Status parse_bool_value(std::string_view text, bool& out);

/* Rejects control characters (newlines, tabs, ...) in a string value so
 * that logs and config_to_lines stay one line per key. Returns nullopt or
 * the message; never echoes the value. */
Status check_text_value(std::string_view text);

/* `text` in single quotes for a message, control characters escaped and
 * cut after 64 bytes; "(hidden)" when `secret`. */
std::string quote_for_message(std::string_view text, bool secret = false);

/* ASCII case-insensitive equality. */
bool equal_ignoring_case(std::string_view a, std::string_view b);

// Where a key's value came from, for errors that are found after all
// values are in (cross-field validation).
struct ValueOrigin {
    bool set = false;                // false: still the default
    std::string where;               // "file:3:7" or "PUSHD_PORT"
    std::vector<std::string> items;  // per list item "file:4:7" (from the file only)
};

// A load in progress: a fresh Config, origins indexed like config_keys().
struct LoadState {
    std::string source;  // file name used in messages
    Config config;
    std::vector<ValueOrigin> origins;
    std::vector<std::string> warnings;
};

/* Parses `yaml` (one document whose root is a mapping, or empty) and sets
 * every known key in state.config, recording origins; unknown keys become
 * warnings. Stops at the first error and returns it as one line
 * ("file:3:7: Port: expected an integer, got 'abc'"); nullopt on success. */
Status apply_yaml(std::string_view yaml, LoadState& state);

}  // namespace pushd::config_detail
