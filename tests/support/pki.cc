#include "tests/support/pki.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace outreach::testing {
namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using BnPtr = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

// OpenSSL's reason for a failed step; the test that sees it fails with this text.
absl::Status OpenSslError(absl::string_view step) {
  char text[256] = {0};
  ERR_error_string_n(ERR_get_error(), text, sizeof(text));
  ERR_clear_error();
  return absl::InternalError(absl::StrCat("pki: ", step, ": ", text));
}

absl::StatusOr<KeyPtr> NewKey() {
  KeyPtr key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  if (key == nullptr) return OpenSslError("EC P-256 key");
  return key;
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return OpenSslError(absl::StrCat("extension ", value));
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (added != 1) return OpenSslError("add extension");
  return absl::OkStatus();
}

struct Signer {
  X509* cert;  // nullptr: self-signed
  EVP_PKEY* key;
};

// A v3 certificate for `key` named CN=<cn>, valid [now + from, now + to], with `extensions`
// (nid → OpenSSL config value), signed by `signer`.
absl::StatusOr<X509Ptr> MakeCertificate(
    const std::string& cn, EVP_PKEY* key, Signer signer, absl::Duration from, absl::Duration to,
    const std::vector<std::pair<int, std::string>>& extensions) {
  X509Ptr cert(X509_new(), &X509_free);
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError("new certificate");
  }
  // A random 127-bit serial: every issue (and so every rotation) is a different certificate.
  BnPtr serial(BN_new(), &BN_free);
  if (serial == nullptr || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslError("serial");
  }
  if (X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, absl::ToInt64Seconds(from), nullptr) ==
          nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, absl::ToInt64Seconds(to), nullptr) ==
          nullptr) {
    return OpenSslError("validity");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("Outreach tests"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1) {
    return OpenSslError("subject");
  }
  X509* issuer = signer.cert != nullptr ? signer.cert : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslError("issuer");
  }
  for (const auto& [nid, value] : extensions) {
    if (absl::Status s = AddExtension(cert.get(), issuer, nid, value); !s.ok()) return s;
  }
  if (X509_sign(cert.get(), signer.key != nullptr ? signer.key : key, EVP_sha256()) <= 0) {
    return OpenSslError("sign");
  }
  return cert;
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslError("cert PEM");
  return BioText(bio.get());
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("key PEM");
  }
  return BioText(bio.get());
}

struct Ca {
  KeyPtr key{nullptr, &EVP_PKEY_free};
  X509Ptr cert{nullptr, &X509_free};
  std::string file;
};

absl::StatusOr<Ca> MakeCa(const std::string& dir, const std::string& name) {
  Ca ca;
  auto key = NewKey();
  if (!key.ok()) return key.status();
  ca.key = std::move(*key);
  auto cert = MakeCertificate(absl::StrCat("Outreach test CA ", name), ca.key.get(),
                              Signer{nullptr, nullptr}, -absl::Hours(1), absl::Hours(24 * 30),
                              {{NID_basic_constraints, "critical,CA:TRUE"},
                               {NID_key_usage, "critical,keyCertSign,cRLSign"},
                               {NID_subject_key_identifier, "hash"}});
  if (!cert.ok()) return cert.status();
  ca.cert = std::move(*cert);
  auto pem = CertPem(ca.cert.get());
  if (!pem.ok()) return pem.status();
  ca.file = absl::StrCat(dir, "/", name, ".pem");
  if (absl::Status s = WriteFileAtomically(ca.file, *pem); !s.ok()) return s;
  return ca;
}

}  // namespace

struct Pki::State {
  std::string dir;
  Ca trusted;
  Ca other;
};

Pki::Pki(std::unique_ptr<State> state) : state_(std::move(state)) {}
Pki::Pki(Pki&&) noexcept = default;
Pki& Pki::operator=(Pki&&) noexcept = default;
Pki::~Pki() = default;

absl::StatusOr<Pki> Pki::Create(const std::string& dir) {
  auto state = std::make_unique<State>();
  state->dir = dir;
  auto trusted = MakeCa(dir, "ca");
  if (!trusted.ok()) return trusted.status();
  state->trusted = std::move(*trusted);
  auto other = MakeCa(dir, "other-ca");
  if (!other.ok()) return other.status();
  state->other = std::move(*other);
  return Pki(std::move(state));
}

const std::string& Pki::ca_file() const { return state_->trusted.file; }
const std::string& Pki::other_ca_file() const { return state_->other.file; }
const std::string& Pki::dir() const { return state_->dir; }

absl::StatusOr<security::TlsFiles> Pki::IssueServer(const std::string& name,
                                                    const CertOptions& options) {
  return Issue(name, /*server=*/true, options);
}

absl::StatusOr<security::TlsFiles> Pki::IssueClient(const std::string& name,
                                                    const CertOptions& options) {
  return Issue(name, /*server=*/false, options);
}

absl::StatusOr<security::TlsFiles> Pki::Issue(const std::string& name, bool server,
                                              const CertOptions& options) {
  const Ca& ca = options.other_ca ? state_->other : state_->trusted;
  absl::Duration from = -absl::Hours(1), to = absl::Hours(24);
  if (options.validity == CertOptions::Validity::kExpired) {
    from = -absl::Hours(48);
    to = -absl::Hours(24);
  } else if (options.validity == CertOptions::Validity::kNotYetValid) {
    from = absl::Hours(24);
    to = absl::Hours(48);
  }
  const std::string uri = absl::StrCat("URI:spiffe://", options.trust_domain, "/", name);
  std::vector<std::pair<int, std::string>> extensions = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, server ? "serverAuth,clientAuth" : "clientAuth"},
      {NID_subject_alt_name,
       server ? absl::StrCat("DNS:", name, ",DNS:localhost,IP:127.0.0.1,", uri) : uri},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  auto key = NewKey();
  if (!key.ok()) return key.status();
  auto cert =
      MakeCertificate(name, key->get(), Signer{ca.cert.get(), ca.key.get()}, from, to, extensions);
  if (!cert.ok()) return cert.status();
  auto cert_pem = CertPem(cert->get());
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = KeyPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  security::TlsFiles files;
  files.cert_file = absl::StrCat(state_->dir, "/", name, ".pem");
  files.key_file = absl::StrCat(state_->dir, "/", name, ".key");
  files.ca_file = ca.file;
  // Two renames: a watcher that reads between them may hold a mismatched pair until its next
  // refresh, so rotation tests poll until the new certificate is served.
  if (absl::Status s = WriteFileAtomically(files.key_file, *key_pem, true); !s.ok()) return s;
  if (absl::Status s = WriteFileAtomically(files.cert_file, *cert_pem); !s.ok()) return s;
  return files;
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents,
                                 bool private_key) {
  std::string temp = path + ".XXXXXX";
  const int fd = mkstemp(temp.data());  // 0600 from the start: a key is never world-readable
  if (fd < 0) return absl::InternalError(absl::StrCat("pki: cannot create ", temp));
  bool ok = private_key || fchmod(fd, 0644) == 0;
  for (size_t written = 0; ok && written < contents.size();) {
    const ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    ok = n > 0;
    if (ok) written += static_cast<size_t>(n);
  }
  ok = close(fd) == 0 && ok;
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    return absl::InternalError(absl::StrCat("pki: cannot write ", path));
  }
  return absl::OkStatus();
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace outreach::testing
