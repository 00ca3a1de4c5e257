// Security.TLS.Cert / Security.TLS.Key checked before lws loads them, so a
// bad file is a one-line error naming the key and the file instead of an
// lws context that fails with a generic message (or an OpenSSL prompt for
// a passphrase).
#pragma once

#include "core/status.hpp"

#include "core/config.hpp"

#include <string>

namespace pushd {

// Success when the certificate file holds a PEM certificate, the key file a
// PEM private key that is not encrypted, and the two match. Otherwise one
// line, e.g. "Security.TLS.Cert: cannot read '/etc/pushd/cert.pem': No such file
// or directory". Both paths must be set (the configuration ensures it).
Status check_tls_files(const TlsConfig& tls);

}  // namespace pushd
