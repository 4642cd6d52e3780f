#include "common/security/jwks.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/security/jwt.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace outreach::security {
namespace {

constexpr int kMinRsaBits = 2048;
constexpr int kP256Bytes = 32;
constexpr size_t kEs256SignatureBytes = 64;  // r || s

struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

// OpenSSL leaves its reasons on a per-thread queue; a failure we answer ourselves must not
// leave them for an unrelated later caller to find.
absl::Status Fail(absl::string_view message) {
  ERR_clear_error();
  return absl::InvalidArgumentError(message);
}

std::string StringField(const google::protobuf::Struct& object, const std::string& name) {
  const auto it = object.fields().find(name);
  if (it == object.fields().end() || !it->second.has_string_value()) return "";
  return it->second.string_value();
}

// A base64url JWK member decoded to big-endian bytes; "" when absent or not base64url.
std::string BytesField(const google::protobuf::Struct& object, const std::string& name) {
  std::string bytes;
  if (!Base64UrlDecode(StringField(object, name), &bytes)) return "";
  return bytes;
}

Bn ToBn(absl::string_view bytes) {
  return Bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                      static_cast<int>(bytes.size()), nullptr));
}

// Builds a public key from OSSL_PARAMs (the OpenSSL 3 way; the RSA_/EC_KEY setters are
// deprecated).
absl::StatusOr<Pkey> FromData(const char* type, OSSL_PARAM_BLD* builder) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(builder);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  absl::Cleanup free_all = [&] {
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
  };
  EVP_PKEY* key = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx) <= 0 ||
      EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
    return Fail("the key parameters are not a valid public key");
  }
  Pkey out(key);
  // fromdata already refuses an EC point off the curve (security_jwt_test); OpenSSL's public
  // check adds the RSA ones (odd modulus, no small factors, a sane exponent).
  EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, out.get(), nullptr);
  const bool valid = check != nullptr && EVP_PKEY_public_check(check) == 1;
  EVP_PKEY_CTX_free(check);
  if (!valid) return Fail("the public key does not pass OpenSSL's key check");
  return out;
}

absl::StatusOr<Pkey> RsaFromJwk(const google::protobuf::Struct& jwk) {
  Bn n = ToBn(BytesField(jwk, "n"));
  Bn e = ToBn(BytesField(jwk, "e"));
  if (!n || !e || BN_is_zero(n.get()) || BN_is_zero(e.get())) {
    return Fail("an RSA key needs base64url \"n\" and \"e\"");
  }
  if (BN_num_bits(n.get()) < kMinRsaBits) {
    return Fail(absl::StrCat("RSA keys below ", kMinRsaBits, " bits are not accepted"));
  }
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  absl::Cleanup free_builder = [&] { OSSL_PARAM_BLD_free(builder); };
  if (builder == nullptr || !OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, e.get())) {
    return Fail("the RSA parameters could not be built");
  }
  return FromData("RSA", builder);
}

absl::StatusOr<Pkey> EcFromJwk(const google::protobuf::Struct& jwk) {
  if (StringField(jwk, "crv") != "P-256") return Fail("only EC keys on curve P-256 are accepted");
  const std::string x = BytesField(jwk, "x");
  const std::string y = BytesField(jwk, "y");
  if (x.size() != kP256Bytes || y.size() != kP256Bytes) {
    return Fail("a P-256 key needs 32-byte base64url \"x\" and \"y\"");
  }
  // SEC 1 uncompressed point: 0x04 || x || y.
  const std::string point = absl::StrCat("\x04", x, y);
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  absl::Cleanup free_builder = [&] { OSSL_PARAM_BLD_free(builder); };
  if (builder == nullptr ||
      !OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return Fail("the EC parameters could not be built");
  }
  return FromData("EC", builder);
}

