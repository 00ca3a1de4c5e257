#include "core/cluster_slots.hpp"

#include <charconv>

namespace pushd {

namespace {

// CRC16-CCITT (XMODEM), as Redis Cluster's spec gives it.
uint16_t crc16(std::string_view s) {
    uint16_t crc = 0;
    for (unsigned char c : s) {
        crc ^= static_cast<uint16_t>(c << 8);
        for (int i = 0; i < 8; ++i) crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : crc << 1;
    }
    return crc;
}

}  // namespace

uint16_t key_slot(std::string_view key) {
    const size_t open = key.find('{');
    if (open != std::string_view::npos) {
        const size_t close = key.find('}', open + 1);
        if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
    }
    return crc16(key) & (kClusterSlots - 1);
}

std::optional<Redirect> parse_redirect(std::string_view error) {
    Redirect r;
    if (error.rfind("MOVED ", 0) == 0) {
        error.remove_prefix(6);
    } else if (error.rfind("ASK ", 0) == 0) {
        r.ask = true;
        error.remove_prefix(4);
    } else {
        return std::nullopt;
    }
    const size_t space = error.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    unsigned slot = 0;
    auto [end, ec] = std::from_chars(error.data(), error.data() + space, slot);
    if (ec != std::errc() || end != error.data() + space || slot >= kClusterSlots) return std::nullopt;
    r.slot = static_cast<uint16_t>(slot);
    r.address = std::string(error.substr(space + 1));
    if (r.address.empty() || r.address.find(':') == std::string::npos) return std::nullopt;
    return r;
}

std::optional<std::string_view> command_key(const std::vector<std::string_view>& argv) {
    if (argv.size() < 2) return std::nullopt;
    std::string cmd(argv[0]);
    for (char& c : cmd) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    if (cmd == "EVAL" || cmd == "EVALSHA") {
        if (argv.size() < 4 || argv[2] == "0") return std::nullopt;
        return argv[3];
    }
    if (cmd == "XREAD" || cmd == "XREADGROUP") {
        for (size_t i = 1; i + 1 < argv.size(); ++i) {
            std::string a(argv[i]);
            for (char& c : a) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
            if (a == "STREAMS") return argv[i + 1];
        }
        return std::nullopt;
    }
    for (const char* keyless : {"PING", "INFO", "TIME", "SCRIPT", "WAIT", "CLUSTER", "ROLE", "SCAN", "ASKING"}) {
        if (cmd == keyless) return std::nullopt;
    }
    return argv[1];
}

void SlotMap::assign(const std::vector<SlotRange>& ranges) {
    owner_.fill(kNone);
    addresses_.clear();
    for (const SlotRange& r : ranges) {
        const uint16_t a = intern(r.master);
        for (size_t s = r.first; s <= r.last && s < kClusterSlots; ++s) owner_[s] = a;
    }
}

void SlotMap::set(uint16_t slot, const std::string& address) { owner_[slot % kClusterSlots] = intern(address); }

const std::string& SlotMap::master_of(uint16_t slot) const {
    static const std::string none;
    const uint16_t a = owner_[slot % kClusterSlots];
    return a == kNone ? none : addresses_[a];
}

bool SlotMap::complete() const {
    for (uint16_t a : owner_) {
        if (a == kNone) return false;
    }
    return true;
}

bool SlotMap::operator==(const SlotMap& o) const {
    for (size_t s = 0; s < kClusterSlots; ++s) {
        if (master_of(static_cast<uint16_t>(s)) != o.master_of(static_cast<uint16_t>(s))) return false;
    }
    return true;
}

uint16_t SlotMap::intern(const std::string& address) {
    for (size_t i = 0; i < addresses_.size(); ++i) {
        if (addresses_[i] == address) return static_cast<uint16_t>(i);
    }
    addresses_.push_back(address);
    return static_cast<uint16_t>(addresses_.size() - 1);
}

std::string bus_shard_tag(size_t shard, size_t shards) {
    const size_t lo = shard * kClusterSlots / shards, hi = (shard + 1) * kClusterSlots / shards;
    for (size_t k = 0;; ++k) {
        std::string tag = "b" + std::to_string(shard) + "." + std::to_string(k);
        const size_t slot = key_slot(tag);
        if (slot >= lo && slot < hi) return tag;
    }
}

std::string slot_tag(uint16_t slot) {
    slot %= kClusterSlots;
    for (size_t k = 0;; ++k) {
        std::string tag = "w" + std::to_string(k);
        if (key_slot(tag) == slot) return tag;
    }
}

size_t bus_shard_of(std::string_view group_id, size_t shards) {
    return static_cast<size_t>(key_slot(group_id)) * shards / kClusterSlots;
}

}  // namespace pushd
