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

TEST(QueryFingerprint, PartsCannotBeShiftedIntoEachOther) {
  EXPECT_NE(QueryFingerprint({"ab", "c"}), QueryFingerprint({"a", "bc"}));
}

}  // namespace
}  // namespace outreach
