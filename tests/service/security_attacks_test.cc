// The attacks the security issue found, replayed against real servers (TLS, tokens, the shipped
// policy): forged tokens and events, another force's data, plaintext, and the audit trail a
// force's auditor reads afterwards.
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/callback_handlers.h"
#include "common/grpc_status.h"
#include "common/security/interceptor.h"
#include "common/security/jwt.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "gtest/gtest.h"
#include "outreach/audit/v1/audit.grpc.pb.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "outreach/training/v1/training.grpc.pb.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "services/metrics/metrics_service.h"
#include "services/training/training_service.h"
#include "services/workshops/workshops_service.h"
#include "tests/support/service_harness.h"
#include "tests/unit/metrics_test_events.h"

namespace outreach {
namespace {

namespace wv1 = workshops::v1;
namespace tv1 = training::v1;
namespace mv1 = metrics::v1;
namespace av1 = audit::v1;
using testing::AnonymousCtx;
using testing::ContextAs;
using testing::ReasonOf;
using testing::ServiceHarness;
using testing::TestCaller;

const TestCaller kDerbyAdmin{"derby-admin", {"derbyshire"}, {"force_admin"}};
const TestCaller kNottsCoordinator{
    "notts-coordinator", {"nottinghamshire"}, {"schools_coordinator", "training_coordinator"}};
const TestCaller kDerbyAuditor{"derby-auditor", {"derbyshire"}, {"auditor"}};

std::string B64(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

std::unique_ptr<grpc::ClientContext> WithAuthorization(const std::string& value) {
  auto ctx = AnonymousCtx();
  ctx->AddMetadata("authorization", value);
  return ctx;
}

security::MintRequest GoodMint() {
  security::MintRequest m;
  m.private_key_pem = testing::TestSigningKeyPem();
  m.kid = testing::kTestKeyId;
  m.issuer = security::SecuritySettings().token_issuer;
  m.audience = security::SecuritySettings().token_audience;
  m.subject = "derby-admin";
  m.forces = {"derbyshire"};
  m.roles = {"force_admin"};
  m.issued_at = absl::Now();
  m.lifetime = absl::Hours(1);
  return m;
}

std::string Mint(const security::MintRequest& m) {
  auto token = security::MintToken(m);
  EXPECT_TRUE(token.ok()) << token.status();
  return token.ok() ? *token : "";
}

std::string PublicKeyPem(const std::string& private_pem) {
  BIO* in = BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(out, key);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(out);
  EVP_PKEY_free(key);
  BIO_free(in);
  return pem;
}

// The claims of a good token, re-signed by hand with `alg` (none or HS256 keyed with the
// server's public key: the algorithm-confusion attack).
std::string Forged(const std::string& alg, const std::string& hmac_key) {
  const std::string good = Mint(GoodMint());
  const std::string payload = good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1);
  const std::string header = B64(
      absl::StrCat(R"({"alg":")", alg, R"(","kid":")", testing::kTestKeyId, R"(","typ":"JWT"})"));
  const std::string signing_input = absl::StrCat(header, ".", payload);
  if (alg == "none") return absl::StrCat(signing_input, ".");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), hmac_key.data(), static_cast<int>(hmac_key.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
       &mac_len);
  return absl::StrCat(signing_input, ".",
                      B64(absl::string_view(reinterpret_cast<const char*>(mac), mac_len)));
}

class WorkshopsSecurityTest : public ::testing::Test {
 protected:
  WorkshopsSecurityTest()
      : h_(workshops::WorkshopsServiceSpec(), absl::FromUnixSeconds(1'760'000'000)),
        stub_(wv1::WorkshopsService::NewStub(h_.channel())) {}

  grpc::Status List(std::unique_ptr<grpc::ClientContext> ctx,
                    const std::string& parent = "forces/derbyshire") {
    wv1::ListVenuesRequest req;
    req.set_parent(parent);
    wv1::ListVenuesResponse out;
    return stub_->ListVenues(ctx.get(), req, &out);
  }

  wv1::Venue CreateSchool(const TestCaller& as, const std::string& force, const std::string& id) {
    wv1::CreateVenueRequest req;
    req.set_parent("forces/" + force);
    req.set_venue_id(id);
    req.mutable_venue()->set_display_name("Ashbourne Primary School");
    req.mutable_venue()->set_kind(common::v1::VENUE_KIND_PRIMARY);
    req.mutable_venue()->set_area("north-dales");
    req.mutable_venue()->set_pupil_roll(240);
    wv1::Venue out;
    grpc::Status s = stub_->CreateVenue(ContextAs(as).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  ServiceHarness h_;
  std::unique_ptr<wv1::WorkshopsService::Stub> stub_;
};

TEST_F(WorkshopsSecurityTest, EveryBadTokenIsUnauthenticatedWithItsReason) {
  ASSERT_TRUE(List(ContextAs(kDerbyAdmin)).ok());

  struct Case {
    const char* what;
    std::string authorization;  // "" = none sent
    const char* reason;
  };
  security::MintRequest expired = GoodMint();
  expired.issued_at = absl::Now() - absl::Hours(2);
  security::MintRequest not_yet = GoodMint();
  not_yet.not_before = absl::Now() + absl::Hours(1);
  security::MintRequest issuer = GoodMint();
  issuer.issuer = "https://attacker.example";
  security::MintRequest audience = GoodMint();
  audience.audience = "another-service";
  security::MintRequest other_key = GoodMint();
  other_key.private_key_pem = testing::NewSigningKeyPem();
  security::MintRequest unknown_kid = GoodMint();
  unknown_kid.kid = "no-such-key";
  const std::string public_pem = PublicKeyPem(testing::TestSigningKeyPem());
  const Case cases[] = {
      {"no token", "", "CREDENTIALS_MISSING"},
      {"not a bearer", "Basic ZGVyYnk6YWRtaW4=", "CREDENTIALS_MALFORMED"},
      {"forged text", "Bearer totally-forged", "TOKEN_MALFORMED"},
      {"expired", "Bearer " + Mint(expired), "TOKEN_EXPIRED"},
      {"not yet valid", "Bearer " + Mint(not_yet), "TOKEN_NOT_YET_VALID"},
      {"wrong issuer", "Bearer " + Mint(issuer), "TOKEN_ISSUER"},
      {"wrong audience", "Bearer " + Mint(audience), "TOKEN_AUDIENCE"},
      {"signed by another key", "Bearer " + Mint(other_key), "TOKEN_SIGNATURE"},
      {"unknown key", "Bearer " + Mint(unknown_kid), "TOKEN_UNKNOWN_KEY"},
      {"alg none", "Bearer " + Forged("none", ""), "TOKEN_ALGORITHM"},
      {"HS256 keyed with the public key", "Bearer " + Forged("HS256", public_pem),
       "TOKEN_ALGORITHM"},
  };
  for (const Case& c : cases) {
    grpc::Status s =
        List(c.authorization.empty() ? AnonymousCtx() : WithAuthorization(c.authorization));
    EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED) << c.what;
    EXPECT_EQ(ReasonOf(s), c.reason) << c.what << ": " << s.error_message();
    EXPECT_EQ(s.error_message().find("eyJ"), std::string::npos) << c.what << ": token echoed";
  }
}

TEST_F(WorkshopsSecurityTest, AnotherForcesDataIsRefusedWhetherOrNotItExists) {
  const wv1::Venue school = CreateSchool(kDerbyAdmin, "derbyshire", "ashbourne-primary");
  // Listing, reading and renaming another force's venue: refused before any handler looks.
  grpc::Status list = List(ContextAs(kNottsCoordinator));
  EXPECT_EQ(list.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(list), "FORCE_NOT_PERMITTED");

  auto get = [&](const std::string& name) {
    wv1::GetVenueRequest req;
    req.set_name(name);
    wv1::Venue out;
    return stub_->GetVenue(ContextAs(kNottsCoordinator).get(), req, &out);
  };
  grpc::Status existing = get(school.name());
  grpc::Status missing = get("forces/derbyshire/venues/no-such-school");
  EXPECT_EQ(existing.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(missing.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(existing.error_message(), missing.error_message()) << "existence must not leak";

  wv1::UpdateVenueRequest rename;
  *rename.mutable_venue() = school;
  rename.mutable_venue()->set_display_name("Renamed by another force");
  rename.mutable_update_mask()->add_paths("display_name");
  wv1::Venue out;
  grpc::Status update = stub_->UpdateVenue(ContextAs(kNottsCoordinator).get(), rename, &out);
  EXPECT_EQ(update.error_code(), grpc::PERMISSION_DENIED);
  wv1::GetVenueRequest req;
  req.set_name(school.name());
  ASSERT_TRUE(stub_->GetVenue(ContextAs(kDerbyAdmin).get(), req, &out).ok());
  EXPECT_EQ(out.display_name(), "Ashbourne Primary School");

  // The same caller in its own force is served.
  CreateSchool(kNottsCoordinator, "nottinghamshire", "arnold-hill");
}

TEST_F(WorkshopsSecurityTest, PlaintextReachesNoTlsListener) {
  auto plain = grpc::CreateChannel(absl::StrCat("127.0.0.1:", h_.grpc_port()),
                                   grpc::InsecureChannelCredentials());
  wv1::ListVenuesRequest req;
  req.set_parent("forces/derbyshire");
  wv1::ListVenuesResponse out;
  auto ctx = ContextAs(kDerbyAdmin);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  grpc::Status s = wv1::WorkshopsService::NewStub(plain)->ListVenues(ctx.get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::UNAVAILABLE);
}

TEST(ServerSecurityTest, PlaintextIsRefusedOffLoopback) {
  for (const char* address : {"0.0.0.0:0", "[::]:0"}) {
    RuntimeConfig config;
    config.service_name = "plaintext-probe";
    config.grpc_address = address;
    config.security.plaintext = true;
    config.security.policy_file = testing::PolicyFile();
    ServerRuntime runtime(config);
    absl::Status s = runtime.Start();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << address << ": " << s;
    EXPECT_NE(s.message().find("loopback"), std::string::npos) << s;
  }
  RuntimeConfig loopback;
  loopback.service_name = "plaintext-probe";
  loopback.grpc_address = "127.0.0.1:0";
  loopback.security.plaintext = true;
  ServerRuntime runtime(loopback);
  EXPECT_TRUE(runtime.Start().ok());
}

TEST(ServerSecurityTest, TlsWithoutCertificatesRefusesToStart) {
  RuntimeConfig config;
  config.service_name = "tls-probe";
  config.security.policy_file = testing::PolicyFile();
  ServerRuntime runtime(config);
  EXPECT_TRUE(absl::IsInvalidArgument(runtime.Start()));
}

class MetricsSecurityTest : public ::testing::Test {
 protected:
  MetricsSecurityTest()
      : h_(metrics::MetricsServiceSpec(), metrics::testing::Utc(2025, 1, 15)),
        stub_(mv1::MetricsService::NewStub(h_.channel())) {}

  grpc::Status IngestOver(const std::shared_ptr<grpc::Channel>& channel,
                          std::unique_ptr<grpc::ClientContext> ctx,
                          std::vector<events::v1::OutreachEvent> events) {
    mv1::IngestEventsRequest req;
    req.set_parent("forces/derbyshire");
    for (auto& e : events) *req.add_events() = std::move(e);
    mv1::IngestEventsResponse resp;
    return mv1::MetricsService::NewStub(channel)->IngestEvents(ctx.get(), req, &resp);
  }

  int64_t Delivered() {
    mv1::GetDashboardRequest req;
    req.set_name("forces/derbyshire/dashboard");
    req.mutable_period()->set_kind(mv1::PERIOD_KIND_ACADEMIC_YEAR);
    mv1::Dashboard d;
    grpc::Status s = stub_->GetDashboard(ContextAs(kDerbyAdmin).get(), req, &d);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return d.workshops().workshops_delivered();
  }

  ServiceHarness h_;
  std::unique_ptr<mv1::MetricsService::Stub> stub_;
};

TEST_F(MetricsSecurityTest, ForgedEventsAreRefusedAndCountNothing) {
  metrics::testing::Delivery d;
  auto delivered = [&] { return metrics::testing::Delivered("e1", d); };
  // A person, even the force's administrator, may not send events.
  grpc::Status person = IngestOver(h_.channel(), ContextAs(kDerbyAdmin), {delivered()});
  EXPECT_EQ(person.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(person), "ROLE_NOT_PERMITTED");
  // A service may send only its own kinds.
  grpc::Status training = IngestOver(h_.ServiceChannel("training"), AnonymousCtx(), {delivered()});
  EXPECT_EQ(training.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(training), "EVENT_KIND_NOT_PERMITTED");
  events::v1::OutreachEvent completion = metrics::testing::Envelope(
      "e2", "derbyshire", "forces/derbyshire/enrolments/x", metrics::testing::Utc(2025, 1, 2));
  completion.mutable_enrolment_completed();
  grpc::Status workshops_forging =
      IngestOver(h_.ServiceChannel("workshops"), AnonymousCtx(), {completion});
  EXPECT_EQ(ReasonOf(workshops_forging), "EVENT_KIND_NOT_PERMITTED");
  EXPECT_EQ(Delivered(), 0);
  // The owner's events count.
  ASSERT_TRUE(IngestOver(h_.ServiceChannel("workshops"), AnonymousCtx(), {delivered()}).ok());
  EXPECT_EQ(Delivered(), 1);
}

// GetDashboard and QuerySeries are raw methods, the request reaching the handler as bytes
// (common/callback_handlers.h): the interceptor cannot read their scope, so the handler's CallGuard
// checks the parsed request. Each refusal below must still happen, and bytes that do not parse
// are the caller's INVALID_ARGUMENT (never INTERNAL).
TEST_F(MetricsSecurityTest, RawReadsAreRefusedLikeEveryOtherCall) {
  auto raw_call = [&](const std::string& method, const std::string& bytes,
                      std::unique_ptr<grpc::ClientContext> ctx) {
    grpc::GenericStub stub(h_.channel());
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    absl::Notification done;
    grpc::Status out;
    stub.UnaryCall(ctx.get(), "/outreach.metrics.v1.MetricsService/" + method, grpc::StubOptions(),
                   &request, &response, [&](grpc::Status s) {
                     out = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    return out;
  };
  mv1::GetDashboardRequest dashboard;
  dashboard.set_name("forces/derbyshire/dashboard");
  dashboard.mutable_period()->set_kind(mv1::PERIOD_KIND_ACADEMIC_YEAR);
  mv1::QuerySeriesRequest series;
  series.set_parent("forces/derbyshire");
  series.set_metric(mv1::METRIC_PUPILS_REACHED);
  series.set_granularity(mv1::GRANULARITY_MONTH);
  series.mutable_date_range()->mutable_start_date()->set_year(2024);
  series.mutable_date_range()->mutable_start_date()->set_month(9);
  series.mutable_date_range()->mutable_start_date()->set_day(1);
  series.mutable_date_range()->mutable_end_date()->set_year(2025);
  series.mutable_date_range()->mutable_end_date()->set_month(8);
  series.mutable_date_range()->mutable_end_date()->set_day(31);
  const struct {
    std::string method;
    std::string bytes;
  } reads[] = {{"GetDashboard", dashboard.SerializeAsString()},
               {"QuerySeries", series.SerializeAsString()}};
  const TestCaller notts_analyst{"notts-analyst", {"nottinghamshire"}, {"analyst"}};
  const TestCaller derby_presenter{"derby-presenter", {"derbyshire"}, {"presenter"}};
  const TestCaller derby_analyst{"derby-analyst", {"derbyshire"}, {"analyst"}};
  for (const auto& read : reads) {
    SCOPED_TRACE(read.method);
    EXPECT_EQ(raw_call(read.method, read.bytes, AnonymousCtx()).error_code(),
              grpc::UNAUTHENTICATED);
    // Another force's analyst: the method is allowed, the force in the request is not.
    grpc::Status other_force = raw_call(read.method, read.bytes, ContextAs(notts_analyst));
    EXPECT_EQ(other_force.error_code(), grpc::PERMISSION_DENIED);
    EXPECT_EQ(ReasonOf(other_force), "FORCE_NOT_PERMITTED");
    // A role the policy does not give the method.
    EXPECT_EQ(raw_call(read.method, read.bytes, ContextAs(derby_presenter)).error_code(),
              grpc::PERMISSION_DENIED);
    // Field 1 (a string) holding invalid UTF-8: refused as the caller's fault, after the
    // caller was admitted; an anonymous caller is still refused as such.
    const std::string garbage("\x0a\x02\xff\xfe", 4);
    grpc::Status unreadable = raw_call(read.method, garbage, ContextAs(derby_analyst));
    EXPECT_EQ(unreadable.error_code(), grpc::INVALID_ARGUMENT) << unreadable.error_message();
    EXPECT_EQ(raw_call(read.method, garbage, AnonymousCtx()).error_code(), grpc::UNAUTHENTICATED);
    // The same bytes from the force's own analyst are served.
    grpc::Status ok = raw_call(read.method, read.bytes, ContextAs(derby_analyst));
    EXPECT_TRUE(ok.ok()) << ok.error_message();
  }
}

// A raw method whose handler takes the decision without giving CallGuard the parsed request is
// refused, whoever calls: the request's scope was never checked (default deny). Given the
// request, the same guard admits the force's own analyst and refuses another force's.
class RawDashboardProbe final : public mv1::MetricsService::WithRawCallbackMethod_GetDashboard<
                                    mv1::MetricsService::CallbackService> {
 public:
  explicit RawDashboardProbe(bool gives_request) : gives_request_(gives_request) {
    security::DeclareRawRequestMethods({"/outreach.metrics.v1.MetricsService/GetDashboard"});
  }
  grpc::ServerUnaryReactor* GetDashboard(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* bytes,
                                         grpc::ByteBuffer* reply) override {
    mv1::GetDashboardRequest request;
    grpc::ByteBuffer view(*bytes);
    const bool parsed =
        grpc::SerializationTraits<mv1::GetDashboardRequest>::Deserialize(&view, &request).ok();
    absl::Status decision;
    if (gives_request_) {
      security::CallGuard guard(context, parsed ? &request : nullptr);
      decision = guard.status();
    } else {
      security::CallGuard guard(context);
      decision = guard.status();
    }
    // An empty message: a raw reply of zero bytes must still be a valid one.
    *reply = ReplyBytes("");
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(decision, "outreach.metrics.v1"));
    return reactor;
  }

 private:
  const bool gives_request_;
};

TEST(RawMethodSecurityTest, TheGuardMustBeGivenTheRequest) {
  for (const bool gives_request : {false, true}) {
    SCOPED_TRACE(gives_request ? "guard given the request" : "guard without the request");
    ServiceSpec spec = metrics::MetricsServiceSpec();
    spec.make_service = [gives_request](const ServiceContext&) -> std::unique_ptr<grpc::Service> {
      return std::make_unique<RawDashboardProbe>(gives_request);
    };
    ServiceHarness h(spec, metrics::testing::Utc(2025, 1, 15));
    auto stub = mv1::MetricsService::NewStub(h.channel());
    mv1::GetDashboardRequest req;
    req.set_name("forces/derbyshire/dashboard");
    mv1::Dashboard out;
    const TestCaller derby_analyst{"derby-analyst", {"derbyshire"}, {"analyst"}};
    const TestCaller notts_analyst{"notts-analyst", {"nottinghamshire"}, {"analyst"}};
    grpc::Status own = stub->GetDashboard(ContextAs(derby_analyst).get(), req, &out);
    grpc::Status other = stub->GetDashboard(ContextAs(notts_analyst).get(), req, &out);
    EXPECT_EQ(other.error_code(), grpc::PERMISSION_DENIED);
    if (gives_request) {
      EXPECT_TRUE(own.ok()) << own.error_message();
      EXPECT_EQ(ReasonOf(other), "FORCE_NOT_PERMITTED");
    } else {
      EXPECT_EQ(own.error_code(), grpc::PERMISSION_DENIED);
      EXPECT_EQ(ReasonOf(own), "NO_AUTHORIZATION_DECISION");
    }
  }
}

TEST_F(MetricsSecurityTest, DashboardOverHttpNeedsATokenOfTheForce) {
  httplib::Client http("127.0.0.1", h_.http_port());
  auto get = [&](const std::string& token) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto res = http.Get("/dashboard?force=derbyshire", headers);
    return res ? res->status : -1;
  };
  EXPECT_EQ(get(""), 401);
  EXPECT_EQ(get("garbage"), 401);
  EXPECT_EQ(get(testing::TestToken({"notts", {"nottinghamshire"}, {"analyst"}})), 403);
  EXPECT_EQ(get(testing::TestToken({"derby-presenter", {"derbyshire"}, {"presenter"}})), 403);
  EXPECT_EQ(get(testing::TestToken({"derby-analyst", {"derbyshire"}, {"analyst"}})), 200);
  // The monitor routes stay open on the internal port.
  auto healthz = http.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
}

class TrainingAuditTest : public ::testing::Test {
 protected:
  TrainingAuditTest()
      : h_(training::TrainingServiceSpec(), absl::FromUnixSeconds(1'760'000'000)),
        stub_(tv1::TrainingService::NewStub(h_.channel())),
        audit_(av1::AuditService::NewStub(h_.channel())) {}

  grpc::Status CreateOfficer(std::unique_ptr<grpc::ClientContext> ctx, const std::string& id,
                             tv1::Officer* out) {
    tv1::CreateOfficerRequest req;
    req.set_parent("forces/derbyshire");
    req.set_officer_id(id);
    req.mutable_officer()->set_staff_number("SN-" + id);
    req.mutable_officer()->set_role(common::v1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
    req.mutable_officer()->set_division("north");
    req.mutable_officer()->set_active(true);
    return stub_->CreateOfficer(ctx.get(), req, out);
  }

  std::vector<av1::AuditRecord> Records() {
    av1::ListAuditRecordsRequest req;
    req.set_parent("forces/derbyshire");
    av1::ListAuditRecordsResponse out;
    grpc::Status s = audit_->ListAuditRecords(ContextAs(kDerbyAuditor).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {out.audit_records().begin(), out.audit_records().end()};
  }

  ServiceHarness h_;
  std::unique_ptr<tv1::TrainingService::Stub> stub_;
  std::unique_ptr<av1::AuditService::Stub> audit_;
};

TEST_F(TrainingAuditTest, WritesPersonalReadsAndRefusalsAreAuditedOthersAreNot) {
  auto justified = ContextAs(kDerbyAdmin);
  justified->AddMetadata("x-outreach-justification", "new starters, cohort 2026-09");
  tv1::Officer officer;
  ASSERT_TRUE(CreateOfficer(std::move(justified), "o-1", &officer).ok());

  tv1::UpdateOfficerRequest update;
  *update.mutable_officer() = officer;
  update.mutable_officer()->set_division("south");
  update.mutable_update_mask()->add_paths("division");
  tv1::Officer updated;
  ASSERT_TRUE(stub_->UpdateOfficer(ContextAs(kDerbyAdmin).get(), update, &updated).ok());

  tv1::ListOfficersRequest list;
  list.set_parent("forces/derbyshire");
  tv1::ListOfficersResponse officers;
  ASSERT_TRUE(stub_->ListOfficers(ContextAs(kDerbyAdmin).get(), list, &officers).ok());

  tv1::ListCoursesRequest courses;  // not personal data: not audited
  courses.set_parent("forces/derbyshire");
  tv1::ListCoursesResponse course_list;
  ASSERT_TRUE(stub_->ListCourses(ContextAs(kDerbyAdmin).get(), courses, &course_list).ok());

  const TestCaller analyst{"derby-analyst", {"derbyshire"}, {"analyst"}};
  tv1::Officer refused;
  EXPECT_EQ(CreateOfficer(ContextAs(analyst), "o-2", &refused).error_code(),
            grpc::PERMISSION_DENIED);
  EXPECT_EQ(CreateOfficer(AnonymousCtx(), "o-3", &refused).error_code(), grpc::UNAUTHENTICATED);

  const std::vector<av1::AuditRecord> records = Records();  // newest first
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].subject(), "derby-analyst");
  EXPECT_EQ(records[0].code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(records[1].method(), "/outreach.training.v1.TrainingService/ListOfficers");
  EXPECT_EQ(records[1].code(), 0);
  EXPECT_EQ(records[2].method(), "/outreach.training.v1.TrainingService/UpdateOfficer");
  ASSERT_EQ(records[2].field_paths_size(), 1);
  EXPECT_EQ(records[2].field_paths(0), "division");
  EXPECT_EQ(records[3].method(), "/outreach.training.v1.TrainingService/CreateOfficer");
  EXPECT_EQ(records[3].subject(), "derby-admin");
  EXPECT_EQ(records[3].justification(), "new starters, cohort 2026-09");
  EXPECT_EQ(records[3].force(), "forces/derbyshire");
  ASSERT_GE(records[3].roles_size(), 1);
  EXPECT_EQ(records[3].roles(0), "force_admin");
  EXPECT_NE(records[3].peer().find("127.0.0.1"), std::string::npos);
  for (const auto& r : records) {
    EXPECT_EQ(r.DebugString().find("SN-o-1"), std::string::npos) << "a personal value";
  }

  av1::VerifyAuditLogRequest verify;
  verify.set_parent("forces/derbyshire");
  av1::VerifyAuditLogResponse verdict;
  ASSERT_TRUE(audit_->VerifyAuditLog(ContextAs(kDerbyAuditor).get(), verify, &verdict).ok());
  EXPECT_TRUE(verdict.ok());
  // Only the auditor reads the log; not even the force's administrator.
  av1::ListAuditRecordsRequest as_admin;
  as_admin.set_parent("forces/derbyshire");
  av1::ListAuditRecordsResponse out;
  EXPECT_EQ(audit_->ListAuditRecords(ContextAs(kDerbyAdmin).get(), as_admin, &out).error_code(),
            grpc::PERMISSION_DENIED);
}

}  // namespace
}  // namespace outreach
