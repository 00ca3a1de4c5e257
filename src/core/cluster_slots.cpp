// Redis Cluster's key space: CRC16 slots, the slot map, redirects, the key a
// command routes by, the bus shards' hash tags. Pure: no I/O.
#include "core/cluster_slots.hpp"

#include <algorithm>
#include <cctype>

namespace pushd {

namespace {

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection,
// as the Redis Cluster specification defines the key hash.
constexpr std::array<uint16_t, 256> make_crc16_table() {
    std::array<uint16_t, 256> table{};
    for (unsigned i = 0; i < 256; i++) {
        uint16_t crc = static_cast<uint16_t>(i << 8);
        for (int bit = 0; bit < 8; bit++) crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
        table[i] = crc;
    }
    return table;
}

constexpr std::array<uint16_t, 256> kCrc16Table = make_crc16_table();

uint16_t crc16(std::string_view data) {
    uint16_t crc = 0;
    for (unsigned char c : data) crc = static_cast<uint16_t>((crc << 8) ^ kCrc16Table[((crc >> 8) ^ c) & 0xff]);
    return crc;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// Commands that name no key: any master answers them.
bool keyless(std::string_view name) {
    static constexpr std::string_view kKeyless[] = {
        "PING",  "INFO",      "TIME",     "SCRIPT",  "WAIT",    "CLUSTER", "ROLE",     "ASKING",    "READONLY",
        "AUTH",  "READWRITE", "ECHO",     "DBSIZE",  "FLUSHDB", "SCAN",    "KEYS",     "RANDOMKEY", "PUBLISH",
        "HELLO", "SELECT",    "FLUSHALL", "COMMAND", "CONFIG",  "CLIENT",  "FUNCTION", "LASTSAVE",
    };
    for (std::string_view k : kKeyless)
        if (iequals(name, k)) return true;
    return false;
}

// A decimal number of at most `max`; nullopt otherwise.
std::optional<unsigned long> parse_decimal(std::string_view text, unsigned long max) {
    if (text.empty() || text.size() > 10) return std::nullopt;
    unsigned long v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned long>(c - '0');
    }
    if (v > max) return std::nullopt;
    return v;
}

}  // namespace

uint16_t key_slot(std::string_view key) {
    const size_t open = key.find('{');
    if (open != std::string_view::npos) {
        const size_t close = key.find('}', open + 1);
        if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
    }
    return static_cast<uint16_t>(crc16(key) & (kClusterSlots - 1));
}

std::optional<Redirect> parse_redirect(std::string_view error) {
    Redirect r;
    if (error.substr(0, 6) == "MOVED ") {
        error.remove_prefix(6);
    } else if (error.substr(0, 4) == "ASK ") {
        r.ask = true;
        error.remove_prefix(4);
    } else {
        return std::nullopt;
    }
    const size_t space = error.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    auto slot = parse_decimal(error.substr(0, space), kClusterSlots - 1);
    if (!slot) return std::nullopt;
    const std::string_view address = error.substr(space + 1);
    const size_t colon = address.rfind(':');
    if (colon == std::string_view::npos || address.find(' ') != std::string_view::npos) return std::nullopt;
    auto port = parse_decimal(address.substr(colon + 1), 65535);
    if (!port || *port == 0) return std::nullopt;
    r.slot = static_cast<uint16_t>(*slot);
    r.address = std::string(address);
    return r;
}

std::optional<std::string_view> command_key(const std::vector<std::string_view>& argv) {
    if (argv.empty() || keyless(argv[0])) return std::nullopt;
    const std::string_view name = argv[0];
    if (iequals(name, "EVAL") || iequals(name, "EVALSHA") || iequals(name, "EVAL_RO") || iequals(name, "EVALSHA_RO") ||
        iequals(name, "FCALL") || iequals(name, "FCALL_RO")) {
        if (argv.size() < 4) return std::nullopt;
        auto numkeys = parse_decimal(argv[2], 1u << 30);
        if (!numkeys || *numkeys == 0) return std::nullopt;
        return argv[3];
    }
    if (iequals(name, "XREAD") || iequals(name, "XREADGROUP")) {
        for (size_t i = 1; i + 1 < argv.size(); i++)
            if (iequals(argv[i], "STREAMS")) return argv[i + 1];
        return std::nullopt;
    }
    if (argv.size() < 2) return std::nullopt;
    return argv[1];
}

void SlotMap::assign(const std::vector<SlotRange>& ranges) {
    owner_.fill(kNone);
    addresses_.clear();
    for (const SlotRange& r : ranges) {
        if (r.first > r.last || r.last >= kClusterSlots || r.master.empty()) continue;
        const uint16_t index = intern(r.master);
        if (index == kNone) continue;
        std::fill(owner_.begin() + r.first, owner_.begin() + r.last + 1, index);
    }
}

void SlotMap::set(uint16_t slot, const std::string& address) {
    if (slot >= kClusterSlots) return;
    owner_[slot] = address.empty() ? kNone : intern(address);
}

const std::string& SlotMap::master_of(uint16_t slot) const {
    static const std::string kEmpty;
    if (slot >= kClusterSlots || owner_[slot] == kNone) return kEmpty;
    return addresses_[owner_[slot]];
}

bool SlotMap::complete() const {
    return std::none_of(owner_.begin(), owner_.end(), [](uint16_t o) { return o == kNone; });
}

bool SlotMap::operator==(const SlotMap& o) const {
    for (size_t s = 0; s < kClusterSlots; s++) {
        const bool none = owner_[s] == kNone, other_none = o.owner_[s] == kNone;
        if (none != other_none) return false;
        if (!none && addresses_[owner_[s]] != o.addresses_[o.owner_[s]]) return false;
    }
    return true;
}

uint16_t SlotMap::intern(const std::string& address) {
    auto it = std::find(addresses_.begin(), addresses_.end(), address);
    if (it != addresses_.end()) return static_cast<uint16_t>(it - addresses_.begin());
    if (addresses_.size() >= kNone) return kNone;
    addresses_.push_back(address);
    return static_cast<uint16_t>(addresses_.size() - 1);
}

std::string bus_shard_tag(size_t shard, size_t shards) {
    if (shards == 0 || shards > kClusterSlots || shard >= shards) return "";
    const size_t first = shard * kClusterSlots / shards;
    const size_t end = (shard + 1) * kClusterSlots / shards;
    const std::string prefix = "b" + std::to_string(shard) + ".";
    // CRC16 spreads these names over every slot: even a one-slot range is
    // found within a few ten thousand tries.
    for (size_t k = 0; k < 100 * kClusterSlots; k++) {
        std::string tag = prefix + std::to_string(k);
        const size_t slot = key_slot(tag);
        if (slot >= first && slot < end) return tag;
    }
    return "";
}

std::string slot_tag(uint16_t slot) {
    slot %= kClusterSlots;
    for (size_t k = 0;; ++k) {
        std::string tag = "w" + std::to_string(k);
        if (key_slot(tag) == slot) return tag;
    }
}

size_t bus_shard_of(std::string_view group_id, size_t shards) {
    if (shards == 0) return 0;
    return static_cast<size_t>(key_slot(group_id)) * shards / kClusterSlots;
}

}  // namespace pushd
