// libFuzzer target: client/http_get's response reader (HttpResponseReader),
// which pushctl health/stats and the integration tests use to read what a
// server answers: the status line, headers, Content-Length and chunked
// bodies.
//
// Input: byte 0 picks the size of the pieces for a second pass; the rest
// is the response bytes, followed by the end of the stream.
//
// Invariants checked besides the sanitizers: the outcome (status, error,
// headers, body) does not depend on how the bytes were split; a complete
// response has a status of 100..999 and a body no longer than the input;
// a failed one has status 0 and says why.
#include "client/http_get.hpp"
#include "fuzz_util.hpp"

using namespace pushd;

namespace {

struct Outcome {
    HttpResponseReader::Status status;
    HttpResponse response;
};

Outcome run(std::string_view bytes, size_t step) {
    HttpResponseReader reader;
    HttpResponseReader::Status st = HttpResponseReader::Status::incomplete;
    for (size_t at = 0; at < bytes.size() && st == HttpResponseReader::Status::incomplete; at += step)
        st = reader.feed(bytes.substr(at, step));
    if (st == HttpResponseReader::Status::incomplete) st = reader.finish();
    // Calls after the end change nothing.
    FUZZ_CHECK(reader.feed("x") == st && reader.finish() == st);
    return {st, reader.response()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const size_t step = data[0] % 64 + 1;
    std::string_view bytes = fuzz::as_text(data + 1, size - 1);

    Outcome whole = run(bytes, bytes.empty() ? 1 : bytes.size());
    Outcome pieces = run(bytes, step);
    FUZZ_CHECK(whole.status != HttpResponseReader::Status::incomplete);
    FUZZ_CHECK(whole.status == pieces.status);
    FUZZ_CHECK(whole.response.status == pieces.response.status);
    FUZZ_CHECK(whole.response.error == pieces.response.error);
    FUZZ_CHECK(whole.response.headers == pieces.response.headers);
    FUZZ_CHECK(whole.response.body == pieces.response.body);
    if (whole.status == HttpResponseReader::Status::complete) {
        FUZZ_CHECK(whole.response.status >= 100 && whole.response.status <= 999);
        FUZZ_CHECK(whole.response.body.size() <= bytes.size());
        FUZZ_CHECK(whole.response.error.empty());
    } else {
        FUZZ_CHECK(whole.response.status == 0 && !whole.response.error.empty());
    }
    return 0;
}
