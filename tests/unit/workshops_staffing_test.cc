// The staffing rules of a workshop (topics active and fitting, presenters accredited and not
// double-booked) against a fake StaffingLookup: the rules without a database. The SQL lookup
// that the store uses is covered by workshops_service_test.
#include <map>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "gtest/gtest.h"
#include "services/workshops/domain.h"

namespace outreach::workshops {
namespace {

const absl::Time kNow = absl::FromCivil(absl::CivilSecond(2025, 3, 10, 9, 0, 0), ForceTimeZone());

// Stored topics, presenters and bookings as plain maps.
class FakeStaffing final : public StaffingLookup {
 public:
  struct Booking {
    std::string workshop;
    std::string presenter;
    absl::Time start;
    absl::Time end;
  };

  absl::StatusOr<wv1::Topic> Topic(const std::string& name) override {
    auto it = topics.find(name);
    if (it == topics.end()) return NotFound(name);
    return it->second;
  }
  absl::StatusOr<wv1::Presenter> Presenter(const std::string& name) override {
    auto it = presenters.find(name);
    if (it == presenters.end()) return NotFound(name);
    return it->second;
  }
  absl::StatusOr<std::string> ClashingWorkshop(const std::string& presenter,
                                               const std::string& self, absl::Time start,
                                               absl::Time end) override {
    ++clash_queries;
    for (const Booking& b : bookings) {
      if (b.presenter == presenter && b.workshop != self && b.start < end && start < b.end) {
        return b.workshop;
      }
    }
    return std::string();
  }

