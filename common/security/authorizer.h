#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/security/policy.h"
#include "common/security/tenancy.h"
#include "google/protobuf/message.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/support/string_ref.h"

namespace outreach::security {

class TokenVerifier;

// The security settings every server shares (flags --x, environment OUTREACH_X):
//   --plaintext        listen without TLS; refused unless the address is loopback
//   --tls-cert-file / --tls-key-file   this process's certificate chain and key (PEM)
//   --tls-ca-file      roots that sign client certificates (and, outgoing, servers')
//   --tls-client-auth  request (a presented certificate must verify) or require
//   --jwks-file        keys that sign callers' tokens; without it no token is accepted
//   --token-issuer / --token-audience / --token-skew
//   --policy-file      the method → roles table (deploy/security/policy.json)
//   --trust-domain     services are spiffe://<trust-domain>/<name>
//   --reflection       serve gRPC server reflection (off unless asked for)
struct SecuritySettings {
  bool plaintext = false;
  std::string tls_cert_file, tls_key_file, tls_ca_file;
  std::string tls_client_auth = "request";
  std::string jwks_file;
  std::string token_issuer = "https://outreach.local/dev";
  std::string token_audience = "outreach";
  absl::Duration token_skew = absl::Seconds(30);
  std::string policy_file;  // empty: no method is allowed (a server with no policy serves nothing)
  std::string trust_domain = "outreach";
  bool reflection = false;
};
void RegisterSecuritySettings(ConfigParser& parser, SecuritySettings* settings,
                              const std::string& default_policy_file);

// Who is calling: a person (a verified token) or one of the suite's services (a verified client
// certificate). Forces and roles come from the token; a service has no roles and acts for every
// force, limited by the policy to the methods and event kinds named for it.
struct Caller {
  std::string subject;  // token `sub`, or "spiffe://<trust-domain>/<service>"
  std::string service;  // certificate identity, empty for a person
  std::vector<std::string> forces;
  std::vector<std::string> roles;
  std::string peer;  // "ipv4:127.0.0.1:40412"
  bool authenticated() const { return !subject.empty(); }
};

// Authentication and authorization for one server: the token verifier, the policy file and the
// tenancy rule. Thread-safe. The interceptor (common/security/interceptor.h) calls it for every
// call; nothing else decides who may do what.
class Authorizer {
 public:
  static absl::StatusOr<std::unique_ptr<Authorizer>> Create(const SecuritySettings& settings,
                                                            const Clock* clock);
  ~Authorizer();

  using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;
  // The caller from the `authorization: Bearer …` metadata or, without one, the client
  // certificate. UNAUTHENTICATED when there is neither or the token does not verify.
  absl::StatusOr<Caller> Authenticate(const Metadata& metadata, const grpc::AuthContext* auth,
                                      std::string peer) const;
  // Same, for a bearer token alone (the HTTP port).
  absl::StatusOr<Caller> AuthenticateToken(absl::string_view token, std::string peer) const;
  // May `caller` call `method` at all? PERMISSION_DENIED when the method is not in the policy
  // (METHOD_NOT_IN_POLICY) or none of the caller's roles / not its identity is listed
  // (ROLE_NOT_PERMITTED). On success *rule is the method's rule.
  absl::Status CheckMethod(const Caller& caller, absl::string_view method, MethodRule* rule) const;
  // Tenancy, once for every request: each force the request names must be one of the caller's
  // (FORCE_NOT_PERMITTED, whether or not the resource exists), and a service may send only its
  // own event kinds (EVENT_KIND_NOT_PERMITTED).
  absl::Status CheckScope(const Caller& caller, const RequestScope& scope) const;

  bool reflection() const { return settings_.reflection; }

 private:
  Authorizer(SecuritySettings settings, std::unique_ptr<PolicyFile> policy,
             std::unique_ptr<TokenVerifier> verifier);
  std::shared_ptr<const Policy> policy() const;

  const SecuritySettings settings_;
  std::unique_ptr<PolicyFile> policy_;       // null: no policy, every method refused
  std::unique_ptr<TokenVerifier> verifier_;  // null: no JWKS, every token refused
};

}  // namespace outreach::security
