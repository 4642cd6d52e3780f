// The workshops service over a real gRPC server (port 0) and a real SQLite file, with a fake
// clock: every RPC, every rule with its exact code and reason, pagination, idempotency, etags,
// bad input, cross-force isolation and the outbox rows.
#include "services/workshops/workshops_service.h"

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/civil_time.h"
#include "common/calendar.h"
#include "common/store_support.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "tests/support/service_harness.h"

namespace outreach::workshops {
namespace {

using ::outreach::testing::Ctx;
using ::outreach::testing::ReasonOf;
using ::outreach::testing::ServiceHarness;
using ::outreach::testing::ViolatedFields;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kStart =
    absl::FromCivil(absl::CivilSecond(2025, 1, 15, 9, 0, 0), absl::UTCTimeZone());
constexpr char kForce[] = "derbyshire";
constexpr char kParent[] = "forces/derbyshire";

std::string Venue(const std::string& id) { return "forces/derbyshire/venues/" + id; }
std::string Presenter(const std::string& id) { return "forces/derbyshire/presenters/" + id; }
std::string Topic(const std::string& id) { return "forces/derbyshire/topics/" + id; }
std::string Workshop(const std::string& id) { return "forces/derbyshire/workshops/" + id; }
std::string IdOfName(const std::string& name) { return name.substr(name.rfind('/') + 1); }

// The google.rpc.ErrorInfo metadata of a failed call.
std::map<std::string, std::string> MetadataOf(const grpc::Status& status) {
  std::map<std::string, std::string> out;
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details())) return out;
  for (const auto& d : rich.details()) {
    google::rpc::ErrorInfo info;
    if (d.UnpackTo(&info)) {
      EXPECT_EQ(info.domain(), "outreach.workshops.v1");
      out.insert(info.metadata().begin(), info.metadata().end());
    }
  }
  return out;
}

google::protobuf::FieldMask Mask(std::initializer_list<const char*> paths) {
  google::protobuf::FieldMask m;
  for (const char* p : paths) m.add_paths(p);
  return m;
}

class WorkshopsServiceTest : public ::testing::Test {
 protected:
  WorkshopsServiceTest()
      : h_(WorkshopsServiceSpec(), kStart), stub_(wv1::WorkshopsService::NewStub(h_.channel())) {}

  absl::Time Now() { return h_.clock().Now(); }

  grpc::Status CreateVenue(const std::string& id, const wv1::Venue& v, wv1::Venue* out,
                           const std::string& request_id = "",
                           const std::string& parent = kParent) {
    wv1::CreateVenueRequest req;
    req.set_parent(parent);
    req.set_venue_id(id);
    *req.mutable_venue() = v;
    req.set_request_id(request_id);
    return stub_->CreateVenue(Ctx().get(), req, out);
  }

  static wv1::Venue School(const std::string& display, const std::string& area, int roll,
                           cv1::VenueKind kind = cv1::VENUE_KIND_SECONDARY) {
    wv1::Venue v;
    v.set_display_name(display);
    v.set_kind(kind);
    v.set_area(area);
    v.set_pupil_roll(roll);
    return v;
  }

