#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace outreach {

// Page sizes for every List method: 0 means the default, larger than the maximum is clamped,
// negative is INVALID_ARGUMENT (field "page_size").
inline constexpr int32_t kDefaultPageSize = 50;
inline constexpr int32_t kMaxPageSize = 500;
// A page holds fewer than page_size items when its resources reach this many bytes (AIP-158
// allows short pages; next_page_token continues), so 200 concurrent maximum-size lists stay
// within a container's memory.
inline constexpr size_t kMaxListResponseBytes = size_t{512} * 1024;
absl::StatusOr<int32_t> NormalizePageSize(int32_t page_size);

// Where the next page starts: the sort key values and id of the last item returned (keyset
// pagination, stable under inserts) and the number of items already returned.
struct PageCursor {
  std::vector<std::string> last_key;
  int64_t offset = 0;
};

// Page tokens are opaque to callers and tamper-evident: unpadded base64url(version | HMAC-SHA256
// tag | payload), accepted only spelled exactly as issued. The tag covers the payload and the
// fingerprint of the query the token came from (List method, parent, filter, order_by, ...), so a
// token edited by hand, or replayed with another method, filter or order, is refused with
// INVALID_ARGUMENT reason INVALID_PAGE_TOKEN naming "page_token".
class PageTokenCodec {
 public:
  // `key` is the server secret (any length; 32 random bytes are generated when empty). Replicas
  // of one service share it so a token from one is accepted by another.
  explicit PageTokenCodec(std::string key = "");

  std::string Encode(absl::string_view query_fingerprint, const PageCursor& cursor) const;
  // An empty token is the first page (a default PageCursor).
  absl::StatusOr<PageCursor> Decode(absl::string_view token,
                                    absl::string_view query_fingerprint) const;

 private:
  std::string key_;
};

// Joins the parts of a query that a token is bound to into one fingerprint.
std::string QueryFingerprint(const std::vector<absl::string_view>& parts);

// The paging of one List call, decoded once: how many items, from where, and the fingerprint
// of the query (parent, filter, order_by, ...) that its tokens are bound to.
struct ListPaging {
  int32_t page_size = kDefaultPageSize;
  int64_t offset = 0;
  std::string fingerprint;
};
// Validates page_size and decodes page_token against the query parts (INVALID_ARGUMENT naming
// "page_size" or "page_token" otherwise).
absl::StatusOr<ListPaging> DecodeListPaging(const PageTokenCodec& codec, int32_t page_size,
                                            absl::string_view page_token,
                                            const std::vector<absl::string_view>& query_parts);
// The next_page_token after returning `returned` items: "" when there are no more.
std::string NextPageToken(const PageTokenCodec& codec, const ListPaging& paging, int64_t returned,
                          bool more);

// --- the one list glue every service uses ------------------------------------------------
// What a store needs to answer one List call: filter and order_by as the caller wrote them
// (the store's QuerySchema parses them) and the decoded page.
struct ListQuery {
  std::string filter;
  std::string order_by;
  int32_t page_size = kDefaultPageSize;  // already normalised
  int64_t offset = 0;
};

// One page of a store's answer.
template <typename T>
struct ListPage {
  std::vector<T> items;
  int32_t total_size = 0;    // matching items across pages
  int64_t next_offset = -1;  // -1 on the last page
};

// What the tokens of a List request are bound to: the request's message type (so a token of
// ListTopics is refused by ListVenues of the same parent), parent, filter, order_by and `extra`.
template <typename Request>
std::vector<absl::string_view> ListQueryParts(const Request& request,
                                              const std::vector<absl::string_view>& extra) {
  std::vector<absl::string_view> parts = {request.GetDescriptor()->full_name(), request.parent(),
                                          request.filter(), request.order_by()};
  parts.insert(parts.end(), extra.begin(), extra.end());
  return parts;
}

// For any AIP-132 List request (parent, filter, order_by, page_size, page_token): validates the
// page size and decodes the token against the request's ListQueryParts with `extra` query parts
// (fields of the request that change the result, e.g. a `show_expired` flag).
template <typename Request>
absl::StatusOr<ListQuery> ListQueryFor(const Request& request, const PageTokenCodec& codec,
                                       const std::vector<absl::string_view>& extra = {}) {
  absl::StatusOr<ListPaging> paging = DecodeListPaging(
      codec, request.page_size(), request.page_token(), ListQueryParts(request, extra));
  if (!paging.ok()) return paging.status();
  return ListQuery{request.filter(), request.order_by(), paging->page_size, paging->offset};
}

// The next_page_token of a page answered for `request` ("" on the last page); `extra` as given
// to ListQueryFor.
template <typename Request, typename T>
std::string NextPageTokenFor(const Request& request, const PageTokenCodec& codec,
                             const ListPage<T>& page,
                             const std::vector<absl::string_view>& extra = {}) {
  if (page.next_offset < 0) return "";
  return NextPageToken(
      codec, ListPaging{0, page.next_offset, QueryFingerprint(ListQueryParts(request, extra))}, 0,
      /*more=*/true);
}

}  // namespace outreach
