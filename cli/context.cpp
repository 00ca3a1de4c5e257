#include "context.hpp"

#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace pushctl {
namespace {

// --server text: [http:// | https://]host:port[/...]; nullopt if malformed.
std::optional<ServerAddress> parse_server(const std::string& text) {
    ServerAddress a;
    a.url = text;
    std::string s = text;
    if (s.rfind("https://", 0) == 0) {
        a.tls = true;
        s = s.substr(8);
    } else if (s.rfind("http://", 0) == 0) {
        s = s.substr(7);
    } else if (s.find("://") != std::string::npos) {
        return std::nullopt;
    }
    while (!s.empty() && s.back() == '/') s.pop_back();
    auto parsed = pushd::parse_host_port(s);
    if (!parsed) return std::nullopt;
    a.host = parsed->host;
    a.port = static_cast<uint16_t>(parsed->port);
    return a;
}

// The address of the pushd `cfg` describes, reached from this machine.
ServerAddress configured_server(const pushd::Config& cfg) {
    ServerAddress a;
    a.tls = !cfg.security.tls.cert.empty();
    const std::string& h = cfg.host;
    a.host = (h.empty() || h == "0.0.0.0" || h == "::" || h == "*") ? "127.0.0.1" : h;
    a.port = static_cast<uint16_t>(cfg.port);
    const std::string shown = a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host;
    a.url = std::string(a.tls ? "https://" : "http://") + shown + ":" + std::to_string(a.port);
    return a;
}

}  // namespace

const pushd::Config* Context::config() {
    if (config_) return &*config_;
    // As pushd: the unit's EnvironmentFile (installed layout) under the
    // process environment, for the secrets kept out of the YAML file.
    pushd::ConfigLoadResult r =
        pushd::load_config_file(config_path, pushd::env_with_file(pushd::self_install_paths().environment));
    if (!r.ok()) {
        fail(kUsage, r.error());
        return nullptr;
    }
    config_ = std::move(r->config);
    return &*config_;
}

int Context::fail(int status, std::string message) {
    error = CommandError{status, std::move(message)};
    return status;
}

std::optional<ServerAddress> Context::server_address() {
    std::optional<ServerAddress> a;
    if (!server.empty()) {
        a = parse_server(server);
        if (!a) {
            fail(kUsage, "--server: expected http://host:port or https://host:port, got '" + server + "'");
            return std::nullopt;
        }
    } else if (!config_given && ::access(config_path.c_str(), F_OK) != 0) {
        a = parse_server(kDefaultServer);
    } else {
        const pushd::Config* cfg = config();
        if (!cfg) return std::nullopt;
        a = configured_server(*cfg);
    }
    if (a->tls && !ca_file.empty() && ::access(ca_file.c_str(), R_OK) != 0) {
        fail(kUsage, "--cacert: cannot read '" + ca_file + "': " + std::strerror(errno));
        return std::nullopt;
    }
    return a;
}

std::optional<pushd::HttpResponse> Context::server_get(const std::string& path) {
    std::optional<ServerAddress> a = server_address();
    if (!a) return std::nullopt;
    pushd::HttpGetOptions options;
    options.tls = a->tls;
    options.tls_insecure = tls_insecure;
    options.ca_file = ca_file;
    pushd::HttpResponse r = pushd::http_get(a->host, a->port, path, 5000, options);
    if (r.status != 0) return r;
    if (!a->tls || r.error.rfind("tls", 0) != 0) {
        fail(kFailed, a->url + ": unreachable: " + r.error);
    } else {
        fail(kFailed, a->url + ": " + with_tls_hint(r.error));
    }
    return std::nullopt;
}

std::string Context::with_tls_hint(const std::string& error) const {
    if (tls_insecure || error.find("certificate not trusted") == std::string::npos) return error;
    if (error.find("mismatch") != std::string::npos)
        return error + " (--server with a name the certificate holds, or --insecure)";
    return error + " (--cacert FILE trusts its issuer, --insecure any certificate)";
}

}  // namespace pushctl
