#pragma once

// The JOSE pieces under common/security/jwt.h: keys (JWK <-> EVP_PKEY, PEM), the two signature
// algorithms we accept and compact JWS serialisation. Crypto is OpenSSL 3 EVP only; JSON is
// protobuf's parser into google.protobuf.Struct.

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "openssl/types.h"

namespace outreach::security {

// The only algorithms a token may use. Each key has exactly one: an RSA key verifies RS256
// only and an EC P-256 key ES256 only, whatever a token's header claims.
enum class Algorithm { kRs256, kEs256 };
absl::string_view AlgorithmName(Algorithm alg);

struct PkeyFree {
  void operator()(EVP_PKEY* key) const;
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

struct VerificationKey {
  Algorithm alg = Algorithm::kRs256;
  Pkey key;
};

// The usable keys of one JWKS document, by kid.
struct KeySet {
  absl::flat_hash_map<std::string, VerificationKey> keys;
};

// Parses an RFC 7517 {"keys":[...]} document. Keys that cannot verify our tokens are skipped
// (symmetric "oct" keys, other curves, RSA below 2048 bits, "use" other than "sig", an "alg"
// other than the key's); the document fails (INVALID_ARGUMENT naming why each key was skipped)
// when it is not JSON, a kid is repeated or no usable key is left.
absl::StatusOr<KeySet> ParseJwks(absl::string_view json);

// A PEM private key (PKCS#8 or traditional) or, unless `require_private`, a public key.
absl::StatusOr<Pkey> LoadPemKey(absl::string_view pem, bool require_private);
// RS256 for RSA of 2048 bits or more, ES256 for EC P-256; INVALID_ARGUMENT for anything else.
absl::StatusOr<Algorithm> AlgorithmOf(const EVP_PKEY* key);
// The public JWK of `key` (kty, kid, use, alg and n/e or crv/x/y).
absl::StatusOr<google::protobuf::Struct> PublicJwk(absl::string_view kid, const EVP_PKEY* key);

// base64url without padding (RFC 7515 section 2); Decode refuses padding and other alphabets.
std::string Base64UrlEncode(absl::string_view bytes);
bool Base64UrlDecode(absl::string_view text, std::string* bytes);

// A JSON object, parsed with protobuf's JSON parser (which also refuses repeated keys).
absl::StatusOr<google::protobuf::Struct> ParseJsonObject(absl::string_view json);
std::string ToJson(const google::protobuf::Struct& object, bool pretty = false);
void SetJsonString(google::protobuf::Struct* object, const std::string& name,
                   absl::string_view value);

// The JWS signature of `signing_input` ("header.payload"): PKCS#1 v1.5 SHA-256 for RS256,
// raw r||s (64 bytes) for ES256.
absl::StatusOr<std::string> SignJws(Algorithm alg, EVP_PKEY* key, absl::string_view signing_input);
bool VerifyJws(Algorithm alg, EVP_PKEY* key, absl::string_view signing_input,
               absl::string_view signature);

// header.payload.signature for the given JSON texts, signed with a PEM private key whose
// algorithm must be the header's "alg". MintToken builds on it; tests use it for tokens with
// claims MintToken would never write.
absl::StatusOr<std::string> SignCompact(absl::string_view header_json,
                                        absl::string_view payload_json,
                                        absl::string_view private_key_pem);

// SHA-256 of `data` (32 raw bytes).
std::string Sha256(absl::string_view data);

}  // namespace outreach::security
