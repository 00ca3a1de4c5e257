// pushctl health: GET /health; prints OK or the reason; exit 0 healthy, 1 not.
#include "context.hpp"

#include <cstdio>

namespace pushctl {

void set_health_command(CLI::App* app, Context& ctx) {
    CLI::App* cmd = app->add_subcommand("health", "print OK or why the instance is unhealthy");
    cmd->callback([&ctx] {
        ctx.run = [](Context& c) -> int {
            std::optional<pushd::HttpResponse> r = c.server_get("/health");
            if (!r) return c.error->status;
            std::printf("%s\n", r->body.c_str());
            return r->status == 200 ? kOk : kFailed;
        };
    });
}

}  // namespace pushctl
