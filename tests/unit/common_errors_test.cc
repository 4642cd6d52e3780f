#include "common/errors.h"
#include "common/grpc_status.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace outreach {
namespace {

google::rpc::Status Details(const grpc::Status& status) {
  google::rpc::Status rich;
  EXPECT_TRUE(rich.ParseFromString(status.error_details()));
  return rich;
}

google::rpc::ErrorInfo Info(const google::rpc::Status& rich) {
  google::rpc::ErrorInfo info;
  for (const auto& d : rich.details()) {
    if (d.UnpackTo(&info)) return info;
  }
  ADD_FAILURE() << "no ErrorInfo";
  return info;
}

TEST(StatusMapping, InvalidArgumentCarriesFieldViolations) {
  grpc::Status s = ToGrpcStatus(
      InvalidArguments({{"workshop.venue", "is required"}, {"page_size", "must be >= 0"}}),
      "outreach.workshops.v1");
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "invalid argument: workshop.venue: is required; page_size: must be >= 0");
  google::rpc::Status rich = Details(s);
  EXPECT_EQ(rich.code(), 3);
  EXPECT_EQ(Info(rich).domain(), "outreach.workshops.v1");
  EXPECT_EQ(Info(rich).reason(), "INVALID_ARGUMENT");
  google::rpc::BadRequest bad;
  bool found = false;
  for (const auto& d : rich.details()) found = found || d.UnpackTo(&bad);
  ASSERT_TRUE(found);
  ASSERT_EQ(bad.field_violations_size(), 2);
  EXPECT_EQ(bad.field_violations(0).field(), "workshop.venue");
  EXPECT_EQ(bad.field_violations(1).field(), "page_size");
}

// Found by common_fuzz_query: a filter with a byte that is not UTF-8 is quoted in the error,
// and the BadRequest/ErrorInfo details then no longer parse (proto3 strings must be UTF-8).
TEST(StatusMapping, CallerBytesThatAreNotUtf8KeepTheDetailsParseable) {
  const absl::Status status = InvalidArgument("filter", "has an unexpected character '\xd0'");
  std::vector<FieldViolation> violations = FieldViolations(status);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "filter");
  EXPECT_EQ(violations[0].description, "has an unexpected character '\xEF\xBF\xBD'");
  EXPECT_EQ(ErrorReason(status), "INVALID_ARGUMENT");

  grpc::Status wire = ToGrpcStatus(status, "outreach.workshops.v1");
  google::rpc::Status rich = Details(wire);
  EXPECT_EQ(Info(rich).reason(), "INVALID_ARGUMENT");
  EXPECT_EQ(rich.message(), "invalid argument: filter: has an unexpected character '\xEF\xBF\xBD'");
  // Well-formed multi-byte text passes unchanged; truncated, overlong and surrogate forms do not.
  EXPECT_EQ(FieldViolations(InvalidArgument("f", "caf\xC3\xA9 \xF0\x9F\x94\x92"))[0].description,
            "caf\xC3\xA9 \xF0\x9F\x94\x92");
  EXPECT_EQ(FieldViolations(InvalidArgument("f", "\xC3 \xC0\xAF \xED\xA0\x80"))[0].description,
            "\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(StatusMapping, DomainReasonsMapToTheirCodes) {
  struct Case {
    absl::Status status;
    grpc::StatusCode code;
    std::string reason;
  };
  const Case cases[] = {
      {NotFound("forces/derbyshire/workshops/w1"), grpc::NOT_FOUND, "RESOURCE_NOT_FOUND"},
      {AlreadyExists("forces/derbyshire/venues/v1"), grpc::ALREADY_EXISTS,
       "RESOURCE_ALREADY_EXISTS"},
      {FailedPrecondition("PRESENTER_DOUBLE_BOOKED", "busy"), grpc::FAILED_PRECONDITION,
       "PRESENTER_DOUBLE_BOOKED"},
      {EtagMismatch("forces/derbyshire/venues/v1"), grpc::ABORTED, "ETAG_MISMATCH"},
      {StorageUnavailable(), grpc::UNAVAILABLE, "STORAGE_UNAVAILABLE"},
      {InvalidArgumentWithReason("INVALID_PAGE_TOKEN", "page_token", "bad"), grpc::INVALID_ARGUMENT,
       "INVALID_PAGE_TOKEN"},
  };
  for (const auto& c : cases) {
    grpc::Status s = ToGrpcStatus(c.status, "outreach.test.v1");
    EXPECT_EQ(s.error_code(), c.code) << c.reason;
    EXPECT_EQ(Info(Details(s)).reason(), c.reason);
    EXPECT_EQ(s.error_message(), c.status.message());
    EXPECT_EQ(ErrorReason(c.status), c.reason);
  }
}