// One JWKS entry as a verification key, or why it cannot be one.
absl::StatusOr<VerificationKey> KeyFromJwk(const google::protobuf::Struct& jwk) {
  const std::string kty = StringField(jwk, "kty");
  const std::string use = StringField(jwk, "use");
  if (!use.empty() && use != "sig") return Fail(absl::StrCat("\"use\" is \"", use, "\", not sig"));
  VerificationKey out;
  if (kty == "RSA") {
    out.alg = Algorithm::kRs256;
    OUTREACH_ASSIGN_OR_RETURN(out.key, RsaFromJwk(jwk));
  } else if (kty == "EC") {
    out.alg = Algorithm::kEs256;
    OUTREACH_ASSIGN_OR_RETURN(out.key, EcFromJwk(jwk));
  } else {
    // "oct" above all: a shared secret in a public key file would let anyone mint tokens.
    return Fail(absl::StrCat("kty \"", kty, "\" is not accepted (RSA or EC only)"));
  }
  const std::string alg = StringField(jwk, "alg");
  if (!alg.empty() && alg != AlgorithmName(out.alg)) {
    return Fail(absl::StrCat("\"alg\" ", alg, " does not fit a ", kty, " key"));
  }
  return out;
}

absl::StatusOr<std::string> BnParam(const EVP_PKEY* key, const char* name, int pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return Fail("the key has no public part");
  Bn bn(raw);
  std::string bytes(pad_to > 0 ? static_cast<size_t>(pad_to) : BN_num_bytes(bn.get()), '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()),
                   static_cast<int>(bytes.size())) < 0) {
    return Fail("the key's public part does not fit");
  }
  return Base64UrlEncode(bytes);
}

}  // namespace

void SetJsonString(google::protobuf::Struct* object, const std::string& name,
                   absl::string_view value) {
  (*object->mutable_fields())[name].set_string_value(std::string(value));
}

void PkeyFree::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

absl::string_view AlgorithmName(Algorithm alg) {
  return alg == Algorithm::kEs256 ? "ES256" : "RS256";
}

std::string Base64UrlEncode(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

bool Base64UrlDecode(absl::string_view text, std::string* bytes) {
  // absl also accepts '=' padding and, with it, more than one spelling of the same bytes; a
  // JWS segment has exactly one.
  if (text.find('=') != absl::string_view::npos) return false;
  return absl::WebSafeBase64Unescape(text, bytes);
}

absl::StatusOr<google::protobuf::Struct> ParseJsonObject(absl::string_view json) {
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(json.data(), json.size()), &object)
           .ok()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  return object;
}

std::string ToJson(const google::protobuf::Struct& object, bool pretty) {
  // MessageToJsonString prints a Struct's members in hash-map order, which changes from one
  // process to the next. Deterministic serialisation sorts map keys, and the JSON printer keeps
  // the wire order, so the same claims always print the same way.
  std::string binary;
  {
    google::protobuf::io::StringOutputStream stream(&binary);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    object.SerializeToCodedStream(&coded);
  }
  static google::protobuf::util::TypeResolver* const resolver =
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com", google::protobuf::DescriptorPool::generated_pool());
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  std::string out;
  // A Struct built from strings, numbers and lists always prints.
  (void)google::protobuf::util::BinaryToJsonString(
      resolver, "type.googleapis.com/google.protobuf.Struct", binary, &out, options);
  return out;
}

