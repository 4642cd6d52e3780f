// Rules of the workshops domain without a network: accreditation as of an instant (FakeClock),
// age bands, overlaps, delivery checks, validation, coverage aggregation and event payloads.
#include "absl/time/civil_time.h"
#include "common/calendar.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/workshops/domain.h"

namespace outreach::workshops {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kT0 =
    absl::FromCivil(absl::CivilSecond(2025, 3, 10, 9, 0, 0), absl::UTCTimeZone());

std::vector<std::string> Fields(const std::vector<FieldViolation>& v) {
  std::vector<std::string> out;
  for (const auto& f : v) out.push_back(f.field);
  return out;
}

wv1::Presenter Accredited(absl::Time expire) {
  wv1::Presenter p;
  p.set_name("forces/derbyshire/presenters/dmiu-1");
  p.mutable_accreditation()->set_state(cv1::ACCREDITATION_STATE_ACCREDITED);
  *p.mutable_accreditation()->mutable_expire_time() = ToProtoTime(expire);
  return p;
}

TEST(AccreditationTest, StateFollowsTheClockWithoutWrites) {
  FakeClock clock(kT0);
  wv1::Presenter p = Accredited(kT0 + absl::Hours(24));
  EXPECT_EQ(AccreditationStateAt(p.accreditation(), clock.Now()),
            cv1::ACCREDITATION_STATE_ACCREDITED);
  clock.Advance(absl::Hours(24));  // exactly at expiry: expired
  EXPECT_EQ(AccreditationStateAt(p.accreditation(), clock.Now()), cv1::ACCREDITATION_STATE_EXPIRED);
  wv1::Accreditation none;
  EXPECT_EQ(AccreditationStateAt(none, kT0), cv1::ACCREDITATION_STATE_NOT_ACCREDITED);
  p.mutable_accreditation()->set_state(cv1::ACCREDITATION_STATE_SUSPENDED);
  EXPECT_EQ(AccreditationStateAt(p.accreditation(), kT0), cv1::ACCREDITATION_STATE_SUSPENDED);
}

TEST(AccreditationTest, BookableOnlyWhenAccreditedBeyondTheStart) {
  FakeClock clock(kT0);
  wv1::Presenter p = Accredited(kT0 + absl::Hours(48));
  EXPECT_TRUE(CheckBookable(p, clock.Now(), kT0 + absl::Hours(47)).ok());
  absl::Status s = CheckBookable(p, clock.Now(), kT0 + absl::Hours(48));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(s), "ACCREDITATION_NOT_CURRENT");
  clock.Advance(absl::Hours(49));
  EXPECT_EQ(ErrorReason(CheckBookable(p, clock.Now(), clock.Now() + absl::Hours(1))),
            "ACCREDITATION_NOT_CURRENT");
  p.mutable_accreditation()->set_state(cv1::ACCREDITATION_STATE_SUSPENDED);
  EXPECT_EQ(ErrorReason(CheckBookable(p, kT0, kT0 + absl::Hours(1))), "ACCREDITATION_NOT_CURRENT");
}

TEST(AccreditationTest, GrantExpiryMustBeFutureAndWithinFiveYears) {
  EXPECT_TRUE(ValidateGrant(ToProtoTime(kT0 + absl::Hours(1)), kT0, "").ok());
  EXPECT_THAT(FieldViolations(ValidateGrant(ToProtoTime(kT0), kT0, "")), ::testing::SizeIs(1));
  EXPECT_FALSE(ValidateGrant(google::protobuf::Timestamp(), kT0, "").ok());
  // Exactly five calendar years is the limit (2025-03-10 -> 2030-03-10).
  const absl::Time five_years =
      absl::FromCivil(absl::CivilSecond(2030, 3, 10, 9, 0, 0), absl::UTCTimeZone());
  EXPECT_TRUE(ValidateGrant(ToProtoTime(five_years), kT0, "").ok());
  EXPECT_FALSE(ValidateGrant(ToProtoTime(five_years + absl::Seconds(1)), kT0, "").ok());
  EXPECT_FALSE(ValidateGrant(ToProtoTime(kT0 + absl::Hours(1)), kT0, std::string(2001, 'n')).ok());
}

wv1::Topic Band(int min, int max, bool pupils, bool adults) {
  wv1::Topic t;
  t.set_name("forces/derbyshire/topics/t");
  t.set_min_year_group(min);
  t.set_max_year_group(max);
  t.set_suitable_for_pupils(pupils);
  t.set_suitable_for_adults(adults);
  t.set_state(wv1::TOPIC_STATE_ACTIVE);
  return t;
}

