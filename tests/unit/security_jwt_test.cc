// TokenVerifier, MintToken and JwksFor (common/security/jwt.h) against keys made here with
// OpenSSL: every refusal has its code and reason, rotation and broken files on a FakeClock.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/security/jwks.h"
#include "common/security/jwt.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace outreach::security {
namespace {

constexpr char kIssuer[] = "https://outreach.local/dev";
constexpr char kAudience[] = "outreach";

// PEM of a fresh private key ("RSA", 2048 / "EC", "P-256" ...), or of its public half.
std::string Pem(EVP_PKEY* key, bool public_only) {
  BIO* bio = BIO_new(BIO_s_mem());
  const int ok = public_only
                     ? PEM_write_bio_PUBKEY(bio, key)
                     : PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  EXPECT_EQ(ok, 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  return pem;
}

struct TestKey {
  std::string private_pem;
  std::string public_pem;
};

TestKey MakeKey(const char* type, const char* curve, size_t rsa_bits = 2048) {
  EVP_PKEY* key = curve != nullptr ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve)
                                   : EVP_PKEY_Q_keygen(nullptr, nullptr, type, rsa_bits);
  EXPECT_NE(key, nullptr);
  TestKey out{Pem(key, false), Pem(key, true)};
  EVP_PKEY_free(key);
  return out;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string Encode(absl::string_view text) { return Base64UrlEncode(text); }

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new TestKey(MakeKey("RSA", nullptr));
    ec_ = new TestKey(MakeKey("EC", "P-256"));
    ec_other_ = new TestKey(MakeKey("EC", "P-256"));
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete ec_;
    delete ec_other_;
  }

  void SetUp() override {
    WriteJwks({{"rsa-1", rsa_->private_pem}, {"ec-1", ec_->public_pem}});
    options_.jwks_path = jwks_path_;
    options_.issuer = kIssuer;
    options_.audience = kAudience;
  }

  void WriteJwks(const std::vector<std::pair<std::string, std::string>>& keys) {
    auto jwks = JwksFor(keys);
    ASSERT_TRUE(jwks.ok()) << jwks.status();
    WriteFile(jwks_path_, *jwks);
  }

  std::unique_ptr<TokenVerifier> Verifier() {
    auto verifier = TokenVerifier::Create(options_, &clock_);
    EXPECT_TRUE(verifier.ok()) << verifier.status();
    return verifier.ok() ? *std::move(verifier) : nullptr;
  }

  MintRequest Request(const TestKey& key, const std::string& kid) {
    MintRequest request;
    request.private_key_pem = key.private_pem;
    request.kid = kid;
    request.issuer = kIssuer;
    request.audience = kAudience;
    request.subject = "officer-1234";
    request.forces = {"derbyshire"};
    request.roles = {"schools_coordinator", "presenter"};
    request.issued_at = clock_.Now();
    return request;
  }

  std::string Mint(const MintRequest& request) {
    auto token = MintToken(request);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? *token : "";
  }

  // A token with exactly these JSON texts, signed with `key` (header alg must fit the key).
  std::string Signed(const std::string& header, const std::string& payload, const TestKey& key) {
    auto token = SignCompact(header, payload, key.private_pem);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? *token : "";
  }

  // Claims that pass, with `extra` JSON members (",\"k\":v") appended or `drop` left out.
  std::string Payload(const std::string& extra = "", const std::string& drop = "") {
    const int64_t now = absl::ToUnixSeconds(clock_.Now());
    std::vector<std::string> members = {absl::StrCat("\"iss\":\"", kIssuer, "\""),
                                        absl::StrCat("\"aud\":\"", kAudience, "\""),
                                        "\"sub\":\"officer-1234\"",
                                        absl::StrCat("\"iat\":", now),
                                        absl::StrCat("\"exp\":", now + 3600),
                                        "\"forces\":[\"derbyshire\"]",
                                        "\"roles\":[\"analyst\"]"};
    std::string out = "{";
    for (const auto& m : members) {
      if (!drop.empty() && absl::StartsWith(m, absl::StrCat("\"", drop, "\""))) continue;
      absl::StrAppend(&out, out.size() > 1 ? "," : "", m);
    }
    return absl::StrCat(out, extra, "}");
  }

