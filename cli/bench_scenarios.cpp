// pushctl bench scenarios (see bench_scenarios.hpp).
#include "bench_scenarios.hpp"

#include "bench_measure.hpp"
#include "bench_net.hpp"
#include "core/auth.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pushctl::bench {
namespace {

// Conn::app_phase values.
enum Phase : uint8_t {
    kNew = 0,
    kAuthSent = 1,
    kJoinSent = 3,
    kReady = 4,
    kFailed = 9,
};

enum class Msg { new_message, ack_ok, ack_failed, auth_success, auth_failed, error, other };

// The value of the top-level "type" (the first "type" key in the text;
// both pushd and seedref write it first) and, for acks, "success".
Msg classify(std::string_view m) {
    size_t k = m.find("\"type\"");
    if (k == std::string_view::npos) return Msg::other;
    size_t p = k + 6;
    while (p < m.size() && (m[p] == ' ' || m[p] == ':')) ++p;
    if (p >= m.size() || m[p] != '"') return Msg::other;
    size_t e = m.find('"', p + 1);
    if (e == std::string_view::npos) return Msg::other;
    std::string_view t = m.substr(p + 1, e - p - 1);
    if (t == "new_message") return Msg::new_message;
    if (t == "ack") {
        size_t s = m.find("\"success\"", e);
        if (s == std::string_view::npos) return Msg::ack_failed;
        size_t v = s + 9;
        while (v < m.size() && (m[v] == ' ' || m[v] == ':')) ++v;
        return (v < m.size() && m[v] == 't') ? Msg::ack_ok : Msg::ack_failed;
    }
    if (t == "auth_success") return Msg::auth_success;
    if (t == "auth_failed") return Msg::auth_failed;
    if (t == "error") return Msg::error;
    return Msg::other;
}

// Reads "t=<ns> s=<seq>" from the content of a new_message. false if absent.
bool parse_marker(std::string_view m, uint64_t& t, uint64_t& seq) {
    static constexpr std::string_view kNeedle = "\"content\":\"t=";
    size_t k = m.find(kNeedle);
    if (k == std::string_view::npos) return false;
    size_t p = k + kNeedle.size();
    t = 0;
    size_t digits = 0;
    while (p < m.size() && m[p] >= '0' && m[p] <= '9' && digits < 20) t = t * 10 + static_cast<uint64_t>(m[p++] - '0'), ++digits;
    if (digits == 0 || p + 3 > m.size() || m[p] != ' ' || m[p + 1] != 's' || m[p + 2] != '=') return false;
    p += 3;
    seq = 0;
    digits = 0;
    while (p < m.size() && m[p] >= '0' && m[p] <= '9' && digits < 20) seq = seq * 10 + static_cast<uint64_t>(m[p++] - '0'), ++digits;
    return digits > 0;
}

double secs(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

void note(const char* fmt, double a = 0, double b = 0, double c = 0, double d = 0) {
    std::fprintf(stderr, fmt, a, b, c, d);
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

// Counters of one measured window.
struct Window {
    uint64_t first_seq = 0;   // deliveries with a smaller seq belong to earlier windows
    uint64_t t0 = 0, end = 0;
    uint64_t sent = 0, acked_ok = 0, ack_failed = 0, errors = 0;
    uint64_t delivered = 0, in_window = 0, stale = 0, out_of_order = 0, unmarked = 0;
    uint64_t last_delivery = 0;
    uint64_t closed_subscribers = 0;
    Histogram latency;
};

// The connections of one scenario and their protocol state machine:
// connect -> auth -> (join_group) -> ready; deliveries and acks are counted
// into the current Window (w_). Public fields are shared with the scenario
// functions below, which are its only users.
class Runner {
public:
    explicit Runner(const Options& o, size_t capacity) : o_(o), loop_(capacity) {}

    bool init(std::string& err) {
        raise_nofile_limit();
        if (!loop_.init(o_.host, o_.port, o_.path, err)) return false;
        Events ev;
        ev.ctx = this;
        ev.on_open = [](void* p, Conn& c) { static_cast<Runner*>(p)->on_open(c); };
        ev.on_text = [](void* p, Conn& c, std::string_view m, uint64_t rx) { static_cast<Runner*>(p)->on_text(c, m, rx); };
        ev.on_down = [](void* p, Conn& c) { static_cast<Runner*>(p)->on_down(c); };
        loop_.set_events(ev);
        loop_.set_offer_deflate(o_.deflate);
        return true;
    }

    // Signs one token per connection (index i -> user <prefix>i; the
    // publisher slot, if any, -> <prefix>pub). Returns false if signing failed.
    bool sign_tokens(size_t count, long publisher_index, std::string& err) {
        const int64_t now = static_cast<int64_t>(std::time(nullptr));
        tokens_.resize(count);
        for (size_t i = 0; i < count; ++i) {
            std::string user = o_.user_prefix + (static_cast<long>(i) == publisher_index ? std::string("pub") : std::to_string(i));
            tokens_[i] = pushd::sign_token(o_.secret, o_.user_claim, user, now, now + 6 * 3600);
            if (tokens_[i].empty()) {
                err = "cannot sign a token for user '" + user + "' (empty secret?)";
                return false;
            }
        }
        publisher_ = publisher_index;
        return true;
    }

    // Connects and authenticates (and with join_ set, joins) every index in
    // `idx`, at most o_.batch handshakes outstanding. Returns how many are ready.
    size_t open(const std::vector<uint32_t>& idx, double timeout_s) {
        setup_ready_ = setup_failed_ = 0;
        size_t next = 0;
        const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_s * 1e9);
        while (setup_ready_ + setup_failed_ < idx.size() && now_ns() < deadline) {
            while (next < idx.size() && next - (setup_ready_ + setup_failed_) < o_.batch) {
                Conn& c = loop_.conn(idx[next++]);
                c.app_phase = kNew;
                loop_.connect(c.index);
            }
            loop_.poll(2);
        }
        // Whatever is still pending at the deadline counts as failed.
        for (size_t i = 0; i < next; ++i) {
            Conn& c = loop_.conn(idx[i]);
            if (c.app_phase != kReady && c.app_phase != kFailed) {
                note_failure(c, "setup timeout");
                loop_.drop(c, "setup timeout");
                c.app_phase = kFailed;
            }
        }
        for (size_t i = next; i < idx.size(); ++i) {
            Conn& c = loop_.conn(idx[i]);
            c.app_phase = kFailed;
            failures_["not started (setup timeout)"]++;
        }
        return setup_ready_;
    }

    // Sends from the publisher (index 0) at `rate` msg/s (0: keeping
    // max_inflight unacknowledged) for duration_s, busy-polling; `w` counts.
    // Leaves w_ = &w so the caller's drain keeps counting.
    void run_window(Window& w, double rate, double duration_s);

    Loop& loop() { return loop_; }
    const Options& opts() const { return o_; }
    bool join_ = false;
    std::map<std::string, uint64_t> failures_;  // reason -> count
    std::map<int, uint64_t> close_codes_;
    size_t setup_ready_ = 0, setup_failed_ = 0;
    Window* w_ = nullptr;  // the window counting deliveries, if any
    uint64_t next_seq_ = 1;
    std::string run_id_ = std::string("m").append(std::to_string(now_ns() % 1000000000000ull)).append("-");

private:
    void note_failure(Conn& c, const char* fallback) {
        std::string why = c.error ? c.error : fallback;
        if (c.http_status) why += " (HTTP " + std::to_string(c.http_status) + ")";
        failures_[why]++;
    }

    void on_open(Conn& c) {
        if (o_.no_auth) {  // diagnostics: the cost of a bare WebSocket
            ready(c);
            return;
        }
        std::string m = "{\"type\":\"auth\",\"message_id\":\"a" + std::to_string(c.index) +
                        "\",\"data\":{\"token\":\"" + tokens_[c.index] + "\"}}";
        c.app_phase = kAuthSent;
        loop_.send_text(c, m);
    }

    void on_down(Conn& c) {
        if (c.app_phase == kReady) {
            close_codes_[c.close_code]++;
            if (w_ && static_cast<long>(c.index) != publisher_) w_->closed_subscribers++;
            c.app_phase = kFailed;
            note_failure(c, "closed");
            return;
        }
        if (c.app_phase != kFailed) {
            c.app_phase = kFailed;
            setup_failed_++;
            note_failure(c, "failed");
        }
    }

    void ready(Conn& c) {
        c.app_phase = kReady;
        setup_ready_++;
    }

    void setup_failed(Conn& c, const char* why) {
        c.error = why;
        note_failure(c, why);
        loop_.drop(c, why);
        c.app_phase = kFailed;
        setup_failed_++;
    }

    void on_text(Conn& c, std::string_view m, uint64_t rx) {
        Msg t = classify(m);
        if (c.app_phase == kReady) {
            if (t == Msg::new_message) {
                on_delivery(c, m, rx);
            } else if (w_ && static_cast<long>(c.index) == publisher_) {
                if (t == Msg::ack_ok) w_->acked_ok++;
                else if (t == Msg::ack_failed) w_->ack_failed++;
                else if (t == Msg::error) w_->errors++;
            }
            return;
        }
        if (c.app_phase == kAuthSent) {
            if (t == Msg::auth_success) {
                if (join_ && static_cast<long>(c.index) != publisher_) {
                    std::string j = "{\"type\":\"join_group\",\"message_id\":\"j" + std::to_string(c.index) +
                                    "\",\"data\":{\"group_id\":\"" + o_.group + "\"}}";
                    c.app_phase = kJoinSent;
                    loop_.send_text(c, j);
                } else {
                    ready(c);
                }
            } else if (t == Msg::auth_failed || t == Msg::error) {
                setup_failed(c, "auth refused");
            }
            return;
        }
        if (c.app_phase == kJoinSent) {
            if (t == Msg::ack_ok) ready(c);
            else if (t == Msg::ack_failed || t == Msg::error) setup_failed(c, "join_group refused");
        }
    }

    void on_delivery(Conn& c, std::string_view m, uint64_t rx) {
        if (!w_) return;
        uint64_t t = 0, seq = 0;
        if (!parse_marker(m, t, seq)) {
            w_->unmarked++;
            return;
        }
        if (seq < w_->first_seq) {
            w_->stale++;
            return;
        }
        if (seq <= c.app_last_seq) w_->out_of_order++;
        else c.app_last_seq = static_cast<uint32_t>(seq);
        c.app_received++;
        w_->delivered++;
        if (rx <= w_->end) w_->in_window++;
        if (rx > w_->last_delivery) w_->last_delivery = rx;
        w_->latency.add(rx > t ? rx - t : 0);
    }

    Options o_;
    Loop loop_;
    std::vector<std::string> tokens_;
    long publisher_ = -1;
};

// Unsent bytes the publisher may hold before it skips its schedule.
constexpr size_t kMaxPublisherBacklog = 4 << 20;

// Sends one send_message from the publisher carrying its send time and seq.
// `n` bytes of text-like filler (words from a small vocabulary in a
// pseudo-random order, starting with a space): it compresses about as
// chat text does (~2-3x), so permessage-deflate is measured on realistic
// input rather than on one repeated letter.
std::string filler_text(size_t n) {
    static constexpr const char* kWords[] = {"the", "message", "server", "push", "group", "hello", "world",
                                             "client", "order", "time", "stream", "deliver", "quick", "brown",
                                             "fox", "jumps", "over", "lazy", "dog", "and", "of", "to", "in",
                                             "redis", "socket", "again", "later", "today", "meeting", "notes"};
    std::string out;
    out.reserve(n + 16);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    while (out.size() < n) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out += ' ';
        out += kWords[x % (sizeof kWords / sizeof kWords[0])];
        if (x % 11 == 0) out += std::to_string(x % 1000);
    }
    out.resize(n);
    return out;
}

void send_one(Runner& r, Conn& pub, Window& w, std::string& buf, const std::string& pad) {
    const uint64_t seq = r.next_seq_++;
    const uint64_t t = now_ns();
    buf.clear();
    buf.append("{\"type\":\"send_message\",\"message_id\":\"");
    buf.append(r.run_id_);  // unique per run: servers drop repeated ids as retries
    buf.append(std::to_string(seq));
    buf.append("\",\"data\":{\"group_id\":\"");
    buf.append(r.opts().group);
    buf.append("\",\"msg_type\":1,\"content\":\"t=");
    buf.append(std::to_string(t));
    buf.append(" s=");
    buf.append(std::to_string(seq));
    buf.append(pad);
    buf.append("\"}}");
    r.loop().send_text(pub, buf);
    w.sent++;
}

void Runner::run_window(Window& w, double rate, double duration_s) {
    Conn& pub = loop_.conn(static_cast<uint32_t>(publisher_));
    const size_t marker = 32;  // "t=<19 digits> s=<seq>" is about this long
    std::string pad;
    if (o_.content_bytes > marker) pad = filler_text(o_.content_bytes - marker);
    std::string buf;
    buf.reserve(256 + o_.content_bytes);
    w.first_seq = next_seq_;
    for (size_t i = 0; i < loop_.capacity(); ++i) loop_.conn(static_cast<uint32_t>(i)).app_received = 0;
    w_ = &w;
    w.t0 = now_ns();
    w.end = w.t0 + static_cast<uint64_t>(duration_s * 1e9);
    const uint64_t total = rate > 0 ? static_cast<uint64_t>(std::llround(rate * duration_s)) : UINT64_MAX;
    const double interval = rate > 0 ? 1e9 / rate : 0;
    // Busy loop, bounded by the window's end.
    for (;;) {
        const uint64_t now = now_ns();
        if (now >= w.end || pub.app_phase != kReady) break;
        if (rate > 0) {
            // Catch up at most 1000 sends per pass if the loop fell behind.
            // The publisher's unsent bytes are bounded too: a server that
            // stops reading makes the publisher fall short, not grow.
            for (int i = 0; i < 1000 && w.sent < total && pub.out.size() - pub.out_off < kMaxPublisherBacklog; ++i) {
                uint64_t due = w.t0 + static_cast<uint64_t>(static_cast<double>(w.sent) * interval);
                if (due > now) break;
                send_one(*this, pub, w, buf, pad);
            }
        } else {
            for (int i = 0; i < 1000 && w.sent - (w.acked_ok + w.ack_failed) < o_.max_inflight; ++i)
                send_one(*this, pub, w, buf, pad);
        }
        loop_.poll(0);
    }
}

// True when every open subscriber has received `sent` messages this window.
bool all_caught_up(Runner& r, size_t first, size_t count, uint64_t sent) {
    for (size_t i = first; i < first + count; ++i) {
        const Conn& c = r.loop().conn(static_cast<uint32_t>(i));
        if (c.app_phase == kReady && c.app_received < sent) return false;
    }
    return true;
}

size_t live_subscribers(Runner& r, size_t first, size_t count) {
    size_t n = 0;
    for (size_t i = first; i < first + count; ++i)
        if (r.loop().conn(static_cast<uint32_t>(i)).app_phase == kReady) ++n;
    return n;
}

cJSON* failures_json(const Runner& r) {
    cJSON* f = cJSON_CreateObject();
    for (const auto& [why, n] : r.failures_) cJSON_AddNumberToObject(f, why.c_str(), static_cast<double>(n));
    return f;
}

void add_host_info(cJSON* out, const Options& o) {
    cJSON_AddStringToObject(out, "url", ("ws://" + o.host + ":" + std::to_string(o.port) + o.path).c_str());
    cJSON_AddNumberToObject(out, "load_1m", load_average_1m());
    if (o.server_pid > 0) cJSON_AddNumberToObject(out, "server_pid", o.server_pid);
}

// Runs one measured fan-out window (plus drain) and returns its figures.
// Adds them to `j` and returns whether the window passed (see run_sweep).
bool measure_window(Runner& r, cJSON* j, double rate, double duration_s, size_t subs_first, size_t subs_count) {
    const Options& o = r.opts();
    Window w;
    const size_t live = live_subscribers(r, subs_first, subs_count);
    const ProcSample s0 = sample_process(o.server_pid), rs0 = sample_process(o.redis_pid);
    const std::vector<CoreTimes> cores0 = sample_cores();
    const uint64_t self0 = self_cpu_us();
    const LoopStats ls0 = r.loop().stats();
    r.run_window(w, rate, duration_s);
    // Drain: wait (bounded, busy) for every ack and every delivery to the
    // subscribers still open.
    const uint64_t drain_deadline = now_ns() + static_cast<uint64_t>(o.drain_s * 1e9);
    const uint64_t expected = w.sent * live;
    for (uint64_t i = 0; now_ns() < drain_deadline; ++i) {
        if (w.acked_ok + w.ack_failed >= w.sent) {
            if (w.delivered >= expected) break;
            if (w.closed_subscribers > 0 && (i & 255) == 0 && all_caught_up(r, subs_first, subs_count, w.sent)) break;
        }
        r.loop().poll(0);
    }
    const uint64_t t_done = now_ns();
    const ProcSample s1 = sample_process(o.server_pid), rs1 = sample_process(o.redis_pid);
    const std::vector<CoreTimes> cores1 = sample_cores();
    const uint64_t self1 = self_cpu_us();
    const LoopStats ls1 = r.loop().stats();
    r.w_ = nullptr;

    const uint64_t lost = expected > w.delivered ? expected - w.delivered : 0;
    // Deliveries missing even counting only the sends the server accepted.
    const uint64_t expected_acked = w.acked_ok * live;
    const uint64_t lost_after_ack = expected_acked > w.delivered ? expected_acked - w.delivered : 0;
    const double window_s = secs(w.end - w.t0);
    const uint64_t last = std::max(w.last_delivery, w.end);
    const double span_s = secs(last - w.t0);
    const double achieved = window_s > 0 ? static_cast<double>(w.sent) / window_s : 0;
    const double dps = span_s > 0 ? static_cast<double>(w.delivered) / span_s : 0;
    const double elapsed_s = secs(t_done - w.t0);

    cJSON_AddNumberToObject(j, "rate", rate);
    cJSON_AddNumberToObject(j, "duration_s", duration_s);
    cJSON_AddNumberToObject(j, "subscribers", static_cast<double>(live));
    cJSON_AddNumberToObject(j, "sent", static_cast<double>(w.sent));
    cJSON_AddNumberToObject(j, "acked", static_cast<double>(w.acked_ok));
    cJSON_AddNumberToObject(j, "ack_failed", static_cast<double>(w.ack_failed));
    cJSON_AddNumberToObject(j, "errors", static_cast<double>(w.errors));
    cJSON_AddNumberToObject(j, "achieved_rate", achieved);
    cJSON_AddNumberToObject(j, "expected", static_cast<double>(expected));
    cJSON_AddNumberToObject(j, "delivered", static_cast<double>(w.delivered));
    cJSON_AddNumberToObject(j, "lost", static_cast<double>(lost));
    cJSON_AddNumberToObject(j, "lost_after_ack", static_cast<double>(lost_after_ack));
    cJSON_AddNumberToObject(j, "stale", static_cast<double>(w.stale));
    cJSON_AddNumberToObject(j, "out_of_order", static_cast<double>(w.out_of_order));
    cJSON_AddNumberToObject(j, "unmarked", static_cast<double>(w.unmarked));
    cJSON_AddNumberToObject(j, "subscribers_closed", static_cast<double>(w.closed_subscribers));
    cJSON_AddNumberToObject(j, "deliveries_per_s", dps);
    cJSON_AddNumberToObject(j, "window_deliveries_per_s", window_s > 0 ? static_cast<double>(w.in_window) / window_s : 0);
    cJSON_AddNumberToObject(j, "last_delivery_after_window_ms",
                            w.last_delivery > w.end ? static_cast<double>(w.last_delivery - w.end) / 1e6 : 0);
    cJSON* lat = cJSON_AddObjectToObject(j, "latency_us");
    auto us = [](uint64_t ns) { return std::round(static_cast<double>(ns) / 100.0) / 10.0; };
    cJSON_AddNumberToObject(lat, "p50", us(w.latency.quantile(0.50)));
    cJSON_AddNumberToObject(lat, "p90", us(w.latency.quantile(0.90)));
    cJSON_AddNumberToObject(lat, "p99", us(w.latency.quantile(0.99)));
    cJSON_AddNumberToObject(lat, "p999", us(w.latency.quantile(0.999)));
    cJSON_AddNumberToObject(lat, "max", us(w.latency.max()));
    cJSON_AddNumberToObject(lat, "mean", us(static_cast<uint64_t>(w.latency.mean())));
    cJSON_AddNumberToObject(j, "measured_s", elapsed_s);
    if (s0.ok && s1.ok) {
        const double cpu = static_cast<double>(s1.cpu_us - s0.cpu_us);
        cJSON_AddNumberToObject(j, "server_cpu_us", cpu);
        cJSON_AddNumberToObject(j, "server_cpu_util", elapsed_s > 0 ? cpu / 1e6 / elapsed_s : 0);
        cJSON_AddNumberToObject(j, "cpu_us_per_delivery", w.delivered ? cpu / static_cast<double>(w.delivered) : 0);
        cJSON_AddNumberToObject(j, "server_rss_kib", static_cast<double>(s1.rss_kib));
    }
    if (rs0.ok && rs1.ok) {
        const double cpu = static_cast<double>(rs1.cpu_us - rs0.cpu_us);
        cJSON_AddNumberToObject(j, "redis_cpu_us", cpu);
        cJSON_AddNumberToObject(j, "redis_cpu_us_per_delivery", w.delivered ? cpu / static_cast<double>(w.delivered) : 0);
    }
    cJSON* cl = cJSON_AddObjectToObject(j, "client");
    cJSON_AddNumberToObject(cl, "cpu_util", elapsed_s > 0 ? static_cast<double>(self1 - self0) / 1e6 / elapsed_s : 0);
    cJSON_AddNumberToObject(cl, "busy_fraction", elapsed_s > 0 ? secs(ls1.busy_ns - ls0.busy_ns) / elapsed_s : 0);
    const double reads = static_cast<double>(ls1.reads - ls0.reads);
    cJSON_AddNumberToObject(cl, "reads", reads);
    cJSON_AddNumberToObject(cl, "messages_per_read", reads > 0 ? static_cast<double>(ls1.messages_in - ls0.messages_in) / reads : 0);
    cJSON_AddNumberToObject(cl, "bytes_in", static_cast<double>(ls1.bytes_in - ls0.bytes_in));
    cJSON_AddNumberToObject(cl, "compressed_messages_in", static_cast<double>(ls1.compressed_in - ls0.compressed_in));

    // Per-CPU use over the window, and what on the server's and the
    // generator's CPUs was neither them (nor Redis when it shares the
    // server's CPU): other processes, i.e. interference.
    cJSON* cores = cJSON_AddArrayToObject(j, "cores");
    const int server_cpu = pinned_cpu(o.server_pid), self_cpu = pinned_cpu(0), redis_cpu = pinned_cpu(o.redis_pid);
    for (size_t i = 0; i < cores0.size() && i < cores1.size(); ++i) {
        const CoreTimes& a = cores0[i];
        const CoreTimes& b = cores1[i];
        const double total = static_cast<double>(b.total - a.total);
        if (a.cpu != b.cpu || total <= 0) continue;
        const double busy = static_cast<double>(b.busy - a.busy) / total;
        cJSON* c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "cpu", a.cpu);
        cJSON_AddNumberToObject(c, "busy", busy);
        cJSON_AddNumberToObject(c, "softirq", static_cast<double>(b.softirq - a.softirq) / total);
        cJSON_AddNumberToObject(c, "steal", static_cast<double>(b.steal - a.steal) / total);
        cJSON_AddItemToArray(cores, c);
        const double secs_total = total / static_cast<double>(clock_ticks());
        if (a.cpu == server_cpu && s0.ok && s1.ok && secs_total > 0) {
            double ours = static_cast<double>(s1.cpu_us - s0.cpu_us) / 1e6;
            if (redis_cpu == server_cpu && rs0.ok && rs1.ok) ours += static_cast<double>(rs1.cpu_us - rs0.cpu_us) / 1e6;
            cJSON_AddNumberToObject(j, "server_core_other_util", std::max(0.0, busy - ours / secs_total));
        }
        if (a.cpu == self_cpu && secs_total > 0)
            cJSON_AddNumberToObject(j, "client_core_other_util",
                                    std::max(0.0, busy - static_cast<double>(self1 - self0) / 1e6 / secs_total));
    }

