#pragma once

// The requests the suite's e2e tests and the soak driver set a force up with: schools, an
// accredited presenter, the sexting topic, a published cybercrime course. Builders only: each
// caller sends them its own way (once, with retries, through its ledger). Every create carries
// a request_id, so a retried set-up is safe.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/calendar.h"
#include "outreach/campaigns/v1/campaigns.pb.h"
#include "outreach/training/v1/training.pb.h"
#include "outreach/workshops/v1/workshops.pb.h"

namespace outreach::testing::requests {

// A school of the force in `area`: secondary above 500 pupils on roll, primary otherwise.
inline workshops::v1::CreateVenueRequest School(const std::string& force, const std::string& id,
                                                int roll, const std::string& area) {
  workshops::v1::CreateVenueRequest req;
  req.set_parent(force);
  req.set_venue_id(id);
  req.set_request_id("venue-" + id);
  req.mutable_venue()->set_display_name("School " + id);
  req.mutable_venue()->set_kind(roll > 500 ? common::v1::VENUE_KIND_SECONDARY
                                           : common::v1::VENUE_KIND_PRIMARY);
  req.mutable_venue()->set_area(area);
  req.mutable_venue()->set_pupil_roll(roll);
  return req;
}

// A Safer Neighbourhood presenter, not yet accredited.
inline workshops::v1::CreatePresenterRequest Presenter(const std::string& force,
                                                       const std::string& id,
                                                       const std::string& display_name) {
  workshops::v1::CreatePresenterRequest req;
  req.set_parent(force);
  req.set_presenter_id(id);
  req.set_request_id("presenter-" + id);
  req.mutable_presenter()->set_display_name(display_name);
  req.mutable_presenter()->set_team(common::v1::PRESENTER_TEAM_SAFER_NEIGHBOURHOOD);
  return req;
}

// Accredits `presenter` until `expire`.
inline workshops::v1::GrantAccreditationRequest Grant(const workshops::v1::Presenter& presenter,
                                                      absl::Time expire) {
  workshops::v1::GrantAccreditationRequest req;
  req.set_name(presenter.name());
  req.set_etag(presenter.etag());
  *req.mutable_expire_time() = ToProtoTime(expire);
  return req;
}

// The topic `topics/sexting`, for pupils of years 5-13 and for adults.
inline workshops::v1::CreateTopicRequest SextingTopic(const std::string& force) {
  workshops::v1::CreateTopicRequest req;
  req.set_parent(force);
  req.set_topic_id("sexting");
  req.set_request_id("topic-sexting");
  req.mutable_topic()->set_display_name("Sexting: the law and how to get help");
  req.mutable_topic()->set_category(workshops::v1::TOPIC_CATEGORY_SEXTING);
  req.mutable_topic()->set_min_year_group(5);
  req.mutable_topic()->set_max_year_group(13);
  req.mutable_topic()->set_suitable_for_pupils(true);
  req.mutable_topic()->set_suitable_for_adults(true);
  req.mutable_topic()->set_version("1");
  return req;
}

// The College of Policing's cybercrime investigation package, for frontline investigators,
// valid 24 months.
inline training::v1::CreateCourseRequest CybercrimeCourse(const std::string& force,
                                                          const std::string& course_id) {
  training::v1::CreateCourseRequest req;
  req.set_parent(force);
  req.set_course_id(course_id);
  req.set_request_id("course-" + course_id);
  req.mutable_course()->set_display_name("Cybercrime investigation package");
  req.mutable_course()->set_origin(training::v1::COURSE_ORIGIN_COLLEGE_OF_POLICING);
  req.mutable_course()->set_validity_months(24);
  req.mutable_course()->add_target_roles(common::v1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  return req;
}

// A version of `course` (its name) whose modules are all mandatory, pass mark 70.
inline training::v1::CreateCourseVersionRequest CourseVersion(
    const std::string& course, const std::string& version_id,
    const std::vector<std::string>& module_ids) {
  training::v1::CreateCourseVersionRequest req;
  req.set_parent(course);
  req.set_course_version_id(version_id);
  // request_ids are at most 64 characters: the course's id, not its whole name.
  req.set_request_id(
      absl::StrCat("version-", course.substr(course.rfind('/') + 1), "-", version_id));
  req.mutable_course_version()->set_display_name("Version " + version_id);
  for (const std::string& id : module_ids) {
    training::v1::Module* m = req.mutable_course_version()->add_modules();
    m->set_module_id(id);
    m->set_title("Module " + id);
    m->set_mandatory(true);
    m->set_pass_mark(70);
    m->set_expected_duration_minutes(45);
    m->set_origin(training::v1::COURSE_ORIGIN_FORCE);
  }
  return req;
}

inline training::v1::PublishCourseVersionRequest Publish(const training::v1::CourseVersion& v) {
  training::v1::PublishCourseVersionRequest req;
  req.set_name(v.name());
  req.set_etag(v.etag());
  return req;
}

// Officer `i`: officers/officer-i, staff number DP(7000+i), an active frontline investigator.
inline training::v1::CreateOfficerRequest Officer(const std::string& force, int i,
                                                  const std::string& division = "derby-city") {
  training::v1::CreateOfficerRequest req;
  req.set_parent(force);
  req.set_officer_id(absl::StrCat("officer-", i));
  req.set_request_id(absl::StrCat("officer-", i));
  req.mutable_officer()->set_staff_number(absl::StrCat("DP", 7000 + i));
  req.mutable_officer()->set_role(common::v1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  req.mutable_officer()->set_division(division);
  req.mutable_officer()->set_active(true);
  return req;
}

// Enrolment `i` of `officer` (its name) on `course_version` (its name).
inline training::v1::EnrolOfficerRequest Enrol(const std::string& force, int i,
                                               const std::string& officer,
                                               const std::string& course_version) {
  training::v1::EnrolOfficerRequest req;
  req.set_parent(force);
  req.set_enrolment_id(absl::StrCat("enrolment-", i));
  req.set_request_id(absl::StrCat("enrol-", i));
  req.mutable_enrolment()->set_officer(officer);
  req.mutable_enrolment()->set_course_version(course_version);
  return req;
}

// The residents' campaign "Protect yourself online" in derby-city, `start`..`end`, reach
// target 100 000.
inline campaigns::v1::CreateCampaignRequest ResidentsCampaign(const std::string& force,
                                                              absl::CivilDay start,
                                                              absl::CivilDay end) {
  campaigns::v1::CreateCampaignRequest req;
  req.set_parent(force);
  req.set_campaign_id("protect-yourself-online");
  req.set_request_id("campaign-1");
  campaigns::v1::Campaign* c = req.mutable_campaign();
  c->set_title("Protect yourself online");
  c->add_key_messages("Think before you share");
  c->add_audiences(common::v1::CAMPAIGN_AUDIENCE_RESIDENTS);
  c->add_areas("derby-city");
  *c->mutable_start_date() = ToProtoDate(start);
  *c->mutable_end_date() = ToProtoDate(end);
  c->set_reach_target(100000);
  return req;
}

}  // namespace outreach::testing::requests