  static std::string RsaHeader(const std::string& kid = "rsa-1") {
    return absl::StrCat(R"({"alg":"RS256","typ":"JWT","kid":")", kid, "\"}");
  }

  static TestKey* rsa_;
  static TestKey* ec_;
  static TestKey* ec_other_;
  TempDir dir_;
  std::string jwks_path_ = dir_.File("jwks.json");
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  VerifierOptions options_;
};

TestKey* JwtTest::rsa_ = nullptr;
TestKey* JwtTest::ec_ = nullptr;
TestKey* JwtTest::ec_other_ = nullptr;

// UNAUTHENTICATED with `reason`, and a message that quotes no part of the token.
void ExpectRefused(const absl::StatusOr<Claims>& result, const std::string& reason,
                   const std::string& token) {
  ASSERT_FALSE(result.ok()) << "accepted; expected " << reason;
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
  EXPECT_EQ(ErrorReason(result.status()), reason) << result.status();
  EXPECT_TRUE(IsPublicError(result.status()));
  for (absl::string_view part : absl::StrSplit(token, '.')) {
    if (part.size() >= 8) {
      EXPECT_FALSE(absl::StrContains(result.status().message(), part)) << result.status();
    }
  }
}

TEST_F(JwtTest, Rs256TokenGivesItsClaims) {
  auto verifier = Verifier();
  const auto claims = verifier->Verify(Mint(Request(*rsa_, "rsa-1")));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "officer-1234");
  EXPECT_EQ(claims->issuer, kIssuer);
  EXPECT_EQ(claims->forces, std::vector<std::string>{"derbyshire"});
  EXPECT_EQ(claims->roles, (std::vector<std::string>{"schools_coordinator", "presenter"}));
  EXPECT_EQ(claims->expiry, clock_.Now() + absl::Hours(1));
}

TEST_F(JwtTest, Es256TokenGivesItsClaims) {
  auto verifier = Verifier();
  MintRequest request = Request(*ec_, "ec-1");
  request.lifetime = absl::Minutes(5);
  request.roles = {"analyst"};
  const auto claims = verifier->Verify(Mint(request));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->roles, std::vector<std::string>{"analyst"});
  EXPECT_EQ(claims->expiry, clock_.Now() + absl::Minutes(5));
}

TEST_F(JwtTest, AudienceMayBeAnArrayAndClaimsMayBeAbsent) {
  auto verifier = Verifier();
  const std::string token =
      Signed(RsaHeader(), Payload(R"(,"aud":["reporting","outreach"])", "aud"), *rsa_);
  ASSERT_TRUE(verifier->Verify(token).ok()) << verifier->Verify(token).status();
  // No forces and no roles: a token that grants nothing, not a malformed one.
  const std::string bare = Signed(RsaHeader(), Payload("", "forces"), *rsa_);
  const auto claims = verifier->Verify(bare);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_TRUE(claims->forces.empty());
}

TEST_F(JwtTest, AlgNoneIsRefused) {
  auto verifier = Verifier();
  for (const char* alg : {"none", "None", "NONE"}) {
    const std::string token =
        absl::StrCat(Encode(absl::StrCat(R"({"alg":")", alg, R"(","kid":"rsa-1"})")), ".",
                     Encode(Payload()), ".");
    ExpectRefused(verifier->Verify(token), "TOKEN_ALGORITHM", token);
  }
}

// The classic confusion: HMAC "signed" with the RSA public key everyone can read, under the
// RSA key's kid. A library that lets the header choose the algorithm accepts it.
TEST_F(JwtTest, HmacWithThePublicKeyIsRefused) {
  auto verifier = Verifier();
  const std::pair<const char*, const EVP_MD*> hmacs[] = {
      {"HS256", EVP_sha256()}, {"HS384", EVP_sha384()}, {"HS512", EVP_sha512()}};
  for (const auto& [alg, md] : hmacs) {
    const std::string input = absl::StrCat(
        Encode(absl::StrCat(R"({"alg":")", alg, R"(","kid":"rsa-1"})")), ".", Encode(Payload()));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    ASSERT_NE(
        HMAC(md, rsa_->public_pem.data(), static_cast<int>(rsa_->public_pem.size()),
             reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length),
        nullptr);
    const std::string token = absl::StrCat(
        input, ".", Encode(absl::string_view(reinterpret_cast<const char*>(mac), length)));
    ExpectRefused(verifier->Verify(token), "TOKEN_ALGORITHM", token);
  }
}

