#include "core/metrics.hpp"

#include "core/auth.hpp"

#include "../common/prometheus_lint.hpp"

#include <catch2/catch.hpp>

using namespace pushd;

TEST_CASE("server metric families render as valid exposition text", "[metrics]") {
    ProcessStats p;
    p.cpu_seconds = 1.25;
    p.resident_bytes = 4096;
    ServerGauges g;
    g.connections = 3;
    g.online_users = 2;
    g.uptime_seconds = 12.5;
    g.frames_live = 5;
    g.frame_bytes_live = 640;
    ServerCounters c;
    c.ws_connections_opened = 7;
    ProtocolCounters pc;
    pc.in[static_cast<size_t>(InType::send_message)] = 4;
    pc.out[static_cast<size_t>(OutType::new_message)] = 9;
    pc.auth_failed[static_cast<size_t>(AuthError::expired)] = 2;
    pc.slow_consumer_closes = 1;
    std::string text = render_prometheus(server_metric_families(p, g, c, pc));
    CHECK(pushd_test::prometheus_lint(text) == "");
    CHECK(text.find("# TYPE pushd_connections gauge\npushd_connections 3\n") != std::string::npos);
    CHECK(text.find("pushd_online_users 2\n") != std::string::npos);
    CHECK(text.find("pushd_frames_live 5\n") != std::string::npos);
    CHECK(text.find("pushd_frame_bytes_live 640\n") != std::string::npos);
    CHECK(text.find("pushd_ws_connections_opened_total 7\n") != std::string::npos);
    CHECK(text.find("process_cpu_seconds_total 1.25\n") != std::string::npos);
    CHECK(text.find("pushd_messages_in_total{type=\"send_message\"} 4\n") != std::string::npos);
    CHECK(text.find("pushd_messages_out_total{type=\"new_message\"} 9\n") != std::string::npos);
    CHECK(text.find("pushd_auth_failures_total{reason=\"expired\"} 2\n") != std::string::npos);
    CHECK(text.find("pushd_slow_consumer_closes_total 1\n") != std::string::npos);
    CHECK(text.find("pushd_build_info{version=\"" PUSHD_VERSION "\"} 1\n") != std::string::npos);
}

TEST_CASE("label values are escaped", "[metrics]") {
    CHECK(prometheus_escape_label("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
    std::vector<MetricFamily> f{{"x_total",
                                 "help with \\ and\nnewline",
                                 MetricType::counter,
                                 {{"reason=\"" + prometheus_escape_label("bad \"sig\"") + "\"", 2}}}};
    std::string text = render_prometheus(f);
    CHECK(pushd_test::prometheus_lint(text) == "");
    CHECK(text ==
          "# HELP x_total help with \\\\ and\\nnewline\n# TYPE x_total counter\n"
          "x_total{reason=\"bad \\\"sig\\\"\"} 2\n");
}

TEST_CASE("non-finite and fractional values", "[metrics]") {
    std::vector<MetricFamily> f{
        {"g", "h", MetricType::gauge, {{"a=\"1\"", 0.5}, {"a=\"2\"", 1.0 / 0.0}, {"a=\"3\"", -7}}}};
    std::string text = render_prometheus(f);
    CHECK(pushd_test::prometheus_lint(text) == "");
    CHECK(text.find("g{a=\"1\"} 0.5\n") != std::string::npos);
    CHECK(text.find("g{a=\"2\"} +Inf\n") != std::string::npos);
    CHECK(text.find("g{a=\"3\"} -7\n") != std::string::npos);
}

TEST_CASE("the linter refuses what Prometheus refuses", "[metrics]") {
    CHECK(pushd_test::prometheus_lint("x 1") != "");                    // no newline
    CHECK(pushd_test::prometheus_lint("1x 1\n") != "");                 // bad name
    CHECK(pushd_test::prometheus_lint("x{a=b} 1\n") != "");             // unquoted label
    CHECK(pushd_test::prometheus_lint("x one\n") != "");                // bad value
    CHECK(pushd_test::prometheus_lint("x 1\n# TYPE x gauge\n") != "");  // TYPE after sample
    CHECK(pushd_test::prometheus_lint("# TYPE x gauge\nx 1\n") == "");
}

TEST_CASE("/stats JSON carries online_users first and the counters", "[metrics]") {
    ServerGauges g;
    g.online_users = 0;
    g.connections = 4;
    g.uptime_seconds = 9.9;
    g.frames_live = 3;
    ServerCounters c;
    c.http_requests = 5;
    ProtocolCounters pc;
    pc.in[0] = 2;
    pc.in[2] = 3;
    std::string json = render_stats_json(g, c, pc);
    CHECK(json.rfind("{\"online_users\":0,", 0) == 0);
    CHECK(json.find("\"connections\":4") != std::string::npos);
    CHECK(json.find("\"groups\":0") != std::string::npos);
    CHECK(json.find("\"uptime_s\":9") != std::string::npos);
    CHECK(json.find("\"http_requests\":5") != std::string::npos);
    CHECK(json.find("\"messages_in\":5") != std::string::npos);
    CHECK(json.find("\"frames_live\":3") != std::string::npos);
}

TEST_CASE("handshake refusals by reason, rate limits and blocked closes", "[metrics]") {
    ServerCounters c;
    c.ws_handshakes_refused[static_cast<size_t>(HandshakeRefusal::origin)] = 3;
    c.ws_handshakes_refused[static_cast<size_t>(HandshakeRefusal::per_ip)] = 2;
    c.blocked_closes = 4;
    ProtocolCounters pc;
    pc.rate_limited = 11;
    pc.rate_limit_closes = 1;
    std::string text = render_prometheus(server_metric_families(ProcessStats{}, ServerGauges{}, c, pc));
    CHECK(pushd_test::prometheus_lint(text) == "");
    for (const char* reason : {"blacklist", "draining", "path", "capacity", "token"}) {
        CHECK(text.find(std::string("pushd_ws_handshakes_refused_total{reason=\"") + reason + "\"} 0\n") !=
              std::string::npos);
    }
    CHECK(text.find("pushd_ws_handshakes_refused_total{reason=\"origin\"} 3\n") != std::string::npos);
    CHECK(text.find("pushd_ws_handshakes_refused_total{reason=\"per_ip\"} 2\n") != std::string::npos);
    CHECK(text.find("reason=\"none\"") == std::string::npos);
    CHECK(text.find("pushd_blocked_closes_total 4\n") != std::string::npos);
    CHECK(text.find("pushd_rate_limited_total 11\n") != std::string::npos);
    CHECK(text.find("pushd_rate_limit_closes_total 1\n") != std::string::npos);
    std::string json = render_stats_json(ServerGauges{}, c, pc);
    CHECK(json.find("\"handshakes_refused\":5") != std::string::npos);
    CHECK(json.find("\"rate_limited\":11") != std::string::npos);
    CHECK(refusal_name(HandshakeRefusal::capacity) == std::string("capacity"));
}
