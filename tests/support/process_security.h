#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/security/tls.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/support/pki.h"
#include "tests/support/test_security.h"

namespace outreach::testing {

// The security side of an e2e test that runs real binaries, as production runs them: a test PKI
// in the test's directory, each binary started with its own server certificate (which also has
// clientAuth and its spiffe SAN, so a service presents it when it calls metrics), the test JWKS
// and the shipped policy; channels that verify the server against the PKI's CA.
class ProcessSecurity {
 public:
  explicit ProcessSecurity(const std::string& dir) {
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    EXPECT_FALSE(error) << dir << ": " << error.message();
    auto pki = Pki::Create(dir);
    EXPECT_TRUE(pki.ok()) << pki.status();
    if (pki.ok()) pki_ = std::make_unique<Pki>(std::move(*pki));
  }

  // The flags that start binary `service` with TLS, tokens and the policy. Issued once per name:
  // a restarted process keeps its certificate.
  std::vector<std::string> FlagsFor(const std::string& service) {
    auto it = issued_.find(service);
    if (it == issued_.end()) {
      auto files = pki_->IssueServer(service);
      EXPECT_TRUE(files.ok()) << files.status();
      it = issued_.emplace(service, files.ok() ? *files : security::TlsFiles{}).first;
    }
    return SecurityFlags(it->second);
  }

  // A TLS channel to the server on loopback `port`, with no client certificate: calls carry a
  // token (service_harness.h Ctx()) or nothing (AnonymousCtx()).
  std::shared_ptr<grpc::Channel> Channel(const std::string& port) {
    return ChannelWith(port, security::TlsFiles{"", "", pki_->ca_file()});
  }
  // A mutual-TLS channel presenting the client certificate of service `identity`
  // (spiffe://outreach/<identity>), as that service's publisher would call metrics.
  std::shared_ptr<grpc::Channel> ServiceChannel(const std::string& port,
                                                const std::string& identity) {
    auto files = pki_->IssueClient(identity);
    EXPECT_TRUE(files.ok()) << files.status();
    return ChannelWith(port, files.ok() ? *files : security::TlsFiles{});
  }
  // `args` set, e.g., a distinct connection per channel.
  std::shared_ptr<grpc::Channel> ChannelWith(const std::string& port,
                                             const security::TlsFiles& files,
                                             const grpc::ChannelArguments& args = {}) {
    auto credentials = security::ChannelCredentials(files);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    if (!credentials.ok()) return nullptr;
    // 127.0.0.1 is an IP SAN of every server certificate of the PKI; an IP literal also keeps the
    // channel away from the DNS resolver (c-ares), whose allocations LeakSanitizer reports.
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), *credentials, args);
  }
  const std::string& ca_file() const { return pki_->ca_file(); }

  // The flags of a client binary of the suite (common/client.h OpenChannel): the CA that signs
  // the servers and a file holding the default test caller's token (a force administrator).
  std::vector<std::string> ClientFlags() {
    const std::string token_file = pki_->dir() + "/token";
    absl::Status written = WriteFileAtomically(token_file, TestToken(), /*private_key=*/true);
    EXPECT_TRUE(written.ok()) << written;
    return {"--tls-ca-file=" + pki_->ca_file(), "--token-file=" + token_file};
  }

  Pki& pki() { return *pki_; }

 private:
  std::unique_ptr<Pki> pki_;
  std::map<std::string, security::TlsFiles> issued_;
};

}  // namespace outreach::testing