TEST_F(JwtTest, AnAlgorithmOtherThanTheKeysIsRefused) {
  auto verifier = Verifier();
  // RS256, correctly signed by the RSA key, but naming the EC key.
  const std::string rs_for_ec = Signed(RsaHeader("ec-1"), Payload(), *rsa_);
  ExpectRefused(verifier->Verify(rs_for_ec), "TOKEN_ALGORITHM", rs_for_ec);
  const std::string es_for_rsa = Signed(R"({"alg":"ES256","kid":"rsa-1"})", Payload(), *ec_);
  ExpectRefused(verifier->Verify(es_for_rsa), "TOKEN_ALGORITHM", es_for_rsa);
  const std::string ps256 =
      absl::StrCat(Encode(R"({"alg":"PS256","kid":"rsa-1"})"), ".", Encode(Payload()), ".c2ln");
  ExpectRefused(verifier->Verify(ps256), "TOKEN_ALGORITHM", ps256);
  const std::string no_alg =
      absl::StrCat(Encode(R"({"kid":"rsa-1"})"), ".", Encode(Payload()), ".c2ln");
  ExpectRefused(verifier->Verify(no_alg), "TOKEN_ALGORITHM", no_alg);
}

TEST_F(JwtTest, UnknownOrMissingKidIsRefused) {
  auto verifier = Verifier();
  const std::string unknown = Mint(Request(*rsa_, "rsa-9"));
  ExpectRefused(verifier->Verify(unknown), "TOKEN_UNKNOWN_KEY", unknown);
  const std::string missing = Signed(R"({"alg":"RS256","typ":"JWT"})", Payload(), *rsa_);
  ExpectRefused(verifier->Verify(missing), "TOKEN_MALFORMED", missing);
}

TEST_F(JwtTest, ABadSignatureIsRefused) {
  auto verifier = Verifier();
  // Another P-256 key under ec-1's kid.
  const std::string other_key = Mint(Request(*ec_other_, "ec-1"));
  ExpectRefused(verifier->Verify(other_key), "TOKEN_SIGNATURE", other_key);
  // A genuine signature over different claims: the payload swapped for one granting more.
  const std::string genuine = Mint(Request(*rsa_, "rsa-1"));
  const std::vector<std::string> parts = absl::StrSplit(genuine, '.');
  const std::string swapped = absl::StrCat(
      parts[0], ".", Encode(Payload(R"(,"roles":["force_admin"])", "roles")), ".", parts[2]);
  ExpectRefused(verifier->Verify(swapped), "TOKEN_SIGNATURE", swapped);
  // An ES256 signature of the wrong length.
  const std::string es = Mint(Request(*ec_, "ec-1"));
  const std::string truncated = es.substr(0, es.size() - 4);
  ExpectRefused(verifier->Verify(truncated), "TOKEN_SIGNATURE", truncated);
}

TEST_F(JwtTest, AWrongStructureIsRefused) {
  auto verifier = Verifier();
  const std::string good = Mint(Request(*rsa_, "rsa-1"));
  const std::vector<std::string> parts = absl::StrSplit(good, '.');
  for (const std::string& token :
       {std::string(), std::string("abc"), absl::StrCat(parts[0], ".", parts[1]),
        absl::StrCat(good, ".", parts[2]), std::string(".."),
        absl::StrCat(".", parts[1], ".", parts[2]), absl::StrCat(parts[0], ".", parts[1], "."),
        absl::StrCat(parts[0], "=.", parts[1], ".", parts[2]),
        absl::StrCat(parts[0], ".", parts[1], ".", parts[2], "*"),
        absl::StrCat(Encode("not json"), ".", parts[1], ".", parts[2]),
        absl::StrCat(Encode("[1,2]"), ".", parts[1], ".", parts[2]),
        absl::StrCat(Encode(R"({"alg":"RS256","kid":"rsa-1","crit":["exp"]})"), ".", parts[1], ".",
                     parts[2]),
        absl::StrCat(Encode(R"({"alg":"RS256","kid":"rsa-1","typ":"JWE"})"), ".", parts[1], ".",
                     parts[2])}) {
    ExpectRefused(verifier->Verify(token), "TOKEN_MALFORMED", token);
  }
  // A payload that is not JSON, correctly signed.
  const std::string not_json = Signed(RsaHeader(), "exp=tomorrow", *rsa_);
  ExpectRefused(verifier->Verify(not_json), "TOKEN_MALFORMED", not_json);
}

