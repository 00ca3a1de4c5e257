#include "io/server.hpp"
#include "io/ws_conn.hpp"
#include "io/ws_write.hpp"

#include "core/cluster_slots.hpp"
#include "core/frame.hpp"
#include "core/json_writer.hpp"
#include "io/log.hpp"
#include "io/read_again.hpp"

#include <libwebsockets.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <random>

namespace pushd {

int64_t wall_ms() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

namespace {

// A random tag so session ids differ across instances and restarts.
std::string instance_tag() {
    std::random_device rd;
    char buf[16];
    snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
    return buf;
}

// The lws connection of a session (its transport is the ConnData).
lws* wsi_of(Session* s) { return static_cast<ConnData*>(s->transport)->wsi; }

// Seconds between two cluster-view publications (the entry lives
// kInstanceTtlSeconds, so two may be missed before it vanishes).
constexpr uint64_t kInstancePublishMs = 5000;

// The address others reach this instance at, for the cluster view: Host,
// or the machine's name when Host is a wildcard.
std::string public_host(const Config& config) {
    if (config.host != "0.0.0.0" && config.host != "::" && !config.host.empty()) return config.host;
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || !name[0]) return config.host;
    return name;
}

void publish_instance(Server& server) {
    if (!server.redis_commands->up() || server.draining) return;
    server.instance_published_ms = uv_now(server.loop);
    const std::string stats = render_stats_json(server_gauges(server), server.counters, server.hub->counters());
    JsonWriter w(stats.size() + 128);
    w.begin_object()
        .field_str("name", server.config.name)
        .field_str("host", public_host(server.config))
        .field_int("port", server.config.port)
        .end_object();
    std::string json = w.take();
    // {"name":..,"host":..,"port":N} + {"online_users":...} -> one object.
    if (stats.size() > 2) {
        json.pop_back();
        json += ',';
        json.append(stats, 1, std::string::npos);
    }
    server.redis_store->publish_instance(server.instance_key, json);
}

}  // namespace

namespace {

// What the hub asks of the transport: wake a connection's writer, close it
// after its queue, stop or resume reading from it.
TransportOps transport_ops(Server& server) {
    TransportOps transport;
    transport.wake = [&server](Session* s) { ws_wake(server, s); };
    transport.close = [](Session* s, uint16_t, const char*) {
        // The writer flushes what is queued, then sends the close frame
        // (session->close_code). A peer that never lets us write is cut
        // after 5 seconds.
        lws* wsi = wsi_of(s);
        lws_callback_on_writable(wsi);
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 5);
    };
    transport.now_ms = wall_ms;
    transport.pause_reading = [](Session* s, bool paused) { lws_rx_flow_control(wsi_of(s), paused ? 0 : 1); };
    return transport;
}

// Redis.Mode sentinel: the data links connect to the master the sentinels
// name, check ROLE, and follow a failover (retarget); a link that drops
// makes the sentinel be asked at once.
void init_sentinel(Server& server, RedisLinkOptions& commands, RedisLinkOptions& bus) {
    server.redis_sentinel = std::make_unique<RedisSentinel>(server.loop, server.config.redis.sentinels,
                                                            server.config.redis.master_name, &server.counters.redis);
    for (RedisLinkOptions* o : {&commands, &bus}) {
        o->resolve = [&server](std::string* host, int* port) { return server.redis_sentinel->master(host, port); };
        o->require_master = true;
    }
    server.redis_sentinel->on_master_changed = [&server] {
        server.redis_commands_link->retarget();
        for (auto& l : server.redis_bus_links) l->retarget();
    };
}

