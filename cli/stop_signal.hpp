// SIGINT and SIGTERM for pushctl's streaming commands (tail, listen): the
// handlers only set a flag; the command checks it between short waits and
// then stops cleanly (exit 0).
#pragma once

namespace pushctl {

/* Installs the SIGINT and SIGTERM handlers (without SA_RESTART). Call once,
 * before the command starts waiting. */
void install_stop_signals();

/* True once SIGINT or SIGTERM arrived. */
bool stop_requested();

}  // namespace pushctl
