// The original service's configuration file, verbatim from seed.md: the
// unit and integration tests both check that it loads with one warning.
#pragma once

namespace pushd_test {

inline constexpr const char* kSeedYaml = R"yaml(Name: websocket-service
Host: 0.0.0.0
Port: 8889

# Chat RPC 配置
ChatRpc:
  Etcd:
    Hosts:
      - 127.0.0.1:2379
    Key: chat.rpc

# Redis 配置
Redis:
  Host: 127.0.0.1:6379
  Pass: ""
  DB: 0

# JWT 认证配置
Auth:
  AccessSecret: "k9#8G7&6F5%4D3$2S1@0P9*8O7!6N5^4M3+2L1=0"
  AccessExpire: 86400
)yaml";

}  // namespace pushd_test
