#pragma once

// Writes the e2e tests make through the public APIs beside the demo data.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "gtest/gtest.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "tests/support/service_harness.h"
#include "tests/support/suite_requests.h"

namespace outreach::testing {

// One parents' evening delivered today (started three hours ago, `parents` counted), through
// the workshops API, with a venue, presenter and topic of its own (ids `<id>-…`), so that nothing
// of the demo's calendar is in the way. Adds 1 to workshops delivered and `parents` to parents
// reached, nothing to pupils. Fails the test (ASSERT) on any refusal.
inline void DeliverParentsEvening(workshops::v1::WorkshopsService::Stub& stub,
                                  const std::string& force, const std::string& id, int parents) {
  namespace ws = workshops::v1;
  namespace cm = common::v1;
  ws::CreateVenueRequest venue_req;
  venue_req.set_parent(force);
  venue_req.set_venue_id(id + "-centre");
  venue_req.set_request_id(id + "-venue");
  venue_req.mutable_venue()->set_display_name("Community centre");
  venue_req.mutable_venue()->set_kind(cm::VENUE_KIND_COMMUNITY);
  venue_req.mutable_venue()->set_area("derby-city");
  ws::Venue venue;
  grpc::Status s = stub.CreateVenue(Ctx().get(), venue_req, &venue);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ws::Presenter presenter;
  s = stub.CreatePresenter(Ctx().get(),
                           requests::Presenter(force, id + "-presenter", "Cyber protect officer"),
                           &presenter);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = stub.GrantAccreditation(
      Ctx().get(), requests::Grant(presenter, absl::Now() + absl::Hours(24 * 365)), &presenter);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ws::CreateTopicRequest topic_req;
  topic_req.set_parent(force);
  topic_req.set_topic_id(id + "-parents");
  topic_req.set_request_id(id + "-topic");
  topic_req.mutable_topic()->set_display_name("Keeping your child safe online");
  topic_req.mutable_topic()->set_category(ws::TOPIC_CATEGORY_SEXTING);
  topic_req.mutable_topic()->set_suitable_for_adults(true);
  topic_req.mutable_topic()->set_version("1");
  ws::Topic topic;
  s = stub.CreateTopic(Ctx().get(), topic_req, &topic);
  ASSERT_TRUE(s.ok()) << s.error_message();

  const absl::Time start =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 60 * 60) - absl::Hours(3);
  ws::ScheduleWorkshopRequest schedule;
  schedule.set_parent(force);
  schedule.set_workshop_id(id);
  schedule.set_request_id(id + "-schedule");
  ws::Workshop* w = schedule.mutable_workshop();
  w->set_title("Staying safe online: parents' evening");
  w->set_venue(venue.name());
  *w->mutable_start_time() = ToProtoTime(start);
  *w->mutable_end_time() = ToProtoTime(start + absl::Hours(1));
  w->set_format(cm::WORKSHOP_FORMAT_PARENTS_EVENING);
  w->add_audiences(cm::WORKSHOP_AUDIENCE_PARENTS);
  w->add_topics(topic.name());
  w->add_presenters(presenter.name());
  ws::Workshop scheduled;
  s = stub.ScheduleWorkshop(Ctx().get(), schedule, &scheduled);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ws::DeliverWorkshopRequest deliver;
  deliver.set_name(scheduled.name());
  deliver.set_etag(scheduled.etag());
  deliver.set_request_id(id + "-deliver");
  *deliver.mutable_delivery()->mutable_delivered_time() = ToProtoTime(start + absl::Minutes(50));
  deliver.mutable_delivery()->set_actual_duration_minutes(50);
  deliver.mutable_delivery()->mutable_headcount()->set_parents(parents);
  ws::Workshop delivered;
  s = stub.DeliverWorkshop(Ctx().get(), deliver, &delivered);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

}  // namespace outreach::testing