// Redis.Mode cluster: the router (one link per master) for commands, and
// one bus link per shard plus one for notify, each connected to the master
// of its stream's slot and retargeted when the slot map changes.
void create_cluster(Server& server, RedisLinkOptions commands, RedisLinkOptions bus) {
    const Config& cfg = server.config;
    commands.require_master = true;
    server.redis_cluster =
        std::make_unique<RedisCluster>(server.loop, commands, cfg.redis.nodes, &server.counters.redis);
    const RedisKeys keys = redis_keys(cfg.redis);
    for (size_t i = 0; i <= keys.bus_shards(); ++i) {
        RedisLinkOptions o = bus;
        o.require_master = true;
        o.unresolved_reason = "no master known yet (reading the slot map)";
        const uint16_t slot = key_slot(i < keys.bus_shards() ? keys.bus_shard(i) : keys.notify());
        o.resolve = [&server, slot](std::string* host, int* port) {
            auto hp = parse_host_port(server.redis_cluster->master_of(slot));
            if (!hp) return false;
            *host = hp->host;
            *port = hp->port;
            return true;
        };
        server.redis_bus_links.push_back(std::make_unique<RedisLink>(server.loop, o, &server.counters.redis));
    }
    server.redis_cluster->on_map_changed = [&server] {
        server.counters.redis.failovers = server.redis_cluster->map_changes();
        for (auto& l : server.redis_bus_links) l->retarget();
    };
    server.redis_commands = std::make_unique<RedisCommands>(server.redis_cluster.get());
}

// The Redis links (commands, bus; in sentinel mode also who the master
// is, in cluster mode the router) and the store on the commands.
void create_redis(Server& server) {
    const Config& cfg = server.config;
    RedisLinkOptions base;
    if (auto hp = parse_host_port(cfg.redis.host)) {  // validated with the configuration
        base.host = hp->host;
        base.port = hp->port;
    }
    base.pass = cfg.redis.pass;
    base.db = cfg.redis.db;
    RedisLinkOptions commands = base;
    commands.id = RedisLinkId::commands;
    commands.ping_interval_ms = 250;  // a hung Redis shows on /health within ~1.5 s
    RedisLinkOptions bus = base;
    bus.id = RedisLinkId::bus;
    bus.max_in_flight = 16;
    if (cfg.redis.mode == "cluster") {
        create_cluster(server, commands, bus);
    } else {
        if (cfg.redis.mode == "sentinel") init_sentinel(server, commands, bus);
        server.redis_commands_link = std::make_unique<RedisLink>(server.loop, commands, &server.counters.redis);
        server.redis_bus_links.push_back(std::make_unique<RedisLink>(server.loop, bus, &server.counters.redis));
        server.redis_commands = std::make_unique<RedisCommands>(server.redis_commands_link.get());
    }
    server.redis_store = std::make_unique<RedisStore>(&server.config, server.redis_commands.get());
}

// The store's operations as the hub uses them: an inbox replay is read
// after this instance's queued inbox writes for that user
// (RedisBus::after_inbox_writes), so there is no gap between the replay and
// the notifications this instance delivered live.
StoreOps hub_store_ops(Server& server) {
    StoreOps store_ops = server.redis_store->ops();
    store_ops.replay_inbox = [&server, replay = store_ops.replay_inbox](const std::string& user,
                                                                        const std::string& since, size_t limit,
                                                                        std::function<void(InboxResult)> done) {
        server.redis_bus->after_inbox_writes(
            user, [replay, user, since, limit, done = std::move(done)] { replay(user, since, limit, done); });
    };
    return store_ops;
}

// A hold shorter than this is not worth a timer (they count milliseconds):
// the entries go at once.
constexpr int64_t kMinTimerHoldUs = 500;

void run_bus(Server& s);

// Tells the bus how busy the loop was since the last delivery: the share of
// the time it was not waiting in the poll (UV_METRICS_IDLE_TIME).
void note_loop_busy(Server& s, uint64_t now_ns) {
    const uint64_t idle = uv_metrics_idle_time(s.loop);
    const uint64_t wall = now_ns - s.bus_sample_ns;
    if (s.bus_sample_ns != 0 && wall > 0 && idle >= s.bus_sample_idle_ns) {
        const double idle_share = static_cast<double>(idle - s.bus_sample_idle_ns) / static_cast<double>(wall);
        s.redis_bus->note_loop_busy(1.0 - idle_share);
    }
    s.bus_sample_ns = now_ns;
    s.bus_sample_idle_ns = idle;
}