TEST(StatusMapping, InternalTextNeverReachesTheCaller) {
  grpc::Status internal = ToGrpcStatus(
      absl::InternalError("prepare: SELECT * FROM workshops WHERE x: no such column"), "d");
  EXPECT_EQ(internal.error_code(), grpc::INTERNAL);
  EXPECT_EQ(internal.error_message(), "internal error");
  EXPECT_EQ(internal.error_details().find("SELECT"), std::string::npos);
  EXPECT_EQ(Info(Details(internal)).reason(), "INTERNAL");

  grpc::Status busy = ToGrpcStatus(absl::UnavailableError("database is locked: /data/x.db"), "d");
  EXPECT_EQ(busy.error_code(), grpc::UNAVAILABLE);
  EXPECT_EQ(busy.error_message().find("/data"), std::string::npos);
  EXPECT_EQ(busy.error_details().find("/data"), std::string::npos);
  EXPECT_EQ(Info(Details(busy)).reason(), "STORAGE_UNAVAILABLE");
}

TEST(StatusMapping, MetadataTravelsInErrorInfo) {
  absl::Status s = WithMetadata(FailedPrecondition("PRESENTER_DOUBLE_BOOKED", "busy"),
                                {{"presenter", "forces/derbyshire/presenters/p1"},
                                 {"conflicting_workshop", "forces/derbyshire/workshops/w9"}});
  google::rpc::ErrorInfo info = Info(Details(ToGrpcStatus(s, "outreach.workshops.v1")));
  EXPECT_EQ(info.reason(), "PRESENTER_DOUBLE_BOOKED");
  EXPECT_EQ(info.metadata().at("presenter"), "forces/derbyshire/presenters/p1");
  EXPECT_EQ(info.metadata().at("conflicting_workshop"), "forces/derbyshire/workshops/w9");
  // Internal statuses gain nothing (and still leak nothing).
  absl::Status internal = WithMetadata(absl::InternalError("x"), {{"k", "v"}});
  EXPECT_FALSE(IsPublicError(internal));
}

TEST(StatusMapping, OkIsOk) { EXPECT_TRUE(ToGrpcStatus(absl::OkStatus(), "d").ok()); }

TEST(StatusMapping, FieldViolationsReadBack) {
  auto v = FieldViolations(InvalidArgument("venue.pupil_roll", "must be 0..5000"));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].field, "venue.pupil_roll");
  EXPECT_FALSE(IsPublicError(absl::InternalError("x")));
  EXPECT_TRUE(IsPublicError(NotFound("x")));
}

// HTTP routes answer through the same table as gRPC (the metrics JSON route used to turn every
// non-INVALID_ARGUMENT error into 503).
TEST(HttpMapping, CodesFollowTheGrpcTable) {
  EXPECT_EQ(ToHttpError(NotFound("forces/derbyshire/settings")).status, 404);
  EXPECT_EQ(ToHttpError(InvalidArgument("period", "is unknown")).status, 400);
  EXPECT_EQ(ToHttpError(FailedPrecondition("R", "m")).status, 400);
  EXPECT_EQ(ToHttpError(EtagMismatch("forces/d/venues/v")).status, 409);
  EXPECT_EQ(ToHttpError(PermissionDenied("R", "m")).status, 403);
  EXPECT_EQ(ToHttpError(StorageUnavailable()).status, 503);
  EXPECT_EQ(ToHttpError(absl::InternalError("boom")).status, 500);
}

TEST(HttpMapping, BodyIsPublicEscapedJson) {
  const HttpError internal = ToHttpError(absl::InternalError("SELECT * FROM secrets"));
  EXPECT_EQ(internal.json_body.find("SELECT"), std::string::npos) << internal.json_body;
  EXPECT_NE(internal.json_body.find("\"reason\":\"INTERNAL\""), std::string::npos);

  const HttpError bad = ToHttpError(InvalidArgument("display_name", "<script>\"x\"</script>"));
  EXPECT_EQ(bad.json_body.find("<script>"), std::string::npos) << bad.json_body;
  EXPECT_NE(bad.json_body.find("\\u003cscript\\u003e\\\"x\\\""), std::string::npos)
      << bad.json_body;
  EXPECT_NE(bad.json_body.find("\"field\":\"display_name\""), std::string::npos);
}

// A refused token reaches the caller as UNAUTHENTICATED with its reason and message (the
// message is caller-safe), and as 401 on HTTP routes.
TEST(StatusMapping, UnauthenticatedIsPublicWithItsReason) {
  const absl::Status refused = Unauthenticated("TOKEN_EXPIRED", "the bearer token has expired");
  EXPECT_TRUE(IsPublicError(refused));
  const grpc::Status s = ToGrpcStatus(refused, "outreach.workshops.v1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "the bearer token has expired");
  EXPECT_EQ(Info(Details(s)).reason(), "TOKEN_EXPIRED");
  EXPECT_EQ(ToHttpError(refused).status, 401);
}

TEST(StatusMapping, ServerDrainingIsUnavailableWithItsReason) {
  const grpc::Status s = ServerDraining("outreach.metrics.v1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  const auto info = Info(Details(s));
  EXPECT_EQ(info.reason(), "SERVER_DRAINING");
  EXPECT_EQ(info.domain(), "outreach.metrics.v1");
}

}  // namespace
}  // namespace outreach