TEST_F(JwtTest, TokensOver8KiBAreRefused) {
  auto verifier = Verifier();
  MintRequest request = Request(*rsa_, "rsa-1");
  request.roles.assign(1000, "analyst");
  const std::string big = Mint(request);
  ASSERT_GT(big.size(), kMaxTokenBytes);
  ExpectRefused(verifier->Verify(big), "TOKEN_MALFORMED", big);
  ExpectRefused(verifier->Verify(std::string(kMaxTokenBytes + 1, 'a')), "TOKEN_MALFORMED", "");
}

TEST_F(JwtTest, ExpiryIsRequiredAndHonouredWithTheSkew) {
  auto verifier = Verifier();
  const std::string no_exp = Signed(RsaHeader(), Payload("", "exp"), *rsa_);
  ExpectRefused(verifier->Verify(no_exp), "TOKEN_MALFORMED", no_exp);
  const std::string text_exp = Signed(RsaHeader(), Payload(R"(,"exp":"tomorrow")", "exp"), *rsa_);
  ExpectRefused(verifier->Verify(text_exp), "TOKEN_MALFORMED", text_exp);

  const std::string token = Mint(Request(*rsa_, "rsa-1"));
  clock_.Advance(absl::Hours(1) + absl::Seconds(29));  // past exp, within the skew
  EXPECT_TRUE(verifier->Verify(token).ok());
  clock_.Advance(absl::Seconds(1));
  ExpectRefused(verifier->Verify(token), "TOKEN_EXPIRED", token);
  ExpectRefused(Verifier()->Verify(token), "TOKEN_EXPIRED", token);  // uncached, too
}

// The second Verify is answered from the cache; the cache still checks exp.
TEST_F(JwtTest, ACachedTokenIsStillRefusedOnceExpired) {
  auto verifier = Verifier();
  MintRequest request = Request(*ec_, "ec-1");
  request.lifetime = absl::Minutes(10);
  const std::string token = Mint(request);
  ASSERT_TRUE(verifier->Verify(token).ok());
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(verifier->Verify(token).ok());
  clock_.Advance(absl::Minutes(6));
  ExpectRefused(verifier->Verify(token), "TOKEN_EXPIRED", token);
}

TEST_F(JwtTest, NotBeforeIsHonouredWithTheSkew) {
  auto verifier = Verifier();
  MintRequest later = Request(*rsa_, "rsa-1");
  later.not_before = clock_.Now() + absl::Minutes(2);
  const std::string token = Mint(later);
  ExpectRefused(verifier->Verify(token), "TOKEN_NOT_YET_VALID", token);
  MintRequest soon = Request(*rsa_, "rsa-1");
  soon.not_before = clock_.Now() + absl::Seconds(20);  // a clock a little ahead of ours
  EXPECT_TRUE(verifier->Verify(Mint(soon)).ok());
  clock_.Advance(absl::Minutes(2));
  EXPECT_TRUE(verifier->Verify(token).ok());
}

TEST_F(JwtTest, IssuerAndAudienceMustMatch) {
  auto verifier = Verifier();
  MintRequest other_issuer = Request(*rsa_, "rsa-1");
  other_issuer.issuer = "https://outreach.local/dev/";  // exact match: a trailing slash differs
  MintRequest other_audience = Request(*rsa_, "rsa-1");
  other_audience.audience = "reporting";
  const std::pair<std::string, std::string> cases[] = {
      {Mint(other_issuer), "TOKEN_ISSUER"},
      {Signed(RsaHeader(), Payload("", "iss"), *rsa_), "TOKEN_ISSUER"},
      {Mint(other_audience), "TOKEN_AUDIENCE"},
      {Signed(RsaHeader(), Payload(R"(,"aud":["reporting","outreachx"])", "aud"), *rsa_),
       "TOKEN_AUDIENCE"},
      {Signed(RsaHeader(), Payload("", "aud"), *rsa_), "TOKEN_AUDIENCE"},
  };
  for (const auto& [token, reason] : cases) ExpectRefused(verifier->Verify(token), reason, token);
}

