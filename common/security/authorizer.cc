#include "common/security/authorizer.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/security/jwt.h"
#include "common/security/tls.h"

namespace outreach::security {
namespace {

// How often the policy file is checked for a change.
constexpr absl::Duration kPolicyCheck = absl::Seconds(2);

bool Contains(const std::vector<std::string>& values, absl::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

absl::Status ValidateClientAuth(const std::string& value) {
  if (value == "request" || value == "require") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("\"", value, "\" is not request or require"));
}

}  // namespace

void RegisterSecuritySettings(ConfigParser& parser, SecuritySettings* s,
                              const std::string& default_policy_file) {
  parser.Bool("plaintext", &s->plaintext, false,
              "listen and connect without TLS (development only; refused off loopback)");
  parser.String("tls-cert-file", &s->tls_cert_file, std::string(),
                "this process's certificate chain (PEM), re-read when it changes");
  parser.String("tls-key-file", &s->tls_key_file, std::string(),
                "this process's private key (PEM), re-read when it changes");
  parser.String("tls-ca-file", &s->tls_ca_file, std::string(),
                "CA bundle (PEM) that signs client certificates and the servers this one calls");
  parser.String("tls-client-auth", &s->tls_client_auth, std::string("request"),
                "request (a presented client certificate must verify) or require",
                ValidateClientAuth);
  parser.String("jwks-file", &s->jwks_file, std::string(),
                "JWKS (RFC 7517) with the keys that sign callers' tokens; none: no token accepted");
  parser.String("token-issuer", &s->token_issuer, std::string("https://outreach.local/dev"),
                "the `iss` every token must carry");
  parser.String("token-audience", &s->token_audience, std::string("outreach"),
                "the `aud` every token must name");
  parser.Duration("token-skew", &s->token_skew, absl::Seconds(30), absl::ZeroDuration(),
                  absl::Minutes(10), "clock skew allowed on a token's exp and nbf");
  parser.String("policy-file", &s->policy_file, default_policy_file,
                "the authorization policy (JSON: method → roles), re-read when it changes",
                ValidateNotEmpty);
  parser.String("trust-domain", &s->trust_domain, std::string("outreach"),
                "service certificates carry spiffe://<trust-domain>/<service>", ValidateNotEmpty);
  parser.Bool("reflection", &s->reflection, false,
              "serve gRPC server reflection (for development tools)");
}

Authorizer::Authorizer(SecuritySettings settings, std::unique_ptr<PolicyFile> policy,
                       std::unique_ptr<TokenVerifier> verifier)
    : settings_(std::move(settings)), policy_(std::move(policy)), verifier_(std::move(verifier)) {}

Authorizer::~Authorizer() = default;

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Create(const SecuritySettings& settings,
                                                               const Clock* clock) {
  std::unique_ptr<PolicyFile> policy;
  if (!settings.policy_file.empty()) {
    auto opened = PolicyFile::Open(settings.policy_file, kPolicyCheck);
    if (!opened.ok()) return opened.status();
    policy = std::move(*opened);
  }
  std::unique_ptr<TokenVerifier> verifier;
  if (!settings.jwks_file.empty()) {
    VerifierOptions options;
    options.jwks_path = settings.jwks_file;
    options.issuer = settings.token_issuer;
    options.audience = settings.token_audience;
    options.skew = settings.token_skew;
    auto created = TokenVerifier::Create(options, clock);
    if (!created.ok()) return created.status();
    verifier = std::move(*created);
  }
  return std::unique_ptr<Authorizer>(
      new Authorizer(settings, std::move(policy), std::move(verifier)));
}

std::shared_ptr<const Policy> Authorizer::policy() const {
  return policy_ == nullptr ? nullptr : policy_->Current();
}

absl::StatusOr<Caller> Authorizer::AuthenticateToken(absl::string_view token,
                                                     std::string peer) const {
  if (verifier_ == nullptr) {
    return Unauthenticated("TOKEN_NOT_ACCEPTED", "this server accepts no bearer tokens");
  }
  auto claims = verifier_->Verify(token);
  if (!claims.ok()) return claims.status();
  Caller caller;
  caller.subject = std::move(claims->subject);
  caller.forces = std::move(claims->forces);
  caller.roles = std::move(claims->roles);
  caller.peer = std::move(peer);
  if (caller.subject.empty()) return Unauthenticated("TOKEN_MALFORMED", "the token has no subject");
  return caller;
}

absl::StatusOr<Caller> Authorizer::Authenticate(const Metadata& metadata,
                                                const grpc::AuthContext* auth,
                                                std::string peer) const {
  auto it = metadata.find("authorization");
  if (it != metadata.end()) {
    absl::string_view value(it->second.data(), it->second.size());
    if (!absl::ConsumePrefix(&value, "Bearer ") && !absl::ConsumePrefix(&value, "bearer ")) {
      return Unauthenticated("CREDENTIALS_MALFORMED",
                             "the authorization metadata must be \"Bearer <token>\"");
    }
    return AuthenticateToken(absl::StripAsciiWhitespace(value), std::move(peer));
  }
  if (auth != nullptr) {
    std::string service = ServiceIdentity(*auth, settings_.trust_domain);
    if (!service.empty()) {
      Caller caller;
      caller.subject = absl::StrCat("spiffe://", settings_.trust_domain, "/", service);
      caller.service = std::move(service);
      caller.peer = std::move(peer);
      return caller;
    }
  }
  return Unauthenticated("CREDENTIALS_MISSING",
                         "send \"authorization: Bearer <token>\" (or a service certificate)");
}

absl::Status Authorizer::CheckMethod(const Caller& caller, absl::string_view method,
                                     MethodRule* rule) const {
  auto current = policy();
  const MethodRule* found = current == nullptr ? nullptr : current->Find(method);
  if (found == nullptr) {
    return PermissionDenied("METHOD_NOT_IN_POLICY",
                            absl::StrCat(method, " is not in the authorization policy"));
  }
  const bool allowed =
      caller.service.empty()
          ? std::any_of(caller.roles.begin(), caller.roles.end(),
                        [&](const std::string& role) { return found->roles.contains(role); })
          : found->services.contains(caller.service);
  if (!allowed) {
    return PermissionDenied(
        "ROLE_NOT_PERMITTED",
        caller.service.empty()
            ? absl::StrCat("none of the caller's roles (", absl::StrJoin(caller.roles, ", "),
                           ") may call ", method)
            : absl::StrCat("service \"", caller.service, "\" may not call ", method));
  }
  if (rule != nullptr) *rule = *found;
  return absl::OkStatus();
}

absl::Status Authorizer::CheckScope(const Caller& caller, const RequestScope& scope) const {
  if (!caller.service.empty()) {
    auto current = policy();
    for (const auto& kind : scope.event_kinds) {
      if (current == nullptr || !current->MayIngest(caller.service, kind)) {
        return PermissionDenied(
            "EVENT_KIND_NOT_PERMITTED",
            absl::StrCat("service \"", caller.service, "\" may not send events of kind ", kind));
      }
    }
    return absl::OkStatus();
  }
  if (!scope.event_kinds.empty()) {
    return PermissionDenied("EVENT_KIND_NOT_PERMITTED", "only the suite's services send events");
  }
  for (const auto& force : scope.forces) {
    if (!Contains(caller.forces, force)) {
      return PermissionDenied("FORCE_NOT_PERMITTED",
                              absl::StrCat("the caller may not act for forces/", force));
    }
  }
  return absl::OkStatus();
}

}  // namespace outreach::security