  wv1::Venue MustVenue(const std::string& id, const std::string& area = "north-dales",
                       int roll = 300, cv1::VenueKind kind = cv1::VENUE_KIND_SECONDARY) {
    wv1::Venue out;
    grpc::Status s = CreateVenue(id, School("Example Academy " + id, area, roll, kind), &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  wv1::Presenter MustPresenter(const std::string& id, bool accredit = true,
                               absl::Duration validity = absl::Hours(24 * 365)) {
    wv1::CreatePresenterRequest req;
    req.set_parent(kParent);
    req.set_presenter_id(id);
    req.mutable_presenter()->set_display_name("Digital Media Coordinator " + id);
    req.mutable_presenter()->set_team(cv1::PRESENTER_TEAM_DIGITAL_MEDIA_INVESTIGATION_UNIT);
    wv1::Presenter out;
    grpc::Status s = stub_->CreatePresenter(Ctx().get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (accredit) {
      wv1::GrantAccreditationRequest grant;
      grant.set_name(out.name());
      grant.set_etag(out.etag());
      *grant.mutable_expire_time() = ToProtoTime(Now() + validity);
      grant.set_note("Cyber-safety presenter briefing");
      s = stub_->GrantAccreditation(Ctx().get(), grant, &out);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return out;
  }

  wv1::Topic MustTopic(const std::string& id, int min_year = 7, int max_year = 11,
                       bool pupils = true, bool adults = true) {
    wv1::CreateTopicRequest req;
    req.set_parent(kParent);
    req.set_topic_id(id);
    auto* t = req.mutable_topic();
    t->set_display_name("Sexting: think before you send");
    t->set_category(wv1::TOPIC_CATEGORY_SEXTING);
    t->set_min_year_group(min_year);
    t->set_max_year_group(max_year);
    t->set_suitable_for_pupils(pupils);
    t->set_suitable_for_adults(adults);
    t->set_version("2025.1");
    wv1::Topic out;
    grpc::Status s = stub_->CreateTopic(Ctx().get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  static wv1::Workshop Plan(const std::string& venue, absl::Time start, absl::Duration length,
                            std::vector<std::string> presenters, std::vector<std::string> topics,
                            std::vector<int> years = {9, 10}) {
    wv1::Workshop w;
    w.set_title("Year 9 sexting workshop");
    w.set_venue(venue);
    *w.mutable_start_time() = ToProtoTime(start);
    *w.mutable_end_time() = ToProtoTime(start + length);
    w.set_format(cv1::WORKSHOP_FORMAT_WORKSHOP);
    if (years.empty()) {
      w.add_audiences(cv1::WORKSHOP_AUDIENCE_PARENTS);
    } else {
      w.add_audiences(cv1::WORKSHOP_AUDIENCE_PUPILS);
      for (int y : years) w.add_year_groups(y);
    }
    for (auto& p : presenters) w.add_presenters(p);
    for (auto& t : topics) w.add_topics(t);
    return w;
  }

  grpc::Status Schedule(const std::string& id, const wv1::Workshop& w, wv1::Workshop* out,
                        const std::string& request_id = "", const std::string& parent = kParent) {
    wv1::ScheduleWorkshopRequest req;
    req.set_parent(parent);
    req.set_workshop_id(id);
    *req.mutable_workshop() = w;
    req.set_request_id(request_id);
    return stub_->ScheduleWorkshop(Ctx().get(), req, out);
  }

  // A venue "school", an accredited presenter "dmiu-1", a topic "sexting" and a workshop
  // tomorrow 10:00-11:00.
  wv1::Workshop Basic(const std::string& id = "w1") {
    MustVenue("school");
    MustPresenter("dmiu-1");
    MustTopic("sexting");
    wv1::Workshop out;
    grpc::Status s = Schedule(id,
                              Plan(Venue("school"), kStart + absl::Hours(25), absl::Hours(1),
                                   {Presenter("dmiu-1")}, {Topic("sexting")}),
                              &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  static wv1::DeliveryRecord Delivery(int pupils_y9, int parents = 0) {
    wv1::DeliveryRecord d;
    d.set_actual_duration_minutes(55);
    auto* y = d.mutable_headcount()->add_pupils();
    y->set_year_group(9);
    y->set_pupils(pupils_y9);
    d.mutable_headcount()->set_parents(parents);
    d.mutable_headcount()->set_staff(2);
    auto* f = d.mutable_feedback();
    f->set_responses(10);
    f->set_ratings_count(8);
    f->set_ratings_sum(36);
    f->mutable_know_what_to_do()->set_before(3);
    f->mutable_know_what_to_do()->set_after(9);
    f->mutable_know_who_to_tell()->set_before(4);
    f->mutable_know_who_to_tell()->set_after(10);
    d.set_safeguarding_disclosures(2);
    d.add_referral_references("REF-0001");
    return d;
  }

  grpc::Status Deliver(const wv1::Workshop& w, const wv1::DeliveryRecord& d, wv1::Workshop* out,
                       const std::string& request_id = "") {
    wv1::DeliverWorkshopRequest req;
    req.set_name(w.name());
    req.set_etag(w.etag());
    *req.mutable_delivery() = d;
    req.set_request_id(request_id);
    return stub_->DeliverWorkshop(Ctx().get(), req, out);
  }

  std::vector<ev1::OutreachEvent> Events() { return h_.OutboxEvents(); }
  std::vector<ev1::OutreachEvent> EventsOf(ev1::OutreachEvent::PayloadCase kind) {
    return h_.OutboxEventsOf(kind);
  }

  ServiceHarness h_;
  std::unique_ptr<wv1::WorkshopsService::Stub> stub_;
};

// --- venues ---------------------------------------------------------------------------------

TEST_F(WorkshopsServiceTest, VenueCrudWithEtagsAndEvents) {
  wv1::Venue v = School("Example Academy, Derby", "derby-city", 900);
  v.set_school_urn("123456");
  v.set_postcode("DE1 3AA");
  wv1::Venue created;
  ASSERT_TRUE(CreateVenue("example-academy", v, &created).ok());
  EXPECT_EQ(created.name(), Venue("example-academy"));
  EXPECT_FALSE(created.etag().empty());
  EXPECT_EQ(absl::FromUnixSeconds(created.create_time().seconds()), kStart);

  wv1::Venue got;
  ASSERT_TRUE(stub_
                  ->GetVenue(
                      Ctx().get(),
                      [&] {
                        wv1::GetVenueRequest r;
                        r.set_name(created.name());
                        return r;
                      }(),
                      &got)
                  .ok());
  EXPECT_EQ(got.SerializeAsString(), created.SerializeAsString());

  h_.clock().Advance(absl::Minutes(5));
  wv1::UpdateVenueRequest up;
  *up.mutable_venue() = created;
  up.mutable_venue()->set_pupil_roll(950);
  up.mutable_venue()->set_display_name("ignored: not in mask");
  *up.mutable_update_mask() = Mask({"pupil_roll"});
  wv1::Venue updated;
  ASSERT_TRUE(stub_->UpdateVenue(Ctx().get(), up, &updated).ok());
  EXPECT_EQ(updated.pupil_roll(), 950);
  EXPECT_EQ(updated.display_name(), "Example Academy, Derby");
  EXPECT_NE(updated.etag(), created.etag());

  // Stale etag, then missing etag.
  grpc::Status s = stub_->UpdateVenue(Ctx().get(), up, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  up.mutable_venue()->clear_etag();
  s = stub_->UpdateVenue(Ctx().get(), up, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("venue.etag"));
  // Unknown mask path.
  *up.mutable_venue() = updated;
  *up.mutable_update_mask() = Mask({"create_time"});
  s = stub_->UpdateVenue(Ctx().get(), up, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("update_mask"));
  // Clearing a required field through the mask is invalid.
  *up.mutable_update_mask() = Mask({"area"});
  up.mutable_venue()->clear_area();
  s = stub_->UpdateVenue(Ctx().get(), up, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("venue.area"));

  wv1::DeleteVenueRequest del;
  del.set_name(updated.name());
  del.set_etag(created.etag());
  google::protobuf::Empty empty;
  s = stub_->DeleteVenue(Ctx().get(), del, &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  del.set_etag(updated.etag());
  ASSERT_TRUE(stub_->DeleteVenue(Ctx().get(), del, &empty).ok());
  wv1::GetVenueRequest get;
  get.set_name(updated.name());
  s = stub_->GetVenue(Ctx().get(), get, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_NOT_FOUND");

  auto events = Events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].source(), "workshops");
  EXPECT_EQ(events[0].force(), kForce);
  EXPECT_EQ(events[0].subject(), Venue("example-academy"));
  EXPECT_FALSE(events[0].event_id().empty());
  EXPECT_EQ(absl::FromUnixSeconds(events[0].occurred_time().seconds()), kStart);
  ASSERT_TRUE(events[0].has_venue_upserted());
  EXPECT_EQ(events[0].venue_upserted().kind(), cv1::VENUE_KIND_SECONDARY);
  EXPECT_EQ(events[0].venue_upserted().area(), "derby-city");
  EXPECT_EQ(events[0].venue_upserted().pupil_roll(), 900);
  ASSERT_TRUE(events[1].has_venue_upserted());
  EXPECT_EQ(events[1].venue_upserted().pupil_roll(), 950);
  EXPECT_EQ(absl::FromUnixSeconds(events[1].occurred_time().seconds()), kStart + absl::Minutes(5));
  ASSERT_TRUE(events[2].has_venue_deleted());
  EXPECT_EQ(events[2].venue_deleted().area(), "derby-city");
  EXPECT_EQ(events[2].venue_deleted().kind(), cv1::VENUE_KIND_SECONDARY);
}

TEST_F(WorkshopsServiceTest, CreateIsIdempotentByRequestIdAndRefusesReuse) {
  const wv1::Venue v =
      School("Example Primary, Belper", "amber-valley", 210, cv1::VENUE_KIND_PRIMARY);
  wv1::Venue first, second;
  ASSERT_TRUE(CreateVenue("", v, &first, "req-1").ok());
  ASSERT_TRUE(CreateVenue("", v, &second, "req-1").ok());
  EXPECT_EQ(first.name(), second.name());
  EXPECT_EQ(first.etag(), second.etag());
  wv1::ListVenuesRequest list;
  list.set_parent(kParent);
  wv1::ListVenuesResponse listed;
  ASSERT_TRUE(stub_->ListVenues(Ctx().get(), list, &listed).ok());
  EXPECT_EQ(listed.total_size(), 1);
  EXPECT_EQ(EventsOf(ev1::OutreachEvent::kVenueUpserted).size(), 1u);

  wv1::Venue other = v;
  other.set_pupil_roll(211);
  grpc::Status s = CreateVenue("", other, &second, "req-1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "REQUEST_ID_REUSED");

  // Same id -> ALREADY_EXISTS; same URN -> ALREADY_EXISTS.
  ASSERT_TRUE(CreateVenue("fixed", v, &first).ok());
  s = CreateVenue("fixed", v, &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_ALREADY_EXISTS");
  wv1::Venue with_urn = v;
  with_urn.set_school_urn("112233");
  ASSERT_TRUE(CreateVenue("urn-a", with_urn, &first).ok());
  s = CreateVenue("urn-b", with_urn, &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_ALREADY_EXISTS");

  // Presenters, topics and workshops: a retry returns the first result.
  wv1::CreatePresenterRequest pr;
  pr.set_parent(kParent);
  pr.set_request_id("p-req");
  pr.mutable_presenter()->set_display_name("PCSO, Safer Neighbourhood Team");
  pr.mutable_presenter()->set_team(cv1::PRESENTER_TEAM_SAFER_NEIGHBOURHOOD);
  wv1::Presenter p1, p2;
  ASSERT_TRUE(stub_->CreatePresenter(Ctx().get(), pr, &p1).ok());
  ASSERT_TRUE(stub_->CreatePresenter(Ctx().get(), pr, &p2).ok());
  EXPECT_EQ(p1.name(), p2.name());
  EXPECT_EQ(p1.accreditation().state(), cv1::ACCREDITATION_STATE_NOT_ACCREDITED);
}

TEST_F(WorkshopsServiceTest, ListPageSizeDefaultsTo50AndIsCappedAt500) {
  for (int i = 0; i < 55; ++i) MustVenue(absl::StrCat("v", i));
  wv1::ListVenuesRequest req;
  req.set_parent(kParent);
  wv1::ListVenuesResponse resp;
  ASSERT_TRUE(stub_->ListVenues(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.venues_size(), 50);
  EXPECT_EQ(resp.total_size(), 55);
  EXPECT_FALSE(resp.next_page_token().empty());
  req.set_page_size(100000);
  ASSERT_TRUE(stub_->ListVenues(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.venues_size(), 55);
  EXPECT_TRUE(resp.next_page_token().empty());
}

TEST_F(WorkshopsServiceTest, ListVenuesPaginatesFiltersAndOrders) {
  for (int i = 0; i < 7; ++i) {
    MustVenue(absl::StrCat("v", i), i % 2 == 0 ? "north" : "south", 100 + i * 10,
              i < 5 ? cv1::VENUE_KIND_PRIMARY : cv1::VENUE_KIND_COMMUNITY);
  }
  wv1::ListVenuesRequest req;
  req.set_parent(kParent);
  req.set_page_size(3);
  std::vector<std::string> seen;
  int pages = 0;
  while (true) {
    wv1::ListVenuesResponse resp;
    ASSERT_TRUE(stub_->ListVenues(Ctx().get(), req, &resp).ok());
    EXPECT_EQ(resp.total_size(), 7);
    ++pages;
    for (const auto& v : resp.venues()) seen.push_back(v.name());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 7u);

  // Filter + order.
  wv1::ListVenuesRequest f;
  f.set_parent(kParent);
  f.set_filter("area = \"north\" AND kind = VENUE_KIND_PRIMARY");
  f.set_order_by("pupil_roll desc");
  wv1::ListVenuesResponse resp;
  ASSERT_TRUE(stub_->ListVenues(Ctx().get(), f, &resp).ok());
  std::vector<int> rolls;
  for (const auto& v : resp.venues()) rolls.push_back(v.pupil_roll());
  EXPECT_THAT(rolls, ElementsAre(140, 120, 100));

  // A token with another filter, a garbage token, a negative page size, a bad filter.
  f.set_page_size(1);
  ASSERT_TRUE(stub_->ListVenues(Ctx().get(), f, &resp).ok());
  ASSERT_FALSE(resp.next_page_token().empty());
  f.set_page_token(resp.next_page_token());
  f.set_filter("area = \"south\"");
  grpc::Status s = stub_->ListVenues(Ctx().get(), f, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(s), "INVALID_PAGE_TOKEN");
  f.set_page_token("garbage");
  s = stub_->ListVenues(Ctx().get(), f, &resp);
  EXPECT_EQ(ReasonOf(s), "INVALID_PAGE_TOKEN");
  f.clear_page_token();
  f.set_page_size(-1);
  s = stub_->ListVenues(Ctx().get(), f, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("page_size"));
  f.set_page_size(0);
  f.set_filter("postcode = \"DE1\"");
  s = stub_->ListVenues(Ctx().get(), f, &resp);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("filter"));
  f.set_filter("");
  f.set_order_by("postcode");
  s = stub_->ListVenues(Ctx().get(), f, &resp);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("order_by"));
}

// A token names the List method it came from: another collection with the same parent, filter
// and order_by refuses it rather than answering a page of the wrong listing.
TEST_F(WorkshopsServiceTest, PageTokenOfAnotherListIsRefused) {
  MustTopic("sexting");
  MustTopic("grooming");
  MustVenue("school");
  wv1::ListTopicsRequest lt;
  lt.set_parent(kParent);
  lt.set_page_size(1);
  wv1::ListTopicsResponse topics;
  ASSERT_TRUE(stub_->ListTopics(Ctx().get(), lt, &topics).ok());
  ASSERT_FALSE(topics.next_page_token().empty());

  wv1::ListVenuesRequest lv;
  lv.set_parent(kParent);
  lv.set_page_size(1);
  lv.set_page_token(topics.next_page_token());
  wv1::ListVenuesResponse venues;
  grpc::Status s = stub_->ListVenues(Ctx().get(), lv, &venues);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(s), "INVALID_PAGE_TOKEN");
  EXPECT_THAT(ViolatedFields(s), ElementsAre("page_token"));

  // The token still pages the listing it came from.
  lt.set_page_token(topics.next_page_token());
  ASSERT_TRUE(stub_->ListTopics(Ctx().get(), lt, &topics).ok());
  EXPECT_EQ(topics.topics_size(), 1);
}

// --- presenters and accreditation ------------------------------------------------------------

TEST_F(WorkshopsServiceTest, AccreditationGrantSuspendExpireAndBookingRules) {
  MustVenue("school");
  MustTopic("sexting");
  wv1::Presenter p = MustPresenter("snt-1", /*accredit=*/false);
  EXPECT_EQ(p.accreditation().state(), cv1::ACCREDITATION_STATE_NOT_ACCREDITED);

  // Not accredited: cannot be booked, cannot be suspended.
  wv1::Workshop w;
  grpc::Status s = Schedule("w1",
                            Plan(Venue("school"), kStart + absl::Hours(2), absl::Hours(1),
                                 {p.name()}, {Topic("sexting")}),
                            &w);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "ACCREDITATION_NOT_CURRENT");
  wv1::SuspendAccreditationRequest sus;
  sus.set_name(p.name());
  sus.set_etag(p.etag());
  sus.set_reason("Pending review");
  s = stub_->SuspendAccreditation(Ctx().get(), sus, &p);
  EXPECT_EQ(ReasonOf(s), "ACCREDITATION_NOT_CURRENT");

  // Grant: invalid expiries, then valid.
  wv1::GrantAccreditationRequest grant;
  grant.set_name(p.name());
  grant.set_etag(p.etag());
  *grant.mutable_expire_time() = ToProtoTime(kStart - absl::Hours(1));
  s = stub_->GrantAccreditation(Ctx().get(), grant, &p);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("expire_time"));
  *grant.mutable_expire_time() = ToProtoTime(kStart + absl::Hours(24 * 365 * 6));
  s = stub_->GrantAccreditation(Ctx().get(), grant, &p);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("expire_time"));
  *grant.mutable_expire_time() = ToProtoTime(kStart + absl::Hours(48));
  ASSERT_TRUE(stub_->GrantAccreditation(Ctx().get(), grant, &p).ok());
  EXPECT_EQ(p.accreditation().state(), cv1::ACCREDITATION_STATE_ACCREDITED);
  // The old etag is now stale.
  s = stub_->GrantAccreditation(Ctx().get(), grant, &p);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");

  // Accreditation ends before a workshop in 3 days: refused; tomorrow: fine.
  s = Schedule("late",
               Plan(Venue("school"), kStart + absl::Hours(72), absl::Hours(1), {p.name()},
                    {Topic("sexting")}),
               &w);
  EXPECT_EQ(ReasonOf(s), "ACCREDITATION_NOT_CURRENT");
  ASSERT_TRUE(Schedule("ok",
                       Plan(Venue("school"), kStart + absl::Hours(24), absl::Hours(1), {p.name()},
                            {Topic("sexting")}),
                       &w)
                  .ok());

  // Suspend: reason required; then suspended presenters cannot be booked.
  sus.set_etag(p.etag());
  sus.set_reason("");
  s = stub_->SuspendAccreditation(Ctx().get(), sus, &p);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("reason"));
  sus.set_reason("Awaiting refresher briefing");
  ASSERT_TRUE(stub_->SuspendAccreditation(Ctx().get(), sus, &p).ok());
  EXPECT_EQ(p.accreditation().state(), cv1::ACCREDITATION_STATE_SUSPENDED);
  EXPECT_EQ(p.accreditation().suspend_reason(), "Awaiting refresher briefing");
  s = Schedule("w2",
               Plan(Venue("school"), kStart + absl::Hours(30), absl::Hours(1), {p.name()},
                    {Topic("sexting")}),
               &w);
  EXPECT_EQ(ReasonOf(s), "ACCREDITATION_NOT_CURRENT");
  EXPECT_EQ(MetadataOf(s)["accreditation_state"], "ACCREDITATION_STATE_SUSPENDED");
  EXPECT_EQ(MetadataOf(s)["presenter"], p.name());
  // The already scheduled workshop is unchanged.
  wv1::GetWorkshopRequest gw;
  gw.set_name(Workshop("ok"));
  ASSERT_TRUE(stub_->GetWorkshop(Ctx().get(), gw, &w).ok());
  EXPECT_EQ(w.state(), wv1::WORKSHOP_STATE_SCHEDULED);

  // Expiry without a write: another presenter, granted for 1 day, shows EXPIRED after it.
  wv1::Presenter q = MustPresenter("dmiu-2", true, absl::Hours(24));
  h_.clock().Advance(absl::Hours(25));
  wv1::GetPresenterRequest gp;
  gp.set_name(q.name());
  ASSERT_TRUE(stub_->GetPresenter(Ctx().get(), gp, &q).ok());
  EXPECT_EQ(q.accreditation().state(), cv1::ACCREDITATION_STATE_EXPIRED);
  s = Schedule(
      "w3",
      Plan(Venue("school"), Now() + absl::Hours(2), absl::Hours(1), {q.name()}, {Topic("sexting")}),
      &w);
  EXPECT_EQ(ReasonOf(s), "ACCREDITATION_NOT_CURRENT");
  wv1::ListPresentersRequest lp;
  lp.set_parent(kParent);
  lp.set_filter("accreditation.state = ACCREDITATION_STATE_EXPIRED");
  wv1::ListPresentersResponse listed;
  ASSERT_TRUE(stub_->ListPresenters(Ctx().get(), lp, &listed).ok());
  ASSERT_EQ(listed.presenters_size(), 1);
  EXPECT_EQ(listed.presenters(0).name(), q.name());

  auto events = EventsOf(ev1::OutreachEvent::kPresenterAccreditationChanged);
  ASSERT_EQ(events.size(), 3u);  // grant snt-1, suspend snt-1, grant dmiu-2
  EXPECT_EQ(events[0].subject(), Presenter("snt-1"));
  EXPECT_EQ(events[0].presenter_accreditation_changed().state(),
            cv1::ACCREDITATION_STATE_ACCREDITED);
  EXPECT_EQ(events[0].presenter_accreditation_changed().team(),
            cv1::PRESENTER_TEAM_DIGITAL_MEDIA_INVESTIGATION_UNIT);
  EXPECT_EQ(
      absl::FromUnixSeconds(events[0].presenter_accreditation_changed().expire_time().seconds()),
      kStart + absl::Hours(48));
  EXPECT_EQ(events[1].presenter_accreditation_changed().state(),
            cv1::ACCREDITATION_STATE_SUSPENDED);
}

TEST_F(WorkshopsServiceTest, PresenterUpdateDeleteAndInUse) {
  wv1::Workshop w = Basic();
  wv1::GetPresenterRequest gp;
  gp.set_name(Presenter("dmiu-1"));
  wv1::Presenter p;
  ASSERT_TRUE(stub_->GetPresenter(Ctx().get(), gp, &p).ok());
  wv1::UpdatePresenterRequest up;
  *up.mutable_presenter() = p;
  up.mutable_presenter()->set_team(cv1::PRESENTER_TEAM_PARTNER);
  *up.mutable_update_mask() = Mask({"team"});
  grpc::Status s = stub_->UpdatePresenter(Ctx().get(), up, &p);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("presenter.organisation"));
  up.mutable_presenter()->set_organisation("University of Derby");
  *up.mutable_update_mask() = Mask({"team", "organisation"});
  ASSERT_TRUE(stub_->UpdatePresenter(Ctx().get(), up, &p).ok());
  EXPECT_EQ(p.organisation(), "University of Derby");
  EXPECT_EQ(p.accreditation().state(), cv1::ACCREDITATION_STATE_ACCREDITED);
  *up.mutable_update_mask() = Mask({"accreditation"});
  s = stub_->UpdatePresenter(Ctx().get(), up, &p);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("update_mask"));

  wv1::DeletePresenterRequest del;
  del.set_name(p.name());
  del.set_etag(p.etag());
  google::protobuf::Empty e;
  s = stub_->DeletePresenter(Ctx().get(), del, &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_IN_USE");
  EXPECT_EQ(MetadataOf(s)["resource"], p.name());
  wv1::DeleteVenueRequest dv;
  dv.set_name(Venue("school"));
  wv1::Venue v;
  wv1::GetVenueRequest gv;
  gv.set_name(Venue("school"));
  ASSERT_TRUE(stub_->GetVenue(Ctx().get(), gv, &v).ok());
  dv.set_etag(v.etag());
  s = stub_->DeleteVenue(Ctx().get(), dv, &e);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_IN_USE");

  // Once the workshop is deleted, both can go.
  wv1::DeleteWorkshopRequest dw;
  dw.set_name(w.name());
  dw.set_etag(w.etag());
  ASSERT_TRUE(stub_->DeleteWorkshop(Ctx().get(), dw, &e).ok());
  EXPECT_TRUE(stub_->DeletePresenter(Ctx().get(), del, &e).ok());
  EXPECT_TRUE(stub_->DeleteVenue(Ctx().get(), dv, &e).ok());
  auto cancelled = EventsOf(ev1::OutreachEvent::kWorkshopCancelled);
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_TRUE(cancelled[0].workshop_cancelled().deleted());
}

// --- topics -----------------------------------------------------------------------------------

TEST_F(WorkshopsServiceTest, TopicRetiredAndAgeBandRules) {
  MustVenue("school");
  MustPresenter("dmiu-1");
  MustTopic("ks3", 7, 9, true, false);
  wv1::Topic adults = MustTopic("parents-only", 0, 0, false, true);
  wv1::Workshop w;
  // Year 10 outside 7-9.
  grpc::Status s = Schedule("w1",
                            Plan(Venue("school"), kStart + absl::Hours(2), absl::Hours(1),
                                 {Presenter("dmiu-1")}, {Topic("ks3")}, {8, 10}),
                            &w);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "AGE_BAND_MISMATCH");
  EXPECT_EQ(MetadataOf(s)["topic"], Topic("ks3"));
  EXPECT_EQ(MetadataOf(s)["year_group"], "10");
  // Pupils-only topic for a parents' evening.
  s = Schedule("w1",
               Plan(Venue("school"), kStart + absl::Hours(2), absl::Hours(1), {Presenter("dmiu-1")},
                    {Topic("ks3")}, {}),
               &w);
  EXPECT_EQ(ReasonOf(s), "AGE_BAND_MISMATCH");
  // Adults-only topic for pupils.
  s = Schedule("w1",
               Plan(Venue("school"), kStart + absl::Hours(2), absl::Hours(1), {Presenter("dmiu-1")},
                    {Topic("parents-only")}, {8}),
               &w);
  EXPECT_EQ(ReasonOf(s), "AGE_BAND_MISMATCH");
  ASSERT_TRUE(Schedule("w1",
                       Plan(Venue("school"), kStart + absl::Hours(2), absl::Hours(1),
                            {Presenter("dmiu-1")}, {Topic("ks3")}, {8, 9}),
                       &w)
                  .ok());

  // Retire: no longer schedulable or updatable; retiring twice is refused.
  wv1::RetireTopicRequest retire;
  retire.set_name(adults.name());
  retire.set_etag(adults.etag());
  wv1::Topic retired;
  ASSERT_TRUE(stub_->RetireTopic(Ctx().get(), retire, &retired).ok());
  EXPECT_EQ(retired.state(), wv1::TOPIC_STATE_RETIRED);
  EXPECT_TRUE(retired.has_retire_time());
  retire.set_etag(retired.etag());
  s = stub_->RetireTopic(Ctx().get(), retire, &retired);
  EXPECT_EQ(ReasonOf(s), "TOPIC_RETIRED");
  s = Schedule("w2",
               Plan(Venue("school"), kStart + absl::Hours(5), absl::Hours(1), {Presenter("dmiu-1")},
                    {adults.name()}, {}),
               &w);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "TOPIC_RETIRED");
  EXPECT_EQ(MetadataOf(s)["topic"], adults.name());
  wv1::UpdateTopicRequest ut;
  *ut.mutable_topic() = retired;
  ut.mutable_topic()->set_version("2026.1");
  *ut.mutable_update_mask() = Mask({"version"});
  wv1::Topic t;
  s = stub_->UpdateTopic(Ctx().get(), ut, &t);
  EXPECT_EQ(ReasonOf(s), "TOPIC_RETIRED");

  // Update an active topic; delete a used one (refused) and an unused one.
  wv1::GetTopicRequest gt;
  gt.set_name(Topic("ks3"));
  ASSERT_TRUE(stub_->GetTopic(Ctx().get(), gt, &t).ok());
  *ut.mutable_topic() = t;
  ut.mutable_topic()->set_max_year_group(6);
  *ut.mutable_update_mask() = Mask({"max_year_group"});
  s = stub_->UpdateTopic(Ctx().get(), ut, &t);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("topic.max_year_group"));
  ut.mutable_topic()->set_max_year_group(11);
  ASSERT_TRUE(stub_->UpdateTopic(Ctx().get(), ut, &t).ok());
  EXPECT_EQ(t.max_year_group(), 11);
  wv1::DeleteTopicRequest dt;
  dt.set_name(t.name());
  dt.set_etag(t.etag());
  google::protobuf::Empty e;
  s = stub_->DeleteTopic(Ctx().get(), dt, &e);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_IN_USE");
  dt.set_name(retired.name());
  dt.set_etag(retired.etag());
  EXPECT_TRUE(stub_->DeleteTopic(Ctx().get(), dt, &e).ok());

  wv1::ListTopicsRequest lt;
  lt.set_parent(kParent);
  lt.set_filter("state = TOPIC_STATE_ACTIVE AND max_year_group >= 9");
  wv1::ListTopicsResponse topics;
  ASSERT_TRUE(stub_->ListTopics(Ctx().get(), lt, &topics).ok());
  ASSERT_EQ(topics.topics_size(), 1);
  EXPECT_EQ(topics.topics(0).name(), Topic("ks3"));
}

// --- workshops --------------------------------------------------------------------------------

TEST_F(WorkshopsServiceTest, PresenterIsNeverDoubleBooked) {
  wv1::Workshop a = Basic("a");  // tomorrow 10:00-11:00
  const absl::Time start = kStart + absl::Hours(25);
  wv1::Workshop w;
  grpc::Status s = Schedule("b",
                            Plan(Venue("school"), start + absl::Minutes(30), absl::Hours(1),
                                 {Presenter("dmiu-1")}, {Topic("sexting")}),
                            &w);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "PRESENTER_DOUBLE_BOOKED");
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr(a.name()));
  EXPECT_EQ(MetadataOf(s),
            (std::map<std::string, std::string>{{"presenter", Presenter("dmiu-1")},
                                                {"conflicting_workshop", a.name()}}));
  // Back to back is fine.
  ASSERT_TRUE(Schedule("c",
                       Plan(Venue("school"), start + absl::Hours(1), absl::Hours(1),
                            {Presenter("dmiu-1")}, {Topic("sexting")}),
                       &w)
                  .ok());
  // Rescheduling c onto a's slot is refused; postponing a frees the slot.
  wv1::RescheduleWorkshopRequest rr;
  rr.set_name(w.name());
  rr.set_etag(w.etag());
  *rr.mutable_start_time() = ToProtoTime(start);
  *rr.mutable_end_time() = ToProtoTime(start + absl::Hours(1));
  s = stub_->RescheduleWorkshop(Ctx().get(), rr, &w);
  EXPECT_EQ(ReasonOf(s), "PRESENTER_DOUBLE_BOOKED");
  wv1::PostponeWorkshopRequest pp;
  pp.set_name(a.name());
  pp.set_etag(a.etag());
  pp.set_reason("School closed for snow");
  ASSERT_TRUE(stub_->PostponeWorkshop(Ctx().get(), pp, &a).ok());
  EXPECT_EQ(a.state(), wv1::WORKSHOP_STATE_POSTPONED);
  ASSERT_TRUE(stub_->RescheduleWorkshop(Ctx().get(), rr, &w).ok());
  // A second presenter added by update to an overlapping workshop is checked too.
  MustPresenter("snt-1");
  wv1::Workshop d;
  ASSERT_TRUE(Schedule("d",
                       Plan(Venue("school"), start, absl::Hours(1), {Presenter("snt-1")},
                            {Topic("sexting")}),
                       &d)
                  .ok());
  wv1::UpdateWorkshopRequest up;
  *up.mutable_workshop() = d;
  up.mutable_workshop()->add_presenters(Presenter("dmiu-1"));
  *up.mutable_update_mask() = Mask({"presenters"});
  s = stub_->UpdateWorkshop(Ctx().get(), up, &d);
  EXPECT_EQ(ReasonOf(s), "PRESENTER_DOUBLE_BOOKED");
}

TEST_F(WorkshopsServiceTest, ScheduleNamesMissingReferences) {
  MustVenue("school");
  MustPresenter("dmiu-1");
  MustTopic("sexting");
  const auto missing = [&](const std::string& venue, const std::string& presenter,
                           const std::string& topic) {
    wv1::Workshop w;
    grpc::Status s = Schedule(
        "w", Plan(venue, kStart + absl::Hours(2), absl::Hours(1), {presenter}, {topic}), &w);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(ReasonOf(s), "RESOURCE_NOT_FOUND");
    return MetadataOf(s)["resource"];
  };
  EXPECT_EQ(missing(Venue("nowhere"), Presenter("dmiu-1"), Topic("sexting")), Venue("nowhere"));
  EXPECT_EQ(missing(Venue("school"), Presenter("ghost"), Topic("sexting")), Presenter("ghost"));
  EXPECT_EQ(missing(Venue("school"), Presenter("dmiu-1"), Topic("none")), Topic("none"));
  wv1::GetWorkshopRequest gw;
  gw.set_name(Workshop("w"));
  wv1::Workshop w;
  EXPECT_EQ(stub_->GetWorkshop(Ctx().get(), gw, &w).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(Events(), ::testing::SizeIs(2));  // the venue and the accreditation only
}

TEST_F(WorkshopsServiceTest, RacingBookingsExactlyOneWins) {
  MustVenue("school");
  MustPresenter("dmiu-1");
  MustTopic("sexting");
  constexpr int kCallers = 8;
  std::atomic<int> ok{0}, double_booked{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      auto stub = wv1::WorkshopsService::NewStub(h_.channel());
      wv1::ScheduleWorkshopRequest req;
      req.set_parent(kParent);
      req.set_workshop_id(absl::StrCat("race-", i));
      *req.mutable_workshop() = Plan(Venue("school"), kStart + absl::Hours(3) + absl::Minutes(i),
                                     absl::Hours(1), {Presenter("dmiu-1")}, {Topic("sexting")});
      wv1::Workshop out;
      grpc::Status s = stub->ScheduleWorkshop(Ctx().get(), req, &out);
      if (s.ok()) {
        ++ok;
      } else if (ReasonOf(s) == "PRESENTER_DOUBLE_BOOKED") {
        ++double_booked;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(double_booked.load(), kCallers - 1);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(EventsOf(ev1::OutreachEvent::kWorkshopScheduled).size(), 1u);
}

TEST_F(WorkshopsServiceTest, APresenterRecordsDeliveriesOfTheirOwnWorkshopsOnly) {
  wv1::Workshop w = Basic();  // presented by dmiu-1
  MustPresenter("dmiu-2");
  h_.clock().Advance(absl::Hours(26));
  auto deliver_as = [&](const std::string& presenter) {
    wv1::DeliverWorkshopRequest req;
    req.set_name(w.name());
    req.set_etag(w.etag());
    *req.mutable_delivery() = Delivery(30);
    wv1::Workshop out;
    return stub_->DeliverWorkshop(
        testing::ContextAs({presenter, {"derbyshire"}, {"presenter"}}).get(), req, &out);
  };
  grpc::Status other = deliver_as("dmiu-2");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(other), "NOT_OWN_WORKSHOP");
  EXPECT_TRUE(deliver_as("dmiu-1").ok());
}

TEST_F(WorkshopsServiceTest, DeliveryRulesRetriesAndEvents) {
  wv1::Workshop w = Basic();  // venue roll 300, starts in 25 h
  wv1::Workshop out;
  // Before the start time (by the clock).
  grpc::Status s = Deliver(w, Delivery(30), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "DELIVERY_BEFORE_START");
  h_.clock().Advance(absl::Hours(26));
  // delivered_time before start.
  wv1::DeliveryRecord early = Delivery(30);
  *early.mutable_delivered_time() = ToProtoTime(kStart + absl::Hours(24));
  s = Deliver(w, early, &out);
  EXPECT_EQ(ReasonOf(s), "DELIVERY_BEFORE_START");
  EXPECT_EQ(MetadataOf(s)["start_time"], "2025-01-16T10:00:00Z");
  // More pupils than the roll.
  s = Deliver(w, Delivery(301), &out);
  EXPECT_EQ(ReasonOf(s), "HEADCOUNT_EXCEEDS_ROLL");
  EXPECT_EQ(MetadataOf(s)["pupil_roll"], "300");
  EXPECT_EQ(MetadataOf(s)["pupils"], "301");
  // Stale etag.
  wv1::Workshop stale = w;
  stale.set_etag("0000000000000000");
  s = Deliver(stale, Delivery(30), &out);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");

  ASSERT_TRUE(Deliver(w, Delivery(120, 5), &out, "deliver-1").ok());
  EXPECT_EQ(out.state(), wv1::WORKSHOP_STATE_DELIVERED);
  EXPECT_EQ(out.delivery().headcount().pupils(0).pupils(), 120);
  EXPECT_DOUBLE_EQ(out.delivery().feedback().mean_rating(), 4.5);
  EXPECT_EQ(absl::FromUnixSeconds(out.delivery().delivered_time().seconds()), Now());
  EXPECT_EQ(out.area(), "north-dales");
  // A retry with the same request_id returns the delivered workshop (old etag and all).
  wv1::Workshop again;
  ASSERT_TRUE(Deliver(w, Delivery(120, 5), &again, "deliver-1").ok());
  EXPECT_EQ(again.SerializeAsString(), out.SerializeAsString());
  s = Deliver(w, Delivery(121, 5), &again, "deliver-1");
  EXPECT_EQ(ReasonOf(s), "REQUEST_ID_REUSED");
  // Delivered once: a new delivery is refused even with the current etag.
  s = Deliver(out, Delivery(10), &again);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "WORKSHOP_NOT_SCHEDULED");
  EXPECT_EQ(MetadataOf(s)["state"], "WORKSHOP_STATE_DELIVERED");
  // Delivered workshops cannot be deleted, cancelled or updated.
  wv1::DeleteWorkshopRequest del;
  del.set_name(out.name());
  del.set_etag(out.etag());
  google::protobuf::Empty e;
  s = stub_->DeleteWorkshop(Ctx().get(), del, &e);
  EXPECT_EQ(ReasonOf(s), "WORKSHOP_ALREADY_DELIVERED");
  wv1::CancelWorkshopRequest cancel;
  cancel.set_name(out.name());
  cancel.set_etag(out.etag());
  cancel.set_reason("Entered twice");
  s = stub_->CancelWorkshop(Ctx().get(), cancel, &again);
  EXPECT_EQ(ReasonOf(s), "WORKSHOP_NOT_SCHEDULED");

  auto delivered = EventsOf(ev1::OutreachEvent::kWorkshopDelivered);
  ASSERT_EQ(delivered.size(), 1u);
  const auto& d = delivered[0].workshop_delivered();
  EXPECT_EQ(delivered[0].subject(), w.name());
  EXPECT_EQ(d.venue(), Venue("school"));
  EXPECT_EQ(d.venue_kind(), cv1::VENUE_KIND_SECONDARY);
  EXPECT_EQ(d.area(), "north-dales");
  EXPECT_EQ(d.format(), cv1::WORKSHOP_FORMAT_WORKSHOP);
  EXPECT_THAT(d.audiences(), ElementsAre(cv1::WORKSHOP_AUDIENCE_PUPILS));
  EXPECT_THAT(d.topics(), ElementsAre(Topic("sexting")));
  EXPECT_THAT(d.presenters(), ElementsAre(Presenter("dmiu-1")));
  EXPECT_EQ(d.headcount().pupils(0).pupils(), 120);
  EXPECT_EQ(d.headcount().parents(), 5);
  EXPECT_EQ(d.headcount().staff(), 2);
  EXPECT_EQ(d.feedback().ratings_sum(), 36);
  EXPECT_EQ(d.safeguarding_disclosures(), 2);
  EXPECT_EQ(d.actual_duration_minutes(), 55);
  EXPECT_EQ(d.start_time().seconds(), w.start_time().seconds());
  EXPECT_EQ(d.delivered_time().seconds(), out.delivery().delivered_time().seconds());
  // Referral references never leave the service in events.
  EXPECT_EQ(delivered[0].SerializeAsString().find("REF-0001"), std::string::npos);
}

TEST_F(WorkshopsServiceTest, StateMachineCancelPostponeRescheduleAndEvents) {
  wv1::Workshop w = Basic();
  wv1::Workshop out;
  // Reschedule to a new venue and time.
  MustVenue("library", "south-derbyshire", 0, cv1::VENUE_KIND_COMMUNITY);
  wv1::RescheduleWorkshopRequest rr;
  rr.set_name(w.name());
  rr.set_etag(w.etag());
  *rr.mutable_start_time() = ToProtoTime(kStart + absl::Hours(48));
  *rr.mutable_end_time() = ToProtoTime(kStart + absl::Hours(49));
  rr.set_venue(Venue("library"));
  rr.set_reason("Hall booked for exams");
  ASSERT_TRUE(stub_->RescheduleWorkshop(Ctx().get(), rr, &w).ok());
  EXPECT_EQ(w.venue(), Venue("library"));
  EXPECT_EQ(w.area(), "south-derbyshire");
  EXPECT_EQ(w.venue_kind(), cv1::VENUE_KIND_COMMUNITY);
  EXPECT_EQ(w.state_reason(), "Hall booked for exams");

  // Postpone twice: second is refused.
  wv1::PostponeWorkshopRequest pp;
  pp.set_name(w.name());
  pp.set_etag(w.etag());
  pp.set_reason("Presenter unwell");
  ASSERT_TRUE(stub_->PostponeWorkshop(Ctx().get(), pp, &w).ok());
  pp.set_etag(w.etag());
  grpc::Status s = stub_->PostponeWorkshop(Ctx().get(), pp, &out);
  EXPECT_EQ(ReasonOf(s), "WORKSHOP_NOT_SCHEDULED");
  // A postponed workshop takes no delivery.
  h_.clock().Advance(absl::Hours(50));
  s = Deliver(w, Delivery(10), &out);
  EXPECT_EQ(ReasonOf(s), "WORKSHOP_NOT_SCHEDULED");
  // Update while postponed emits nothing; cancel; a cancelled workshop takes nothing.
  wv1::UpdateWorkshopRequest up;
  *up.mutable_workshop() = w;
  up.mutable_workshop()->set_title("Online safety for Year 9 and 10");
  *up.mutable_update_mask() = Mask({"title"});
  ASSERT_TRUE(stub_->UpdateWorkshop(Ctx().get(), up, &w).ok());
  EXPECT_EQ(w.title(), "Online safety for Year 9 and 10");
  *up.mutable_update_mask() = Mask({"venue"});
  s = stub_->UpdateWorkshop(Ctx().get(), up, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("update_mask"));
  wv1::CancelWorkshopRequest cancel;
  cancel.set_name(w.name());
  cancel.set_etag(w.etag());
  cancel.set_reason("School withdrew");
  ASSERT_TRUE(stub_->CancelWorkshop(Ctx().get(), cancel, &w).ok());
  EXPECT_EQ(w.state(), wv1::WORKSHOP_STATE_CANCELLED);
  s = Deliver(w, Delivery(10), &out);
  EXPECT_EQ(ReasonOf(s), "WORKSHOP_NOT_SCHEDULED");
  rr.set_etag(w.etag());
  *rr.mutable_start_time() = ToProtoTime(Now() + absl::Hours(48));
  *rr.mutable_end_time() = ToProtoTime(Now() + absl::Hours(49));
  s = stub_->RescheduleWorkshop(Ctx().get(), rr, &out);
  EXPECT_EQ(ReasonOf(s), "WORKSHOP_NOT_SCHEDULED");
  cancel.set_etag(w.etag());
  s = stub_->CancelWorkshop(Ctx().get(), cancel, &out);
  EXPECT_EQ(ReasonOf(s), "WORKSHOP_NOT_SCHEDULED");
  up.mutable_workshop()->set_etag(w.etag());
  *up.mutable_update_mask() = Mask({"title"});
  s = stub_->UpdateWorkshop(Ctx().get(), up, &out);
  EXPECT_EQ(ReasonOf(s), "WORKSHOP_NOT_SCHEDULED");
  // Deleting a cancelled workshop is allowed and emits nothing more.
  wv1::DeleteWorkshopRequest del;
  del.set_name(w.name());
  del.set_etag(w.etag());
  google::protobuf::Empty e;
  ASSERT_TRUE(stub_->DeleteWorkshop(Ctx().get(), del, &e).ok());

  auto events = Events();
  std::vector<ev1::OutreachEvent> ws;
  for (auto& ev : events) {
    if (ev.subject() == Workshop("w1")) ws.push_back(ev);
  }
  ASSERT_EQ(ws.size(), 4u);
  ASSERT_TRUE(ws[0].has_workshop_scheduled());
  EXPECT_FALSE(ws[0].workshop_scheduled().rescheduled());
  EXPECT_EQ(ws[0].workshop_scheduled().area(), "north-dales");
  EXPECT_THAT(ws[0].workshop_scheduled().year_groups(), ElementsAre(9, 10));
  EXPECT_THAT(ws[0].workshop_scheduled().topics(), ElementsAre(Topic("sexting")));
  EXPECT_EQ(ws[0].workshop_scheduled().venue_kind(), cv1::VENUE_KIND_SECONDARY);
  ASSERT_TRUE(ws[1].has_workshop_scheduled());
  EXPECT_TRUE(ws[1].workshop_scheduled().rescheduled());
  EXPECT_EQ(ws[1].workshop_scheduled().area(), "south-derbyshire");
  ASSERT_TRUE(ws[2].has_workshop_postponed());
  EXPECT_EQ(ws[2].workshop_postponed().venue(), Venue("library"));
  ASSERT_TRUE(ws[3].has_workshop_cancelled());
  EXPECT_FALSE(ws[3].workshop_cancelled().deleted());
  EXPECT_EQ(ws[3].workshop_cancelled().area(), "south-derbyshire");
}

TEST_F(WorkshopsServiceTest, UpdateWhileScheduledChecksTopicsAndEmitsScheduledEvent) {
  wv1::Workshop w = Basic();
  MustTopic("ks2", 3, 6, true, false);
  wv1::UpdateWorkshopRequest up;
  *up.mutable_workshop() = w;
  up.mutable_workshop()->add_topics(Topic("ks2"));
  *up.mutable_update_mask() = Mask({"topics"});
  wv1::Workshop out;
  grpc::Status s = stub_->UpdateWorkshop(Ctx().get(), up, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "AGE_BAND_MISMATCH");
  up.mutable_workshop()->set_partner_organisation("University of Derby");
  up.mutable_workshop()->set_format(cv1::WORKSHOP_FORMAT_LESSON);
  *up.mutable_update_mask() = Mask({"partner_organisation", "format"});
  ASSERT_TRUE(stub_->UpdateWorkshop(Ctx().get(), up, &out).ok());
  EXPECT_EQ(out.partner_organisation(), "University of Derby");
  EXPECT_EQ(out.topics_size(), 1);  // not in the mask: unchanged
  up.mutable_workshop()->set_etag(w.etag());
  s = stub_->UpdateWorkshop(Ctx().get(), up, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  auto scheduled = EventsOf(ev1::OutreachEvent::kWorkshopScheduled);
  ASSERT_EQ(scheduled.size(), 2u);
  EXPECT_FALSE(scheduled[1].workshop_scheduled().rescheduled());
  EXPECT_EQ(scheduled[1].workshop_scheduled().format(), cv1::WORKSHOP_FORMAT_LESSON);
}

TEST_F(WorkshopsServiceTest, ListWorkshopsFiltersOrdersAndPaginates) {
  MustVenue("school");
  MustPresenter("dmiu-1");
  MustPresenter("snt-1");
  MustTopic("sexting");
  for (int i = 0; i < 5; ++i) {
    wv1::Workshop w;
    ASSERT_TRUE(Schedule(absl::StrCat("w", i),
                         Plan(Venue("school"), kStart + absl::Hours(24 * (i + 1)), absl::Hours(1),
                              {Presenter(i % 2 == 0 ? "dmiu-1" : "snt-1")}, {Topic("sexting")}),
                         &w)
                    .ok());
  }
  wv1::ListWorkshopsRequest req;
  req.set_parent(kParent);
  req.set_filter(absl::StrCat("presenters = \"", Presenter("dmiu-1"),
                              "\" AND state = WORKSHOP_STATE_SCHEDULED"));
  req.set_order_by("start_time desc");
  req.set_page_size(2);
  std::vector<std::string> names;
  while (true) {
    wv1::ListWorkshopsResponse resp;
    grpc::Status s = stub_->ListWorkshops(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.total_size(), 3);
    for (const auto& w : resp.workshops()) names.push_back(IdOfName(w.name()));
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_THAT(names, ElementsAre("w4", "w2", "w0"));
  wv1::ListWorkshopsRequest f2;
  f2.set_parent(kParent);
  f2.set_filter(
      "year_groups = 9 AND audiences = WORKSHOP_AUDIENCE_PUPILS AND start_time >= "
      "\"2025-01-18T00:00:00Z\"");
  wv1::ListWorkshopsResponse resp;
  ASSERT_TRUE(stub_->ListWorkshops(Ctx().get(), f2, &resp).ok());
  EXPECT_EQ(resp.total_size(), 3);  // w2, w3, w4
  f2.set_filter("year_groups = 12");
  ASSERT_TRUE(stub_->ListWorkshops(Ctx().get(), f2, &resp).ok());
  EXPECT_EQ(resp.total_size(), 0);
  f2.set_filter("audiences = WORKSHOP_AUDIENCE_PARENTS");
  ASSERT_TRUE(stub_->ListWorkshops(Ctx().get(), f2, &resp).ok());
  EXPECT_EQ(resp.total_size(), 0);
  f2.set_filter("venue_kind = VENUE_KIND_SECONDARY AND area = \"north-dales\"");
  ASSERT_TRUE(stub_->ListWorkshops(Ctx().get(), f2, &resp).ok());
  EXPECT_EQ(resp.total_size(), 5);
  f2.set_filter("title = \"x\"");
  grpc::Status s = stub_->ListWorkshops(Ctx().get(), f2, &resp);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("filter"));
}

TEST_F(WorkshopsServiceTest, ScheduleAndDeliverRetriesReturnTheFirstResult) {
  MustVenue("school");
  MustPresenter("dmiu-1");
  MustTopic("sexting");
  const wv1::Workshop plan = Plan(Venue("school"), kStart + absl::Hours(2), absl::Hours(1),
                                  {Presenter("dmiu-1")}, {Topic("sexting")});
  wv1::Workshop first, second;
  ASSERT_TRUE(Schedule("", plan, &first, "sched-1").ok());
  ASSERT_TRUE(Schedule("", plan, &second, "sched-1").ok());  // not double-booked: a replay
  EXPECT_EQ(first.name(), second.name());
  EXPECT_EQ(first.etag(), second.etag());
  EXPECT_EQ(EventsOf(ev1::OutreachEvent::kWorkshopScheduled).size(), 1u);
  wv1::Workshop changed = plan;
  changed.set_title("Another title");
  grpc::Status s = Schedule("", changed, &second, "sched-1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "REQUEST_ID_REUSED");
  // Same id without request_id: ALREADY_EXISTS.
  s = Schedule(IdOfName(first.name()), plan, &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_ALREADY_EXISTS");

  h_.clock().Advance(absl::Hours(3));
  wv1::Workshop delivered, replay;
  ASSERT_TRUE(Deliver(first, Delivery(20), &delivered, "del-1").ok());
  h_.clock().Advance(absl::Minutes(1));
  ASSERT_TRUE(Deliver(first, Delivery(20), &replay, "del-1").ok());
  EXPECT_EQ(replay.SerializeAsString(), delivered.SerializeAsString());
  // The etag is not checked on a replay: a client that re-read the workshop retries too.
  ASSERT_TRUE(Deliver(delivered, Delivery(20), &replay, "del-1").ok());
  EXPECT_EQ(replay.SerializeAsString(), delivered.SerializeAsString());
  EXPECT_EQ(EventsOf(ev1::OutreachEvent::kWorkshopDelivered).size(), 1u);
}

// --- coverage ---------------------------------------------------------------------------------

TEST_F(WorkshopsServiceTest, CoverageCountsSchoolsReachedInTheAcademicYear) {
  MustVenue("alpha", "north", 200, cv1::VENUE_KIND_PRIMARY);
  MustVenue("bravo", "north", 500, cv1::VENUE_KIND_SECONDARY);
  MustVenue("charlie", "south", 0, cv1::VENUE_KIND_SPECIAL_SCHOOL);
  MustVenue("hall", "north", 0, cv1::VENUE_KIND_COMMUNITY);
  MustPresenter("dmiu-1", true, absl::Hours(24 * 400));
  MustTopic("sexting", 0, 13);
  const auto deliver_at = [&](const std::string& id, const std::string& venue,
                              std::vector<int> years, int pupils) {
    wv1::Workshop w;
    grpc::Status s = Schedule(id,
                              Plan(Venue(venue), Now() + absl::Hours(1), absl::Hours(1),
                                   {Presenter("dmiu-1")}, {Topic("sexting")}, years),
                              &w);
    ASSERT_TRUE(s.ok()) << s.error_message();
    h_.clock().Advance(absl::Hours(3));
    wv1::DeliveryRecord d;
    d.set_actual_duration_minutes(60);
    if (pupils > 0) {
      auto* y = d.mutable_headcount()->add_pupils();
      y->set_year_group(years[0]);
      y->set_pupils(pupils);
    } else {
      d.mutable_headcount()->set_parents(25);
    }
    wv1::Workshop out;
    s = Deliver(w, d, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  };
  // Academic year 2024 = 1 Sep 2024 - 31 Aug 2025; the clock is in January 2025.
  deliver_at("a1", "alpha", {5}, 30);
  deliver_at("a2", "alpha", {6}, 28);
  deliver_at("b1", "bravo", {}, 0);  // parents only: not reached
  deliver_at("h1", "hall", {}, 0);   // not a school
  // Move into academic year 2025 and deliver at charlie: not in 2024.
  h_.clock().Set(absl::FromCivil(absl::CivilSecond(2025, 9, 2, 9, 0, 0), absl::UTCTimeZone()));
  MustPresenter("dmiu-2");
  deliver_at("c1", "charlie", {10}, 15);

  wv1::GetCoverageRequest req;
  req.set_name("forces/derbyshire/coverage");
  req.set_academic_year(2024);
  wv1::Coverage c;
  ASSERT_TRUE(stub_->GetCoverage(Ctx().get(), req, &c).ok());
  EXPECT_EQ(c.schools_total(), 3);
  EXPECT_EQ(c.schools_reached(), 1);
  EXPECT_NEAR(c.schools_reached_percent(), 100.0 / 3, 1e-9);
  EXPECT_EQ(c.pupils_reached(), 58);
  EXPECT_EQ(c.pupil_roll_total(), 700);
  EXPECT_EQ(c.pupil_roll_reached(), 200);
  EXPECT_EQ(c.date_range().start_date().year(), 2024);
  EXPECT_EQ(c.date_range().start_date().month(), 9);
  EXPECT_EQ(c.date_range().end_date().year(), 2025);
  EXPECT_EQ(c.date_range().end_date().month(), 8);
  EXPECT_EQ(c.date_range().end_date().day(), 31);
  ASSERT_EQ(c.schools_size(), 3);
  EXPECT_EQ(c.schools(0).venue(), Venue("alpha"));
  EXPECT_TRUE(c.schools(0).reached());
  EXPECT_EQ(c.schools(0).workshops_delivered(), 2);
  EXPECT_EQ(c.schools(1).venue(), Venue("bravo"));
  EXPECT_FALSE(c.schools(1).reached());
  EXPECT_EQ(c.schools(1).workshops_delivered(), 1);
  EXPECT_EQ(c.schools(2).venue(), Venue("charlie"));
  EXPECT_FALSE(c.schools(2).reached());

  req.set_academic_year(2025);
  req.set_area("south");
  ASSERT_TRUE(stub_->GetCoverage(Ctx().get(), req, &c).ok());
  EXPECT_EQ(c.schools_total(), 1);
  EXPECT_EQ(c.schools_reached(), 1);
  EXPECT_EQ(c.pupils_reached(), 15);

  req.set_area("");
  req.add_venue_kinds(cv1::VENUE_KIND_PRIMARY);
  req.set_academic_year(2024);
  ASSERT_TRUE(stub_->GetCoverage(Ctx().get(), req, &c).ok());
  EXPECT_EQ(c.schools_total(), 1);

  req.set_academic_year(1999);
  grpc::Status s = stub_->GetCoverage(Ctx().get(), req, &c);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("academic_year"));
  req.set_academic_year(2024);
  req.add_venue_kinds(cv1::VENUE_KIND_COMMUNITY);
  s = stub_->GetCoverage(Ctx().get(), req, &c);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("venue_kinds[1]"));
}

TEST_F(WorkshopsServiceTest, CoverageUsesLocalAcademicYearBoundary) {
  MustVenue("school", "north", 300);
  MustPresenter("dmiu-1", true, absl::Hours(24 * 400));
  MustTopic("sexting");
  // 22:00-23:00 UTC on 31 Aug 2025 is 23:00-00:00 BST; delivered at 23:30 UTC = 00:30 BST on
  // 1 Sep 2025, so it counts in academic year 2025, not 2024.
  const absl::Time start =
      absl::FromCivil(absl::CivilSecond(2025, 8, 31, 22, 0, 0), absl::UTCTimeZone());
  wv1::Workshop w;
  ASSERT_TRUE(Schedule("late",
                       Plan(Venue("school"), start, absl::Hours(1), {Presenter("dmiu-1")},
                            {Topic("sexting")}),
                       &w)
                  .ok());
  h_.clock().Set(start + absl::Minutes(90));
  wv1::Workshop out;
  ASSERT_TRUE(Deliver(w, Delivery(25), &out).ok());
  wv1::GetCoverageRequest req;
  req.set_name("forces/derbyshire/coverage");
  req.set_academic_year(2024);
  wv1::Coverage c;
  ASSERT_TRUE(stub_->GetCoverage(Ctx().get(), req, &c).ok());
  EXPECT_EQ(c.schools_reached(), 0);
  req.set_academic_year(2025);
  ASSERT_TRUE(stub_->GetCoverage(Ctx().get(), req, &c).ok());
  EXPECT_EQ(c.schools_reached(), 1);
  EXPECT_EQ(c.pupils_reached(), 25);
}

TEST_F(WorkshopsServiceTest, PostponedWorkshopDoesNotBlockPresenters) {
  wv1::Workshop a = Basic("a");
  wv1::PostponeWorkshopRequest pp;
  pp.set_name(a.name());
  pp.set_etag(a.etag());
  pp.set_reason("Venue unavailable");
  ASSERT_TRUE(stub_->PostponeWorkshop(Ctx().get(), pp, &a).ok());
  MustPresenter("snt-1");
  wv1::Workshop b;
  ASSERT_TRUE(Schedule("b",
                       Plan(Venue("school"), kStart + absl::Hours(25), absl::Hours(1),
                            {Presenter("snt-1")}, {Topic("sexting")}),
                       &b)
                  .ok());
  // Adding snt-1 to the postponed workshop is fine (it blocks nobody) ...
  wv1::UpdateWorkshopRequest up;
  *up.mutable_workshop() = a;
  up.mutable_workshop()->add_presenters(Presenter("snt-1"));
  *up.mutable_update_mask() = Mask({"presenters"});
  ASSERT_TRUE(stub_->UpdateWorkshop(Ctx().get(), up, &a).ok());
  EXPECT_TRUE(EventsOf(ev1::OutreachEvent::kWorkshopPostponed).size() == 1u);
  // ... but rescheduling it back onto the same slot re-checks every presenter.
  wv1::RescheduleWorkshopRequest rr;
  rr.set_name(a.name());
  rr.set_etag(a.etag());
  *rr.mutable_start_time() = ToProtoTime(kStart + absl::Hours(25));
  *rr.mutable_end_time() = ToProtoTime(kStart + absl::Hours(26));
  grpc::Status s = stub_->RescheduleWorkshop(Ctx().get(), rr, &a);
  EXPECT_EQ(ReasonOf(s), "PRESENTER_DOUBLE_BOOKED");
}

// --- bad input, cross-force, persistence --------------------------------------------------------

TEST_F(WorkshopsServiceTest, BadInputsNameTheField) {
  MustVenue("school");
  MustPresenter("dmiu-1");
  MustTopic("sexting");
  const wv1::Workshop good = Plan(Venue("school"), kStart + absl::Hours(2), absl::Hours(1),
                                  {Presenter("dmiu-1")}, {Topic("sexting")});
  struct Case {
    std::string label;
    std::function<void(wv1::ScheduleWorkshopRequest&)> mutate;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"bad parent", [](auto& r) { r.set_parent("force/derbyshire"); }, "parent"},
      {"bad id", [](auto& r) { r.set_workshop_id("Bad_Id"); }, "workshop_id"},
      {"request id too long", [](auto& r) { r.set_request_id(std::string(65, 'x')); },
       "request_id"},
      {"empty title", [](auto& r) { r.mutable_workshop()->clear_title(); }, "workshop.title"},
      {"long title", [](auto& r) { r.mutable_workshop()->set_title(std::string(201, 'a')); },
       "workshop.title"},
      {"long description",
       [](auto& r) { r.mutable_workshop()->set_description(std::string(2001, 'a')); },
       "workshop.description"},
      {"no venue", [](auto& r) { r.mutable_workshop()->clear_venue(); }, "workshop.venue"},
      {"bad venue", [](auto& r) { r.mutable_workshop()->set_venue("venues/x"); }, "workshop.venue"},
      {"no start", [](auto& r) { r.mutable_workshop()->clear_start_time(); },
       "workshop.start_time"},
      {"end before start",
       [&](auto& r) {
         *r.mutable_workshop()->mutable_end_time() = ToProtoTime(kStart + absl::Hours(1));
       },
       "workshop.end_time"},
      {"too long",
       [&](auto& r) {
         *r.mutable_workshop()->mutable_end_time() = ToProtoTime(kStart + absl::Hours(15));
       },
       "workshop.end_time"},
      {"no format", [](auto& r) { r.mutable_workshop()->clear_format(); }, "workshop.format"},
      {"format out of range",
       [](auto& r) { r.mutable_workshop()->set_format(static_cast<cv1::WorkshopFormat>(99)); },
       "workshop.format"},
      {"no audiences",
       [](auto& r) {
         r.mutable_workshop()->clear_audiences();
         r.mutable_workshop()->clear_year_groups();
       },
       "workshop.audiences"},
      {"audience out of range",
       [](auto& r) { r.mutable_workshop()->add_audiences(static_cast<cv1::WorkshopAudience>(42)); },
       "workshop.audiences[1]"},
      {"duplicate audience",
       [](auto& r) { r.mutable_workshop()->add_audiences(cv1::WORKSHOP_AUDIENCE_PUPILS); },
       "workshop.audiences[1]"},
      {"pupils without years", [](auto& r) { r.mutable_workshop()->clear_year_groups(); },
       "workshop.year_groups"},
      {"year 14", [](auto& r) { r.mutable_workshop()->set_year_groups(0, 14); },
       "workshop.year_groups[0]"},
      {"duplicate year", [](auto& r) { r.mutable_workshop()->set_year_groups(1, 9); },
       "workshop.year_groups[1]"},
      {"no topics", [](auto& r) { r.mutable_workshop()->clear_topics(); }, "workshop.topics"},
      {"bad topic", [](auto& r) { r.mutable_workshop()->set_topics(0, "topics/x"); },
       "workshop.topics[0]"},
      {"too many presenters",
       [](auto& r) {
         for (int i = 0; i < 10; ++i) {
           r.mutable_workshop()->add_presenters(Presenter(absl::StrCat("p", i)));
         }
       },
       "workshop.presenters"},
      {"duplicate presenter",
       [](auto& r) { r.mutable_workshop()->add_presenters(Presenter("dmiu-1")); },
       "workshop.presenters[1]"},
      {"long partner",
       [](auto& r) { r.mutable_workshop()->set_partner_organisation(std::string(201, 'u')); },
       "workshop.partner_organisation"},
  };
  for (const auto& c : cases) {
    wv1::ScheduleWorkshopRequest req;
    req.set_parent(kParent);
    req.set_workshop_id("w");
    *req.mutable_workshop() = good;
    c.mutate(req);
    wv1::Workshop out;
    grpc::Status s = stub_->ScheduleWorkshop(Ctx().get(), req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.label;
    EXPECT_THAT(ViolatedFields(s), Contains(c.field)) << c.label;
  }

  // Venues, topics, presenters.
  const auto venue_field = [&](std::function<void(wv1::Venue&)> mutate) {
    wv1::Venue v = School("Example School", "north", 100);
    mutate(v);
    wv1::Venue out;
    grpc::Status s = CreateVenue("", v, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    auto f = ViolatedFields(s);
    return f.empty() ? std::string() : f[0];
  };
  EXPECT_EQ(venue_field([](auto& v) { v.clear_display_name(); }), "venue.display_name");
  EXPECT_EQ(venue_field([](auto& v) { v.set_kind(cv1::VENUE_KIND_UNSPECIFIED); }), "venue.kind");
  EXPECT_EQ(venue_field([](auto& v) { v.set_kind(static_cast<cv1::VenueKind>(77)); }),
            "venue.kind");
  EXPECT_EQ(venue_field([](auto& v) { v.set_area("north dales"); }), "venue.area");
  EXPECT_EQ(venue_field([](auto& v) { v.set_area(std::string(33, 'a')); }), "venue.area");
  EXPECT_EQ(venue_field([](auto& v) { v.set_school_urn("12AB56"); }), "venue.school_urn");
  EXPECT_EQ(venue_field([](auto& v) { v.set_pupil_roll(-1); }), "venue.pupil_roll");
  EXPECT_EQ(venue_field([](auto& v) { v.set_pupil_roll(10001); }), "venue.pupil_roll");
  EXPECT_EQ(venue_field([](auto& v) { v.set_postcode("DE1 3AA EXTRA"); }), "venue.postcode");

  wv1::CreateTopicRequest tr;
  tr.set_parent(kParent);
  tr.mutable_topic()->set_display_name("Grooming");
  tr.mutable_topic()->set_category(wv1::TOPIC_CATEGORY_ONLINE_GROOMING);
  tr.mutable_topic()->set_version("1");
  wv1::Topic t;
  grpc::Status s = stub_->CreateTopic(Ctx().get(), tr, &t);
  EXPECT_THAT(ViolatedFields(s), Contains("topic.suitable_for_pupils"));
  tr.mutable_topic()->set_suitable_for_adults(true);
  tr.mutable_topic()->set_materials_uri("ftp://example");
  s = stub_->CreateTopic(Ctx().get(), tr, &t);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("topic.materials_uri"));

  wv1::CreatePresenterRequest pr;
  pr.set_parent(kParent);
  pr.mutable_presenter()->set_display_name("Partner lecturer");
  pr.mutable_presenter()->set_team(cv1::PRESENTER_TEAM_PARTNER);
  wv1::Presenter p;
  s = stub_->CreatePresenter(Ctx().get(), pr, &p);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("presenter.organisation"));

  // Delivery input.
  wv1::Workshop w;
  ASSERT_TRUE(Schedule("w", good, &w).ok());
  h_.clock().Advance(absl::Hours(3));
  const auto delivery_field = [&](std::function<void(wv1::DeliveryRecord&)> mutate) {
    wv1::DeliveryRecord d = Delivery(20);
    mutate(d);
    wv1::Workshop out;
    grpc::Status st = Deliver(w, d, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    auto f = ViolatedFields(st);
    return f.empty() ? std::string() : f[0];
  };
  EXPECT_EQ(delivery_field([](auto& d) { d.set_actual_duration_minutes(0); }),
            "delivery.actual_duration_minutes");
  EXPECT_EQ(
      delivery_field([](auto& d) { d.mutable_headcount()->mutable_pupils(0)->set_pupils(-1); }),
      "delivery.headcount.pupils[0].pupils");
  EXPECT_EQ(
      delivery_field([](auto& d) { d.mutable_headcount()->mutable_pupils(0)->set_year_group(14); }),
      "delivery.headcount.pupils[0].year_group");
  EXPECT_EQ(delivery_field([](auto& d) {
              auto* y = d.mutable_headcount()->add_pupils();
              y->set_year_group(9);
              y->set_pupils(1);
            }),
            "delivery.headcount.pupils[1].year_group");
  EXPECT_EQ(delivery_field([](auto& d) { d.mutable_headcount()->set_parents(-3); }),
            "delivery.headcount.parents");
  EXPECT_EQ(delivery_field([](auto& d) {
              d.mutable_headcount()->clear_pupils();
              d.mutable_headcount()->set_staff(0);
              d.clear_feedback();
            }),
            "delivery.headcount");
  EXPECT_EQ(delivery_field([](auto& d) { d.mutable_feedback()->set_ratings_sum(41); }),
            "delivery.feedback.ratings_sum");
  EXPECT_EQ(delivery_field([](auto& d) { d.mutable_feedback()->set_responses(500); }),
            "delivery.feedback.responses");
  EXPECT_EQ(delivery_field(
                [](auto& d) { d.mutable_feedback()->mutable_know_who_to_tell()->set_after(11); }),
            "delivery.feedback.know_who_to_tell.after");
  EXPECT_EQ(delivery_field([](auto& d) { d.set_safeguarding_disclosures(-1); }),
            "delivery.safeguarding_disclosures");
  EXPECT_EQ(delivery_field([](auto& d) {
              d.add_referral_references("REF-2");
              d.add_referral_references("REF-3");
            }),
            "delivery.referral_references");
  EXPECT_EQ(delivery_field([](auto& d) { d.set_referral_references(0, "has space"); }),
            "delivery.referral_references[0]");
  EXPECT_EQ(delivery_field([&](auto& d) {
              *d.mutable_delivered_time() = ToProtoTime(Now() + absl::Hours(1));
            }),
            "delivery.delivered_time");

  // Malformed names on Get; a missing etag on Delete; a missing reason on Cancel.
  wv1::GetWorkshopRequest gw;
  gw.set_name("forces/derbyshire/workshops/");
  s = stub_->GetWorkshop(Ctx().get(), gw, &w);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("name"));
  wv1::DeleteWorkshopRequest dw;
  dw.set_name(w.name());
  google::protobuf::Empty e;
  s = stub_->DeleteWorkshop(Ctx().get(), dw, &e);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("etag"));
  wv1::CancelWorkshopRequest cw;
  cw.set_name(w.name());
  cw.set_etag(w.etag());
  s = stub_->CancelWorkshop(Ctx().get(), cw, &w);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("reason"));
  // Nothing above reached the store: only the one scheduled workshop exists.
  EXPECT_EQ(EventsOf(ev1::OutreachEvent::kWorkshopScheduled).size(), 1u);
  EXPECT_THAT(EventsOf(ev1::OutreachEvent::kWorkshopDelivered), IsEmpty());
}

TEST_F(WorkshopsServiceTest, ForcesAreIsolated) {
  wv1::Workshop w = Basic();
  // Another force sees nothing of derbyshire's.
  wv1::GetVenueRequest gv;
  gv.set_name("forces/nottinghamshire/venues/school");
  wv1::Venue v;
  grpc::Status s = stub_->GetVenue(Ctx().get(), gv, &v);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  wv1::ListWorkshopsRequest lw;
  lw.set_parent("forces/nottinghamshire");
  wv1::ListWorkshopsResponse listed;
  ASSERT_TRUE(stub_->ListWorkshops(Ctx().get(), lw, &listed).ok());
  EXPECT_EQ(listed.total_size(), 0);
  // A booking under one force naming another force's venue or presenter is refused.
  s = Schedule("x",
               Plan(Venue("school"), kStart + absl::Hours(50), absl::Hours(1),
                    {Presenter("dmiu-1")}, {Topic("sexting")}),
               &w, "", "forces/nottinghamshire");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(s), "CROSS_FORCE_ACCESS");
  // The same ids in another force are separate resources; request ids are scoped too.
  wv1::Venue mine, theirs;
  ASSERT_TRUE(CreateVenue("shared-id", School("A", "north", 1), &mine, "same-req").ok());
  ASSERT_TRUE(CreateVenue("shared-id", School("A", "north", 1), &theirs, "same-req",
                          "forces/nottinghamshire")
                  .ok());
  EXPECT_EQ(theirs.name(), "forces/nottinghamshire/venues/shared-id");
  // A workshop rescheduled onto another force's venue is refused.
  wv1::GetWorkshopRequest gw;
  gw.set_name(Workshop("w1"));
  ASSERT_TRUE(stub_->GetWorkshop(Ctx().get(), gw, &w).ok());
  wv1::RescheduleWorkshopRequest rr;
  rr.set_name(w.name());
  rr.set_etag(w.etag());
  *rr.mutable_start_time() = ToProtoTime(kStart + absl::Hours(60));
  *rr.mutable_end_time() = ToProtoTime(kStart + absl::Hours(61));
  rr.set_venue(theirs.name());
  s = stub_->RescheduleWorkshop(Ctx().get(), rr, &w);
  EXPECT_EQ(ReasonOf(s), "CROSS_FORCE_ACCESS");
  // Coverage is per force.
  wv1::GetCoverageRequest cr;
  cr.set_name("forces/nottinghamshire/coverage");
  cr.set_academic_year(2024);
  wv1::Coverage c;
  ASSERT_TRUE(stub_->GetCoverage(Ctx().get(), cr, &c).ok());
  EXPECT_EQ(c.schools_total(), 1);  // only nottinghamshire's shared-id
  for (const auto& e : Events()) {
    EXPECT_EQ(ForceOf(e.subject()), e.force());
  }
}

