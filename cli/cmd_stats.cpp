// pushctl stats: this instance's /stats, as a table or (--json) as it is.
#include "client/http_get.hpp"
#include "context.hpp"

#include <cJSON.h>

#include <cstdio>

namespace pushctl {

void set_stats_command(CLI::App* app, Context& ctx) {
    CLI::App* cmd = app->add_subcommand("stats", "print an instance's statistics");
    cmd->add_flag("--json", ctx.json, "print the /stats JSON object");
    cmd->callback([&ctx] {
        ctx.run = [](Context& c) -> int {
            std::string host;
            uint16_t port = 0;
            if (!c.server_address(host, port)) return c.fail(kUsage, "--server: expected http://host:port, got '" + c.server + "'");
            pushd::HttpResponse r = pushd::http_get(host, port, "/stats", 5000);
            if (r.status == 0) return c.fail(kFailed, c.server + ": unreachable: " + r.error);
            if (r.status != 200) return c.fail(kFailed, c.server + ": /stats answered " + std::to_string(r.status));
            if (c.json) {
                std::printf("%s\n", r.body.c_str());
                return kOk;
            }
            cJSON* root = cJSON_Parse(r.body.c_str());
            if (!cJSON_IsObject(root)) {
                cJSON_Delete(root);
                return c.fail(kFailed, c.server + ": /stats is not a JSON object");
            }
            for (cJSON* item = root->child; item; item = item->next) {
                if (cJSON_IsNumber(item)) std::printf("%-22s %.0f\n", item->string, item->valuedouble);
            }
            cJSON_Delete(root);
            return kOk;
        };
    });
}

}  // namespace pushctl