    const double want_sent = rate > 0 ? rate * duration_s : 0;
    std::string why;
    if (w.ack_failed > 0) why = std::to_string(w.ack_failed) + " sends refused (ack success false), lost " + std::to_string(lost);
    else if (lost > 0) why = "lost " + std::to_string(lost);
    else if (w.closed_subscribers > 0) why = std::to_string(w.closed_subscribers) + " subscribers closed";
    else if (rate > 0 && static_cast<double>(w.sent) < (1 - o.tolerance) * want_sent) why = "publisher fell short of the rate";
    else if (rate > 0 && dps < (1 - o.tolerance) * rate * static_cast<double>(live)) why = "deliveries fell behind the rate";
    const bool pass = why.empty() && w.sent > 0;
    if (w.sent == 0 && why.empty()) why = "nothing sent";
    cJSON_AddBoolToObject(j, "pass", pass);
    if (!pass) cJSON_AddStringToObject(j, "fail_reason", why.c_str());

    std::fprintf(stderr,
                 "  rate %.0f/s x %.0fs: sent %llu delivered %llu lost %llu  %.0f deliveries/s  p50 %.0fus p99 %.0fus",
                 rate, duration_s, static_cast<unsigned long long>(w.sent), static_cast<unsigned long long>(w.delivered),
                 static_cast<unsigned long long>(lost), dps, us(w.latency.quantile(0.5)), us(w.latency.quantile(0.99)));
    if (s0.ok && s1.ok && w.delivered)
        std::fprintf(stderr, "  server %.2f us/delivery", static_cast<double>(s1.cpu_us - s0.cpu_us) / static_cast<double>(w.delivered));
    std::fprintf(stderr, "  %s\n", pass ? "PASS" : why.c_str());
    return pass;
}