wv1::Workshop ForPupils(std::vector<int> years) {
  wv1::Workshop w;
  w.add_audiences(cv1::WORKSHOP_AUDIENCE_PUPILS);
  w.add_audiences(cv1::WORKSHOP_AUDIENCE_STAFF);
  for (int y : years) w.add_year_groups(y);
  return w;
}

TEST(TopicTest, AgeBandMustFitAudienceAndYearGroups) {
  EXPECT_TRUE(CheckAgeBand(Band(7, 9, true, false), ForPupils({7, 9})).ok());
  EXPECT_EQ(ErrorReason(CheckAgeBand(Band(7, 9, true, false), ForPupils({6}))),
            "AGE_BAND_MISMATCH");
  EXPECT_EQ(ErrorReason(CheckAgeBand(Band(7, 9, true, false), ForPupils({10}))),
            "AGE_BAND_MISMATCH");
  EXPECT_EQ(ErrorReason(CheckAgeBand(Band(0, 0, false, true), ForPupils({7}))),
            "AGE_BAND_MISMATCH");
  wv1::Workshop parents;
  parents.add_audiences(cv1::WORKSHOP_AUDIENCE_PARENTS);
  EXPECT_TRUE(CheckAgeBand(Band(0, 0, false, true), parents).ok());
  EXPECT_EQ(ErrorReason(CheckAgeBand(Band(7, 9, true, false), parents)), "AGE_BAND_MISMATCH");
}

TEST(TopicTest, RetiredTopicIsRefused) {
  wv1::Topic t = Band(7, 9, true, true);
  EXPECT_TRUE(CheckTopicActive(t).ok());
  t.set_state(wv1::TOPIC_STATE_RETIRED);
  absl::Status s = CheckTopicActive(t);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(s), "TOPIC_RETIRED");
}

TEST(WorkshopTest, OverlapIsHalfOpen) {
  const absl::Duration h = absl::Hours(1);
  EXPECT_TRUE(Overlaps(kT0, kT0 + h, kT0 + h / 2, kT0 + 2 * h));
  EXPECT_TRUE(Overlaps(kT0, kT0 + 3 * h, kT0 + h, kT0 + 2 * h));
  EXPECT_FALSE(Overlaps(kT0, kT0 + h, kT0 + h, kT0 + 2 * h));
  EXPECT_FALSE(Overlaps(kT0 + h, kT0 + 2 * h, kT0, kT0 + h));
}

TEST(WorkshopTest, OnlyAllowedStatesPass) {
  wv1::Workshop w;
  w.set_state(wv1::WORKSHOP_STATE_CANCELLED);
  EXPECT_EQ(ErrorReason(CheckState(w, {wv1::WORKSHOP_STATE_SCHEDULED})), "WORKSHOP_NOT_SCHEDULED");
  w.set_state(wv1::WORKSHOP_STATE_POSTPONED);
  EXPECT_TRUE(CheckState(w, {wv1::WORKSHOP_STATE_SCHEDULED, wv1::WORKSHOP_STATE_POSTPONED}).ok());
}

TEST(DeliveryTest, NotBeforeStartAndWithinRoll) {
  FakeClock clock(kT0);
  wv1::Workshop w;
  *w.mutable_start_time() = ToProtoTime(kT0 + absl::Hours(1));
  wv1::Venue venue;
  venue.set_pupil_roll(100);
  cv1::Headcount h;
  auto* y = h.add_pupils();
  y->set_year_group(8);
  y->set_pupils(60);
  EXPECT_EQ(ErrorReason(CheckDelivery(w, venue, h, clock.Now(), clock.Now())),
            "DELIVERY_BEFORE_START");
  clock.Advance(absl::Hours(2));
  EXPECT_TRUE(CheckDelivery(w, venue, h, clock.Now(), clock.Now()).ok());
  EXPECT_EQ(ErrorReason(CheckDelivery(w, venue, h, clock.Now(), kT0)), "DELIVERY_BEFORE_START");
  auto* y2 = h.add_pupils();
  y2->set_year_group(9);
  y2->set_pupils(41);
  EXPECT_EQ(ErrorReason(CheckDelivery(w, venue, h, clock.Now(), clock.Now())),
            "HEADCOUNT_EXCEEDS_ROLL");
  venue.set_pupil_roll(0);  // unknown roll: no bound
  EXPECT_TRUE(CheckDelivery(w, venue, h, clock.Now(), clock.Now()).ok());
  EXPECT_EQ(PupilsIn(h), 101);
}

