#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace outreach::security {

// Certificates and keys are files (mounted Secrets, cert-manager's layout), named by the
// settings --tls-cert-file, --tls-key-file and --tls-ca-file.
struct TlsFiles {
  std::string cert_file, key_file;   // this process's certificate chain + key (PEM)
  std::string ca_file;               // roots: verify peers' certificates
  bool require_client_cert = false;  // server side: require vs request-and-verify
};

// gRPC's own TLS credentials over a FileWatcherCertificateProvider: the files are re-read every
// `refresh` (whole seconds, at least 1) and new handshakes use what they hold, without a
// restart. The server requests a client certificate when ca_file is set and refuses one that
// does not verify against it; with require_client_cert it refuses a caller without one.
// TLS 1.2 is the lowest version offered (gRPC's own minimum; see tls.cc).
// Fails with INVALID_ARGUMENT naming the setting when a file is missing, unreadable or not PEM
// at start, or when the key does not belong to the certificate.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsFiles& files, absl::Duration refresh = absl::Seconds(10));

// Client side (publisher → metrics, demo loaders, tests, CLI): verifies the server's chain
// against ca_file and its name against the target's host; presents cert/key when both are
// given (mutual TLS). When the target is an IP the certificate does not name, set the name to
// check on the channel: grpc::ChannelArguments::SetSslTargetNameOverride(server_name).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsFiles& files, absl::Duration refresh = absl::Seconds(10));

// True for 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and "localhost": the host part of a
// host:port, "[v6]:port" or a bare host. Anything else, including "0.0.0.0", "" and "unix:",
// is false, so a caller that gates plaintext on it fails closed.
bool IsLoopbackAddress(absl::string_view host_port);

// The caller's service identity from a verified client certificate: the URI SAN
// "spiffe://<trust_domain>/<name>" → "<name>"; "" when the peer is not authenticated, has no
// such SAN, has one of another trust domain, or has more than one (SPIFFE allows one).
std::string ServiceIdentity(const grpc::AuthContext& context, absl::string_view trust_domain);

}  // namespace outreach::security