// Sleeps in the loop (not measured) for `s` seconds, answering pings and
// absorbing stragglers.
void settle(Runner& r, double s) {
    const uint64_t until = now_ns() + static_cast<uint64_t>(s * 1e9);
    while (now_ns() < until) r.loop().poll(10);
}

// Publisher at index 0, subscribers 1..n. Returns false with err on setup failure.
bool setup_fanout(Runner& r, std::string& err, double& setup_s) {
    const Options& o = r.opts();
    const size_t n = o.subscribers;
    if (!r.init(err)) return false;
    if (!r.sign_tokens(n + 1, 0, err)) return false;
    r.join_ = true;
    const uint64_t t0 = now_ns();
    std::vector<uint32_t> idx(n);
    for (size_t i = 0; i < n; ++i) idx[i] = static_cast<uint32_t>(i + 1);
    note("fanout: connecting %.0f subscribers to group", static_cast<double>(n));
    size_t ready = r.open(idx, o.setup_timeout_s);
    if (ready < n) {
        err = "only " + std::to_string(ready) + " of " + std::to_string(n) + " subscribers joined";
        return false;
    }
    if (r.open({0}, 10) != 1) {
        err = "the publisher could not connect and authenticate";
        return false;
    }
    setup_s = secs(now_ns() - t0);
    note("fanout: %.0f subscribers ready in %.2f s", static_cast<double>(n), setup_s);
    if (o.warmup_s > 0) {
        Window w;
        r.run_window(w, std::min(o.rate > 0 ? o.rate : 100.0, 100.0), o.warmup_s);
        const uint64_t until = now_ns() + 5000000000ull;
        while (now_ns() < until && w.delivered < w.sent * n) r.loop().poll(1);
        r.w_ = nullptr;
        const Conn& pub = r.loop().conn(0);
        if (pub.app_phase != kReady) {
            err = std::string("warm-up: the server closed the publisher's connection (close code ") +
                  std::to_string(pub.close_code) + (pub.error ? std::string(", ") + pub.error : std::string()) + ")";
            return false;
        }
        if (w.delivered == 0) {
            err = "warm-up: no new_message reached any subscriber (is the publisher allowed to send to '" + o.group + "'?)";
            return false;
        }
        settle(r, 0.3);
    }
    return true;
}