// Writes the command links' queued commands now (RedisLink::flush). Not
// the bus links': an XREAD written before a slice is answered as soon as
// one entry is stored, so reads would carry one entry each instead of
// everything stored while the slice ran.
void flush_redis_commands(Server& s) {
    if (s.redis_commands_link) s.redis_commands_link->flush();
    if (s.redis_cluster)
        for (RedisLink* link : s.redis_cluster->links()) link->flush();
}

// Delivers the bus's next slice and flushes its writes before the next
// poll; tells the bus how long the two took (its coalescing policy's
// measure of load). Keeps the check and idle handles going while entries
// are left.
void deliver_bus_slice(Server& s) {
    uv_timer_stop(&s.bus_hold_timer);
    const uint64_t t0 = uv_hrtime();
    note_loop_busy(s, t0);
    // What the poll phase produced goes out before the slice, not after it
    // (issue 16): the sends read just now reach Redis, which works on them
    // meanwhile, and their acks reach their senders. A slice to 1000
    // connections takes milliseconds; at saturation waiting for it twice
    // per round trip was most of a send's time to its ack.
    read_again_service(s.lws, kReadAgainRounds);
    flush_redis_commands(s);
    ws_flush_pending(s);
    const size_t entries = s.redis_bus->deliver_slice();
    ws_flush_pending(s);
    s.redis_bus->note_delivered(entries, static_cast<int64_t>((uv_hrtime() - t0) / 1000));
    if (s.redis_bus->has_pending()) {
        uv_idle_start(&s.bus_idle, [](uv_idle_t*) {});
        uv_check_start(&s.bus_check, [](uv_check_t* h) { run_bus(*static_cast<Server*>(h->data)); });
    } else {
        uv_idle_stop(&s.bus_idle);
        uv_check_stop(&s.bus_check);
    }
}

// After the sockets were serviced: the pending bus entries go now, or wait
// (the loop blocks meanwhile) for the hold the bus's policy asks for, on a
// millisecond timer that delivers whatever is pending when it fires.
void run_bus(Server& s) {
    const int64_t hold = s.redis_bus->hold_us(static_cast<int64_t>(uv_hrtime() / 1000));
    if (hold < kMinTimerHoldUs) {
        deliver_bus_slice(s);
        return;
    }
    uv_idle_stop(&s.bus_idle);
    uv_check_stop(&s.bus_check);
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(&s.bus_hold_timer))) return;  // already holding
    s.counters.redis.bus_holds++;
    uv_update_time(s.loop);  // the timer counts from now, not from the iteration's start
    const auto ms = static_cast<uint64_t>((hold + 500) / 1000);
    uv_timer_start(
        &s.bus_hold_timer, [](uv_timer_t* t) { deliver_bus_slice(*static_cast<Server*>(t->data)); }, ms, 0);
}

// The bus delivers in slices: each runs after the sockets were serviced
// (a check handle, with an idle one keeping the loop from blocking while
// slices are left), and its writes go out before the next poll. Under load
// the slice may wait a little for more entries (run_bus).
void defer_bus_slices(Server& server) {
    uv_loop_configure(server.loop, UV_METRICS_IDLE_TIME);  // for note_loop_busy
    uv_check_init(server.loop, &server.bus_check);
    uv_idle_init(server.loop, &server.bus_idle);
    uv_timer_init(server.loop, &server.bus_hold_timer);
    server.bus_check.data = &server;
    server.bus_hold_timer.data = &server;
    server.redis_bus->set_defer([&server] {
        if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&server.bus_check))) return;
        uv_idle_start(&server.bus_idle, [](uv_idle_t*) {});
        uv_check_start(&server.bus_check, [](uv_check_t* h) { run_bus(*static_cast<Server*>(h->data)); });
    });
}

}  // namespace

