#pragma once

// Shared set-up of the training service tests: a real server over a real SQLite file
// (ServiceHarness) with a FakeClock, and helpers that create resources through gRPC.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "common/calendar.h"
#include "common/store_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "outreach/training/v1/training.grpc.pb.h"
#include "services/training/training_service.h"
#include "tests/support/service_harness.h"

namespace outreach::training {

using outreach::events::v1::OutreachEvent;
using outreach::testing::Ctx;
using outreach::testing::ErrorMetadataOf;
using outreach::testing::ReasonOf;
using outreach::testing::ViolatedFields;
namespace cv1 = outreach::common::v1;

inline absl::Time TestStart() {
  return absl::FromCivil(absl::CivilSecond(2026, 11, 28, 10, 0, 0), absl::UTCTimeZone());
}

class TrainingFixture : public ::testing::Test {
 protected:
  TrainingFixture()
      : harness_(TrainingServiceSpec(), TestStart()),
        stub_(v1::TrainingService::NewStub(harness_.channel())) {}

  void Reconnect() { stub_ = v1::TrainingService::NewStub(harness_.channel()); }

  v1::Course CreateCourse(const std::string& id, int validity_months = 12,
                          const std::string& force = "derbyshire",
                          std::vector<cv1::OfficerRole> roles = {}) {
    v1::CreateCourseRequest req;
    req.set_parent("forces/" + force);
    req.set_course_id(id);
    req.mutable_course()->set_display_name("Cybercrime package " + id);
    req.mutable_course()->set_origin(v1::COURSE_ORIGIN_COLLEGE_OF_POLICING);
    req.mutable_course()->set_validity_months(validity_months);
    for (auto r : roles) req.mutable_course()->add_target_roles(r);
    v1::Course out;
    grpc::Status s = stub_->CreateCourse(Ctx().get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  static v1::Module Module(const std::string& id, bool mandatory, int pass_mark = 70) {
    v1::Module m;
    m.set_module_id(id);
    m.set_title("Module " + id);
    m.set_mandatory(mandatory);
    m.set_pass_mark(pass_mark);
    m.set_expected_duration_minutes(60);
    m.set_origin(v1::COURSE_ORIGIN_FORCE);
    return m;
  }

  // A version with modules a (mandatory), b (optional), c (mandatory); PUBLISHED unless
  // `publish` is false.
  v1::CourseVersion CreateVersion(const std::string& course_name, const std::string& id,
                                  bool publish = true, std::vector<v1::Module> modules = {}) {
    if (modules.empty()) modules = {Module("a", true), Module("b", false), Module("c", true)};
    v1::CreateCourseVersionRequest req;
    req.set_parent(course_name);
    req.set_course_version_id(id);
    req.mutable_course_version()->set_display_name("Version " + id);
    for (const auto& m : modules) *req.mutable_course_version()->add_modules() = m;
    v1::CourseVersion out;
    grpc::Status s = stub_->CreateCourseVersion(Ctx().get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (publish) {
      v1::PublishCourseVersionRequest pub;
      pub.set_name(out.name());
      pub.set_etag(out.etag());
      s = stub_->PublishCourseVersion(Ctx().get(), pub, &out);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return out;
  }

  v1::Officer CreateOfficer(const std::string& id,
                            cv1::OfficerRole role = cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR,
                            const std::string& division = "north", bool active = true,
                            const std::string& force = "derbyshire") {
    v1::CreateOfficerRequest req;
    req.set_parent("forces/" + force);
    req.set_officer_id(id);
    req.mutable_officer()->set_staff_number("SN-" + id);
    req.mutable_officer()->set_role(role);
    req.mutable_officer()->set_division(division);
    req.mutable_officer()->set_active(active);
    v1::Officer out;
    grpc::Status s = stub_->CreateOfficer(Ctx().get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  grpc::Status Enrol(const std::string& officer, const std::string& version, v1::Enrolment* out,
                     const std::string& id = "", const std::string& force = "derbyshire") {
    v1::EnrolOfficerRequest req;
    req.set_parent("forces/" + force);
    req.set_enrolment_id(id);
    req.mutable_enrolment()->set_officer(officer);
    req.mutable_enrolment()->set_course_version(version);
    return stub_->EnrolOfficer(Ctx().get(), req, out);
  }

  v1::Enrolment MustEnrol(const std::string& officer, const std::string& version) {
    v1::Enrolment e;
    grpc::Status s = Enrol(officer, version, &e);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return e;
  }

  grpc::Status Record(const std::string& enrolment, const std::string& module, int score,
                      absl::Time when, v1::Enrolment* out) {
    v1::RecordModuleResultRequest req;
    req.set_name(enrolment);
    req.set_module_id(module);
    req.set_score(score);
    *req.mutable_completed_time() = ToProtoTime(when);
    return stub_->RecordModuleResult(Ctx().get(), req, out);
  }

  v1::Enrolment Complete(const std::string& enrolment, absl::Time when) {
    v1::Enrolment e;
    EXPECT_TRUE(Record(enrolment, "a", 90, when, &e).ok());
    EXPECT_TRUE(Record(enrolment, "c", 90, when, &e).ok());
    return e;
  }

  v1::Enrolment Get(const std::string& name) {
    v1::GetEnrolmentRequest req;
    req.set_name(name);
    v1::Enrolment e;
    grpc::Status s = stub_->GetEnrolment(Ctx().get(), req, &e);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return e;
  }

  std::vector<OutreachEvent> OutboxEvents() {
    std::vector<OutreachEvent> out;
    absl::Status s = harness_.db().Read([&](db::Connection& c) -> absl::Status {
      auto pending = Outbox::Pending(c, 1000000);
      if (!pending.ok()) return pending.status();
      for (auto& p : *pending) out.push_back(p.event);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::vector<OutreachEvent> EventsOf(OutreachEvent::PayloadCase kind) {
    std::vector<OutreachEvent> out;
    for (auto& e : OutboxEvents()) {
      if (e.payload_case() == kind) out.push_back(e);
    }
    return out;
  }

  outreach::testing::ServiceHarness harness_;
  std::unique_ptr<v1::TrainingService::Stub> stub_;
};

}  // namespace outreach::training
