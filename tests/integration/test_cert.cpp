// Self-signed test certificates made with the openssl command.
#include "test_cert.hpp"

#include "harness.hpp"

#include <catch2/catch.hpp>

namespace pushd::test {

TestCert::TestCert() {
    std::string dir = make_temp_subdir("tls");
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
    RunResult r = run_to_exit({find_in_path("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                               "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"},
                              {}, 20000);
    INFO(r.output);
    REQUIRE(r.exit.finished);
    REQUIRE(r.exit.exit_code == 0);
}

}  // namespace pushd::test