absl::StatusOr<KeySet> ParseJwks(absl::string_view json) {
  auto document = ParseJsonObject(json);
  if (!document.ok()) return Fail("the JWKS is not a JSON object");
  const auto keys = document->fields().find("keys");
  if (keys == document->fields().end() || !keys->second.has_list_value()) {
    return Fail("the JWKS has no \"keys\" array");
  }
  KeySet out;
  std::vector<std::string> skipped;
  int index = 0;
  for (const auto& entry : keys->second.list_value().values()) {
    const std::string where = absl::StrCat("key ", index++);
    if (!entry.has_struct_value()) {
      skipped.push_back(absl::StrCat(where, ": not an object"));
      continue;
    }
    const std::string kid = StringField(entry.struct_value(), "kid");
    if (kid.empty()) {
      skipped.push_back(absl::StrCat(where, ": no \"kid\""));
      continue;
    }
    if (out.keys.contains(kid)) {
      // Which of two keys a token means would be a guess.
      return Fail(absl::StrCat("kid \"", kid, "\" appears more than once"));
    }
    auto key = KeyFromJwk(entry.struct_value());
    if (!key.ok()) {
      skipped.push_back(absl::StrCat(where, " (kid \"", kid, "\"): ", key.status().message()));
      continue;
    }
    out.keys.emplace(kid, *std::move(key));
  }
  if (out.keys.empty()) {
    return Fail(
        absl::StrCat("the JWKS has no usable key",
                     skipped.empty() ? "" : absl::StrCat(" (", absl::StrJoin(skipped, "; "), ")")));
  }
  return out;
}

absl::StatusOr<Pkey> LoadPemKey(absl::string_view pem, bool require_private) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return Fail("out of memory reading the key");
  absl::Cleanup free_bio = [&] { BIO_free(bio); };
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  if (key == nullptr && !require_private) {
    ERR_clear_error();
    BIO_reset(bio);
    key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  }
  if (key == nullptr) {
    return Fail(require_private ? "not a PEM private key" : "not a PEM private or public key");
  }
  return Pkey(key);
}

absl::StatusOr<Algorithm> AlgorithmOf(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) < kMinRsaBits) {
      return Fail(absl::StrCat("RSA keys below ", kMinRsaBits, " bits are not accepted"));
    }
    return Algorithm::kRs256;
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &length) == 1 &&
        absl::string_view(group, length) == "prime256v1") {
      return Algorithm::kEs256;
    }
    return Fail("only EC keys on curve P-256 are accepted");
  }
  return Fail("only RSA and EC P-256 keys are accepted");
}

absl::StatusOr<google::protobuf::Struct> PublicJwk(absl::string_view kid, const EVP_PKEY* key) {
  if (kid.empty()) return Fail("a key needs a kid");
  OUTREACH_ASSIGN_OR_RETURN(const Algorithm alg, AlgorithmOf(key));
  google::protobuf::Struct jwk;
  SetJsonString(&jwk, "kid", kid);
  SetJsonString(&jwk, "use", "sig");
  SetJsonString(&jwk, "alg", AlgorithmName(alg));
  if (alg == Algorithm::kRs256) {
    SetJsonString(&jwk, "kty", "RSA");
    OUTREACH_ASSIGN_OR_RETURN(const std::string n, BnParam(key, OSSL_PKEY_PARAM_RSA_N, 0));
    OUTREACH_ASSIGN_OR_RETURN(const std::string e, BnParam(key, OSSL_PKEY_PARAM_RSA_E, 0));
    SetJsonString(&jwk, "n", n);
    SetJsonString(&jwk, "e", e);
  } else {
    SetJsonString(&jwk, "kty", "EC");
    SetJsonString(&jwk, "crv", "P-256");
    OUTREACH_ASSIGN_OR_RETURN(const std::string x,
                              BnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, kP256Bytes));
    OUTREACH_ASSIGN_OR_RETURN(const std::string y,
                              BnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, kP256Bytes));
    SetJsonString(&jwk, "x", x);
    SetJsonString(&jwk, "y", y);
  }
  return jwk;
}

