// pushd-bench's connections and their protocol state machine (see runner.hpp).
#include "runner.hpp"

#include "host_sample.hpp"

#include "client/requests.hpp"
#include "core/auth.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>

namespace pushd_bench {
namespace {

using pushd::ReplyKind;

// Conn::app_phase values.
enum Phase : uint8_t {
    kNew = 0,
    kAuthSent = 1,
    kJoinSent = 3,
    kReady = 4,
    kFailed = 9,
};

// Unsent bytes the publisher may hold before it skips its schedule.
constexpr size_t kMaxPublisherBacklog = 4 << 20;

// "t=<19 digits> s=<seq>" is about this long.
constexpr size_t kMarkerBytes = 32;

// Reads "t=<ns> s=<seq>" from the content of a new_message. false if absent.
bool parse_marker(std::string_view m, uint64_t& t, uint64_t& seq) {
    static constexpr std::string_view kNeedle = "\"content\":\"t=";
    // Each '=' (memchr, vectorized) is checked for the bytes before it: in
    // a pushd frame the needle's is the first '=' (ids and the other fields
    // have none), so this is one memchr and one compare. memmem was ~16% of the generator's CPU in
    // the closed loop (the two-way algorithm's setup on every call), and
    // string_view::find before it ~8% (a memchr and compare at every '"').
    const char* hit = nullptr;
    for (size_t from = kNeedle.size() - 1; from < m.size();) {
        const void* eq = memchr(m.data() + from, '=', m.size() - from);
        if (!eq) break;
        const size_t at = static_cast<size_t>(static_cast<const char*>(eq) - m.data());
        if (m.compare(at + 1 - kNeedle.size(), kNeedle.size(), kNeedle) == 0) {
            hit = m.data() + at + 1 - kNeedle.size();
            break;
        }
        from = at + 1;
    }
    if (!hit) return false;
    size_t p = static_cast<size_t>(static_cast<const char*>(hit) - m.data()) + kNeedle.size();
    t = 0;
    size_t digits = 0;
    while (p < m.size() && m[p] >= '0' && m[p] <= '9' && digits < 20)
        t = t * 10 + static_cast<uint64_t>(m[p++] - '0'), ++digits;
    if (digits == 0 || p + 3 > m.size() || m[p] != ' ' || m[p + 1] != 's' || m[p + 2] != '=') return false;
    p += 3;
    seq = 0;
    digits = 0;
    while (p < m.size() && m[p] >= '0' && m[p] <= '9' && digits < 20)
        seq = seq * 10 + static_cast<uint64_t>(m[p++] - '0'), ++digits;
    return digits > 0;
}

// `n` bytes of text-like filler (words from a small vocabulary in a
// pseudo-random order, starting with a space): it compresses about as
// chat text does (~2-3x), so permessage-deflate is measured on realistic
// input rather than on one repeated letter.
std::string filler_text(size_t n) {
    static constexpr const char* kWords[] = {
        "the",    "message", "server", "push",  "group",  "hello", "world", "client", "order",   "time",
        "stream", "deliver", "quick",  "brown", "fox",    "jumps", "over",  "lazy",   "dog",     "and",
        "of",     "to",      "in",     "redis", "socket", "again", "later", "today",  "meeting", "notes"};
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

}  // namespace

Runner::Runner(const Options& o, size_t capacity) :
    o_(o),
    loop_(capacity),
    run_id_(std::string("m").append(std::to_string(now_ns() % 1000000000000ull)).append("-")) {
    if (o_.groups <= 1) {
        group_names_.push_back(o_.group);
    } else {
        for (size_t g = 0; g < o_.groups; ++g) group_names_.push_back(o_.group + "-" + std::to_string(g));
    }
    group_sent_.assign(group_names_.size(), 0);
}

bool Runner::init(std::string& err) {
    raise_nofile_limit();
    if (!loop_.init(o_.host, o_.port, o_.path, err)) return false;
    Events ev;
    ev.ctx = this;
    ev.on_open = [](void* p, Conn& c) { static_cast<Runner*>(p)->on_open(c); };
    ev.on_text = [](void* p, Conn& c, std::string_view m, uint64_t rx) { static_cast<Runner*>(p)->on_text(c, m, rx); };
    ev.on_down = [](void* p, Conn& c) { static_cast<Runner*>(p)->on_down(c); };
    ev.between = [](void* p) { static_cast<Runner*>(p)->publish_step(); };
    loop_.set_events(ev);
    loop_.set_offer_deflate(o_.deflate);
    return true;
}

bool Runner::sign_tokens(size_t count, size_t publishers, std::string& err) {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    tokens_.resize(count);
    for (size_t i = 0; i < count; ++i) {
        std::string user = o_.user_prefix + (i >= publishers ? std::to_string(i)
                                             : i == 0        ? std::string("pub")
                                                             : "pub" + std::to_string(i));
        tokens_[i] = pushd::sign_token(o_.secret, o_.user_claim, user, now, now + 6 * 3600);
        if (tokens_[i].empty()) {
            err = "cannot sign a token for user '" + user + "' (empty secret?)";
            return false;
        }
    }
    publishers_ = publishers;
    publisher_sent_.assign(publishers, PublisherCount{});
    // Publishers answer their acks at once, not after a pass over every
    // subscriber (see Loop::set_priority).
    for (size_t i = 0; i < publishers && i < loop_.capacity(); ++i) loop_.set_priority(static_cast<uint32_t>(i));
    return true;
}

size_t Runner::open(const std::vector<uint32_t>& idx, double timeout_s) {
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
    fail_unfinished(idx, next);
    return setup_ready_;
}

// Whatever is still pending at the deadline counts as failed, and so do
// the connections never started.
void Runner::fail_unfinished(const std::vector<uint32_t>& idx, size_t started) {
    for (size_t i = 0; i < started; ++i) {
        Conn& c = loop_.conn(idx[i]);
        if (c.app_phase != kReady && c.app_phase != kFailed) {
            note_failure(c, "setup timeout");
            loop_.drop(c, "setup timeout");
            c.app_phase = kFailed;
        }
    }
    for (size_t i = started; i < idx.size(); ++i) {
        loop_.conn(idx[i]).app_phase = kFailed;
        failures_["not started (setup timeout)"]++;
    }
}

// The content of send `seq`: "t=<send time> s=<seq>" and the padding.
const std::string& Runner::next_content(uint64_t seq, const std::string& pad) {
    content_buf_.assign("t=").append(std::to_string(now_ns())).append(" s=").append(std::to_string(seq)).append(pad);
    return content_buf_;
}

// One send_message from publisher `pub` carrying its send time and seq, to
// the next of its groups (g = pub.index mod P, in turn).
void Runner::send_one(Conn& pub, Window& w, const std::string& pad) {
    PublisherCount& pc = publisher_sent_[pub.index];
    const size_t per_publisher = std::max<size_t>(1, group_names_.size() / publishers_);
    const size_t g = (pub.index + publishers_ * (pc.sent % per_publisher)) % group_names_.size();
    pc.sent_ns[pc.sent % pc.sent_ns.size()] = now_ns();
    pc.sent++;
    group_sent_[g]++;
    const uint64_t seq = next_seq_++;
    id_buf_.assign(run_id_).append(std::to_string(seq));
    send_buf_.clear();
    pushd::requests::append_send_message(send_buf_, id_buf_, group_names_[g], next_content(seq, pad));
    loop_.send_text(pub, send_buf_);
    w.sent++;
}

// One notification to every connection, through the external sender.
void Runner::send_external(Window& w, const std::string& pad) {
    const uint64_t seq = next_seq_++;
    w.sent++;
    if (external_(next_content(seq, pad))) {
        w.acked_ok++;
        group_sent_[0]++;
    } else {
        w.ack_failed++;
    }
}

// Rate mode: the sends due by `now` (at most 1000 per pass if the loop fell
// behind), publishers in turn. A publisher's unsent bytes are bounded: a
// server that stops reading makes it fall short, not grow. False when
// nothing could be sent.
bool Runner::send_due(Window& w, uint64_t total, double interval, uint64_t now, const std::string& pad) {
    for (int i = 0; i < 1000 && w.sent < total; ++i) {
        const uint64_t due = w.t0 + static_cast<uint64_t>(static_cast<double>(w.sent) * interval);
        if (due > now) break;
        if (publishers_ == 0) {
            send_external(w, pad);
            continue;
        }
        Conn& pub = loop_.conn(static_cast<uint32_t>(w.sent % publishers_));
        if (pub.out.size() - pub.out_off >= kMaxPublisherBacklog) return false;
        send_one(pub, w, pad);
    }
    return true;
}

// Closed loop: each publisher keeps o.max_inflight sends unanswered.
void Runner::keep_in_flight(Window& w, const std::string& pad) {
    for (uint32_t k = 0; k < publishers_; ++k) {
        const PublisherCount& pc = publisher_sent_[k];
        for (int i = 0; i < 1000 && pc.sent - std::min(pc.answered, pc.sent) < o_.max_inflight; ++i)
            send_one(loop_.conn(k), w, pad);
    }
}

void Runner::run_window(Window& w, double rate, double duration_s) {
    const std::string pad = o_.content_bytes > kMarkerBytes ? filler_text(o_.content_bytes - kMarkerBytes) : "";
    w.first_seq = next_seq_;
    for (size_t i = 0; i < loop_.capacity(); ++i) loop_.conn(static_cast<uint32_t>(i)).app_received = 0;
    group_sent_.assign(group_names_.size(), 0);
    publisher_sent_.assign(publishers_, PublisherCount{});
    w_ = &w;
    w.t0 = now_ns();
    w.end = w.t0 + static_cast<uint64_t>(duration_s * 1e9);
    publishing_ = Publishing{&w, rate > 0 ? static_cast<uint64_t>(std::llround(rate * duration_s)) : UINT64_MAX,
                             rate > 0 ? 1e9 / rate : 0, rate, &pad};
    // Busy loop, bounded by the window's end.
    for (;;) {
        if (now_ns() >= w.end || !publisher_down_reason().empty()) break;
        publish_step();
        loop_.poll(0);
    }
    publishing_.reset();
}

// The sends due now: called every loop pass and between chunks of a poll.
void Runner::publish_step() {
    if (!publishing_) return;
    Publishing& p = *publishing_;
    const uint64_t now = now_ns();
    if (now >= p.w->end) return;
    if (p.rate > 0)
        send_due(*p.w, p.total, p.interval, now, *p.pad);
    else
        keep_in_flight(*p.w, *p.pad);
}

void Runner::drain(Window& w, uint64_t expected, size_t first, size_t count) {
    const uint64_t deadline = now_ns() + static_cast<uint64_t>(o_.drain_s * 1e9);
    for (uint64_t i = 0; now_ns() < deadline; ++i) {
        if (w.acked_ok + w.ack_failed >= w.sent) {
            if (w.delivered >= expected) break;
            if (w.closed_subscribers > 0 && (i & 255) == 0 && all_caught_up(first, count)) break;
        }
        loop_.poll(0);
    }
}

void Runner::count_stale(Window& w) {
    w.first_seq = next_seq_;  // everything still arriving counts as stale
    w_ = &w;
}

void Runner::settle(double s) {
    const uint64_t until = now_ns() + static_cast<uint64_t>(s * 1e9);
    while (now_ns() < until) loop_.poll(10);
}

size_t Runner::ready_in(size_t first, size_t count) const {
    size_t n = 0;
    for (size_t i = first; i < first + count; ++i)
        if (loop_.conn(static_cast<uint32_t>(i)).app_phase == kReady) ++n;
    return n;
}

std::vector<uint32_t> Runner::not_ready_in(size_t first, size_t count) const {
    std::vector<uint32_t> idx;
    for (size_t i = first; i < first + count; ++i)
        if (loop_.conn(static_cast<uint32_t>(i)).app_phase != kReady) idx.push_back(static_cast<uint32_t>(i));
    return idx;
}

bool Runner::all_caught_up(size_t first, size_t count) const {
    for (size_t i = first; i < first + count; ++i) {
        const Conn& c = loop_.conn(static_cast<uint32_t>(i));
        if (c.app_phase == kReady && c.app_received < group_sent_[group_of(c.index)]) return false;
    }
    return true;
}

uint64_t Runner::expected_deliveries(size_t first, size_t count) const {
    uint64_t n = 0;
    for (size_t i = first; i < first + count; ++i) {
        const Conn& c = loop_.conn(static_cast<uint32_t>(i));
        if (c.app_phase == kReady) n += group_sent_[group_of(c.index)];
    }
    return n;
}

std::string Runner::publisher_down_reason() const {
    for (uint32_t k = 0; k < publishers_; ++k) {
        const Conn& pub = loop_.conn(k);
        if (pub.app_phase == kReady) continue;
        return "the server closed a publisher's connection (close code " + std::to_string(pub.close_code) +
               (pub.error ? std::string(", ") + pub.error : std::string()) + ")";
    }
    return "";
}

void Runner::note_failure(Conn& c, const char* fallback) {
    std::string why = c.error ? c.error : fallback;
    if (c.http_status) why += " (HTTP " + std::to_string(c.http_status) + ")";
    failures_[why]++;
}

void Runner::on_open(Conn& c) {
    if (o_.no_auth) {  // diagnostics: the cost of a bare WebSocket
        ready(c);
        return;
    }
    c.app_phase = kAuthSent;
    loop_.send_text(c, pushd::requests::auth("a" + std::to_string(c.index), tokens_[c.index]));
}

void Runner::on_down(Conn& c) {
    if (c.app_phase == kReady) {
        close_codes_[c.close_code]++;
        if (w_ && !is_publisher(c)) w_->closed_subscribers++;
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

void Runner::ready(Conn& c) {
    c.app_phase = kReady;
    setup_ready_++;
}

void Runner::setup_failed(Conn& c, const char* why) {
    c.error = why;
    note_failure(c, why);
    loop_.drop(c, why);
    c.app_phase = kFailed;
    setup_failed_++;
}

void Runner::on_text(Conn& c, std::string_view m, uint64_t rx) {
    const ReplyKind kind = pushd::peek_reply_kind(m);
    if (c.app_phase != kReady) {
        on_setup_reply(c, kind);
        return;
    }
    if (kind == ReplyKind::new_message || kind == ReplyKind::notification) {
        on_delivery(c, m, rx);
    } else if (w_ && is_publisher(c)) {
        if (kind == ReplyKind::ack_ok || kind == ReplyKind::ack_failed) on_answer(publisher_sent_[c.index], rx);
        if (kind == ReplyKind::ack_ok)
            w_->acked_ok++;
        else if (kind == ReplyKind::ack_failed)
            w_->ack_failed++;
        else if (kind == ReplyKind::error)
            w_->errors++;
    }
}

// A publisher's send was answered at `rx`: the oldest unanswered one.
void Runner::on_answer(PublisherCount& pc, uint64_t rx) {
    const uint64_t k = pc.answered++;
    if (k >= pc.sent || pc.sent - k > pc.sent_ns.size()) return;
    const uint64_t t = pc.sent_ns[k % pc.sent_ns.size()];
    w_->ack_latency.add(rx > t ? rx - t : 0);
}

// A reply while the connection is being set up: to its auth, then to its join.
void Runner::on_setup_reply(Conn& c, ReplyKind kind) {
    if (c.app_phase == kAuthSent) {
        if (kind == ReplyKind::auth_success) {
            if (join_ && !is_publisher(c)) {
                c.app_phase = kJoinSent;
                loop_.send_text(
                    c, pushd::requests::join_group("j" + std::to_string(c.index), group_names_[group_of(c.index)]));
            } else {
                ready(c);
            }
        } else if (kind == ReplyKind::auth_failed || kind == ReplyKind::error) {
            setup_failed(c, "auth refused");
        }
        return;
    }
    if (c.app_phase == kJoinSent) {
        if (kind == ReplyKind::ack_ok)
            ready(c);
        else if (kind == ReplyKind::ack_failed || kind == ReplyKind::error)
            setup_failed(c, "join_group refused");
    }
}

void Runner::on_delivery(Conn& c, std::string_view m, uint64_t rx) {
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
    if (seq <= c.app_last_seq)
        w_->out_of_order++;
    else
        c.app_last_seq = static_cast<uint32_t>(seq);
    c.app_received++;
    w_->delivered++;
    if (rx <= w_->end) w_->in_window++;
    if (rx > w_->last_delivery) w_->last_delivery = rx;
    w_->latency.add(rx > t ? rx - t : 0);
}

}  // namespace pushd_bench
