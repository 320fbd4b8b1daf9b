// SIGINT and SIGTERM end a run early instead of killing the tool, so that an
// interrupted benchmark still prints what it measured. The handler only sets
// a flag; the event loop sees it when epoll_wait returns EINTR.
#pragma once

namespace bench {

// Installs the handlers (without SA_RESTART) and ignores SIGPIPE, whose
// default action would kill the tool when a server closes a socket.
void install_stop_signals();

// True once SIGINT or SIGTERM has arrived.
bool stop_requested();

}  // namespace bench
