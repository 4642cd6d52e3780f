#include "common/security/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

// TLS versions: gRPC 1.51's C++ options have no set_min_tls_version; its grpc_tls_version enum
// knows only TLS1_2 and TLS1_3, and the TLS credentials' minimum defaults to TLS1_2, so a TLS 1.0
// or 1.1 client is refused at the handshake (tests/service/security_tls_test.cc proves it).

namespace outreach::security {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

constexpr char kCertSetting[] = "--tls-cert-file";
constexpr char kKeySetting[] = "--tls-key-file";
constexpr char kCaSetting[] = "--tls-ca-file";

absl::Status Problem(absl::string_view setting, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(setting, ": ", problem));
}

absl::StatusOr<BioPtr> Open(absl::string_view setting, const std::string& path) {
  if (path.empty()) return Problem(setting, "not set");
  BioPtr bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (bio == nullptr) {
    ERR_clear_error();
    return Problem(setting, absl::StrCat("cannot read ", path));
  }
  return bio;
}

// The certificates of a PEM file, in order; an error when it holds none.
absl::StatusOr<std::vector<X509Ptr>> ReadCertificates(absl::string_view setting,
                                                      const std::string& path) {
  auto bio = Open(setting, path);
  if (!bio.ok()) return bio.status();
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert, &X509_free);
  }
  ERR_clear_error();  // the read that ends the loop leaves "no start line" behind
  if (certs.empty()) return Problem(setting, absl::StrCat(path, " holds no PEM certificate"));
  return certs;
}

absl::StatusOr<KeyPtr> ReadKey(const std::string& path) {
  auto bio = Open(kKeySetting, path);
  if (!bio.ok()) return bio.status();
  KeyPtr key(PEM_read_bio_PrivateKey(bio->get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  ERR_clear_error();
  if (key == nullptr) {
    return Problem(kKeySetting, absl::StrCat(path, " holds no unencrypted PEM private key"));
  }
  return key;
}

// The process's own certificate chain and key: both readable PEM, and the key the leaf's.
// gRPC's watcher only logs a bad file, so a typo would otherwise surface as failed handshakes.
absl::Status CheckIdentity(const TlsFiles& files) {
  auto certs = ReadCertificates(kCertSetting, files.cert_file);
  if (!certs.ok()) return certs.status();
  auto key = ReadKey(files.key_file);
  if (!key.ok()) return key.status();
  if (X509_check_private_key(certs->front().get(), key->get()) != 1) {
    ERR_clear_error();
    return Problem(
        kKeySetting,
        absl::StrCat(files.key_file, " is not the key of the certificate in ", files.cert_file));
  }
  return absl::OkStatus();
}

unsigned int RefreshSeconds(absl::Duration refresh) {
  return static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(refresh)));
}

// The host of "host:port", "[v6]:port" or a bare host.
absl::string_view HostOf(absl::string_view host_port) {
  if (absl::ConsumePrefix(&host_port, "[")) {
    return host_port.substr(0, host_port.find(']'));
  }
  if (std::count(host_port.begin(), host_port.end(), ':') > 1) return host_port;  // bare v6
  return host_port.substr(0, host_port.find(':'));
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsFiles& files,
                                                                           absl::Duration refresh) {
  if (absl::Status s = CheckIdentity(files); !s.ok()) return s;
  if (!files.ca_file.empty()) {
    if (auto roots = ReadCertificates(kCaSetting, files.ca_file); !roots.ok()) {
      return roots.status();
    }
  } else if (files.require_client_cert) {
    return Problem(kCaSetting,
                   "required to verify client certificates (--tls-client-auth=require)");
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.ca_file, RefreshSeconds(refresh));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (files.ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    // "request" still verifies a certificate that is presented: a caller without one is
    // anonymous (a token must then speak for it), never one with a certificate we cannot trust.
    options.set_cert_request_type(files.require_client_cert
                                      ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                      : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsFiles& files, absl::Duration refresh) {
  if (auto roots = ReadCertificates(kCaSetting, files.ca_file); !roots.ok()) {
    return roots.status();
  }
  const bool identity = !files.cert_file.empty() || !files.key_file.empty();
  if (identity) {
    if (absl::Status s = CheckIdentity(files); !s.ok()) return s;
  }
  auto provider = identity
                      ? std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
                            files.key_file, files.cert_file, files.ca_file, RefreshSeconds(refresh))
                      : std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
                            files.ca_file, RefreshSeconds(refresh));
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  if (identity) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  // Said explicitly: the chain alone would accept any certificate our CA signed, whatever
  // service it names.
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

bool IsLoopbackAddress(absl::string_view host_port) {
  const std::string host(HostOf(host_port));
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

std::string ServiceIdentity(const grpc::AuthContext& context, absl::string_view trust_domain) {
  if (!context.IsPeerAuthenticated()) return "";
  const std::string prefix = absl::StrCat("spiffe://", trust_domain, "/");
  std::string found;
  int spiffe_ids = 0;
  // gRPC 1.51 lists every URI SAN as "peer_uri" (and a lone SPIFFE one again as
  // "peer_spiffe_id"); security_tls_test checks this on a real handshake.
  for (const grpc::string_ref& value : context.FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
    absl::string_view uri(value.data(), value.size());
    if (!absl::StartsWithIgnoreCase(uri, "spiffe://")) continue;
    ++spiffe_ids;
    if (absl::ConsumePrefix(&uri, prefix) && !uri.empty() &&
        uri.find_first_of("/?#") == absl::string_view::npos) {
      found = std::string(uri);
    }
  }
  return spiffe_ids == 1 ? found : "";
}

}  // namespace outreach::security
