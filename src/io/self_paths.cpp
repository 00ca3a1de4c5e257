#include "io/self_paths.hpp"

#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace pushd {

InstallPaths self_install_paths() {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return install_paths_for("");
    return install_paths_for(std::string_view(buf, static_cast<size_t>(n)));
}

EnvLookup env_with_file(const std::string& path) {
    auto from_file = std::make_shared<std::map<std::string, std::string>>();
    if (!path.empty()) {
        std::ifstream in(path);
        if (in) {
            std::ostringstream text;
            text << in.rdbuf();
            for (auto& [k, v] : parse_environment_file(text.str())) (*from_file)[k] = v;
        }
    }
    EnvLookup process = process_env();
    return [from_file, process](const std::string& name) -> std::optional<std::string> {
        if (std::optional<std::string> v = process(name)) return v;
        auto it = from_file->find(name);
        if (it == from_file->end()) return std::nullopt;
        return it->second;
    };
}

}  // namespace pushd
