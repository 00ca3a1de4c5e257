#include "core/replica_wait.hpp"

#include <utility>

namespace pushd {

std::optional<int64_t> online_replicas(std::string_view info) {
    if (info.find("role:master") == std::string_view::npos) return std::nullopt;
    int64_t online = 0;
    size_t pos = 0;
    while (pos < info.size()) {
        size_t end = info.find('\n', pos);
        if (end == std::string_view::npos) end = info.size();
        std::string_view line = info.substr(pos, end - pos);
        pos = end + 1;
        if (!line.starts_with("slave") || line.size() < 6 || line[5] < '0' || line[5] > '9') continue;
        if (line.find("state=online") != std::string_view::npos) online++;
    }
    return online;
}

void WaitBatch::after(Done done) {
    next_.push_back(std::move(done));
    if (!sending_) send();
}

// An answer may come before issue_ returns (a link that is down fails at
// once): answer() then leaves the next WAIT to the loop here instead of
// recursing.
void WaitBatch::send() {
    if (issuing_) return;
    issuing_ = true;
    while (!sending_ && !next_.empty()) {
        sending_ = true;
        in_flight_ = std::move(next_);
        next_.clear();
        waits_++;
        issue_([this](int64_t confirmed) { answer(confirmed); });
    }
    issuing_ = false;
}

void WaitBatch::answer(int64_t confirmed) {
    const bool ok = confirmed >= replicas_;
    if (!ok) unconfirmed_++;
    std::vector<Done> answered = std::move(in_flight_);
    in_flight_.clear();
    sending_ = false;
    for (Done& d : answered) d(ok);
    send();
}

}  // namespace pushd
