// One raw client connection's protocol (see raw_ws_conn.hpp).
#include "client/raw_ws_conn.hpp"

namespace pushd {
namespace {

// The context of one feed(): the connection and the caller's sink.
struct FeedCtx {
    ws::FrameParser* parser;
    MessageInflater* inflater;
    std::string* inflated;
    size_t max_message_bytes;
    const RawWsSink* sink;
    bool corrupt = false;
};

void on_frame_message(void* p, ws::Opcode op, std::string_view payload) {
    auto* f = static_cast<FeedCtx*>(p);
    const bool compressed = f->parser->message_compressed();
    if (compressed) {
        if (!f->inflater || !f->inflater->inflate(payload, f->max_message_bytes, *f->inflated)) {
            f->corrupt = true;
            return;
        }
        payload = *f->inflated;
    }
    if (f->sink->on_message) f->sink->on_message(f->sink->ctx, op, payload, compressed);
}

void on_frame_control(void* p, ws::Opcode op, std::string_view payload) {
    auto* f = static_cast<FeedCtx*>(p);
    if (op == ws::Opcode::ping && f->sink->on_ping) f->sink->on_ping(f->sink->ctx, payload);
}

}  // namespace

std::string RawWsConn::begin(std::string_view host, std::string_view path, std::string_view nonce16,
                             std::string_view extensions) {
    key_ = ws::make_websocket_key(nonce16);
    head_.clear();
    offered_ = !extensions.empty();
    parser_ = ws::FrameParser(max_message_bytes_);
    inflater_.reset();
    corrupt_ = false;
    return ws::upgrade_request(host, path, key_, extensions);
}

ws::UpgradeCheck RawWsConn::on_upgrade_bytes(std::string_view data, std::string& rest) {
    head_.append(data);
    ws::UpgradeCheck chk = ws::check_upgrade_response(head_, key_, offered_);
    if (chk.status != ws::UpgradeStatus::ok) return chk;
    rest = head_.substr(chk.header_bytes);
    release_handshake();
    parser_.set_allow_rsv1(chk.deflate);
    if (chk.deflate) inflater_ = std::make_unique<MessageInflater>();
    return chk;
}

bool RawWsConn::append_text(std::string& out, std::string_view payload, uint32_t mask, bool compress) const {
    if (!compress || !deflate()) {
        ws::append_client_frame(out, ws::Opcode::text, payload, mask);
        return true;
    }
    std::string z;
    if (!deflate_message(payload, z)) return false;
    ws::append_client_frame(out, ws::Opcode::text, z, mask, true, true);
    return true;
}

ws::FeedStatus RawWsConn::feed(std::string_view data, const RawWsSink& sink) {
    if (corrupt_) return ws::FeedStatus::error;
    FeedCtx f{&parser_, inflater_.get(), &inflated_, max_message_bytes_, &sink};
    ws::FrameSink fs;
    fs.ctx = &f;
    fs.on_message = on_frame_message;
    fs.on_control = on_frame_control;
    const ws::FeedStatus st = parser_.feed(data, fs);
    if (f.corrupt) {
        corrupt_ = true;
        return ws::FeedStatus::error;
    }
    return st;
}

const char* RawWsConn::error_text() const {
    return corrupt_ ? "corrupt compressed message" : ws::parse_error_text(parser_.error());
}

void RawWsConn::release_handshake() {
    key_.clear();
    key_.shrink_to_fit();
    head_.clear();
    head_.shrink_to_fit();
}

}  // namespace pushd
