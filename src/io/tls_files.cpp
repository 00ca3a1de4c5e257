// PEM certificate and key checks with OpenSSL (see tls_files.hpp).
#include "io/tls_files.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace pushd {
namespace {

struct FileClose {
    void operator()(FILE* f) const { std::fclose(f); }
};
struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// Refuses to prompt for a passphrase: an encrypted key is an error.
int no_passphrase(char*, int, int, void*) { return -1; }

// The file at `path` for reading, or nullptr with *err saying why.
std::unique_ptr<FILE, FileClose> open_file(const std::string& path, const char* key, Status* err) {
    errno = 0;
    std::unique_ptr<FILE, FileClose> f(std::fopen(path.c_str(), "rb"));
    if (!f)
        *err =
            Status::fail(std::string(key) + ": cannot read '" + path + "': " + std::strerror(errno ? errno : ENOENT));
    return f;
}

}  // namespace

Status check_tls_files(const TlsConfig& tls) {
    Status err;
    auto cert_file = open_file(tls.cert, "Security.TLS.Cert", &err);
    if (!cert_file) return err;
    std::unique_ptr<X509, X509Free> cert(PEM_read_X509(cert_file.get(), nullptr, no_passphrase, nullptr));
    ERR_clear_error();
    if (!cert) return Status::fail("Security.TLS.Cert: '" + tls.cert + "' holds no PEM certificate");

    auto key_file = open_file(tls.key, "Security.TLS.Key", &err);
    if (!key_file) return err;
    std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_PrivateKey(key_file.get(), nullptr, no_passphrase, nullptr));
    ERR_clear_error();
    if (!key) return Status::fail("Security.TLS.Key: '" + tls.key + "' holds no unencrypted PEM private key");
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
        ERR_clear_error();
        return Status::fail("Security.TLS.Key: '" + tls.key + "' does not match the certificate in '" + tls.cert + "'");
    }
    return {};
}

}  // namespace pushd
