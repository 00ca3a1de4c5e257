// Free ports, the per-process temp dir, small file helpers, polling waits.
#include "harness.hpp"

#include <cJSON.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace pushd::test {

void sweep_stale_temp_dirs() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/tmp", ec)) {
        std::string name = entry.path().filename().string();
        if (name.rfind("pushd-it-", 0) != 0) continue;
        long pid = std::strtol(name.c_str() + 9, nullptr, 10);
        if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
        std::error_code probe;
        if (std::filesystem::exists("/proc/" + std::to_string(pid), probe) || probe)
            continue;  // its process lives (or we cannot tell): leave it
        std::error_code rm;
        std::filesystem::remove_all(entry.path(), rm);
    }
}

namespace {

// Owns the temp dir; removes it at process exit unless PUSHD_KEEP_TMP=1.
struct TempDir {
    std::string path;
    TempDir() {
        sweep_stale_temp_dirs();
        std::string tmpl = "/tmp/pushd-it-" + std::to_string(::getpid()) + "-XXXXXX";
        if (::mkdtemp(tmpl.data()))
            path = tmpl;
        else
            path = "/tmp";  // unusable mkdtemp: fall back, never remove it
    }
    ~TempDir() {
        if (path == "/tmp") return;
        const char* keep = std::getenv("PUSHD_KEEP_TMP");
        if (keep && std::string(keep) == "1") {
            std::fprintf(stderr, "integration tests: kept %s\n", path.c_str());
            return;
        }
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

}  // namespace

uint16_t free_port() {
    static std::set<uint16_t> handed_out;
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return 0;
        struct sockaddr_in a = {};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = 0;
        socklen_t len = sizeof(a);
        uint16_t port = 0;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
            port = ntohs(a.sin_port);
        ::close(fd);
        if (port && handed_out.insert(port).second) return port;
    }
    return 0;
}

const std::string& temp_dir() {
    static TempDir dir;
    return dir.path;
}

std::string unique_temp_path(const std::string& stem, const std::string& suffix) {
    static int counter = 0;
    return temp_dir() + "/" + stem + "-" + std::to_string(++counter) + suffix;
}

std::string make_temp_subdir(const std::string& stem) {
    std::string p = unique_temp_path(stem);
    std::error_code ec;
    std::filesystem::create_directories(p, ec);
    return p;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "";
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << content;
    out.close();
    return !out.fail();
}

bool wait_until(const std::function<bool()>& condition, int timeout_ms, int step_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
    }
    return condition();
}

int64_t unix_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t unix_s() { return unix_ms() / 1000; }

std::string jfield(const std::string& json, const std::string& path) {
    cJSON* root = cJSON_Parse(json.c_str());
    if (!root) return "<not json>";
    cJSON* v = root;
    size_t start = 0;
    while (v && start <= path.size()) {
        size_t dot = path.find('.', start);
        std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        // A number names an array's item ("messages.0.content").
        const bool index = !key.empty() && key.find_first_not_of("0123456789") == std::string::npos;
        v = cJSON_IsArray(v) && index ? cJSON_GetArrayItem(v, std::stoi(key))
                                      : cJSON_GetObjectItemCaseSensitive(v, key.c_str());
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    std::string out;
    if (cJSON_IsString(v))
        out = v->valuestring;
    else if (cJSON_IsBool(v))
        out = cJSON_IsTrue(v) ? "true" : "false";
    else if (cJSON_IsNumber(v))
        out = std::to_string(static_cast<long long>(v->valuedouble));
    else if (v) {
        char* t = cJSON_PrintUnformatted(v);
        out = t;
        cJSON_free(t);
    }
    cJSON_Delete(root);
    return out;
}

}  // namespace pushd::test
