// pushd lifecycle for tests, and the standard test configuration.
#include "pushd_process.hpp"

#include "harness.hpp"

#include <sys/stat.h>
#include <chrono>
#include <cstdlib>
#include <memory>

#ifndef PUSHD_BINARY
#define PUSHD_BINARY "pushd"
#endif
#ifndef PUSHCTL_BINARY
#define PUSHCTL_BINARY "pushctl"
#endif
#ifndef PUSHD_SOURCE_DIR
#define PUSHD_SOURCE_DIR "."
#endif

namespace pushd::test {

namespace {

// An ordered YAML mapping built from dotted keys.
struct YamlNode {
    std::string value;  // scalar text; empty for a mapping
    std::vector<std::pair<std::string, std::unique_ptr<YamlNode>>> children;

    YamlNode* child(const std::string& name) {
        for (auto& [k, v] : children)
            if (k == name) return v.get();
        children.emplace_back(name, std::make_unique<YamlNode>());
        return children.back().second.get();
    }

    void set(const std::string& dotted, const std::string& v) {
        YamlNode* n = this;
        size_t pos = 0;
        for (;;) {
            size_t dot = dotted.find('.', pos);
            n = n->child(dotted.substr(pos, dot - pos));
            if (dot == std::string::npos) break;
            pos = dot + 1;
        }
        n->value = v;
        n->children.clear();
    }

    void emit(std::string& out, int indent) const {
        for (const auto& [k, v] : children) {
            out.append(static_cast<size_t>(indent), ' ');
            out += k + ":";
            if (v->children.empty()) {
                out += " " + v->value + "\n";
            } else {
                out += "\n";
                v->emit(out, indent + 2);
            }
        }
    }
};

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

std::string standard_config(uint16_t port, uint16_t redis_port, const ConfigOverrides& overrides) {
    YamlNode root;
    root.set("Name", "pushd-test");
    root.set("Host", "127.0.0.1");
    root.set("Port", std::to_string(port));
    root.set("Path", "/ws");
    root.set("ShutdownTimeout", "5");
    root.set("Redis.Host", quoted("127.0.0.1:" + std::to_string(redis_port)));
    root.set("Redis.KeyPrefix", quoted("pushd:"));
    root.set("Auth.AccessSecret", quoted(kTestSecret));
    root.set("Log.Level", "info");
    // The HTTP API off unless a test asks for it (Api.Listen): instances
    // started side by side would all want the default 127.0.0.1:8890.
    root.set("Api.Listen", quoted(""));
    for (const auto& [k, v] : overrides) root.set(k, v);
    std::string out = "# standard integration-test configuration\n";
    root.emit(out, 0);
    return out;
}

const char* pushd_binary() { return PUSHD_BINARY; }

const char* pushctl_binary() { return PUSHCTL_BINARY; }

const char* source_dir() { return PUSHD_SOURCE_DIR; }

PushdOptions standard_options(uint16_t redis_port, const ConfigOverrides& overrides) {
    PushdOptions o;
    o.port = free_port();
    o.config_yaml = standard_config(o.port, redis_port, overrides);
    return o;
}

PushdProcess::PushdProcess() {
    dir_ = make_temp_subdir("pushd");
    config_path_ = dir_ + "/pushd.yaml";
    log_path_ = dir_ + "/pushd.log";
}

PushdProcess::~PushdProcess() {
    if (child_.running()) stop(SIGTERM, 10000);
}

bool PushdProcess::start(const PushdOptions& options) {
    options_ = options;
    error_.clear();
    if (!write_file(config_path_, options_.config_yaml)) {
        error_ = "cannot write " + config_path_;
        return false;
    }
    std::vector<std::string> argv = {pushd_binary(), "-f", config_path_};
    argv.insert(argv.end(), options_.args.begin(), options_.args.end());
    if (!child_.start(argv, options_.env, log_path_, error_)) return false;
    if (!options_.wait_healthy) return true;

    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.start_timeout_ms);
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
        HttpResponse r = get("/health", 1000);
        if (r.status != 0) return true;
        last = r.error;
        // The pause between attempts is a wait for the child's exit, so a
        // pushd that failed to start is reported at once.
        ProcessExit e = child_.wait(10);
        if (e.finished) {
            error_ = "pushd exited during startup (" + e.describe() + "); log:\n" + log();
            return false;
        }
    }
    error_ = "pushd did not answer GET /health on port " + std::to_string(options_.port) + " within " +
             std::to_string(options_.start_timeout_ms) + " ms (last: " + last + "); log:\n" + log();
    child_.stop(SIGKILL, 5000);
    return false;
}

bool PushdProcess::restart() {
    if (child_.running()) stop();
    return start(options_);
}

ProcessExit PushdProcess::stop(int sig, int timeout_ms) { return child_.stop(sig, timeout_ms); }

ProcessExit PushdProcess::wait_exit(int timeout_ms) { return child_.wait(timeout_ms); }

bool PushdProcess::signal(int sig) { return child_.signal(sig); }

bool PushdProcess::rewrite_config(const std::string& yaml) {
    options_.config_yaml = yaml;
    return write_file(config_path_, yaml);
}

std::string PushdProcess::log() const { return read_file(log_path_); }

size_t PushdProcess::log_mark() const {
    struct stat st;
    if (::stat(log_path_.c_str(), &st) != 0) return 0;
    return static_cast<size_t>(st.st_size);
}

bool PushdProcess::wait_log(const std::string& needle, int timeout_ms, size_t from) const {
    return wait_until(
        [&] {
            std::string text = log();
            return text.size() > from && text.find(needle, from) != std::string::npos;
        },
        timeout_ms);
}

HttpResponse PushdProcess::get(const std::string& path, int timeout_ms) const {
    return http_get("127.0.0.1", options_.port, path, timeout_ms, HttpGetOptions{options_.tls, true});
}

double PushdProcess::metric(const std::string& sample) const {
    HttpResponse r = get("/metrics");
    size_t at = ("\n" + r.body).find("\n" + sample + " ");
    if (r.status != 200 || at == std::string::npos) return -1;
    return std::strtod(r.body.c_str() + at + sample.size() + 1, nullptr);
}

ConnectOptions PushdProcess::ws_options(const std::string& query) const {
    ConnectOptions o;
    o.host = "127.0.0.1";
    o.port = options_.port;
    o.path = options_.ws_path + query;
    o.tls = options_.tls;
    o.tls_insecure = options_.tls;  // test certificates are self-signed
    return o;
}

RunResult run_pushd(const std::string& config_yaml, const std::vector<std::string>& args, const EnvVars& env,
                    int timeout_ms) {
    std::vector<std::string> argv = {pushd_binary()};
    if (!config_yaml.empty()) {
        std::string path = unique_temp_path("config", ".yaml");
        write_file(path, config_yaml);
        argv.push_back("-f");
        argv.push_back(path);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return run_to_exit(argv, env, timeout_ms);
}

RunResult run_pushctl(const std::vector<std::string>& args, const EnvVars& env, int timeout_ms) {
    std::vector<std::string> argv = {pushctl_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_to_exit(argv, env, timeout_ms);
}

std::string metric(const PushdProcess& p, const std::string& sample) {
    std::string body = p.get("/metrics").body;
    size_t at = body.find("\n" + sample + " ");
    if (at == std::string::npos) return "";
    at += sample.size() + 2;
    return body.substr(at, body.find('\n', at) - at);
}

}  // namespace pushd::test
