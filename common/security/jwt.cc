#include "common/security/jwt.h"

// Signatures are checked with OpenSSL's EVP API (common/security/jwks.cc) rather than
// Debian's libjwt 1.10: libjwt verifies with whatever algorithm the token's own header names,
// so an HS256 token "signed" with a published RSA key passes (algorithm confusion). Here the
// key decides the one algorithm it verifies.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/security/jwks.h"
#include "common/status_macros.h"

namespace outreach::security {
namespace {

constexpr size_t kMaxJwksBytes = 1 << 20;
// NumericDate bounds: 1970 to the end of year 9999, so a date always fits absl::Time.
constexpr double kMaxNumericDate = 253402300799.0;

absl::Status Refuse(absl::string_view reason, absl::string_view message) {
  return Unauthenticated(reason, message);
}
absl::Status Malformed(absl::string_view message) { return Refuse("TOKEN_MALFORMED", message); }

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot be opened");
  std::string content;
  content.resize(kMaxJwksBytes + 1);
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) return absl::DataLossError("cannot be read");
  content.resize(static_cast<size_t>(in.gcount()));
  if (content.size() > kMaxJwksBytes) return absl::OutOfRangeError("is larger than 1 MiB");
  return content;
}

const google::protobuf::Value* Find(const google::protobuf::Struct& object,
                                    const std::string& name) {
  const auto it = object.fields().find(name);
  return it == object.fields().end() ? nullptr : &it->second;
}

// A string claim or header member; "" when absent, an error when present but not a string.
absl::StatusOr<std::string> OptionalString(const google::protobuf::Struct& object,
                                           const std::string& name, absl::string_view what) {
  const google::protobuf::Value* value = Find(object, name);
  if (value == nullptr) return std::string();
  if (!value->has_string_value()) return Malformed(absl::StrCat(what, " is not a string"));
  return value->string_value();
}

// "forces" and "roles": absent grants nothing; anything but an array of strings is refused.
absl::StatusOr<std::vector<std::string>> StringList(const google::protobuf::Struct& payload,
                                                    const std::string& name) {
  std::vector<std::string> out;
  const google::protobuf::Value* value = Find(payload, name);
  if (value == nullptr) return out;
  const auto refuse =
      Malformed(absl::StrCat("the token's ", name, " claim is not an array of strings"));
  if (!value->has_list_value()) return refuse;
  for (const auto& item : value->list_value().values()) {
    if (!item.has_string_value()) return refuse;
    out.push_back(item.string_value());
  }
  return out;
}

// An RFC 7519 NumericDate claim; nullopt when absent.
absl::StatusOr<std::optional<absl::Time>> NumericDate(const google::protobuf::Struct& payload,
                                                      const std::string& name) {
  const google::protobuf::Value* value = Find(payload, name);
  if (value == nullptr) return std::nullopt;
  if (!value->has_number_value() || !std::isfinite(value->number_value()) ||
      value->number_value() < 0 || value->number_value() > kMaxNumericDate) {
    return Malformed(absl::StrCat("the token's ", name, " claim is not a date in seconds"));
  }
  return absl::FromUnixSeconds(static_cast<int64_t>(std::floor(value->number_value())));
}

bool AudienceMatches(const google::protobuf::Value* aud, const std::string& audience) {
  if (aud == nullptr) return false;
  if (aud->has_string_value()) return aud->string_value() == audience;
  if (!aud->has_list_value()) return false;
  for (const auto& item : aud->list_value().values()) {
    if (item.has_string_value() && item.string_value() == audience) return true;
  }
  return false;
}

// RFC 7515 section 4.1.9: typ is case-insensitive; "JWT" (RFC 7519) or an access token
// (RFC 9068).
bool TypAccepted(absl::string_view typ) {
  const std::string lower = absl::AsciiStrToLower(typ);
  return lower.empty() || lower == "jwt" || lower == "at+jwt" || lower == "application/at+jwt";
}

void SetList(google::protobuf::Struct* object, const std::string& name,
             const std::vector<std::string>& items) {
  auto* list = (*object->mutable_fields())[name].mutable_list_value();
  for (const auto& item : items) list->add_values()->set_string_value(item);
}

}  // namespace

