#include "context.hpp"

namespace pushctl {

const pushd::Config* Context::config() {
    if (config_) return &*config_;
    pushd::ConfigLoadResult r = pushd::load_config_file(config_path, pushd::process_env());
    if (!r.ok) {
        fail(kUsage, r.error);
        return nullptr;
    }
    config_ = std::move(r.config);
    return &*config_;
}

int Context::fail(int status, std::string message) {
    error = CommandError{status, std::move(message)};
    return status;
}

bool Context::server_address(std::string& host, uint16_t& port) {
    std::string s = server;
    if (s.rfind("http://", 0) == 0) s = s.substr(7);
    while (!s.empty() && s.back() == '/') s.pop_back();
    if (auto parsed = pushd::parse_host_port(s)) {
        host = parsed->host;
        port = static_cast<uint16_t>(parsed->port);
        return true;
    }
    return false;
}

}  // namespace pushctl
