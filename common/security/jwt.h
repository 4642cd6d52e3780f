#pragma once

// Bearer tokens: JWTs signed RS256 or ES256 with keys from a JWKS file. TokenVerifier is what a
// service runs on every call; MintToken and JwksFor serve tools/token and tests. This is the
// base layer (absl, protobuf, OpenSSL): no gRPC.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace outreach::security {

// Tokens longer than this are refused before any parsing (they travel in one HTTP/2 header).
inline constexpr size_t kMaxTokenBytes = size_t{8} * 1024;

struct KeySet;  // common/security/jwks.h

struct Claims {
  std::string subject;              // sub
  std::vector<std::string> forces;  // "forces" claim, e.g. {"derbyshire"}; absent = none
  std::vector<std::string> roles;   // "roles" claim; absent = none
  std::string issuer;
  absl::Time expiry;
};

struct VerifierOptions {
  std::string jwks_path;  // a JWKS file (RFC 7517 {"keys":[...]}), RSA and EC P-256
  std::string issuer;     // exact match
  std::string audience;   // must be (one of) aud
  absl::Duration skew = absl::Seconds(30);
  absl::Duration reload_check = absl::Seconds(2);  // how often the file is checked for a change
  size_t cache_capacity = 10000;                   // verified tokens kept until their expiry
};

// Checks bearer tokens against the keys of a JWKS file. Every refusal is UNAUTHENTICATED
// (outreach::Unauthenticated) with one of these ErrorInfo reasons: TOKEN_MALFORMED,
// TOKEN_ALGORITHM, TOKEN_UNKNOWN_KEY, TOKEN_SIGNATURE, TOKEN_ISSUER, TOKEN_AUDIENCE,
// TOKEN_EXPIRED, TOKEN_NOT_YET_VALID. Messages never quote the token or its claims.
class TokenVerifier {
 public:
  // Fails (INVALID_ARGUMENT with a clear message) when the JWKS file is missing or has no
  // usable key: the service refuses to start.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Create(VerifierOptions options,
                                                               const Clock* clock);
  ~TokenVerifier();
  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // Thread-safe, called on every RPC. A token verified before costs a SHA-256 and a lookup
  // until it expires; the file is re-read (on the calling thread, at most every reload_check)
  // when its content changes, and a broken new file keeps the old keys.
  absl::StatusOr<Claims> Verify(absl::string_view token) const;

 private:
  struct State;
  TokenVerifier(VerifierOptions options, const Clock* clock, std::unique_ptr<State> state);
  void MaybeReload() const;
  absl::StatusOr<Claims> Check(absl::string_view token, const KeySet& keys, absl::Time now) const;

  const VerifierOptions options_;
  const Clock* const clock_;
  const std::unique_ptr<State> state_;  // keys, cache and reload bookkeeping (jwt.cc)
};

struct MintRequest {
  std::string private_key_pem;  // RSA (-> RS256) or EC P-256 (-> ES256) PEM
  std::string kid;
  std::string issuer, audience, subject;
  std::vector<std::string> forces, roles;
  absl::Time issued_at;
  absl::Duration lifetime = absl::Hours(1);
  std::optional<absl::Time> not_before;
};
// A signed token for the request (INVALID_ARGUMENT when a field or the key is unusable).
absl::StatusOr<std::string> MintToken(const MintRequest& request);

// A JWKS document with the public half of each key (kid -> PEM private or public key).
absl::StatusOr<std::string> JwksFor(const std::vector<std::pair<std::string, std::string>>& keys);

}  // namespace outreach::security
