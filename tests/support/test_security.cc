#include "tests/support/test_security.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/security/jwt.h"
#include "common/security/policy.h"

namespace outreach::testing {

std::string NewSigningKeyPem() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

namespace {

struct Signer {
  std::string key_pem = NewSigningKeyPem();
  std::string jwks_file;
  Signer() {
    char dir[] = "/tmp/outreach-test-jwks-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    jwks_file = absl::StrCat(dir, "/jwks.json");
    auto jwks = security::JwksFor({{kTestKeyId, key_pem}});
    if (!jwks.ok()) std::abort();
    std::ofstream(jwks_file) << *jwks;
    // The directory is removed with the process's other temporary files by the test's cleanup;
    // it holds one public key.
  }
};

Signer& TheSigner() {
  static auto* signer = new Signer();
  return *signer;
}

}  // namespace

const std::vector<std::string>& TestForces() {
  static const auto* forces = new std::vector<std::string>{
      "derbyshire", "nottinghamshire", "notts", "leicestershire", "kent", "soak", "x", "d", "f"};
  return *forces;
}

const std::string& TestJwksFile() { return TheSigner().jwks_file; }
const std::string& TestSigningKeyPem() { return TheSigner().key_pem; }

std::string TestToken(const TestCaller& caller, absl::Duration lifetime) {
  security::MintRequest request;
  request.private_key_pem = TestSigningKeyPem();
  request.kid = kTestKeyId;
  request.issuer = security::SecuritySettings().token_issuer;
  request.audience = security::SecuritySettings().token_audience;
  request.subject = caller.subject;
  request.forces = caller.forces.empty() ? TestForces() : caller.forces;
  request.roles = caller.roles;
  request.issued_at = absl::Now();
  request.lifetime = lifetime;
  auto token = security::MintToken(request);
  if (!token.ok()) std::abort();
  return *token;
}

std::string PolicyFile() { return OUTREACH_SOURCE_DIR "/deploy/security/policy.json"; }

security::SecuritySettings TestSecuritySettings(const security::TlsFiles& server) {
  security::SecuritySettings s;
  s.tls_cert_file = server.cert_file;
  s.tls_key_file = server.key_file;
  s.tls_ca_file = server.ca_file;
  s.jwks_file = TestJwksFile();
  s.policy_file = PolicyFile();
  return s;
}

std::vector<std::string> SecurityFlags(const security::TlsFiles& server) {
  return {"--tls-cert-file=" + server.cert_file, "--tls-key-file=" + server.key_file,
          "--tls-ca-file=" + server.ca_file, "--jwks-file=" + TestJwksFile(),
          "--policy-file=" + PolicyFile()};
}

std::string IngestIdentityFor(const std::vector<const events::v1::OutreachEvent*>& events) {
  static const auto* policy = [] {
    auto loaded = security::Policy::Load(PolicyFile());
    if (!loaded.ok()) std::abort();
    return new std::shared_ptr<const security::Policy>(*loaded);
  }();
  for (const char* identity : {"workshops", "training", "campaigns"}) {
    bool all = true;
    for (const auto* event : events) {
      const auto* oneof = event->GetDescriptor()->FindOneofByName("payload");
      const auto* kind = event->GetReflection()->GetOneofFieldDescriptor(*event, oneof);
      if (kind != nullptr && !(*policy)->MayIngest(identity, kind->name())) all = false;
    }
    if (all) return identity;
  }
  return "";
}

std::unique_ptr<grpc::ClientContext> ContextAs(const TestCaller& caller) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ctx->AddMetadata("authorization", "Bearer " + TestToken(caller));
  return ctx;
}

}  // namespace outreach::testing
