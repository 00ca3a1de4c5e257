#include "core/ack_order.hpp"

namespace pushd {

std::string AckOrder::key(std::string_view group_id, std::string_view client_message_id) {
    // The length prefix keeps (group, id) pairs apart whatever they hold.
    std::string k = std::to_string(group_id.size());
    k += ':';
    k.append(group_id);
    k.append(client_message_id);
    return k;
}

void AckOrder::expect(uint64_t session, const std::string& key) { sessions_[session].pending[key]++; }

AckOrder::Offer AckOrder::offer(uint64_t session, const std::string& own_key, SharedFrame* frame) {
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return Offer::deliver;
    PerSession& p = it->second;
    std::string waits_for;
    if (!own_key.empty() && p.pending.count(own_key))
        waits_for = own_key;
    else if (p.held.empty())
        return Offer::deliver;
    if (p.held.size() >= max_held_) return Offer::full;
    p.held.push_back({FrameRef::share(frame), std::move(waits_for)});
    return Offer::held;
}

std::vector<FrameRef> AckOrder::acked(uint64_t session, const std::string& key, bool* idle) {
    std::vector<FrameRef> out;
    *idle = true;
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return out;
    PerSession& p = it->second;
    if (auto k = p.pending.find(key); k != p.pending.end() && --k->second == 0) p.pending.erase(k);
    while (!p.held.empty()) {
        Held& front = p.held.front();
        if (!front.waits_for.empty() && p.pending.count(front.waits_for)) break;  // its ack is not out yet
        out.push_back(std::move(front.frame));
        p.held.pop_front();
    }
    if (p.pending.empty() && p.held.empty()) {
        sessions_.erase(it);
    } else {
        *idle = false;
    }
    return out;
}

}  // namespace pushd
