#include "absl/strings/escaping.h"
#include "absl/strings/str_replace.h"
#include "common/errors.h"
#include "common/pagination.h"
#include "gtest/gtest.h"

namespace outreach {
namespace {

TEST(PageSize, DefaultClampAndNegative) {
  EXPECT_EQ(*NormalizePageSize(0), kDefaultPageSize);
  EXPECT_EQ(*NormalizePageSize(7), 7);
  EXPECT_EQ(*NormalizePageSize(100000), kMaxPageSize);
  absl::StatusOr<int32_t> bad = NormalizePageSize(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolations(bad.status())[0].field, "page_size");
}

TEST(PageToken, RoundTrips) {
  PageTokenCodec codec("secret");
  const std::string fp = QueryFingerprint({"forces/derbyshire", "area = \"DE1\"", "name"});
  PageCursor cursor{{"2026-11-01T09:00:00Z", "w-42"}, 50};
  const std::string token = codec.Encode(fp, cursor);
  absl::StatusOr<PageCursor> back = codec.Decode(token, fp);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->last_key, cursor.last_key);
  EXPECT_EQ(back->offset, 50);
  EXPECT_TRUE(codec.Decode("", fp).ok());
  EXPECT_EQ(codec.Decode("", fp)->offset, 0);
}

// Found by common_fuzz_page_token: a sort key that is not UTF-8 made the token undecodable.
TEST(PageToken, RoundTripsKeysThatAreNotUtf8) {
  PageTokenCodec codec("k");
  PageCursor cursor;
  cursor.last_key = {"\xff\xfe", std::string("a\0b", 3)};
  cursor.offset = 7;
  auto back = codec.Decode(codec.Encode("q", cursor), "q");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->last_key, cursor.last_key);
  EXPECT_EQ(back->offset, 7);
}

TEST(PageToken, TamperedTokenIsRefused) {
  PageTokenCodec codec("secret");
  const std::string fp = QueryFingerprint({"forces/derbyshire", "", ""});
  std::string token = codec.Encode(fp, {{"w-1"}, 10});
  for (size_t i = 0; i < token.size(); ++i) {
    std::string tampered = token;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    absl::StatusOr<PageCursor> r = codec.Decode(tampered, fp);
    ASSERT_FALSE(r.ok()) << "position " << i;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ErrorReason(r.status()), "INVALID_PAGE_TOKEN");
    EXPECT_EQ(FieldViolations(r.status())[0].field, "page_token");
  }
  EXPECT_FALSE(codec.Decode("not base64 !!", fp).ok());
  EXPECT_FALSE(codec.Decode(std::string(5000, 'A'), fp).ok());
}

TEST(PageToken, TokenReusedWithAnotherQueryIsRefused) {
  PageTokenCodec codec("secret");
  const std::string token =
      codec.Encode(QueryFingerprint({"forces/derbyshire", "kind = \"SECONDARY\"", ""}), {{}, 50});
  auto other_filter =
      codec.Decode(token, QueryFingerprint({"forces/derbyshire", "kind = \"PRIMARY\"", ""}));
  EXPECT_EQ(ErrorReason(other_filter.status()), "INVALID_PAGE_TOKEN");
  auto other_force =
      codec.Decode(token, QueryFingerprint({"forces/leicestershire", "kind = \"SECONDARY\"", ""}));
  EXPECT_EQ(ErrorReason(other_force.status()), "INVALID_PAGE_TOKEN");
}

TEST(PageToken, AnotherServerKeyIsRefused) {
  const std::string fp = QueryFingerprint({"p"});
  const std::string token = PageTokenCodec("one").Encode(fp, {{}, 1});
  EXPECT_FALSE(PageTokenCodec("two").Decode(token, fp).ok());
  EXPECT_TRUE(PageTokenCodec("one").Decode(token, fp).ok());
}

TEST(ListPaging, DecodesAndChainsTokens) {
  PageTokenCodec codec("secret");
  auto first = DecodeListPaging(codec, 0, "", {"forces/derbyshire", "", "name"});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->page_size, kDefaultPageSize);
  EXPECT_EQ(first->offset, 0);
  EXPECT_EQ(NextPageToken(codec, *first, 50, /*more=*/false), "");
  const std::string token = NextPageToken(codec, *first, 50, /*more=*/true);
  auto second = DecodeListPaging(codec, 0, token, {"forces/derbyshire", "", "name"});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->offset, 50);
  EXPECT_EQ(
      ErrorReason(DecodeListPaging(codec, 0, token, {"forces/derbyshire", "", "area"}).status()),
      "INVALID_PAGE_TOKEN");
  EXPECT_FALSE(DecodeListPaging(codec, -5, "", {"p"}).ok());
}

