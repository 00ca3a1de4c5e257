// libFuzzer target: core/config_yaml and core/config, the YAML file an
// operator writes (and a reload reads again while the server runs, so a
// bad file must never take the process down).
//
// Invariants checked besides the sanitizers: a load either succeeds or
// gives one line of error (file:line:col or key: message); a configuration
// that loads prints as lines, and loading the same text again gives the
// same configuration with no restart-only differences.
#include "core/config.hpp"
#include "fuzz_util.hpp"

using namespace pushd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view yaml = fuzz::as_text(data, size);
    ConfigLoadResult r = load_config_string(yaml, "fuzz.yaml", no_env());
    if (!r.ok()) {
        FUZZ_CHECK(!r.error().empty());
        FUZZ_CHECK(r.error().find('\n') == std::string::npos);
        return 0;
    }
    std::string lines = config_to_lines(r->config);
    FUZZ_CHECK(!lines.empty());
    ConfigLoadResult again = load_config_string(yaml, "fuzz.yaml", no_env());
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(config_to_lines(again->config) == lines);
    FUZZ_CHECK(config_restart_only_changes(r->config, again->config).empty());
    return 0;
}
