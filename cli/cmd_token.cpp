// pushctl token: a JWT for a user, signed with the configured secret.
#include "context.hpp"
#include "core/auth.hpp"
#include "core/json_writer.hpp"

#include <cstdio>
#include <ctime>

namespace pushctl {

void set_token_command(CLI::App* app, Context& ctx) {
    CLI::App* cmd = app->add_subcommand("token", "print a signed JWT for a user");
    auto user = std::make_shared<std::string>();
    auto ttl = std::make_shared<int64_t>(0);
    cmd->add_option("--user", *user, "user id")->required();
    cmd->add_option("--ttl", *ttl, "lifetime in seconds (default Auth.AccessExpire)")
        ->check(CLI::Range(int64_t{1}, int64_t{31536000}));
    cmd->add_flag("--json", ctx.json, "print {\"token\", \"user_id\", \"expires_at\"} (Unix seconds)");
    cmd->callback([&ctx, user, ttl] {
        ctx.run = [user, ttl](Context& c) -> int {
            const pushd::Config* cfg = c.config();
            if (!cfg) return kUsage;
            const int64_t now = static_cast<int64_t>(std::time(nullptr));
            const int64_t life = *ttl > 0 ? *ttl : cfg->auth.access_expire;
            std::string token =
                pushd::sign_token(cfg->auth.access_secret, cfg->auth.user_claim, *user, now, now + life);
            if (token.empty()) return c.fail(kUsage, "--user: '" + *user + "' cannot be a user id");
            if (c.json) {
                std::string line = "{\"token\":";
                pushd::json_append_string(line, token);
                line += ",\"user_id\":";
                pushd::json_append_string(line, *user);
                line += ",\"expires_at\":";
                pushd::json_append_int(line, now + life);
                std::printf("%s}\n", line.c_str());
            } else {
                std::printf("%s\n", token.c_str());
            }
            return kOk;
        };
    });
}

}  // namespace pushctl
