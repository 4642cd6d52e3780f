// Page-token decoding (common/pagination.h). The first byte picks what the bytes are:
//   0: a page_token as a caller sends it (with a page_size and a filter it is bound to);
//   1: a cursor that the codec encodes, decodes back, and decodes again with one byte altered;
//   2: a payload signed here the way the header documents the format, so the fuzzer also
//      reaches the payload parsing behind the HMAC check.
// A token is either decoded to a sane cursor or refused with INVALID_ARGUMENT naming
// page_size/page_token; an altered token never decodes to a different cursor.
#include <fuzzer/FuzzedDataProvider.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/pagination.h"
#include "tests/fuzz/fuzz_check.h"

namespace outreach {
namespace {

constexpr char kKey[] = "fuzz-page-token-key";

const PageTokenCodec& Codec() {
  static const auto* codec = new PageTokenCodec(kKey);
  return *codec;
}

void CheckRefusal(const absl::Status& status) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  std::vector<FieldViolation> violations = FieldViolations(status);
  FUZZ_CHECK(violations.size() == 1);
  FUZZ_CHECK(violations[0].field == "page_size" || violations[0].field == "page_token");
  if (violations[0].field == "page_token") FUZZ_CHECK(ErrorReason(status) == "INVALID_PAGE_TOKEN");
}

bool SameCursor(const PageCursor& a, const PageCursor& b) {
  return a.offset == b.offset && a.last_key == b.last_key;
}

void CallerToken(FuzzedDataProvider& in) {
  const int32_t page_size = in.ConsumeIntegral<int32_t>();
  const std::string filter = in.ConsumeRandomLengthString(64);
  const std::string token = in.ConsumeRemainingBytesAsString();
  absl::StatusOr<ListPaging> paging =
      DecodeListPaging(Codec(), page_size, token, {"forces/f", filter, ""});
  if (!paging.ok()) return CheckRefusal(paging.status());
  FUZZ_CHECK(paging->page_size >= 1 && paging->page_size <= kMaxPageSize);
  FUZZ_CHECK(paging->offset >= 0);
}

void RoundTrip(FuzzedDataProvider& in) {
  PageCursor cursor;
  cursor.offset = in.ConsumeIntegralInRange<int64_t>(0, INT64_MAX);
  const int keys = in.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < keys; ++i) cursor.last_key.push_back(in.ConsumeRandomLengthString(32));
  const std::string fingerprint = in.ConsumeRandomLengthString(64);
  const std::string token = Codec().Encode(fingerprint, cursor);

  absl::StatusOr<PageCursor> back = Codec().Decode(token, fingerprint);
  FUZZ_CHECK(back.ok() && SameCursor(*back, cursor));
  absl::StatusOr<PageCursor> elsewhere = Codec().Decode(token, fingerprint + "x");
  FUZZ_CHECK(!elsewhere.ok());
  CheckRefusal(elsewhere.status());

  std::string altered = token;
  const size_t at = in.ConsumeIntegralInRange<size_t>(0, altered.size() - 1);
  altered[at] = static_cast<char>(altered[at] ^ in.ConsumeIntegralInRange<uint8_t>(1, 255));
  absl::StatusOr<PageCursor> tampered = Codec().Decode(altered, fingerprint);
  // A flip in the unused low bits of the last base64 character decodes to the same bytes.
  if (tampered.ok()) FUZZ_CHECK(SameCursor(*tampered, cursor));
  if (!tampered.ok()) CheckRefusal(tampered.status());
}

void SignedPayload(FuzzedDataProvider& in) {
  const std::string fingerprint = in.ConsumeRandomLengthString(64);
  const std::string payload = in.ConsumeRemainingBytesAsString();
  const std::string message = absl::StrCat(fingerprint.size(), ":", fingerprint, payload);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), kKey, sizeof(kKey) - 1, reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), digest, &length);
  const std::string raw =
      absl::StrCat("\x01", absl::string_view(reinterpret_cast<char*>(digest), 16), payload);
  const std::string token = absl::WebSafeBase64Escape(raw);
  absl::StatusOr<PageCursor> cursor = Codec().Decode(token, fingerprint);
  if (!cursor.ok()) return CheckRefusal(cursor.status());
  FUZZ_CHECK(cursor->offset >= 0);
  // Whatever decoded encodes again to a token that decodes the same.
  absl::StatusOr<PageCursor> again =
      Codec().Decode(Codec().Encode(fingerprint, *cursor), fingerprint);
  FUZZ_CHECK(again.ok() && SameCursor(*again, *cursor));
}

}  // namespace
}  // namespace outreach

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegral<uint8_t>() % 3) {
    case 0:
      outreach::CallerToken(in);
      break;
    case 1:
      outreach::RoundTrip(in);
      break;
    default:
      outreach::SignedPayload(in);
      break;
  }
  return 0;
}
