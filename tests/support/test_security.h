#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/security/authorizer.h"
#include "common/security/tls.h"
#include "grpcpp/client_context.h"
#include "outreach/events/v1/events.pb.h"

namespace outreach::testing {

class Pki;

// Who a test's calls come from: a person with a token. The default is a force administrator of
// every force the tests use, so a test about something else is not refused.
struct TestCaller {
  std::string subject = "test-admin";
  std::vector<std::string> forces;  // empty: TestForces()
  std::vector<std::string> roles = {"force_admin"};
};

// The forces the tests' data names.
const std::vector<std::string>& TestForces();

// One signing key (EC P-256, made at first use) and its JWKS file for the whole test process:
// every server a test starts trusts it, and every token a test sends is signed by it.
const std::string& TestJwksFile();
inline constexpr char kTestKeyId[] = "test-1";
std::string TestToken(const TestCaller& caller = {}, absl::Duration lifetime = absl::Hours(1));
// The same key's PEM, for tests that mint tokens of their own (expired, other audience, …).
const std::string& TestSigningKeyPem();
// A new EC P-256 private key (PEM) that no server trusts.
std::string NewSigningKeyPem();

// The repository's policy file (deploy/security/policy.json): tests run the shipped policy.
std::string PolicyFile();

// A server's security settings in a test: TLS with `server` files from the test PKI, the test
// JWKS, the shipped policy.
security::SecuritySettings TestSecuritySettings(const security::TlsFiles& server);
// Flags for a real service binary with the same settings.
std::vector<std::string> SecurityFlags(const security::TlsFiles& server);

// The service whose identity may send `events` (deploy/security/policy.json "services"): the one
// that may send every kind among them; "" when none may (a batch that mixes services' kinds).
std::string IngestIdentityFor(const std::vector<const events::v1::OutreachEvent*>& events);

// A client context with a 10 s deadline and the caller's token.
std::unique_ptr<grpc::ClientContext> ContextAs(const TestCaller& caller);

}  // namespace outreach::testing
