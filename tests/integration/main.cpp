// Catch2 main for the integration tests. SIGPIPE is ignored: a test that
// writes to a socket the server already closed must see EPIPE, not die.
// (Children get SIGPIPE back to its default before exec: see process.cpp.)
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <csignal>

namespace {

const bool sigpipe_ignored = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
}();

}  // namespace
