#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace outreach {

// How a client of the suite (the demo loaders, the soak driver, operators' tools) reaches a
// service: TLS that verifies the server against a CA bundle, optionally presenting a client
// certificate, and a bearer token sent with every call. Flags (env OUTREACH_X):
//   --tls-ca-file    CA bundle that signs the servers' certificates
//   --tls-cert-file / --tls-key-file   a client certificate (mutual TLS), optional
//   --token-file     a file holding the bearer token (re-read when it changes)
//   --plaintext      no TLS (development, loopback targets only)
struct ClientSecurity {
  bool plaintext = false;
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  std::string token_file;
  std::string token;  // used when token_file is empty (tests, a token minted in-process)
};
void RegisterClientSecuritySettings(ConfigParser& parser, ClientSecurity* settings);

// The transport credentials alone: TLS from the files, or plaintext to a loopback target only
// (INVALID_ARGUMENT otherwise). Servers use it for their outgoing channels too.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const std::string& target, const ClientSecurity& settings);

// Replicas of one service as one target: "ipv4:10.0.0.1:50051,10.0.0.2:50051" (or ipv6:, gRPC's
// address-list syntax) names every replica. ValidateServiceTarget accepts host:port or such a
// list (for --metrics-address and clients' target flags). ChannelArgumentsFor gives a list
// gRPC's round_robin (each call goes to the next ready replica; a dead one is skipped until it
// answers again) and verifies every replica's certificate against the first address's host, as
// the authority of a list is no host name; any other target gets gRPC's defaults.
absl::Status ValidateServiceTarget(const std::string& value);
grpc::ChannelArguments ChannelArgumentsFor(const std::string& target);

// A channel to `target` (with ChannelArgumentsFor(target)) with the settings above. Every call on
// it carries "authorization: Bearer <token>" when there is a token (a client interceptor adds it,
// so call sites need nothing). INVALID_ARGUMENT for plaintext to a non-loopback target or
// unreadable TLS files.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const std::string& target,
                                                           const ClientSecurity& settings);

}  // namespace outreach