TEST_F(JwtTest, ForcesAndRolesMustBeArraysOfStrings) {
  auto verifier = Verifier();
  for (const auto& [claim, value] :
       std::vector<std::pair<std::string, std::string>>{{"forces", R"("derbyshire")"},
                                                        {"forces", R"(["derbyshire",7])"},
                                                        {"roles", R"({"analyst":true})"},
                                                        {"roles", R"([["analyst"]])"}}) {
    const std::string token =
        Signed(RsaHeader(), Payload(absl::StrCat(",\"", claim, "\":", value), claim), *rsa_);
    ExpectRefused(verifier->Verify(token), "TOKEN_MALFORMED", token);
  }
  const std::string no_sub = Signed(RsaHeader(), Payload("", "sub"), *rsa_);
  ExpectRefused(verifier->Verify(no_sub), "TOKEN_MALFORMED", no_sub);
}

// Rotation: the file gains a new key and loses the old one; once reload_check has passed, new
// tokens verify and the old kid (even a token verified and cached before) is refused.
TEST_F(JwtTest, ARotatedJwksIsPickedUp) {
  auto verifier = Verifier();
  const std::string old_token = Mint(Request(*rsa_, "rsa-1"));
  ASSERT_TRUE(verifier->Verify(old_token).ok());
  WriteJwks({{"ec-2", ec_other_->public_pem}});
  const std::string new_token = Mint(Request(*ec_other_, "ec-2"));
  // Not before reload_check: the file is not looked at on every call.
  ExpectRefused(verifier->Verify(new_token), "TOKEN_UNKNOWN_KEY", new_token);
  clock_.Advance(options_.reload_check);
  EXPECT_TRUE(verifier->Verify(new_token).ok());
  ExpectRefused(verifier->Verify(old_token), "TOKEN_UNKNOWN_KEY", old_token);
}

TEST_F(JwtTest, ABrokenRewriteKeepsTheOldKeysAndWarnsOnce) {
  auto verifier = Verifier();
  WriteFile(jwks_path_, R"({"keys":[{"kty":"RSA","kid":"rsa-1")");  // cut short
  ::testing::internal::CaptureStderr();
  clock_.Advance(options_.reload_check);
  const auto first = verifier->Verify(Mint(Request(*rsa_, "rsa-1")));
  clock_.Advance(options_.reload_check);
  MintRequest again = Request(*ec_, "ec-1");
  again.subject = "officer-5678";
  const auto second = verifier->Verify(Mint(again));
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(second.ok()) << second.status();
  size_t warnings = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, "event=jwks_reload_failed")) {
      ++warnings;
      EXPECT_TRUE(absl::StrContains(line, "level=warn")) << line;
    }
  }
  EXPECT_EQ(warnings, 1u) << log;
  // Fixed: the new file is taken.
  WriteJwks({{"ec-2", ec_other_->public_pem}});
  clock_.Advance(options_.reload_check);
  EXPECT_TRUE(verifier->Verify(Mint(Request(*ec_other_, "ec-2"))).ok());
}

