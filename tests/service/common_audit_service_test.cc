// The audit service on a real gRPC server over a real SQLite file, beside the probe service, as
// RunServiceMain serves it beside every domain service (tests/support/service_harness.h).
#include "common/audit.h"
#include "common/audit_service.h"
#include "common/calendar.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "outreach/audit/v1/audit.grpc.pb.h"
#include "tests/support/probe_service.h"
#include "tests/support/service_harness.h"

namespace outreach::audit {
namespace {

using ::testing::ElementsAre;
using testing::ReasonOf;
using testing::ServiceHarness;
using testing::ViolatedFields;

const absl::Time kT0 = absl::FromUnixSeconds(1'760'000'000);

// The audit log is read by auditors (deploy/security/policy.json).
std::unique_ptr<grpc::ClientContext> Ctx() {
  return testing::ContextAs({"test-auditor", {}, {"auditor"}});
}

ServiceSpec ProbeSpec() {
  ServiceSpec spec;
  spec.name = "probe";
  spec.health_name = "outreach.testing.v1.ProbeService";
  spec.schema = outreach::testing::ProbeSchema();
  spec.make_service = [](const ServiceContext& context) -> std::unique_ptr<grpc::Service> {
    return std::make_unique<outreach::testing::ProbeServiceImpl>(context.db);
  };
  return spec;
}

class AuditServiceTest : public ::testing::Test {
 protected:
  AuditServiceTest()
      : harness_(ProbeSpec(), kT0), stub_(v1::AuditService::NewStub(harness_.channel())) {}

  void Seed(absl::string_view force, absl::string_view subject, absl::string_view method,
            std::vector<std::string> resources, absl::Time time) {
    Record r;
    r.force = std::string(force);
    r.subject = std::string(subject);
    r.roles = {"schools_coordinator"};
    r.peer = "ipv4:10.0.0.7:5555";
    r.method = std::string(method);
    r.resources = std::move(resources);
    r.field_paths = {"display_name"};
    r.justification = "term planning";
    r.time = time;
    ASSERT_TRUE(harness_.db().Write([&](db::Connection& c) { return Append(c, r); }).ok());
  }
  // seq 1..4: three of derbyshire, one of kent.
  void SeedFour() {
    Seed("derbyshire", "alice", "/outreach.workshops.v1.WorkshopsService/UpdateVenue",
         {"forces/derbyshire/venues/v1"}, kT0);
    Seed("kent", "bob", "/outreach.workshops.v1.WorkshopsService/UpdateVenue",
         {"forces/kent/venues/v1"}, kT0 + absl::Minutes(1));
    Seed("derbyshire", "bob", "/outreach.workshops.v1.WorkshopsService/ListVenues",
         {"forces/derbyshire"}, kT0 + absl::Minutes(2));
    Seed("derbyshire", "alice", "/outreach.workshops.v1.WorkshopsService/GetVenue",
         {"forces/derbyshire/venues/v1"}, kT0 + absl::Minutes(3));
  }

  grpc::Status List(const v1::ListAuditRecordsRequest& request, v1::ListAuditRecordsResponse* out) {
    return stub_->ListAuditRecords(Ctx().get(), request, out);
  }
  std::vector<int64_t> Seqs(const v1::ListAuditRecordsResponse& response) {
    std::vector<int64_t> out;
    for (const auto& r : response.audit_records()) out.push_back(r.sequence());
    return out;
  }

  ServiceHarness harness_;
  std::unique_ptr<v1::AuditService::Stub> stub_;
};

TEST_F(AuditServiceTest, ListsAForcesRecordsNewestFirstWithEveryField) {
  SeedFour();
  v1::ListAuditRecordsRequest request;
  request.set_parent("forces/derbyshire");
  v1::ListAuditRecordsResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_THAT(Seqs(response), ElementsAre(4, 3, 1));
  EXPECT_EQ(response.next_page_token(), "");
  const v1::AuditRecord& first = response.audit_records(2);
  EXPECT_EQ(first.force(), "forces/derbyshire");
  EXPECT_EQ(first.subject(), "alice");
  EXPECT_THAT(first.roles(), ElementsAre("schools_coordinator"));
  EXPECT_EQ(first.peer(), "ipv4:10.0.0.7:5555");
  EXPECT_EQ(first.method(), "/outreach.workshops.v1.WorkshopsService/UpdateVenue");
  EXPECT_THAT(first.resources(), ElementsAre("forces/derbyshire/venues/v1"));
  EXPECT_THAT(first.field_paths(), ElementsAre("display_name"));
  EXPECT_EQ(first.justification(), "term planning");
  EXPECT_EQ(TimeFromProto(first.time()), kT0);
  EXPECT_EQ(first.code(), 0);
  EXPECT_EQ(first.hash().size(), 64u);
}

TEST_F(AuditServiceTest, FiltersBySubjectResourceMethodAndTime) {
  SeedFour();
  v1::ListAuditRecordsRequest request;
  request.set_parent("forces/derbyshire");
  request.set_subject("alice");
  v1::ListAuditRecordsResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_THAT(Seqs(response), ElementsAre(4, 1));

  request.clear_subject();
  request.set_resource("forces/derbyshire/venues/v1");
  request.set_method("/outreach.workshops.v1.WorkshopsService/GetVenue");
  response.Clear();
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_THAT(Seqs(response), ElementsAre(4));

  request.clear_resource();
  request.clear_method();
  *request.mutable_start_time() = ToProtoTime(kT0 + absl::Minutes(1));
  *request.mutable_end_time() = ToProtoTime(kT0 + absl::Minutes(3));
  response.Clear();
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_THAT(Seqs(response), ElementsAre(3));
}

TEST_F(AuditServiceTest, PagesWithTokensBoundToTheFilters) {
  for (int i = 0; i < 5; ++i) {
    Seed("derbyshire", "alice", "/m", {}, kT0 + absl::Minutes(i));
  }
  v1::ListAuditRecordsRequest request;
  request.set_parent("forces/derbyshire");
  request.set_page_size(2);
  std::vector<int64_t> seen;
  for (int page = 0; page < 5; ++page) {
    v1::ListAuditRecordsResponse response;
    ASSERT_TRUE(List(request, &response).ok());
    for (int64_t s : Seqs(response)) seen.push_back(s);
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_THAT(seen, ElementsAre(5, 4, 3, 2, 1));

  // A token replayed with another filter is refused.
  request.set_page_size(2);
  request.clear_page_token();
  v1::ListAuditRecordsResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  request.set_page_token(response.next_page_token());
  request.set_subject("bob");
  grpc::Status status = List(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(status), "INVALID_PAGE_TOKEN");
}

TEST_F(AuditServiceTest, BadRequestsAreInvalidArgumentNamingTheField) {
  v1::ListAuditRecordsRequest request;
  request.set_parent("venues/x");
  v1::ListAuditRecordsResponse response;
  grpc::Status status = List(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("parent"));

  request.set_parent("forces/derbyshire");
  *request.mutable_start_time() = ToProtoTime(kT0);
  *request.mutable_end_time() = ToProtoTime(kT0 - absl::Seconds(1));
  request.set_subject(std::string(2000, 's'));
  status = List(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("subject", "end_time"));

  request.clear_subject();
  request.clear_end_time();
  request.set_page_size(-1);
  status = List(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("page_size"));

  request.set_page_size(0);
  request.set_page_token("not-a-token");
  status = List(request, &response);
  EXPECT_EQ(ReasonOf(status), "INVALID_PAGE_TOKEN");

  v1::VerifyAuditLogRequest verify;
  v1::VerifyAuditLogResponse verified;
  status = stub_->VerifyAuditLog(Ctx().get(), verify, &verified);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("parent"));
}

TEST_F(AuditServiceTest, VerifyReportsAnIntactLogAndThenTheTamperedRecord) {
  SeedFour();
  v1::VerifyAuditLogRequest request;
  request.set_parent("forces/derbyshire");
  v1::VerifyAuditLogResponse response;
  ASSERT_TRUE(stub_->VerifyAuditLog(Ctx().get(), request, &response).ok());
  EXPECT_TRUE(response.ok());
  EXPECT_EQ(response.records_checked(), 4);  // the chain spans forces
  EXPECT_EQ(response.first_bad_sequence(), 0);

  ASSERT_TRUE(harness_.db()
                  .Write([](db::Connection& c) {
                    return c.Exec("UPDATE audit_records SET method = '/x' WHERE seq = 2");
                  })
                  .ok());
  response.Clear();
  ASSERT_TRUE(stub_->VerifyAuditLog(Ctx().get(), request, &response).ok());
  EXPECT_FALSE(response.ok());
  EXPECT_EQ(response.first_bad_sequence(), 2);
  EXPECT_EQ(response.records_checked(), 1);
  EXPECT_NE(response.problem(), "");
}

TEST_F(AuditServiceTest, RecordsSurviveARestartAndTheAuditServiceReportsHealth) {
  SeedFour();
  harness_.Restart();
  stub_ = v1::AuditService::NewStub(harness_.channel());
  v1::VerifyAuditLogRequest request;
  request.set_parent("forces/kent");
  v1::VerifyAuditLogResponse response;
  ASSERT_TRUE(stub_->VerifyAuditLog(Ctx().get(), request, &response).ok());
  EXPECT_TRUE(response.ok());
  EXPECT_EQ(response.records_checked(), 4);

  auto health = grpc::health::v1::Health::NewStub(harness_.channel());
  grpc::health::v1::HealthCheckRequest check;
  check.set_service(std::string(kHealthName));
  grpc::health::v1::HealthCheckResponse answer;
  ASSERT_TRUE(health->Check(Ctx().get(), check, &answer).ok());
  EXPECT_EQ(answer.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

}  // namespace
}  // namespace outreach::audit
