// Reading a client's burst in one loop iteration.
//
// lws 4.1 reads a WebSocket connection once per POLLIN, at most the
// protocol's rx_buffer_size (pushd keeps it at 128 bytes: lws allocates it
// per connection). A client that sends 16 requests at once therefore had
// them read one per loop iteration; under load an iteration is a bus
// slice's fan-out, milliseconds long, so a publisher's sends waited in the
// socket (issue 16: most of a send's time to its ack). pushd's recv notes
// a watched connection whose read filled lws's buffer (io/ws_mask_check),
// and the loop services it again, a bounded number of times, before it
// writes and delivers: the burst is read, stored and acknowledged at once.
#pragma once

#include <cstddef>

struct lws_context;

namespace pushd {

// Extra reads of one connection per loop iteration, at most: a burst of up
// to ~64 small requests is read at once; a flood still waits its turn with
// everyone else (the poll reports it again next iteration).
inline constexpr size_t kReadAgainRounds = 64;

/* A read of watched descriptor `fd` returned as many bytes as were asked
 * for: more may be waiting. */
void read_again_note(int fd);

/* `fd` is closing (its receive callback asked lws to close it): not
 * serviced again, so lws's close is not disturbed by more reads. */
void read_again_forget(int fd);

/* Services the noted descriptors again with POLLIN through lws (which reads
 * and dispatches the next piece), repeating while reads keep filling the
 * buffer, at most `max_rounds` times each. */
void read_again_service(lws_context* context, size_t max_rounds);

}  // namespace pushd