// After an overloaded window: waits until no delivery arrived for 1 s (at
// most 30 s), then until one probe message is acknowledged with success and
// reaches every open subscriber (at most 30 tries, ~1 s each). A server whose
// storage link tripped under the overload refuses sends until it reconnects.
// Returns false if it never recovered.
bool recover(Runner& r) {
    const Options& o = r.opts();
    Window quiet;
    quiet.first_seq = r.next_seq_;  // everything still arriving counts as stale
    r.w_ = &quiet;
    const uint64_t limit = now_ns() + 30000000000ull;
    uint64_t last_seen = now_ns(), seen = 0;
    while (now_ns() < limit && now_ns() - last_seen < 1000000000ull) {
        r.loop().poll(5);
        if (quiet.stale != seen) {
            seen = quiet.stale;
            last_seen = now_ns();
        }
    }
    r.w_ = nullptr;
    for (int attempt = 0; attempt < 30; ++attempt) {
        Window w;
        r.run_window(w, 2, 0.5);  // exactly one message
        const size_t live = live_subscribers(r, 1, o.subscribers);
        const uint64_t until = now_ns() + 2000000000ull;
        while (now_ns() < until && (w.acked_ok + w.ack_failed < w.sent || (w.acked_ok > 0 && w.delivered < w.sent * live)))
            r.loop().poll(1);
        r.w_ = nullptr;
        if (w.acked_ok == w.sent && w.sent > 0 && w.delivered >= w.sent * live) return true;
        settle(r, 0.5);
    }
    return false;
}

