#include "common/pagination.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/page_token.pb.h"

namespace outreach {
namespace {

constexpr char kVersion = 1;
constexpr size_t kTagSize = 16;

std::string Tag(const std::string& key, absl::string_view fingerprint, absl::string_view payload) {
  std::string message = absl::StrCat(fingerprint.size(), ":", fingerprint, payload);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), kTagSize);
}

absl::Status BadToken(absl::string_view why) {
  return InvalidArgumentWithReason("INVALID_PAGE_TOKEN", "page_token", why);
}

}  // namespace

absl::StatusOr<int32_t> NormalizePageSize(int32_t page_size) {
  if (page_size < 0) {
    return InvalidArgument("page_size",
                           absl::StrCat("must be between 0 and ", kMaxPageSize,
                                        " (0 means the default of ", kDefaultPageSize, ")"));
  }
  if (page_size == 0) return kDefaultPageSize;
  return page_size > kMaxPageSize ? kMaxPageSize : page_size;
}

PageTokenCodec::PageTokenCodec(std::string key) : key_(std::move(key)) {
  if (key_.empty()) {
    key_.resize(32);
    RAND_bytes(reinterpret_cast<unsigned char*>(key_.data()), static_cast<int>(key_.size()));
  }
}

std::string PageTokenCodec::Encode(absl::string_view query_fingerprint,
                                   const PageCursor& cursor) const {
  internal::PageToken token;
  for (const auto& k : cursor.last_key) token.add_last_key(k);
  token.set_offset(cursor.offset);
  std::string payload;
  token.SerializeToString(&payload);
  std::string raw(1, kVersion);
  raw += Tag(key_, query_fingerprint, payload);
  raw += payload;
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<PageCursor> PageTokenCodec::Decode(absl::string_view token,
                                                  absl::string_view query_fingerprint) const {
  if (token.empty()) return PageCursor{};
  if (token.size() > 4096) return BadToken("is too long; pass back next_page_token unchanged");
  std::string raw;
  // The unescape is lenient (padding, whitespace, stray bits); a token is only ever the exact
  // spelling Encode produced, so anything that does not re-encode to itself is refused.
  if (!absl::WebSafeBase64Unescape(token, &raw) || absl::WebSafeBase64Escape(raw) != token ||
      raw.size() < 1 + kTagSize || raw[0] != kVersion) {
    return BadToken("is malformed; pass back next_page_token unchanged");
  }
  const std::string tag = raw.substr(1, kTagSize);
  const std::string payload = raw.substr(1 + kTagSize);
  const std::string expected = Tag(key_, query_fingerprint, payload);
  if (CRYPTO_memcmp(tag.data(), expected.data(), kTagSize) != 0) {
    return BadToken(
        "does not belong to this query (it was altered, issued for another filter/order_by/"
        "parent, or by a server with another key); start again without a page_token");
  }
  internal::PageToken parsed;
  if (!parsed.ParseFromString(payload) || parsed.offset() < 0) {
    return BadToken("is malformed; pass back next_page_token unchanged");
  }
  PageCursor cursor;
  cursor.offset = parsed.offset();
  cursor.last_key.assign(parsed.last_key().begin(), parsed.last_key().end());
  return cursor;
}

absl::StatusOr<ListPaging> DecodeListPaging(const PageTokenCodec& codec, int32_t page_size,
                                            absl::string_view page_token,
                                            const std::vector<absl::string_view>& query_parts) {
  ListPaging paging;
  absl::StatusOr<int32_t> size = NormalizePageSize(page_size);
  if (!size.ok()) return size.status();
  paging.page_size = *size;
  paging.fingerprint = QueryFingerprint(query_parts);
  absl::StatusOr<PageCursor> cursor = codec.Decode(page_token, paging.fingerprint);
  if (!cursor.ok()) return cursor.status();
  paging.offset = cursor->offset;
  return paging;
}

std::string NextPageToken(const PageTokenCodec& codec, const ListPaging& paging, int64_t returned,
                          bool more) {
  if (!more) return "";
  PageCursor cursor;
  cursor.offset = paging.offset + returned;
  return codec.Encode(paging.fingerprint, cursor);
}

std::string QueryFingerprint(const std::vector<absl::string_view>& parts) {
  std::string out;
  for (absl::string_view p : parts) absl::StrAppend(&out, p.size(), ":", p, ";");
  return out;
}

}  // namespace outreach
