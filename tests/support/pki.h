#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/security/tls.h"

namespace outreach::testing {

// How one leaf certificate differs from a good one.
struct CertOptions {
  enum class Validity { kValid, kExpired, kNotYetValid };
  Validity validity = Validity::kValid;
  bool other_ca = false;  // signed by the PKI's second CA, which nobody trusts by default
  // The URI SAN's trust domain: spiffe://<trust_domain>/<name>.
  std::string trust_domain = "outreach";
};

// A test PKI of real certificates (OpenSSL 3, EC P-256 keys: fast to make), written as PEM
// files into a directory: `ca.pem` (the trusted CA), `other-ca.pem` (a second CA) and, per leaf,
// `<name>.pem` + `<name>.key` (0600). Files are replaced atomically (write, then rename), so a
// file watcher never reads half a certificate; issuing a name again replaces its files with a
// new certificate (new serial) — a rotation.
class Pki {
 public:
  static absl::StatusOr<Pki> Create(const std::string& dir);
  Pki(Pki&&) noexcept;
  Pki& operator=(Pki&&) noexcept;
  ~Pki();

  // A server certificate: SANs DNS:<name>, DNS:localhost, IP:127.0.0.1 and
  // URI:spiffe://<trust_domain>/<name>; serverAuth and clientAuth (services call each other).
  // ca_file is the trusted CA's bundle (other_ca: the second CA's).
  absl::StatusOr<security::TlsFiles> IssueServer(const std::string& name,
                                                 const CertOptions& options = {});
  // A client certificate: URI:spiffe://<trust_domain>/<name>, clientAuth only.
  absl::StatusOr<security::TlsFiles> IssueClient(const std::string& name,
                                                 const CertOptions& options = {});

  const std::string& ca_file() const;        // the trusted CA
  const std::string& other_ca_file() const;  // the CA no peer trusts unless told to
  const std::string& dir() const;

 private:
  struct State;
  explicit Pki(std::unique_ptr<State> state);
  absl::StatusOr<security::TlsFiles> Issue(const std::string& name, bool server,
                                           const CertOptions& options);
  std::unique_ptr<State> state_;
};

// Writes `contents` to `path` through a temporary file and a rename (atomic for a reader).
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents,
                                 bool private_key = false);
// The whole of a file ("" when it cannot be read).
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace outreach::testing