namespace {

// The commands reach Redis (again): what waited for it goes.
void commands_up(Server& server) {
    server.redis_commands_up = true;
    server.redis_bus->on_commands_up();
    server.redis_store->on_link_up();
    // Revocations recorded before this instance's bus start come from
    // Redis; later ones from the bus (applying one twice is harmless).
    server.redis_store->load_revocations(wall_ms(), [&server](auto revocations) {
        for (const auto& [user, r] : revocations) server.hub->add_revocation(user, r, wall_ms());
    });
    server.redis_presence->on_link_up();
    publish_instance(server);
    server.hub->on_storage_up();  // inbox replays and AutoJoins that waited
}

void commands_down(Server& server) {
    server.redis_commands_up = false;
    server.redis_store->on_link_down();
    if (server.redis_sentinel) server.redis_sentinel->ask_now();
}

// Cluster mode: the commands are up once every slot has a master whose
// link is up; a node link coming up gets the scripts first.
void watch_cluster(Server& server) {
    server.redis_cluster->on_node_up = [&server](RedisLink& link) {
        server.redis_store->load_scripts(link);
        server.redis_presence->load_scripts(link);
        if (!server.redis_commands_up && server.redis_cluster->up()) commands_up(server);
    };
    server.redis_cluster->on_link_retired = [&server](RedisLink& link) { server.redis_store->forget_link(link); };
}

}  // namespace

void server_init_logic(Server& server) {
    create_redis(server);
    server.hub =
        std::make_unique<Hub>(&server.config, transport_ops(server), hub_store_ops(server), instance_tag(), LWS_PRE);
    std::vector<RedisLink*> bus_links;
    for (auto& l : server.redis_bus_links) bus_links.push_back(l.get());
    server.redis_bus =
        std::make_unique<RedisBus>(&server.config, bus_links, server.redis_commands.get(), server.redis_store.get(),
                                   server.hub.get(), &server.counters.redis, wall_ms);
    server.redis_presence = std::make_unique<RedisPresence>(server.loop, &server.config, server.redis_commands.get(),
                                                            server.redis_store.get(), &server.hub->presence());
    server.redis_presence->start();
    server.redis_bus->set_coalesce_mode(server.bus_coalesce);
    for (size_t i = 0; i < server.redis_bus_links.size(); ++i)
        server.redis_bus_links[i]->on_up = [&server, i] { server.redis_bus->on_bus_up(i); };
    if (server.redis_cluster) {
        watch_cluster(server);
        server.redis_bus->on_redirect = [&server] { server.redis_cluster->refresh(); };
    } else {
        server.redis_commands_link->on_up = [&server] { commands_up(server); };
        server.redis_commands_link->on_down = [&server] { commands_down(server); };
    }
    defer_bus_slices(server);
    const Config& cfg = server.config;
    server.instance_key = server.redis_store->keys().instance(cfg.name, public_host(cfg), cfg.port);
    ws_write_init(server, server.io_uring_allowed);
}

void server_start_redis(Server& server) {
    if (server.redis_sentinel) server.redis_sentinel->start();
    if (server.redis_cluster) server.redis_cluster->start();
    if (server.redis_commands_link) server.redis_commands_link->start();
    for (auto& l : server.redis_bus_links) l->start();
}

void server_redis_tick(Server& server) {
    if (server.redis_cluster && server.redis_cluster->up() != server.redis_commands_up) {
        if (server.redis_commands_up)
            commands_down(server);
        else
            commands_up(server);
    }
    server.redis_bus->tick();
    server.redis_presence->tick();
    server.redis_store->poll_replicas();
    if (server.instance_published_ms == 0 || uv_now(server.loop) - server.instance_published_ms >= kInstancePublishMs)
        publish_instance(server);
}

void server_redis_draining(Server& server) {
    if (server.redis_commands && server.redis_commands->up()) server.redis_store->forget_instance(server.instance_key);
    if (server.redis_presence) server.redis_presence->leave([&server] { server_connection_gone(server); });
}

void server_stop_redis(Server& server) {
    for (uv_handle_t* h :
         {reinterpret_cast<uv_handle_t*>(&server.bus_check), reinterpret_cast<uv_handle_t*>(&server.bus_idle),
          reinterpret_cast<uv_handle_t*>(&server.bus_hold_timer)}) {
        if (h->loop && !uv_is_closing(h)) uv_close(h, nullptr);
    }
    ws_write_stop(server);
    if (server.redis_presence) server.redis_presence->stop();
    for (auto& l : server.redis_bus_links) l->stop();
    if (server.redis_commands_link) server.redis_commands_link->stop();
    if (server.redis_cluster) server.redis_cluster->stop();
    if (server.redis_sentinel) server.redis_sentinel->stop();
}

