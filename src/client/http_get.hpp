// A tiny blocking HTTP/1.1 GET client over a plain POSIX socket.
//
// For pushctl (`health`, `stats`) and the integration tests (`/health`,
// `/stats`, `/metrics` of a pushd on this machine). One request per
// connection ("Connection: close"), optionally over TLS (OpenSSL), no
// redirects, no proxies.
// Never throws: failures come back as status 0 with `error` set.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pushd {

struct HttpResponse {
    int status = 0;     // HTTP status code; 0 when no valid response was read
    std::string error;  // why status is 0 (connect refused, timeout, bad response)
    // Response headers, names lower-cased ("content-type"), values trimmed.
    // A header repeated is joined with ", ".
    std::map<std::string, std::string> headers;
    std::string body;  // de-chunked when Transfer-Encoding: chunked

    // Value of header `name` (any case), or "" when absent.
    std::string header(const std::string& name) const;
};

// The reading half of http_get, apart from the socket (so that it can be
// tested and fuzzed on bytes alone): feed it what arrives, in any split,
// until it says the response is complete or failed.
class HttpResponseReader {
public:
    enum class Status {
        incomplete,  // read more and feed() it (or finish() at the end of the stream)
        complete,    // response() is whole: by Content-Length, last chunk, or end of stream
        failed,      // response().status is 0 and response().error says why
    };

    /* Takes the next `bytes` received. Once complete or failed, the same
     * status is returned and nothing more is read. */
    Status feed(std::string_view bytes);

    /* The peer closed the connection: a response without a length ends
     * here (complete); anything cut short fails. */
    Status finish();

    /* The response read so far; whole only after complete. */
    HttpResponse& response() { return r_; }

private:
    Status check();  // decides on what has arrived so far
    Status fail(std::string why);

    HttpResponse r_;
    std::string raw_;                        // every byte received
    size_t header_end_ = std::string::npos;  // offset of the body once the head is read
    long long content_length_ = -1;          // -1: none given (or chunked)
    bool chunked_ = false;
    bool eof_ = false;
    Status status_ = Status::incomplete;
};

// Sends "GET `path` HTTP/1.1" to `host`:`port` (an IPv4 literal or a name)
// and reads the whole response. `timeout_ms` bounds the whole exchange
// (connect, send, receive). The body is read up to Content-Length, to the
// last chunk, or to the end of the connection.
HttpResponse http_get(const std::string& host, uint16_t port, const std::string& path, int timeout_ms = 5000);

struct HttpGetOptions {
    bool tls = false;  // https://
    // With tls: accept any certificate (self-signed, other name); off: the
    // system CAs must vouch for it and it must name `host`.
    bool tls_insecure = false;
    // With tls and verification on: a PEM file of CAs to trust besides the
    // system ones (e.g. a self-signed certificate itself); empty: none.
    std::string ca_file;
};

// As above, over TLS when options.tls.
HttpResponse http_get(const std::string& host, uint16_t port, const std::string& path, int timeout_ms,
                      const HttpGetOptions& options);

// Any request: `method` `path` with extra `headers` and a `body` (sent as
// application/json with its Content-Length when not empty, or for POST).
struct HttpRequest {
    std::string method = "GET";
    std::string path = "/";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

HttpResponse http_request(const std::string& host, uint16_t port, const HttpRequest& request, int timeout_ms = 5000,
                          const HttpGetOptions& options = {});

}  // namespace pushd