TEST_F(WorkshopsServiceTest, DataSurvivesRestart) {
  wv1::Workshop w = Basic();
  h_.Restart();
  stub_ = wv1::WorkshopsService::NewStub(h_.channel());
  wv1::GetWorkshopRequest gw;
  gw.set_name(w.name());
  wv1::Workshop got;
  ASSERT_TRUE(stub_->GetWorkshop(Ctx().get(), gw, &got).ok());
  EXPECT_EQ(got.SerializeAsString(), w.SerializeAsString());
}

// Invalid UTF-8 in a string field is the caller's fault: INVALID_ARGUMENT with a violation,
// never INTERNAL (which the server-fault alert watches).
TEST_F(WorkshopsServiceTest, InvalidUtf8IsInvalidArgumentNotInternal) {
  // GetVenueRequest{name: "forces/derbyshire/venues/\xff\xfe"} as raw bytes: field 1, length 26.
  const std::string bytes = std::string("\x0a\x1a", 2) + "forces/derbyshire/venues/" + "\xff";
  ASSERT_EQ(bytes.size(), 2u + 26u);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::GenericStub generic(h_.channel());
  auto ctx = testing::Ctx();
  absl::Notification done;
  grpc::Status status;
  generic.UnaryCall(ctx.get(), "/outreach.workshops.v1.WorkshopsService/GetVenue",
                    grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(testing::ReasonOf(status), "INVALID_ARGUMENT");
  const std::string scrape = h_.metrics().Render();
  EXPECT_THAT(scrape, ::testing::HasSubstr("method=\"/outreach.workshops.v1.WorkshopsService/"
                                           "GetVenue\",code=\"INVALID_ARGUMENT\"} 1"));
  EXPECT_THAT(scrape, ::testing::Not(::testing::HasSubstr("code=\"INTERNAL\"")));
}

}  // namespace
}  // namespace outreach::workshops