Status server_redis_status(const Server& server) {
    if (server.redis_commands && !server.redis_commands->up())
        return Status::fail("redis: " + server.redis_commands->reason());
    for (const auto& l : server.redis_bus_links) {
        if (!l->up()) return Status::fail("redis bus: " + l->reason());
    }
    if (std::string why = server.redis_store ? server.redis_store->replica_shortage() : ""; !why.empty())
        return Status::fail(why);
    return {};
}

void server_stop(Server& server) {
    if (server.stopped) return;
    server.stopped = true;
    uv_stop(server.loop);
}

size_t server_apply_security(Server& server) {
    server.access = access_policy(server.config.security);
    if (!server.hub || server.access.blacklist.empty()) return 0;
    size_t closed = 0;
    server.hub->for_each_session([&](Session* s) {
        const auto* conn = static_cast<const ConnData*>(s->transport);
        if (s->closing || !conn || !cidr_list_contains(server.access.blacklist, conn->client)) return;
        LOG_INFO("closing connection %llu from %s: address now blacklisted", static_cast<unsigned long long>(s->id),
                 ip_to_string(conn->client).c_str());
        server.counters.blocked_closes++;
        server.hub->close_session(s, kCloseBlocked, "address blocked");
        closed++;
    });
    return closed;
}

void server_connection_gone(Server& server) {
    // The presence leave is short (bounded by the command timeout) and
    // spares other instances' users a wrong "online" until the reaper.
    const bool leaving = server.redis_presence && server.redis_presence->leaving();
    if (server.draining && server.ws_open == 0 && !leaving) server_stop(server);
}

ServerGauges server_gauges(const Server& server) {
    ServerGauges g;
    g.connections = server.hub->session_count();
    g.online_users = server.hub->user_count();
    g.groups = server.hub->group_count();
    g.queued_bytes = server.hub->queued_bytes();
    const FramePoolLevel frames = frame_pool_level();
    g.frames_live = frames.frames;
    g.frame_bytes_live = frames.bytes;
    g.uptime_seconds = static_cast<double>(uv_now(server.loop) - server.start_ms) / 1000.0;
    g.draining = server.draining;
    if (server.redis_commands) g.redis_up[static_cast<size_t>(RedisLinkId::commands)] = server.redis_commands->up();
    g.redis_up[static_cast<size_t>(RedisLinkId::bus)] = !server.redis_bus_links.empty();
    for (const auto& l : server.redis_bus_links) g.redis_up[static_cast<size_t>(RedisLinkId::bus)] &= l->up();
    if (server.redis_cluster) {
        g.cluster = true;
        g.cluster_moved = server.redis_cluster->moved();
        g.cluster_asks = server.redis_cluster->asks();
        for (const std::string& m : server.redis_cluster->masters_in_use())
            g.redis_master += (g.redis_master.empty() ? "" : ",") + m;
    }
    if (server.redis_sentinel) {
        const size_t sentinel = static_cast<size_t>(RedisLinkId::sentinel);
        g.redis_used[sentinel] = true;
        g.redis_up[sentinel] = server.redis_sentinel->up();
        g.redis_master = server.redis_sentinel->master_text();
    }
    if (server.redis_bus) {
        g.bus_lag_ms = server.redis_bus->lag_ms();
        g.inbox_queue = server.redis_bus->inbox_queue();
    }
    if (server.redis_store && server.config.redis.wait_replicas > 0) {
        g.wait_used = true;
        g.replicas_online = server.redis_store->replicas_online();
        std::vector<const WaitBatch*> all = server.redis_store->waits();
        for (const WaitBatch* b : server.redis_bus->waits()) all.push_back(b);
        for (const WaitBatch* b : all) {
            g.waits += b->waits();
            g.waits_unconfirmed += b->unconfirmed();
        }
    }
    return g;
}

}  // namespace pushd