// Reconnects subscribers that were closed during a window. True if all are back.
bool repair(Runner& r) {
    const Options& o = r.opts();
    std::vector<uint32_t> idx;
    for (size_t i = 1; i <= o.subscribers; ++i)
        if (r.loop().conn(static_cast<uint32_t>(i)).app_phase != kReady) idx.push_back(static_cast<uint32_t>(i));
    if (idx.empty()) return true;
    note("reconnecting %.0f closed subscribers", static_cast<double>(idx.size()));
    return r.open(idx, o.setup_timeout_s) == idx.size();
}

}  // namespace

cJSON* run_idle(const Options& o, bool& ok) {
    ok = false;
    cJSON* out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "mode", "idle");
    add_host_info(out, o);
    cJSON_AddNumberToObject(out, "connections", static_cast<double>(o.connections));
    Runner r(o, o.connections);
    std::string err;
    if (!r.init(err) || !r.sign_tokens(o.connections, -1, err)) {
        cJSON_AddStringToObject(out, "error", err.c_str());
        return out;
    }
    const ProcSample before = sample_process(o.server_pid);
    std::vector<uint32_t> idx(o.connections);
    for (size_t i = 0; i < o.connections; ++i) idx[i] = static_cast<uint32_t>(i);
    note("idle: opening %.0f connections (%.0f handshakes at a time)", static_cast<double>(o.connections),
         static_cast<double>(o.batch));
    const uint64_t t0 = now_ns();
    const size_t ready = r.open(idx, o.setup_timeout_s);
    const double setup_s = secs(now_ns() - t0);
    note("idle: %.0f authenticated in %.2f s (%.0f failed)", static_cast<double>(ready), setup_s,
         static_cast<double>(r.setup_failed_));
    const ProcSample after_auth = sample_process(o.server_pid);
    if (ready > 0) settle(r, o.hold_s);
    const ProcSample after_hold = sample_process(o.server_pid);
    size_t still_open = 0;
    for (size_t i = 0; i < o.connections; ++i)
        if (r.loop().conn(static_cast<uint32_t>(i)).app_phase == kReady) ++still_open;
    cJSON_AddNumberToObject(out, "authenticated", static_cast<double>(ready));
    cJSON_AddNumberToObject(out, "failed", static_cast<double>(o.connections - ready));
    cJSON_AddNumberToObject(out, "open_after_hold", static_cast<double>(still_open));
    cJSON_AddNumberToObject(out, "setup_s", setup_s);
    cJSON_AddNumberToObject(out, "connections_per_s", setup_s > 0 ? static_cast<double>(ready) / setup_s : 0);
    cJSON_AddNumberToObject(out, "hold_s", o.hold_s);
    if (before.ok && after_auth.ok && after_hold.ok && ready > 0) {
        cJSON_AddNumberToObject(out, "rss_before_kib", static_cast<double>(before.rss_kib));
        cJSON_AddNumberToObject(out, "rss_after_auth_kib", static_cast<double>(after_auth.rss_kib));
        cJSON_AddNumberToObject(out, "rss_after_hold_kib", static_cast<double>(after_hold.rss_kib));
        auto per = [&](const ProcSample& s) {
            return std::round((static_cast<double>(s.rss_kib) - static_cast<double>(before.rss_kib)) * 1024.0 /
                              static_cast<double>(ready));
        };
        cJSON_AddNumberToObject(out, "rss_per_conn_after_auth_bytes", per(after_auth));
        cJSON_AddNumberToObject(out, "rss_per_conn_bytes", per(after_hold));
        note("idle: server RSS %.0f -> %.0f KiB: %.0f bytes per connection", static_cast<double>(before.rss_kib),
             static_cast<double>(after_hold.rss_kib), per(after_hold));
    } else if (o.server_pid > 0) {
        cJSON_AddStringToObject(out, "rss_error", "could not read /proc/PID/status of the server");
    }
    if (!r.failures_.empty()) cJSON_AddItemToObject(out, "failures", failures_json(r));
    ok = ready == o.connections && still_open == o.connections;
    if (!ok) cJSON_AddStringToObject(out, "error", "not every connection authenticated and stayed open");
    r.loop().drop_all();
    return out;
}

