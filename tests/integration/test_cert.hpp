// A self-signed certificate for TLS tests (pushd's Security.TLS.Cert/Key,
// pushctl --cacert), made with the openssl command.
#pragma once

#include <string>

namespace pushd::test {

// A new self-signed certificate and its key (EC P-256, valid 2 days) for
// CN=localhost, naming DNS:localhost and IP:127.0.0.1, as PEM files in a
// fresh dir of temp_dir(). The constructor REQUIREs that openssl made them.
struct TestCert {
    std::string cert, key;  // paths
    TestCert();
};

}  // namespace pushd::test