  std::map<std::string, wv1::Topic> topics;
  std::map<std::string, wv1::Presenter> presenters;
  std::vector<Booking> bookings;
  int clash_queries = 0;
};

constexpr char kPresenter[] = "forces/derbyshire/presenters/dmiu-1";
constexpr char kTopic[] = "forces/derbyshire/topics/sexting";

wv1::Presenter AccreditedUntil(absl::Time expire) {
  wv1::Presenter p;
  p.set_name(kPresenter);
  p.mutable_accreditation()->set_state(cv1::ACCREDITATION_STATE_ACCREDITED);
  *p.mutable_accreditation()->mutable_expire_time() = ToProtoTime(expire);
  return p;
}

wv1::Topic ActiveTopic() {
  wv1::Topic t;
  t.set_name(kTopic);
  t.set_state(wv1::TOPIC_STATE_ACTIVE);
  t.set_suitable_for_pupils(true);
  t.set_min_year_group(7);
  t.set_max_year_group(11);
  return t;
}

wv1::Workshop Lesson(absl::Time start) {
  wv1::Workshop w;
  w.set_name("forces/derbyshire/workshops/w-new");
  *w.mutable_start_time() = ToProtoTime(start);
  *w.mutable_end_time() = ToProtoTime(start + absl::Hours(1));
  w.add_audiences(cv1::WORKSHOP_AUDIENCE_PUPILS);
  w.add_year_groups(9);
  w.add_topics(kTopic);
  w.add_presenters(kPresenter);
  return w;
}

class StaffingTest : public ::testing::Test {
 protected:
  StaffingTest() {
    lookup_.presenters[kPresenter] = AccreditedUntil(kNow + absl::Hours(24 * 365));
    lookup_.topics[kTopic] = ActiveTopic();
  }
  FakeStaffing lookup_;
  const absl::Time start_ = kNow + absl::Hours(24 * 7);
};

TEST_F(StaffingTest, AFreePresenterCanBeBooked) {
  EXPECT_TRUE(CheckPresenters(lookup_, Lesson(start_), {}, /*all=*/true, kNow).ok());
  EXPECT_TRUE(CheckTopics(lookup_, Lesson(start_), {}, /*all=*/true, /*age_band=*/true).ok());
}

TEST_F(StaffingTest, OverlappingBookingIsRefusedWithTheConflict) {
  lookup_.bookings.push_back({"forces/derbyshire/workshops/w-old", kPresenter,
                              start_ + absl::Minutes(30), start_ + absl::Minutes(90)});
  const absl::Status s = CheckPresenters(lookup_, Lesson(start_), {}, /*all=*/true, kNow);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(s), "PRESENTER_DOUBLE_BOOKED");
  EXPECT_NE(s.message().find("forces/derbyshire/workshops/w-old"), absl::string_view::npos);
}

TEST_F(StaffingTest, BackToBackIsNotAnOverlapAndTheWorkshopNeverClashesWithItself) {
  lookup_.bookings.push_back(
      {"forces/derbyshire/workshops/w-before", kPresenter, start_ - absl::Hours(1), start_});
  lookup_.bookings.push_back(
      {"forces/derbyshire/workshops/w-new", kPresenter, start_, start_ + absl::Hours(1)});
  EXPECT_TRUE(CheckPresenters(lookup_, Lesson(start_), {}, /*all=*/true, kNow).ok());
}

TEST_F(StaffingTest, KnownPresentersAreNotCheckedAgainUnlessAll) {
  lookup_.presenters[kPresenter].mutable_accreditation()->set_state(
      cv1::ACCREDITATION_STATE_SUSPENDED);
  const std::set<std::string> known = {kPresenter};
  EXPECT_TRUE(CheckPresenters(lookup_, Lesson(start_), known, /*all=*/false, kNow).ok());
  EXPECT_EQ(ErrorReason(CheckPresenters(lookup_, Lesson(start_), known, /*all=*/true, kNow)),
            "ACCREDITATION_NOT_CURRENT");
}

TEST_F(StaffingTest, AccreditationMustLastBeyondTheStart) {
  lookup_.presenters[kPresenter] = AccreditedUntil(start_ - absl::Hours(1));
  EXPECT_EQ(ErrorReason(CheckPresenters(lookup_, Lesson(start_), {}, /*all=*/true, kNow)),
            "ACCREDITATION_NOT_CURRENT");
}

TEST_F(StaffingTest, WithoutOverlapCheckNoBookingIsRead) {
  lookup_.bookings.push_back(
      {"forces/derbyshire/workshops/w-old", kPresenter, start_, start_ + absl::Hours(1)});
  EXPECT_TRUE(CheckPresenters(lookup_, Lesson(start_), {}, /*all=*/true, kNow,
                              /*check_overlap=*/false)
                  .ok());
  EXPECT_EQ(lookup_.clash_queries, 0);
}

TEST_F(StaffingTest, UnknownPresenterOrTopicIsNotFound) {
  wv1::Workshop w = Lesson(start_);
  w.add_presenters("forces/derbyshire/presenters/ghost");
  EXPECT_EQ(CheckPresenters(lookup_, w, {}, true, kNow).code(), absl::StatusCode::kNotFound);
  w = Lesson(start_);
  w.add_topics("forces/derbyshire/topics/ghost");
  EXPECT_EQ(CheckTopics(lookup_, w, {}, true, false).code(), absl::StatusCode::kNotFound);
}

TEST_F(StaffingTest, RetiredTopicsAndAgeBandsAreRefused) {
  lookup_.topics[kTopic].set_state(wv1::TOPIC_STATE_RETIRED);
  EXPECT_EQ(ErrorReason(CheckTopics(lookup_, Lesson(start_), {}, true, false)), "TOPIC_RETIRED");
  // A topic the workshop already had may stay after it was retired.
  EXPECT_TRUE(CheckTopics(lookup_, Lesson(start_), {kTopic}, false, false).ok());

  lookup_.topics[kTopic] = ActiveTopic();
  wv1::Workshop young = Lesson(start_);
  young.clear_year_groups();
  young.add_year_groups(3);
  EXPECT_EQ(ErrorReason(CheckTopics(lookup_, young, {}, true, /*age_band=*/true)),
            "AGE_BAND_MISMATCH");
  EXPECT_TRUE(CheckTopics(lookup_, young, {}, true, /*age_band=*/false).ok());
}

}  // namespace
}  // namespace outreach::workshops