// The common start of fanout and sweep: host info, group and content size
// in `out`, then subscribers joined. False (with "error" and "failures" in
// `out`) when the setup failed.
static bool begin_group_scenario(const Options& o, Runner& r, cJSON* out, double& setup_s) {
    add_host_info(out, o);
    cJSON_AddStringToObject(out, "group", o.group.c_str());
    cJSON_AddNumberToObject(out, "content_bytes", static_cast<double>(o.content_bytes));
    cJSON_AddBoolToObject(out, "deflate_offered", o.deflate);
    std::string err;
    if (setup_fanout(r, err, setup_s)) return true;
    cJSON_AddStringToObject(out, "error", err.c_str());
    if (!r.failures_.empty()) cJSON_AddItemToObject(out, "failures", failures_json(r));
    return false;
}

cJSON* run_fanout(const Options& o, bool& ok) {
    ok = false;
    cJSON* out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "mode", "fanout");
    Runner r(o, o.subscribers + 1);
    double setup_s = 0;
    if (!begin_group_scenario(o, r, out, setup_s)) return out;
    cJSON_AddNumberToObject(out, "setup_s", setup_s);
    // Windows on the same connections; the headline figures are those of the
    // window with the median CPU per delivery (else deliveries/s); every
    // window is kept under "windows".
    const int repeat = std::max(1, o.repeat);
    cJSON* windows = cJSON_CreateArray();
    std::vector<std::pair<double, int>> order;
    uint64_t lost_all = 0;
    bool all_pass = true;
    for (int i = 0; i < repeat; ++i) {
        note("fanout: measuring %.0f msg/s for %.0f s (window %.0f of %.0f)", o.rate, o.duration_s, i + 1.0, repeat);
        cJSON* wj = cJSON_CreateObject();
        cJSON_AddItemToArray(windows, wj);
        const bool pass = measure_window(r, wj, o.rate, o.duration_s, 1, o.subscribers);
        all_pass = all_pass && pass;
        lost_all += static_cast<uint64_t>(cJSON_GetObjectItemCaseSensitive(wj, "lost")->valuedouble);
        const cJSON* cpu = cJSON_GetObjectItemCaseSensitive(wj, "cpu_us_per_delivery");
        const cJSON* dps = cJSON_GetObjectItemCaseSensitive(wj, "deliveries_per_s");
        order.emplace_back(cJSON_IsNumber(cpu) ? cpu->valuedouble : -dps->valuedouble, i);
        if (i + 1 < repeat) {
            settle(r, 0.5);
            if (!pass && (!recover(r) || !repair(r))) break;
        }
    }
    std::sort(order.begin(), order.end());
    const int median = order[(order.size() - 1) / 2].second;
    for (const cJSON* item = cJSON_GetArrayItem(windows, median)->child; item; item = item->next)
        cJSON_AddItemToObject(out, item->string, cJSON_Duplicate(item, 1));
    cJSON_AddNumberToObject(out, "repeat", repeat);
    cJSON_AddNumberToObject(out, "median_window", median);
    cJSON_AddNumberToObject(out, "lost_all_windows", static_cast<double>(lost_all));
    cJSON_AddBoolToObject(out, "all_windows_pass", all_pass);
    cJSON_AddItemToObject(out, "windows", windows);
    if (!r.close_codes_.empty()) {
        cJSON* cc = cJSON_AddObjectToObject(out, "close_codes");
        for (const auto& [code, n] : r.close_codes_) cJSON_AddNumberToObject(cc, std::to_string(code).c_str(), static_cast<double>(n));
    }
    r.loop().drop_all();
    ok = true;
    return out;
}