absl::StatusOr<std::string> SignJws(Algorithm alg, EVP_PKEY* key, absl::string_view input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  absl::Cleanup free_ctx = [&] { EVP_MD_CTX_free(ctx); };
  size_t length = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (ctx == nullptr || EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx, nullptr, &length, data, input.size()) != 1) {
    return Fail("the key cannot sign");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length, data,
                     input.size()) != 1) {
    return Fail("signing failed");
  }
  signature.resize(length);
  if (alg == Algorithm::kRs256) return signature;
  // OpenSSL writes ECDSA signatures as DER; JWS (RFC 7518 section 3.4) wants r || s, 32 bytes
  // each.
  const auto* der = reinterpret_cast<const unsigned char*>(signature.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
  if (sig == nullptr) return Fail("signing produced no ECDSA signature");
  absl::Cleanup free_sig = [&] { ECDSA_SIG_free(sig); };
  std::string raw(kEs256SignatureBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, kP256Bytes) != kP256Bytes ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + kP256Bytes, kP256Bytes) != kP256Bytes) {
    return Fail("the ECDSA signature does not fit P-256");
  }
  return raw;
}

bool VerifyJws(Algorithm alg, EVP_PKEY* key, absl::string_view input, absl::string_view signature) {
  std::string der;
  absl::string_view checked = signature;
  if (alg == Algorithm::kEs256) {
    if (signature.size() != kEs256SignatureBytes) return false;
    BIGNUM* r =
        BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), kP256Bytes, nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + kP256Bytes,
                          kP256Bytes, nullptr);
    ECDSA_SIG* sig = ECDSA_SIG_new();
    if (r == nullptr || s == nullptr || sig == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
      BN_free(r);
      BN_free(s);
      ECDSA_SIG_free(sig);
      return false;
    }
    // set0 took r and s.
    unsigned char* encoded = nullptr;
    const int length = i2d_ECDSA_SIG(sig, &encoded);
    ECDSA_SIG_free(sig);
    if (length <= 0) return false;
    der.assign(reinterpret_cast<const char*>(encoded), static_cast<size_t>(length));
    OPENSSL_free(encoded);
    checked = der;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(checked.data()), checked.size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) ERR_clear_error();
  return ok;
}

absl::StatusOr<std::string> SignCompact(absl::string_view header_json,
                                        absl::string_view payload_json,
                                        absl::string_view private_key_pem) {
  OUTREACH_ASSIGN_OR_RETURN(Pkey key, LoadPemKey(private_key_pem, /*require_private=*/true));
  OUTREACH_ASSIGN_OR_RETURN(const Algorithm alg, AlgorithmOf(key.get()));
  OUTREACH_ASSIGN_OR_RETURN(const google::protobuf::Struct header, ParseJsonObject(header_json));
  if (StringField(header, "alg") != AlgorithmName(alg)) {
    return Fail(absl::StrCat("the header's alg must be ", AlgorithmName(alg), " for this key"));
  }
  const std::string input =
      absl::StrCat(Base64UrlEncode(header_json), ".", Base64UrlEncode(payload_json));
  OUTREACH_ASSIGN_OR_RETURN(const std::string signature, SignJws(alg, key.get(), input));
  return absl::StrCat(input, ".", Base64UrlEncode(signature));
}

std::string Sha256(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

absl::StatusOr<std::string> JwksFor(const std::vector<std::pair<std::string, std::string>>& keys) {
  google::protobuf::Struct document;
  auto* list = (*document.mutable_fields())["keys"].mutable_list_value();
  absl::flat_hash_map<std::string, int> seen;
  for (const auto& [kid, pem] : keys) {
    if (seen[kid]++ > 0) return Fail(absl::StrCat("kid \"", kid, "\" is given twice"));
    auto key = LoadPemKey(pem, /*require_private=*/false);
    if (!key.ok()) return Fail(absl::StrCat("key \"", kid, "\": ", key.status().message()));
    auto jwk = PublicJwk(kid, key->get());
    if (!jwk.ok()) return Fail(absl::StrCat("key \"", kid, "\": ", jwk.status().message()));
    *list->add_values()->mutable_struct_value() = *std::move(jwk);
  }
  if (keys.empty()) return Fail("a JWKS needs at least one key");
  return ToJson(document, /*pretty=*/true);
}

}  // namespace outreach::security