TEST(DeliveryTest, ValidationNamesEveryBadCount) {
  wv1::DeliveryRecord d;
  d.set_actual_duration_minutes(601);
  auto* y = d.mutable_headcount()->add_pupils();
  y->set_year_group(-1);
  y->set_pupils(5001);
  d.mutable_headcount()->set_staff(-2);
  d.set_safeguarding_disclosures(1001);
  std::vector<FieldViolation> v;
  ValidateDelivery(d, kT0, "delivery.", &v);
  EXPECT_THAT(
      Fields(v),
      ElementsAre("delivery.actual_duration_minutes", "delivery.headcount.pupils[0].year_group",
                  "delivery.headcount.pupils[0].pupils", "delivery.headcount.staff",
                  "delivery.safeguarding_disclosures"));
  wv1::DeliveryRecord ok;
  ok.set_actual_duration_minutes(45);
  ok.mutable_headcount()->set_parents(30);
  ok.mutable_feedback()->set_responses(30);
  ok.mutable_feedback()->set_ratings_count(0);
  v.clear();
  ValidateDelivery(ok, kT0, "delivery.", &v);
  EXPECT_THAT(v, IsEmpty());
  ok.mutable_feedback()->set_responses(31);
  ValidateDelivery(ok, kT0, "delivery.", &v);
  EXPECT_THAT(Fields(v), ElementsAre("delivery.feedback.responses"));
}

TEST(DeliveryTest, MeanRating) {
  cv1::FeedbackTotals f;
  ComputeMeanRating(&f);
  EXPECT_EQ(f.mean_rating(), 0.0);
  f.set_ratings_count(4);
  f.set_ratings_sum(18);
  ComputeMeanRating(&f);
  EXPECT_DOUBLE_EQ(f.mean_rating(), 4.5);
}

TEST(ValidationTest, VenueAndTopicAndWorkshopFields) {
  wv1::Venue v;
  v.set_kind(cv1::VENUE_KIND_PRIMARY);
  v.set_area("north_dales");
  v.set_school_urn("12345");
  std::vector<FieldViolation> out;
  ValidateVenue(v, "venue.", &out);
  EXPECT_THAT(Fields(out), ElementsAre("venue.display_name", "venue.area", "venue.school_urn"));

  wv1::Topic t;
  t.set_display_name(std::string(200, 'x'));  // exactly the limit
  t.set_category(wv1::TOPIC_CATEGORY_PRIVACY);
  t.set_suitable_for_pupils(true);
  t.set_min_year_group(9);
  t.set_max_year_group(7);
  t.set_version("v1");
  out.clear();
  ValidateTopic(t, "topic.", &out);
  EXPECT_THAT(Fields(out), ElementsAre("topic.max_year_group"));

  // Code points, not bytes: 200 "é" are fine.
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xC3\xA9";
  EXPECT_EQ(CodePoints(accents), 200);

  wv1::Workshop w;
  w.set_title("Parents' evening");
  w.set_venue("forces/derbyshire/venues/v");
  *w.mutable_start_time() = ToProtoTime(kT0);
  *w.mutable_end_time() = ToProtoTime(kT0 + absl::Hours(2));
  w.set_format(cv1::WORKSHOP_FORMAT_PARENTS_EVENING);
  w.add_audiences(cv1::WORKSHOP_AUDIENCE_PARENTS);
  w.add_year_groups(7);  // not allowed without PUPILS
  w.add_topics("forces/derbyshire/topics/t");
  w.add_presenters("forces/derbyshire/presenters/p");
  out.clear();
  ValidateWorkshop(w, "workshop.", &out);
  EXPECT_THAT(Fields(out), ElementsAre("workshop.year_groups"));
  w.clear_year_groups();
  out.clear();
  ValidateWorkshop(w, "workshop.", &out);
  EXPECT_THAT(out, IsEmpty());
}

TEST(NamesTest, CrossForceReferencesAreRefused) {
  EXPECT_EQ(ForceOf("forces/derbyshire/venues/x"), "derbyshire");
  EXPECT_TRUE(CheckSameForce("derbyshire", "forces/derbyshire/venues/x").ok());
  absl::Status s = CheckSameForce("derbyshire", "forces/leicestershire/venues/x");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorReason(s), "CROSS_FORCE_ACCESS");
}