struct TokenVerifier::State {
  absl::Mutex mu;
  std::shared_ptr<const KeySet> keys ABSL_GUARDED_BY(mu);
  // Bumped on every key change, so a token verified against the old keys is not cached after
  // the cache was emptied for the new ones.
  uint64_t generation ABSL_GUARDED_BY(mu) = 0;
  // SHA-256 of the token -> its claims; entries leave at expiry (checked on every hit).
  absl::flat_hash_map<std::string, Claims> cache ABSL_GUARDED_BY(mu);

  // One caller at a time checks the file; the others go on with the keys they have.
  absl::Mutex reload_mu;
  std::atomic<int64_t> next_check_ns{0};
  // What the file held when last read (loaded or refused), so a broken file warns once.
  std::string last_content ABSL_GUARDED_BY(reload_mu);
  bool last_read_failed ABSL_GUARDED_BY(reload_mu) = false;

  void ReloadLocked(const VerifierOptions& options) ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu);
  void Insert(std::string digest, const Claims& claims, absl::Time now,
              const VerifierOptions& options) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
};

void TokenVerifier::State::ReloadLocked(const VerifierOptions& options) {
  // The content is compared rather than the mtime: file timestamps tick in kernel jiffies, so
  // a same-size rewrite within one tick would otherwise go unseen. The file is a few KiB.
  auto content = ReadFile(options.jwks_path);
  if (!content.ok()) {
    if (!last_read_failed) {
      OUTREACH_LOG(kWarn, "jwks_reload_failed")
          .Kv("path", options.jwks_path)
          .Kv("detail", content.status().message())
          .Kv("action", "keeping the previous keys");
    }
    last_read_failed = true;
    return;
  }
  last_read_failed = false;
  if (*content == last_content) return;
  last_content = *content;
  auto parsed = ParseJwks(*content);
  if (!parsed.ok()) {
    OUTREACH_LOG(kWarn, "jwks_reload_failed")
        .Kv("path", options.jwks_path)
        .Kv("detail", parsed.status().message())
        .Kv("action", "keeping the previous keys");
    return;
  }
  const size_t count = parsed->keys.size();
  {
    absl::MutexLock lock(&mu);
    keys = std::make_shared<const KeySet>(*std::move(parsed));
    ++generation;
    cache.clear();
  }
  OUTREACH_LOG(kInfo, "jwks_reloaded").Kv("path", options.jwks_path).Kv("keys", count);
}

void TokenVerifier::State::Insert(std::string digest, const Claims& claims, absl::Time now,
                                  const VerifierOptions& options) {
  const size_t capacity = options.cache_capacity;
  if (capacity == 0) return;
  if (cache.size() >= capacity) {
    for (auto it = cache.begin(); it != cache.end();) {
      if (now >= it->second.expiry + options.skew) {
        cache.erase(it++);
      } else {
        ++it;
      }
    }
    // Still mostly full of live tokens: drop an eighth, whichever they are, so the sweep above
    // runs at most once per capacity/8 new tokens.
    const size_t target = capacity - std::max<size_t>(1, capacity / 8);
    while (cache.size() > target) cache.erase(cache.begin());
  }
  cache.insert_or_assign(std::move(digest), claims);
}

TokenVerifier::TokenVerifier(VerifierOptions options, const Clock* clock,
                             std::unique_ptr<State> state)
    : options_(std::move(options)), clock_(clock), state_(std::move(state)) {}

TokenVerifier::~TokenVerifier() = default;

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(VerifierOptions options,
                                                                     const Clock* clock) {
  if (options.issuer.empty()) return absl::InvalidArgumentError("the token issuer is not set");
  if (options.audience.empty()) {
    return absl::InvalidArgumentError("the token audience is not set");
  }
  if (options.skew < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the token skew must not be negative");
  }
  auto content = ReadFile(options.jwks_path);
  if (!content.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the JWKS file \"", options.jwks_path, "\" ", content.status().message()));
  }
  auto keys = ParseJwks(*content);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the JWKS file \"", options.jwks_path, "\": ", keys.status().message()));
  }
  if (clock == nullptr) clock = SystemClock::Get();
  auto state = std::make_unique<State>();
  {
    absl::MutexLock lock(&state->mu);
    state->keys = std::make_shared<const KeySet>(*std::move(keys));
  }
  {
    absl::MutexLock lock(&state->reload_mu);
    state->last_content = *std::move(content);
  }
  state->next_check_ns = absl::ToUnixNanos(clock->Now() + options.reload_check);
  return std::unique_ptr<TokenVerifier>(
      new TokenVerifier(std::move(options), clock, std::move(state)));
}

