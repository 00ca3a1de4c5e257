// pushd-bench against real pushd and redis-server processes: that each
// scenario runs and reports, and its exit statuses. The figures themselves
// are bench/run.sh's business.
#include "harness.hpp"

#include <cJSON.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace pushd::test;

namespace {

// The JSON object pushd-bench printed (its progress lines, on stderr, are
// interleaved in the output): the line that starts with '{'.
std::string result_line(const std::string& output) {
    size_t at = 0;
    while (at < output.size()) {
        const size_t eol = std::min(output.find('\n', at), output.size());
        if (output[at] == '{') return output.substr(at, eol - at);
        at = eol + 1;
    }
    return "";
}

RunResult run_bench(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {PUSHD_BENCH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_to_exit(argv, {}, 60000);
}

}  // namespace

TEST_CASE("pushd-bench idle and fanout against pushd", "[bench]") {
    RedisProcess redis;
    REQUIRE(redis.start());
    PushdProcess pushd;
    // The closed loop sends as fast as acks come back: no rate limit in the way.
    const PushdOptions o =
        standard_options(redis.port(), {{"Limits.MessagesPerSecond", "1000000"}, {"Limits.Burst", "1000000"}});
    REQUIRE(pushd.start(o));
    const std::string url = "ws://127.0.0.1:" + std::to_string(pushd.port()) + "/ws";
    const std::string pid = std::to_string(pushd.pid());

    SECTION("idle: every connection authenticates and stays open") {
        RunResult r = run_bench({"idle", "--url", url, "--secret", kTestSecret, "--connections", "20", "--hold", "0.2",
                                 "--server-pid", pid});
        INFO(r.output);
        CHECK(r.exit.exit_code == 0);
        const std::string j = result_line(r.output);
        CHECK(jfield(j, "mode") == "idle");
        CHECK(jfield(j, "authenticated") == "20");
        CHECK(jfield(j, "open_after_hold") == "20");
    }
    SECTION("fanout: every message reaches every subscriber; the secret read from -f") {
        const std::string config = unique_temp_path("bench", ".yaml");
        REQUIRE(write_file(config, o.config_yaml));
        RunResult r = run_bench({"-f", config, "fanout", "--url", url, "--subscribers", "5", "--rate", "10",
                                 "--duration", "1", "--warmup", "0", "--server-pid", pid});
        INFO(r.output);
        CHECK(r.exit.exit_code == 0);
        const std::string j = result_line(r.output);
        CHECK(jfield(j, "mode") == "fanout");
        CHECK(jfield(j, "sent") == "10");
        CHECK(jfield(j, "delivered") == "50");
        CHECK(jfield(j, "lost") == "0");
        CHECK(jfield(j, "pass") == "true");
        CHECK(!jfield(j, "cpu_us_per_delivery").empty());
    }
    SECTION("closed: W sends in flight, every one delivered to every subscriber") {
        RunResult r = run_bench({"closed", "--url", url, "--secret", kTestSecret, "--subscribers", "5", "--in-flight",
                                 "4", "--duration", "1", "--warmup", "0", "--server-pid", pid});
        INFO(r.output);
        CHECK(r.exit.exit_code == 0);
        const std::string j = result_line(r.output);
        CHECK(jfield(j, "mode") == "closed");
        CHECK(jfield(j, "in_flight") == "4");
        const long sent = std::stol(jfield(j, "sent"));
        CHECK(sent > 4);  // acks came back and made room for more
        CHECK(jfield(j, "delivered") == std::to_string(sent * 5));
        CHECK(jfield(j, "lost") == "0");
    }
    SECTION("usage and failures: exit 2 and 1") {
        CHECK(run_bench({"fanout", "--url", "http://nowhere", "--secret", "s"}).exit.exit_code == 2);
        CHECK(run_bench({"-f", "/nonexistent/pushd.yaml", "report", "x.json"}).exit.exit_code == 2);
        CHECK(run_bench({"report", "/nonexistent/results.json"}).exit.exit_code == 1);
        CHECK(run_bench({"idle", "--url", "ws://127.0.0.1:" + std::to_string(free_port()) + "/ws", "--secret", "s",
                         "--connections", "2", "--setup-timeout", "2"})
                  .exit.exit_code == 1);
    }
}
