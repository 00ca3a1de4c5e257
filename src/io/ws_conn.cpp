#include "io/ws_conn.hpp"

namespace pushd {

// Every idle connection holds one: a field that grows it past a malloc
// size class (96 bytes with the allocator's header) shows in the idle
// benchmark's bytes per connection.
static_assert(sizeof(ConnData) <= 88, "ConnData grew: move the rarely used part behind a pointer");

ConnData* conn_attach(lws* wsi) {
    auto conn = std::make_unique<ConnData>();
    conn->wsi = wsi;
    // lws holds the only pointer while the connection lives; conn_detach
    // (at LWS_CALLBACK_WSI_DESTROY) turns it back into an owner.
    lws_set_opaque_user_data(wsi, conn.get());
    return conn.release();
}

std::unique_ptr<ConnData> conn_detach(lws* wsi) {
    std::unique_ptr<ConnData> conn(conn_of(wsi));
    lws_set_opaque_user_data(wsi, nullptr);
    return conn;
}

}  // namespace pushd
