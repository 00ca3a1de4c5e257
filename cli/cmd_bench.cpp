// pushctl bench: placeholder registration until the load generator lands.
#include "context.hpp"

namespace pushctl {

void set_bench_command(CLI::App* app, Context& ctx) {
    CLI::App* cmd = app->add_subcommand("bench", "load generator (connections, fan-out, latency)");
    cmd->callback([&ctx] { ctx.run = [](Context& c) { return c.fail(kUsage, "bench: not built yet"); }; });
}

}  // namespace pushctl