cJSON* run_sweep(const Options& o, bool& ok) {
    ok = false;
    cJSON* out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "mode", "sweep");
    Runner r(o, o.subscribers + 1);
    double setup_s = 0;
    if (!begin_group_scenario(o, r, out, setup_s)) return out;
    std::string err;
    cJSON_AddNumberToObject(out, "subscribers", static_cast<double>(o.subscribers));
    cJSON_AddNumberToObject(out, "setup_s", setup_s);
    cJSON* steps = cJSON_AddArrayToObject(out, "steps");
    // One measured window; its object goes into `steps`. Sets err when the
    // subscribers closed by an earlier step cannot be reconnected.
    auto step = [&](double rate, double dur, cJSON** obj) -> bool {
        if (!repair(r)) {
            err = "could not reconnect the subscribers closed by an earlier step";
            return false;
        }
        cJSON* s = cJSON_CreateObject();
        cJSON_AddItemToArray(steps, s);
        const bool pass = measure_window(r, s, rate, dur, 1, o.subscribers);
        if (obj) *obj = s;
        settle(r, 0.5);
        if (!pass && !recover(r)) err = "the server did not recover after a failed step (no successful send for 30 s)";
        return pass;
    };
    note("sweep: from %.0f msg/s, x%.2f per step, %.0f s per step", o.start_rate, o.factor, o.step_duration_s);
    double best = 0, first_fail = 0;
    cJSON* best_step = nullptr;
    // Geometric steps up to the first failure.
    double rate = o.start_rate;
    for (int i = 0; i < 40 && rate <= o.max_rate && err.empty(); ++i) {
        cJSON* s = nullptr;
        if (!step(rate, o.step_duration_s, &s)) {
            first_fail = rate;
            break;
        }
        best = rate;
        best_step = s;
        rate = std::round(rate * o.factor);
    }
    // Bisection between the last pass and the first failure.
    for (int i = 0; i < o.refine_steps && err.empty() && best > 0 && first_fail > best * (1 + o.tolerance); ++i) {
        const double mid = std::round(std::sqrt(best * first_fail));
        if (mid <= best || mid >= first_fail) break;
        cJSON* s = nullptr;
        if (step(mid, o.step_duration_s, &s)) {
            best = mid;
            best_step = s;
        } else {
            first_fail = mid;
        }
    }
    // The result: a full-length window at the best rate; while that fails,
    // 10% lower (at most 5 tries: a server near its limit may pass a short
    // step and still fall behind over the full duration).
    if (o.confirm && best > 0 && err.empty()) {
        double cr = best;
        best = 0;
        best_step = nullptr;
        for (int attempt = 0; attempt < 5 && cr >= 1; ++attempt, cr = std::round(cr * 0.9)) {
            note("sweep: confirming %.0f msg/s for %.0f s", cr, o.duration_s);
            cJSON* s = nullptr;
            if (step(cr, o.duration_s, &s)) {
                best = cr;
                best_step = s;
                break;
            }
            if (!err.empty()) break;
        }
    }
    if (!err.empty()) cJSON_AddStringToObject(out, "error", err.c_str());
    cJSON_AddNumberToObject(out, "best_rate", best);
    cJSON_AddNumberToObject(out, "first_failing_rate", first_fail);
    if (best_step) cJSON_AddItemToObject(out, "best", cJSON_Duplicate(best_step, 1));
    else cJSON_AddNullToObject(out, "best");
    r.loop().drop_all();
    ok = err.empty() && best > 0;
    return out;
}

}  // namespace pushctl::bench