TEST(FilterTest, RepeatedEnumAndIntValuesAreQuoted) {
  EXPECT_EQ(NormalizeWorkshopFilter("audiences = WORKSHOP_AUDIENCE_PUPILS AND year_groups=9"),
            "audiences = \"WORKSHOP_AUDIENCE_PUPILS\" AND year_groups=\"9\"");
  // Already quoted, other fields, and text inside strings are untouched.
  EXPECT_EQ(NormalizeWorkshopFilter("year_groups = \"9\""), "year_groups = \"9\"");
  EXPECT_EQ(NormalizeWorkshopFilter("state = WORKSHOP_STATE_SCHEDULED"),
            "state = WORKSHOP_STATE_SCHEDULED");
  EXPECT_EQ(NormalizeWorkshopFilter("partner_organisation = \"audiences = X\""),
            "partner_organisation = \"audiences = X\"");
  EXPECT_EQ(NormalizeWorkshopFilter("audiences"), "audiences");
}

TEST(CoverageTest, ReachedNeedsPupilsAndSortsReachedFirst) {
  auto school = [](std::string id, std::string area, std::string name, int roll) {
    wv1::Venue v;
    v.set_name("forces/derbyshire/venues/" + id);
    v.set_area(area);
    v.set_display_name(name);
    v.set_pupil_roll(roll);
    v.set_kind(cv1::VENUE_KIND_PRIMARY);
    return v;
  };
  std::vector<wv1::Venue> schools = {
      school("a", "south", "Alpha", 100), school("b", "north", "Bravo", 200),
      school("c", "north", "Charlie", 0), school("d", "north", "Delta", 50)};
  std::vector<DeliveredAt> deliveries = {
      {"forces/derbyshire/venues/a", 30, kT0},
      {"forces/derbyshire/venues/a", 40, kT0 + absl::Hours(5)},
      {"forces/derbyshire/venues/b", 0, kT0},  // adults only
      {"forces/derbyshire/venues/d", 10, kT0},
  };
  wv1::Coverage c = BuildCoverage(schools, deliveries);
  EXPECT_EQ(c.schools_total(), 4);
  EXPECT_EQ(c.schools_reached(), 2);
  EXPECT_DOUBLE_EQ(c.schools_reached_percent(), 50.0);
  EXPECT_EQ(c.pupils_reached(), 80);
  EXPECT_EQ(c.pupil_roll_total(), 350);
  EXPECT_EQ(c.pupil_roll_reached(), 150);
  std::vector<std::string> order;
  for (const auto& s : c.schools()) order.push_back(s.display_name());
  EXPECT_THAT(order, ElementsAre("Delta", "Alpha", "Bravo", "Charlie"));
  EXPECT_EQ(c.schools(1).workshops_delivered(), 2);
  EXPECT_EQ(c.schools(1).pupils_reached(), 70);
  EXPECT_EQ(c.schools(1).last_delivered_time().seconds(),
            absl::ToUnixSeconds(kT0 + absl::Hours(5)));
  EXPECT_FALSE(c.schools(3).has_last_delivered_time());
  EXPECT_EQ(BuildCoverage({}, {}).schools_reached_percent(), 0.0);
}

TEST(EventsTest, DeliveredEventCarriesCountsButNoReferences) {
  wv1::Workshop w;
  w.set_name("forces/derbyshire/workshops/w1");
  w.set_venue("forces/derbyshire/venues/v");
  w.set_area("erewash");
  w.set_venue_kind(cv1::VENUE_KIND_SECONDARY);
  w.set_format(cv1::WORKSHOP_FORMAT_LESSON);
  w.add_audiences(cv1::WORKSHOP_AUDIENCE_PUPILS);
  w.add_topics("forces/derbyshire/topics/cse");
  w.add_presenters("forces/derbyshire/presenters/p");
  w.set_partner_organisation("University of Derby");
  auto* d = w.mutable_delivery();
  d->set_actual_duration_minutes(50);
  d->mutable_headcount()->set_staff(3);
  d->set_safeguarding_disclosures(1);
  d->add_referral_references("SAFE-123");
  *d->mutable_delivered_time() = ToProtoTime(kT0);
  ev1::OutreachEvent e = WorkshopDeliveredEvent("derbyshire", w, kT0 + absl::Minutes(1));
  EXPECT_EQ(e.force(), "derbyshire");
  EXPECT_EQ(e.source(), "workshops");
  EXPECT_EQ(e.subject(), w.name());
  EXPECT_EQ(e.occurred_time().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(1)));
  EXPECT_EQ(e.workshop_delivered().area(), "erewash");
  EXPECT_EQ(e.workshop_delivered().partner_organisation(), "University of Derby");
  EXPECT_EQ(e.workshop_delivered().safeguarding_disclosures(), 1);
  EXPECT_EQ(e.workshop_delivered().headcount().staff(), 3);
  EXPECT_EQ(e.SerializeAsString().find("SAFE-123"), std::string::npos);
}

