// pushctl health: GET /health; prints OK or the reason; exit 0 healthy, 1 not.
#include "client/http_get.hpp"
#include "context.hpp"

#include <cstdio>

namespace pushctl {

void set_health_command(CLI::App* app, Context& ctx) {
    CLI::App* cmd = app->add_subcommand("health", "print OK or why the instance is unhealthy");
    cmd->callback([&ctx] {
        ctx.run = [](Context& c) -> int {
            std::string host;
            uint16_t port = 0;
            if (!c.server_address(host, port)) return c.fail(kUsage, "--server: expected http://host:port, got '" + c.server + "'");
            pushd::HttpResponse r = pushd::http_get(host, port, "/health", 5000);
            if (r.status == 0) return c.fail(kFailed, c.server + ": unreachable: " + r.error);
            std::printf("%s\n", r.body.c_str());
            return r.status == 200 ? kOk : kFailed;
        };
    });
}

}  // namespace pushctl