void TokenVerifier::MaybeReload() const {
  const absl::Time now = clock_->Now();
  if (absl::ToUnixNanos(now) < state_->next_check_ns.load(std::memory_order_relaxed)) return;
  if (!state_->reload_mu.TryLock()) return;
  if (absl::ToUnixNanos(now) >= state_->next_check_ns.load(std::memory_order_relaxed)) {
    state_->next_check_ns = absl::ToUnixNanos(now + options_.reload_check);
    state_->ReloadLocked(options_);
  }
  state_->reload_mu.Unlock();
}

absl::StatusOr<Claims> TokenVerifier::Verify(absl::string_view token) const {
  if (token.empty()) return Malformed("the bearer token is empty");
  if (token.size() > kMaxTokenBytes) return Malformed("the bearer token is larger than 8 KiB");
  MaybeReload();
  std::string digest = Sha256(token);
  const absl::Time now = clock_->Now();
  std::shared_ptr<const KeySet> keys;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&state_->mu);
    const auto hit = state_->cache.find(digest);
    if (hit != state_->cache.end()) {
      if (now < hit->second.expiry + options_.skew) return hit->second;
      state_->cache.erase(hit);
      return Refuse("TOKEN_EXPIRED", "the bearer token has expired");
    }
    keys = state_->keys;
    generation = state_->generation;
  }
  OUTREACH_ASSIGN_OR_RETURN(Claims claims, Check(token, *keys, now));
  absl::MutexLock lock(&state_->mu);
  if (state_->generation == generation) state_->Insert(std::move(digest), claims, now, options_);
  return claims;
}