// The reason of the violation of `field`, or "" when it has none.
std::string ReasonOf(const std::vector<FieldViolation>& v, const std::string& field) {
  for (const auto& f : v) {
    if (f.field == field) return f.reason.empty() ? "(no reason)" : f.reason;
  }
  return "";
}

TEST(ValidationTest, TextThatMustNeverBeStoredIsRefused) {
  wv1::Workshop w;
  w.set_title("Online safety\nfor Year 6");
  w.set_description("Pupil Jo, born 12/03/2015, asked about her phone 07700 900123");
  w.set_partner_organisation("   ");
  std::vector<FieldViolation> out;
  ValidateWorkshop(w, "workshop.", &out);
  EXPECT_EQ(ReasonOf(out, "workshop.title"), kControlCharacter);
  EXPECT_EQ(ReasonOf(out, "workshop.description"), kPersonalDataRefused);
  EXPECT_EQ(ReasonOf(out, "workshop.partner_organisation"), kBlankText);

  wv1::Topic t;
  t.set_display_name("Scams");
  t.set_description("Ask jo@example.com");
  t.set_version("v1");
  out.clear();
  ValidateTopic(t, "topic.", &out);
  EXPECT_EQ(ReasonOf(out, "topic.description"), kPersonalDataRefused);

  wv1::Presenter p;
  p.set_display_name("PC Smith \xe2\x80\xae");  // a bidi override
  out.clear();
  ValidatePresenter(p, "presenter.", &out);
  EXPECT_EQ(ReasonOf(out, "presenter.display_name"), kControlCharacter);

  EXPECT_EQ(ErrorReason(ValidateGrant(ToProtoTime(kT0 + absl::Hours(1)), kT0, "DOB 2014-05-01")),
            kPersonalDataRefused);
}

TEST(ValidationTest, SchoolAddressesAndSessionDatesPass) {
  wv1::Venue v;
  v.set_display_name("Derby Moor Academy, Moorway Lane, Littleover, Derby DE23 2FS");
  v.set_kind(cv1::VENUE_KIND_SECONDARY);
  v.set_area("derby-city");
  v.set_postcode("DE23 2FS");
  std::vector<FieldViolation> out;
  ValidateVenue(v, "venue.", &out);
  EXPECT_THAT(out, IsEmpty());

  wv1::Workshop w;
  w.set_title("Year 6 assembly 2026-03-12 <online safety>");
  w.set_description("Two classes.\nFollow-up on 19 March 2026, 09:00-10:30.\tHall 2.");
  w.set_venue("forces/derbyshire/venues/v");
  *w.mutable_start_time() = ToProtoTime(kT0);
  *w.mutable_end_time() = ToProtoTime(kT0 + absl::Hours(1));
  w.set_format(cv1::WORKSHOP_FORMAT_LESSON);
  w.add_audiences(cv1::WORKSHOP_AUDIENCE_PUPILS);
  w.add_year_groups(6);
  w.add_topics("forces/derbyshire/topics/t");
  w.add_presenters("forces/derbyshire/presenters/p");
  out.clear();
  ValidateWorkshop(w, "workshop.", &out);
  EXPECT_THAT(out, IsEmpty());
}

TEST(DeliveryTest, ReferralReferencesHoldNoContactDetails) {
  wv1::DeliveryRecord d;
  d.set_actual_duration_minutes(45);
  d.mutable_headcount()->set_staff(3);
  d.set_safeguarding_disclosures(2);
  d.add_referral_references("MASH-2026-0412");
  d.add_referral_references("mum@example.com");
  std::vector<FieldViolation> out;
  ValidateDelivery(d, kT0, "delivery.", &out);
  EXPECT_THAT(Fields(out), ElementsAre("delivery.referral_references[1]"));
  EXPECT_EQ(out[0].reason, kPersonalDataRefused);
}

}  // namespace
}  // namespace outreach::workshops
