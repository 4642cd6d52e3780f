#pragma once

// Builders of outreach events for the metrics tests.

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/calendar.h"
#include "outreach/events/v1/events.pb.h"

namespace outreach::metrics::testing {

namespace ev = ::outreach::events::v1;
namespace cv1 = ::outreach::common::v1;

inline absl::CivilDay D(int y, int m, int d) { return absl::CivilDay(y, m, d); }

// An instant given in UTC.
inline absl::Time Utc(int y, int m, int d, int hh = 12, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), absl::UTCTimeZone());
}

inline ev::OutreachEvent Envelope(const std::string& id, const std::string& force,
                                  const std::string& subject, absl::Time occurred,
                                  const std::string& source = "workshops") {
  ev::OutreachEvent e;
  e.set_event_id(id);
  e.set_force(force);
  e.set_source(source);
  e.set_subject(subject);
  *e.mutable_occurred_time() = ToProtoTime(occurred);
  return e;
}

struct Delivery {
  std::string force = "derbyshire";
  std::string workshop = "w1";
  std::string venue = "school-a";
  cv1::VenueKind kind = cv1::VENUE_KIND_SECONDARY;
  std::string area = "north";
  absl::Time delivered = Utc(2024, 10, 1);
  int pupils_y9 = 30;
  int parents = 0;
  int staff = 2;
  int community = 0;
  int disclosures = 1;
  std::vector<std::string> topics = {"sexting"};
  std::vector<cv1::WorkshopAudience> audiences = {cv1::WORKSHOP_AUDIENCE_PUPILS};
  int responses = 20, ratings = 10, ratings_sum = 45;
};

inline ev::OutreachEvent Delivered(const std::string& id, const Delivery& d) {
  ev::OutreachEvent e = Envelope(
      id, d.force, absl::StrCat("forces/", d.force, "/workshops/", d.workshop), d.delivered);
  auto* p = e.mutable_workshop_delivered();
  p->set_venue(absl::StrCat("forces/", d.force, "/venues/", d.venue));
  p->set_venue_kind(d.kind);
  p->set_area(d.area);
  p->set_format(cv1::WORKSHOP_FORMAT_WORKSHOP);
  for (auto a : d.audiences) p->add_audiences(a);
  for (const auto& t : d.topics) p->add_topics(absl::StrCat("forces/", d.force, "/topics/", t));
  *p->mutable_delivered_time() = ToProtoTime(d.delivered);
  *p->mutable_start_time() = ToProtoTime(d.delivered - absl::Hours(1));
  if (d.pupils_y9 > 0) {
    auto* y = p->mutable_headcount()->add_pupils();
    y->set_year_group(9);
    y->set_pupils(d.pupils_y9);
  }
  p->mutable_headcount()->set_parents(d.parents);
  p->mutable_headcount()->set_staff(d.staff);
  p->mutable_headcount()->set_community_members(d.community);
  p->set_safeguarding_disclosures(d.disclosures);
  auto* f = p->mutable_feedback();
  f->set_responses(d.responses);
  f->set_ratings_count(d.ratings);
  f->set_ratings_sum(d.ratings_sum);
  f->mutable_know_what_to_do()->set_before(5);
  f->mutable_know_what_to_do()->set_after(15);
  return e;
}

inline ev::OutreachEvent Venue(const std::string& id, const std::string& force,
                               const std::string& venue, cv1::VenueKind kind,
                               const std::string& area, absl::Time at) {
  ev::OutreachEvent e = Envelope(id, force, absl::StrCat("forces/", force, "/venues/", venue), at);
  e.mutable_venue_upserted()->set_kind(kind);
  e.mutable_venue_upserted()->set_area(area);
  return e;
}

inline ev::OutreachEvent Officer(const std::string& id, const std::string& force,
                                 const std::string& officer, cv1::OfficerRole role,
                                 const std::string& division, bool active, absl::Time at) {
  ev::OutreachEvent e =
      Envelope(id, force, absl::StrCat("forces/", force, "/officers/", officer), at, "training");
  e.mutable_officer_upserted()->set_role(role);
  e.mutable_officer_upserted()->set_division(division);
  e.mutable_officer_upserted()->set_active(active);
  return e;
}

inline ev::OutreachEvent Completed(const std::string& id, const std::string& force,
                                   const std::string& enrolment, const std::string& officer,
                                   const std::string& course, cv1::OfficerRole role,
                                   const std::string& division, absl::Time at,
                                   std::optional<absl::Time> valid_until) {
  ev::OutreachEvent e = Envelope(
      id, force, absl::StrCat("forces/", force, "/enrolments/", enrolment), at, "training");
  auto* p = e.mutable_enrolment_completed();
  p->set_officer(absl::StrCat("forces/", force, "/officers/", officer));
  p->set_course(absl::StrCat("forces/", force, "/courses/", course));
  p->set_role(role);
  p->set_division(division);
  *p->mutable_completed_time() = ToProtoTime(at);
  if (valid_until) *p->mutable_valid_until() = ToProtoTime(*valid_until);
  return e;
}

inline ev::OutreachEvent Enrolled(const std::string& id, const std::string& force,
                                  const std::string& enrolment, const std::string& officer,
                                  const std::string& course, cv1::OfficerRole role,
                                  const std::string& division, absl::Time at,
                                  std::optional<absl::CivilDay> due) {
  ev::OutreachEvent e = Envelope(
      id, force, absl::StrCat("forces/", force, "/enrolments/", enrolment), at, "training");
  auto* p = e.mutable_enrolment_created();
  p->set_officer(absl::StrCat("forces/", force, "/officers/", officer));
  p->set_course(absl::StrCat("forces/", force, "/courses/", course));
  p->set_role(role);
  p->set_division(division);
  if (due) *p->mutable_due_date() = ToProtoDate(*due);
  return e;
}

inline ev::OutreachEvent Engagement(const std::string& id, const std::string& force,
                                    const std::string& activity, absl::CivilDay day,
                                    int64_t revision, int64_t impressions, int64_t reach,
                                    int64_t engagements, std::vector<std::string> areas = {},
                                    cv1::Channel channel = cv1::CHANNEL_SNAPCHAT) {
  ev::OutreachEvent e =
      Envelope(id, force, absl::StrCat("forces/", force, "/activities/", activity),
               StartOfLocalDay(day) + absl::Hours(20), "campaigns");
  auto* p = e.mutable_engagement_reported();
  p->set_campaign(absl::StrCat("forces/", force, "/campaigns/c1"));
  p->set_channel(channel);
  p->add_audiences(cv1::CAMPAIGN_AUDIENCE_PARENTS);
  for (const auto& a : areas) p->add_areas(a);
  *p->mutable_day() = ToProtoDate(day);
  p->set_revision(revision);
  p->set_impressions(impressions);
  p->set_reach(reach);
  p->set_engagements(engagements);
  p->set_clicks(engagements / 2);
  return e;
}

inline ev::OutreachEvent CampaignState(const std::string& id, const std::string& force,
                                       const std::string& campaign, cv1::CampaignState state,
                                       cv1::CampaignState previous, absl::Time at,
                                       int64_t reach_target, std::vector<std::string> areas = {}) {
  ev::OutreachEvent e =
      Envelope(id, force, absl::StrCat("forces/", force, "/campaigns/", campaign), at, "campaigns");
  auto* p = e.mutable_campaign_state_changed();
  p->set_state(state);
  p->set_previous_state(previous);
  p->set_reach_target(reach_target);
  for (const auto& a : areas) p->add_areas(a);
  return e;
}

}  // namespace outreach::metrics::testing
