#include "core/install_paths.hpp"

namespace pushd {
namespace {

std::string_view trim_ws(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

}  // namespace

InstallPaths install_paths_for(std::string_view exe_path) {
    size_t slash = exe_path.rfind('/');
    std::string_view dir = slash == std::string_view::npos ? std::string_view() : exe_path.substr(0, slash);
    size_t dir_slash = dir.rfind('/');
    if (dir_slash == std::string_view::npos || dir.substr(dir_slash + 1) != "bin") {
        return InstallPaths{"etc/pushd.yaml", ""};
    }
    std::string prefix(dir.substr(0, dir_slash));
    std::string sysconfdir = prefix == "/usr" ? "/etc" : prefix + "/etc";
    return InstallPaths{sysconfdir + "/pushd/pushd.yaml", sysconfdir + "/default/pushd"};
}

std::vector<std::pair<std::string, std::string>> parse_environment_file(std::string_view text) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = trim_ws(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;
        size_t eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view key = trim_ws(line.substr(0, eq));
        std::string_view value = trim_ws(line.substr(eq + 1));
        if (key.empty()) continue;
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        }
        out.emplace_back(std::string(key), std::string(value));
    }
    return out;
}

}  // namespace pushd
