// pushctl health: GET /health; prints OK or the reason (--json: an object);
// exit 0 healthy, 1 not.
#include "context.hpp"
#include "core/json_writer.hpp"

#include <cstdio>

namespace pushctl {

void set_health_command(CLI::App* app, Context& ctx) {
    CLI::App* cmd = app->add_subcommand("health", "print OK or why the instance is unhealthy");
    cmd->add_flag("--json", ctx.json, "print {\"healthy\", \"http_status\", \"message\"}");
    cmd->callback([&ctx] {
        ctx.run = [](Context& c) -> int {
            std::optional<pushd::HttpResponse> r = c.server_get("/health");
            if (!r) return c.error->status;
            if (c.json) {
                std::string line = "{\"healthy\":";
                line += r->status == 200 ? "true" : "false";
                line += ",\"http_status\":";
                pushd::json_append_int(line, r->status);
                line += ",\"message\":";
                pushd::json_append_string(line, r->body);
                std::printf("%s}\n", line.c_str());
            } else {
                std::printf("%s\n", r->body.c_str());
            }
            return r->status == 200 ? kOk : kFailed;
        };
    });
}

}  // namespace pushctl