absl::StatusOr<Claims> TokenVerifier::Check(absl::string_view token, const KeySet& keys,
                                            absl::Time now) const {
  // The header and signature first: nothing in the payload is read before the signature holds.
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty()) {
    return Malformed("the bearer token is not a compact JWS (header.payload.signature)");
  }
  std::string header_json;
  if (!Base64UrlDecode(parts[0], &header_json)) {
    return Malformed("the token header is not base64url");
  }
  auto header = ParseJsonObject(header_json);
  if (!header.ok()) return Malformed("the token header is not a JSON object");
  OUTREACH_ASSIGN_OR_RETURN(const std::string alg,
                            OptionalString(*header, "alg", "the token's alg"));
  if (alg != "RS256" && alg != "ES256") {
    return Refuse("TOKEN_ALGORITHM", "the token's algorithm is not accepted (RS256 or ES256)");
  }
  if (Find(*header, "crit") != nullptr) {
    return Malformed("the token header has critical extensions this service does not support");
  }
  OUTREACH_ASSIGN_OR_RETURN(const std::string typ,
                            OptionalString(*header, "typ", "the token's typ"));
  if (!TypAccepted(typ)) return Malformed("the token's typ is not JWT");
  OUTREACH_ASSIGN_OR_RETURN(const std::string kid,
                            OptionalString(*header, "kid", "the token's kid"));
  if (kid.empty()) return Malformed("the token header has no kid");
  const auto key = keys.keys.find(kid);
  if (key == keys.keys.end()) {
    return Refuse("TOKEN_UNKNOWN_KEY",
                  "the token was signed with a key this service does not know");
  }
  if (AlgorithmName(key->second.alg) != alg) {
    return Refuse("TOKEN_ALGORITHM", "the token's algorithm is not the one of its key");
  }
  std::string signature;
  if (parts[2].empty() || !Base64UrlDecode(parts[2], &signature)) {
    return Malformed("the token signature is not base64url");
  }
  const absl::string_view signing_input = token.substr(0, parts[0].size() + 1 + parts[1].size());
  if (!VerifyJws(key->second.alg, key->second.key.get(), signing_input, signature)) {
    return Refuse("TOKEN_SIGNATURE", "the token's signature does not verify");
  }

  std::string payload_json;
  if (!Base64UrlDecode(parts[1], &payload_json)) {
    return Malformed("the token payload is not base64url");
  }
  auto payload = ParseJsonObject(payload_json);
  if (!payload.ok()) return Malformed("the token payload is not a JSON object");
  Claims claims;
  OUTREACH_ASSIGN_OR_RETURN(claims.issuer, OptionalString(*payload, "iss", "the token's iss"));
  if (claims.issuer != options_.issuer) {
    return Refuse("TOKEN_ISSUER", "the token was not issued by the issuer this service trusts");
  }
  if (!AudienceMatches(Find(*payload, "aud"), options_.audience)) {
    return Refuse("TOKEN_AUDIENCE", "the token is not meant for this service (audience)");
  }
  OUTREACH_ASSIGN_OR_RETURN(const std::optional<absl::Time> exp, NumericDate(*payload, "exp"));
  if (!exp) return Malformed("the token has no exp claim");
  if (now >= *exp + options_.skew) return Refuse("TOKEN_EXPIRED", "the bearer token has expired");
  OUTREACH_ASSIGN_OR_RETURN(const std::optional<absl::Time> nbf, NumericDate(*payload, "nbf"));
  if (nbf && now + options_.skew < *nbf) {
    return Refuse("TOKEN_NOT_YET_VALID", "the bearer token is not valid yet");
  }
  OUTREACH_RETURN_IF_ERROR(NumericDate(*payload, "iat").status());
  OUTREACH_ASSIGN_OR_RETURN(claims.subject, OptionalString(*payload, "sub", "the token's sub"));
  if (claims.subject.empty()) return Malformed("the token has no sub claim");
  OUTREACH_ASSIGN_OR_RETURN(claims.forces, StringList(*payload, "forces"));
  OUTREACH_ASSIGN_OR_RETURN(claims.roles, StringList(*payload, "roles"));
  claims.expiry = *exp;
  return claims;
}

absl::StatusOr<std::string> MintToken(const MintRequest& request) {
  const std::pair<const std::string*, absl::string_view> required[] = {
      {&request.kid, "kid"},
      {&request.issuer, "issuer"},
      {&request.audience, "audience"},
      {&request.subject, "subject"}};
  for (const auto& [value, name] : required) {
    if (value->empty()) return absl::InvalidArgumentError(absl::StrCat("the ", name, " is empty"));
  }
  if (request.lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the lifetime must be positive");
  }
  OUTREACH_ASSIGN_OR_RETURN(const Pkey key,
                            LoadPemKey(request.private_key_pem, /*require_private=*/true));
  OUTREACH_ASSIGN_OR_RETURN(const Algorithm alg, AlgorithmOf(key.get()));
  google::protobuf::Struct header;
  SetJsonString(&header, "alg", AlgorithmName(alg));
  SetJsonString(&header, "kid", request.kid);
  SetJsonString(&header, "typ", "JWT");
  google::protobuf::Struct payload;
  SetJsonString(&payload, "iss", request.issuer);
  SetJsonString(&payload, "aud", request.audience);
  SetJsonString(&payload, "sub", request.subject);
  auto& fields = *payload.mutable_fields();
  fields["iat"].set_number_value(static_cast<double>(absl::ToUnixSeconds(request.issued_at)));
  fields["exp"].set_number_value(
      static_cast<double>(absl::ToUnixSeconds(request.issued_at + request.lifetime)));
  if (request.not_before) {
    fields["nbf"].set_number_value(static_cast<double>(absl::ToUnixSeconds(*request.not_before)));
  }
  SetList(&payload, "forces", request.forces);
  SetList(&payload, "roles", request.roles);
  return SignCompact(ToJson(header), ToJson(payload), request.private_key_pem);
}

}  // namespace outreach::security