// Stand-ins for two generated List requests of one service: the same fields, another message
// type (ListQueryFor reads only these accessors and the descriptor's full name).
struct FakeDescriptor {
  std::string name;
  const std::string& full_name() const { return name; }
};
struct FakeListRequest {
  const FakeDescriptor* descriptor;
  std::string parent_ = "forces/derbyshire";
  std::string filter_;
  std::string order_by_;
  int32_t page_size_ = 1;
  std::string page_token_;
  const FakeDescriptor* GetDescriptor() const { return descriptor; }
  const std::string& parent() const { return parent_; }
  const std::string& filter() const { return filter_; }
  const std::string& order_by() const { return order_by_; }
  int32_t page_size() const { return page_size_; }
  const std::string& page_token() const { return page_token_; }
};

TEST(ListQueryFor, TokenIsBoundToTheRequestType) {
  PageTokenCodec codec("secret");
  const FakeDescriptor topics{"outreach.workshops.v1.ListTopicsRequest"};
  const FakeDescriptor venues{"outreach.workshops.v1.ListVenuesRequest"};
  FakeListRequest list_topics{&topics};
  const std::string token =
      NextPageTokenFor(list_topics, codec, ListPage<int>{{1}, 2, /*next_offset=*/1});
  ASSERT_FALSE(token.empty());

  list_topics.page_token_ = token;
  absl::StatusOr<ListQuery> same = ListQueryFor(list_topics, codec);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->offset, 1);

  FakeListRequest list_venues{&venues};
  list_venues.page_token_ = token;
  absl::StatusOr<ListQuery> other = ListQueryFor(list_venues, codec);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(other.status()), "INVALID_PAGE_TOKEN");

  // Extra parts (training binds its collection) still bind and still round-trip.
  const std::string with_extra =
      NextPageTokenFor(list_topics, codec, ListPage<int>{{1}, 2, 1}, {"courses"});
  list_topics.page_token_ = with_extra;
  EXPECT_TRUE(ListQueryFor(list_topics, codec, {"courses"}).ok());
  EXPECT_EQ(ErrorReason(ListQueryFor(list_topics, codec, {"officers"}).status()),
            "INVALID_PAGE_TOKEN");
}

// A token is accepted only exactly as it was issued: unpadded URL-safe base64, nothing around.
TEST(PageToken, OnlyTheIssuedSpellingIsAccepted) {
  PageTokenCodec codec("secret");
  const std::string fp = QueryFingerprint({"forces/derbyshire", "", ""});
  // Find a token whose spelling differs in standard base64 and that would need padding.
  std::string token;
  for (int64_t offset = 1; offset < 10000 && token.empty(); ++offset) {
    std::string t = codec.Encode(fp, {{}, offset});
    if (t.size() % 4 != 0 && t.find_first_of("-_") != std::string::npos) token = t;
  }
  ASSERT_FALSE(token.empty());
  ASSERT_TRUE(codec.Decode(token, fp).ok());

  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  const std::string standard = absl::Base64Escape(raw);  // '+' '/' and '=' padding
  const std::string padded = token + std::string((4 - token.size() % 4) % 4, '=');
  const std::string plus_slash = absl::StrReplaceAll(token, {{"-", "+"}, {"_", "/"}});
  for (const std::string& bad : {" " + token, token + " ", "\t" + token + "\n", standard, padded,
                                 plus_slash, token.substr(0, 10) + "\n" + token.substr(10)}) {
    absl::StatusOr<PageCursor> r = codec.Decode(bad, fp);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(ErrorReason(r.status()), "INVALID_PAGE_TOKEN") << bad;
  }
}

TEST(QueryFingerprint, PartsCannotBeShiftedIntoEachOther) {
  EXPECT_NE(QueryFingerprint({"ab", "c"}), QueryFingerprint({"a", "bc"}));
}

}  // namespace
}  // namespace outreach