// Verify is called from every server thread while the file rotates under it: a key that
// stays in the file keeps verifying throughout (run under the asan preset for races).
TEST_F(JwtTest, ConcurrentCallsDuringRotationKeepVerifying) {
  options_.reload_check = absl::ZeroDuration();  // every call may check the file
  auto verifier = Verifier();
  std::vector<std::string> tokens;
  for (int i = 0; i < 4; ++i) {
    MintRequest request = Request(*rsa_, "rsa-1");
    request.subject = absl::StrCat("officer-", i);
    tokens.push_back(Mint(request));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (!verifier->Verify(tokens[(t + i) % tokens.size()]).ok()) ++failures;
      }
    });
  }
  for (int round = 0; round < 20; ++round) {
    if (round % 2 == 0) {
      WriteJwks({{"rsa-1", rsa_->public_pem}, {"ec-2", ec_other_->public_pem}});
    } else {
      WriteJwks({{"rsa-1", rsa_->public_pem}});
    }
    clock_.Advance(absl::Seconds(1));
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(JwtTest, AnEvictedTokenIsVerifiedAgain) {
  options_.cache_capacity = 4;
  auto verifier = Verifier();
  std::vector<std::string> tokens;
  for (int i = 0; i < 12; ++i) {
    MintRequest request = Request(i % 2 == 0 ? *rsa_ : *ec_, i % 2 == 0 ? "rsa-1" : "ec-1");
    request.subject = absl::StrCat("officer-", i);
    tokens.push_back(Mint(request));
    ASSERT_TRUE(verifier->Verify(tokens.back()).ok());
  }
  for (int i = 0; i < 12; ++i) {
    const auto claims = verifier->Verify(tokens[i]);
    ASSERT_TRUE(claims.ok()) << claims.status();
    EXPECT_EQ(claims->subject, absl::StrCat("officer-", i));
  }
}

// The service refuses to start without keys it can use.
TEST_F(JwtTest, CreateRefusesAJwksWithoutUsableKeys) {
  const auto refused = [&](const std::string& content, const std::string& why) {
    WriteFile(jwks_path_, content);
    const auto verifier = TokenVerifier::Create(options_, &clock_);
    ASSERT_FALSE(verifier.ok()) << content;
    EXPECT_EQ(verifier.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(verifier.status().message(), why)) << verifier.status();
    EXPECT_TRUE(absl::StrContains(verifier.status().message(), jwks_path_)) << verifier.status();
  };
  // The EC key's JWK, for edits below.
  auto jwks = JwksFor({{"ec-1", ec_->public_pem}});
  ASSERT_TRUE(jwks.ok());
  auto document = ParseJsonObject(*jwks);
  ASSERT_TRUE(document.ok());
  const auto edited = [&](const std::string& field, const std::string& value) {
    google::protobuf::Struct copy = *document;
    auto* jwk = copy.mutable_fields()->at("keys").mutable_list_value()->mutable_values(0);
    SetJsonString(jwk->mutable_struct_value(), field, value);
    return ToJson(copy);
  };
  std::string y;
  ASSERT_TRUE(Base64UrlDecode(document->fields()
                                  .at("keys")
                                  .list_value()
                                  .values(0)
                                  .struct_value()
                                  .fields()
                                  .at("y")
                                  .string_value(),
                              &y));
  y[31] ^= 1;

  refused("{}", "no \"keys\" array");
  refused("not json", "not a JSON object");
  refused(R"({"keys":[]})", "no usable key");
  refused(R"({"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]})", "kty \"oct\"");
  refused(edited("crv", "P-384"), "P-256");
  refused(edited("y", Base64UrlEncode(y)), "not a valid public key");  // a point off the curve
  refused(edited("use", "enc"), "not sig");
  refused(edited("alg", "RS256"), "does not fit");
  refused(edited("kid", ""), "no \"kid\"");
  refused(R"({"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]})", "2048 bits");
  google::protobuf::Struct twice = *document;
  auto* keys = twice.mutable_fields()->at("keys").mutable_list_value();
  *keys->add_values() = keys->values(0);
  refused(ToJson(twice), "more than once");
  refused("", "not a JSON object");
  options_.jwks_path = dir_.File("missing.json");
  const auto missing = TokenVerifier::Create(options_, &clock_);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "missing.json\" cannot be opened"))
      << missing.status();
}

TEST_F(JwtTest, MintAndJwksRefuseUnusableInput) {
  MintRequest request = Request(*rsa_, "rsa-1");
  request.private_key_pem = rsa_->public_pem;
  EXPECT_EQ(MintToken(request).status().code(), absl::StatusCode::kInvalidArgument);
  request = Request(*rsa_, "");
  EXPECT_EQ(MintToken(request).status().code(), absl::StatusCode::kInvalidArgument);
  request = Request(*rsa_, "rsa-1");
  request.lifetime = absl::ZeroDuration();
  EXPECT_EQ(MintToken(request).status().code(), absl::StatusCode::kInvalidArgument);
  const TestKey small = MakeKey("RSA", nullptr, 1024);
  EXPECT_EQ(MintToken(Request(small, "small")).status().code(), absl::StatusCode::kInvalidArgument);
  const TestKey p384 = MakeKey("EC", "P-384");
  EXPECT_EQ(JwksFor({{"p384", p384.public_pem}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JwksFor({{"a", rsa_->public_pem}, {"a", ec_->public_pem}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JwksFor({{"a", "not a key"}}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace outreach::security
