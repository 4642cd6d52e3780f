// The training service over a real gRPC server and SQLite file: every method, every rule with
// its gRPC code and ErrorInfo reason, idempotent creates, etags, pagination, cross-force
// isolation, outbox events, expiry against the fake clock, a race and a restart.
#include <atomic>
#include <set>
#include <thread>

#include "tests/service/training_fixture.h"

namespace outreach::training {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kParent[] = "forces/derbyshire";
absl::Time Days(int n) { return TestStart() - absl::Hours(24 * n); }

// --- courses -------------------------------------------------------------------------------
TEST_F(TrainingFixture, CourseCrudWithEtagsAndMask) {
  v1::Course c = CreateCourse("cyber", 12);
  EXPECT_EQ(c.name(), "forces/derbyshire/courses/cyber");
  EXPECT_FALSE(c.etag().empty());

  v1::GetCourseRequest get;
  get.set_name(c.name());
  v1::Course got;
  ASSERT_TRUE(stub_->GetCourse(Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.etag(), c.etag());

  v1::UpdateCourseRequest up;
  *up.mutable_course() = c;
  up.mutable_course()->set_display_name("Renamed");
  up.mutable_course()->set_validity_months(24);
  up.mutable_update_mask()->add_paths("display_name");
  v1::Course updated;
  ASSERT_TRUE(stub_->UpdateCourse(Ctx().get(), up, &updated).ok());
  EXPECT_EQ(updated.display_name(), "Renamed");
  EXPECT_EQ(updated.validity_months(), 12);  // not in the mask
  EXPECT_NE(updated.etag(), c.etag());

  // The old etag is stale now.
  grpc::Status s = stub_->UpdateCourse(Ctx().get(), up, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  up.mutable_course()->clear_etag();
  s = stub_->UpdateCourse(Ctx().get(), up, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("course.etag"));
  up.mutable_course()->set_etag(updated.etag());
  up.mutable_update_mask()->add_paths("create_time");
  s = stub_->UpdateCourse(Ctx().get(), up, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("update_mask"));

  // A course with versions cannot be deleted.
  CreateVersion(c.name(), "v1", false);
  v1::DeleteCourseRequest del;
  del.set_name(c.name());
  del.set_etag(updated.etag());
  google::protobuf::Empty empty;
  s = stub_->DeleteCourse(Ctx().get(), del, &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_IN_USE");

  v1::Course other = CreateCourse("empty");
  del.set_name(other.name());
  del.set_etag("stale");
  s = stub_->DeleteCourse(Ctx().get(), del, &empty);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  del.set_etag(other.etag());
  ASSERT_TRUE(stub_->DeleteCourse(Ctx().get(), del, &empty).ok());
  get.set_name(other.name());
  s = stub_->GetCourse(Ctx().get(), get, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_NOT_FOUND");
}

// A stored row that does not parse is a storage fault, never "absent": a create with its id
// is refused and the row is left as it was (it used to be overwritten).
TEST_F(TrainingFixture, CorruptRowsAreNeverTakenAsAbsent) {
  const v1::Course course = CreateCourse("cyber");
  const v1::CourseVersion version = CreateVersion(course.name(), "v1", false);
  // The body becomes the one byte 0xff (bound: a blob literal is not portable SQL).
  auto corrupt = [&](const char* sql) {
    return harness_.db().Write([&](db::Connection& c) -> absl::Status {
      auto q = c.Prepare(sql);
      if (!q.ok()) return q.status();
      q->BindBlob(1, "\xff");
      return q->Run();
    });
  };
  ASSERT_TRUE(corrupt("UPDATE training_versions SET body = ? WHERE id = 'v1'").ok());
  v1::CreateCourseVersionRequest again_version;
  again_version.set_parent(course.name());
  again_version.set_course_version_id("v1");
  again_version.mutable_course_version()->set_display_name("Again");
  v1::CourseVersion v;
  grpc::Status s = stub_->CreateCourseVersion(Ctx().get(), again_version, &v);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(s.error_message(), ::testing::Not(::testing::HasSubstr("parse")));

  ASSERT_TRUE(corrupt("UPDATE training_courses SET body = ? WHERE id = 'cyber'").ok());

  v1::CreateCourseRequest again_course;
  again_course.set_parent(kParent);
  again_course.set_course_id("cyber");
  again_course.mutable_course()->set_display_name("Again");
  again_course.mutable_course()->set_origin(v1::COURSE_ORIGIN_FORCE);
  v1::Course c;
  s = stub_->CreateCourse(Ctx().get(), again_course, &c);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);

  v1::GetCourseRequest get_course;
  get_course.set_name(course.name());
  EXPECT_EQ(stub_->GetCourse(Ctx().get(), get_course, &c).error_code(), grpc::StatusCode::INTERNAL);
  v1::GetCourseVersionRequest get_version;
  get_version.set_name(version.name());
  EXPECT_EQ(stub_->GetCourseVersion(Ctx().get(), get_version, &v).error_code(),
            grpc::StatusCode::INTERNAL);
}

TEST_F(TrainingFixture, CreateWithRequestIdRetriesReturnTheFirstResult) {
  v1::CreateOfficerRequest req;
  req.set_parent(kParent);
  req.set_request_id("req-officer-1");
  req.mutable_officer()->set_staff_number("P1001");
  req.mutable_officer()->set_role(cv1::OFFICER_ROLE_CALL_HANDLER);
  req.mutable_officer()->set_division("south");
  req.mutable_officer()->set_active(true);
  v1::Officer first, second;
  ASSERT_TRUE(stub_->CreateOfficer(Ctx().get(), req, &first).ok());
  ASSERT_TRUE(stub_->CreateOfficer(Ctx().get(), req, &second).ok());
  EXPECT_EQ(first.name(), second.name());  // generated id, returned again
  EXPECT_EQ(first.etag(), second.etag());
  EXPECT_EQ(EventsOf(OutreachEvent::kOfficerUpserted).size(), 1u);
  v1::ListOfficersRequest list;
  list.set_parent(kParent);
  v1::ListOfficersResponse listed;
  ASSERT_TRUE(stub_->ListOfficers(Ctx().get(), list, &listed).ok());
  EXPECT_EQ(listed.total_size(), 1);

  req.mutable_officer()->set_division("north");
  grpc::Status s = stub_->CreateOfficer(Ctx().get(), req, &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "REQUEST_ID_REUSED");

  // The same for enrolments.
  v1::Course c = CreateCourse("cyber");
  v1::CourseVersion v = CreateVersion(c.name(), "v1");
  v1::EnrolOfficerRequest enrol;
  enrol.set_parent(kParent);
  enrol.set_request_id("req-enrol-1");
  enrol.mutable_enrolment()->set_officer(first.name());
  enrol.mutable_enrolment()->set_course_version(v.name());
  v1::Enrolment e1, e2;
  ASSERT_TRUE(stub_->EnrolOfficer(Ctx().get(), enrol, &e1).ok());
  ASSERT_TRUE(stub_->EnrolOfficer(Ctx().get(), enrol, &e2).ok());  // not a duplicate
  EXPECT_EQ(e1.name(), e2.name());
  EXPECT_EQ(EventsOf(OutreachEvent::kEnrolmentCreated).size(), 1u);
  *enrol.mutable_enrolment()->mutable_due_date() = ToProtoDate(absl::CivilDay(2027, 1, 1));
  s = stub_->EnrolOfficer(Ctx().get(), enrol, &e2);
  EXPECT_EQ(ReasonOf(s), "REQUEST_ID_REUSED");

  // And for courses and versions.
  v1::CreateCourseRequest course;
  course.set_parent(kParent);
  course.set_request_id("req-course-1");
  course.mutable_course()->set_display_name("Package");
  course.mutable_course()->set_origin(v1::COURSE_ORIGIN_FORCE);
  v1::Course c1, c2;
  ASSERT_TRUE(stub_->CreateCourse(Ctx().get(), course, &c1).ok());
  ASSERT_TRUE(stub_->CreateCourse(Ctx().get(), course, &c2).ok());
  EXPECT_EQ(c1.name(), c2.name());
  v1::CreateCourseVersionRequest version;
  version.set_parent(c1.name());
  version.set_request_id("req-version-1");
  version.mutable_course_version()->set_display_name("v");
  *version.mutable_course_version()->add_modules() = Module("m", true);
  v1::CourseVersion ver1, ver2;
  ASSERT_TRUE(stub_->CreateCourseVersion(Ctx().get(), version, &ver1).ok());
  ASSERT_TRUE(stub_->CreateCourseVersion(Ctx().get(), version, &ver2).ok());
  EXPECT_EQ(ver1.name(), ver2.name());
  v1::ListCourseVersionsRequest lv;
  lv.set_parent(c1.name());
  v1::ListCourseVersionsResponse versions;
  ASSERT_TRUE(stub_->ListCourseVersions(Ctx().get(), lv, &versions).ok());
  EXPECT_EQ(versions.total_size(), 1);
  version.mutable_course_version()->set_display_name("other");
  s = stub_->CreateCourseVersion(Ctx().get(), version, &ver2);
  EXPECT_EQ(ReasonOf(s), "REQUEST_ID_REUSED");
}

TEST_F(TrainingFixture, OfficerIdsAndStaffNumbersAreUnique) {
  v1::Officer o = CreateOfficer("o1");
  v1::CreateOfficerRequest req;
  req.set_parent(kParent);
  req.set_officer_id("o1");
  req.mutable_officer()->set_staff_number("OTHER");
  req.mutable_officer()->set_role(cv1::OFFICER_ROLE_STAFF);
  req.mutable_officer()->set_division("north");
  v1::Officer out;
  grpc::Status s = stub_->CreateOfficer(Ctx().get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_ALREADY_EXISTS");
  req.set_officer_id("o2");
  req.mutable_officer()->set_staff_number(o.staff_number());
  s = stub_->CreateOfficer(Ctx().get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(TrainingFixture, OfficerUpdateAndDeleteEmitEvents) {
  v1::Officer o = CreateOfficer("o1");
  v1::UpdateOfficerRequest up;
  *up.mutable_officer() = o;
  up.mutable_officer()->set_division("south");
  up.mutable_officer()->set_active(false);
  up.mutable_officer()->set_staff_number("CHANGED");  // not in the mask: ignored
  up.mutable_update_mask()->add_paths("division");
  up.mutable_update_mask()->add_paths("active");
  v1::Officer updated;
  ASSERT_TRUE(stub_->UpdateOfficer(Ctx().get(), up, &updated).ok());
  EXPECT_EQ(updated.division(), "south");
  EXPECT_FALSE(updated.active());
  EXPECT_EQ(updated.staff_number(), o.staff_number());
  up.mutable_update_mask()->add_paths("staff_number");
  grpc::Status s = stub_->UpdateOfficer(Ctx().get(), up, &updated);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("update_mask"));

  auto upserts = EventsOf(OutreachEvent::kOfficerUpserted);
  ASSERT_EQ(upserts.size(), 2u);
  EXPECT_EQ(upserts[1].subject(), o.name());
  EXPECT_EQ(upserts[1].force(), "derbyshire");
  EXPECT_EQ(upserts[1].source(), "training");
  EXPECT_EQ(upserts[1].officer_upserted().division(), "south");
  EXPECT_FALSE(upserts[1].officer_upserted().active());
  EXPECT_EQ(upserts[1].officer_upserted().role(), cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);

  // With an enrolment the officer cannot be deleted.
  v1::Officer busy = CreateOfficer("busy");
  v1::CourseVersion v = CreateVersion(CreateCourse("cyber").name(), "v1");
  MustEnrol(busy.name(), v.name());
  v1::DeleteOfficerRequest del;
  del.set_name(busy.name());
  del.set_etag(busy.etag());
  google::protobuf::Empty empty;
  s = stub_->DeleteOfficer(Ctx().get(), del, &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_IN_USE");

  del.set_name(updated.name());
  del.set_etag(o.etag());  // stale
  s = stub_->DeleteOfficer(Ctx().get(), del, &empty);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  del.set_etag(updated.etag());
  ASSERT_TRUE(stub_->DeleteOfficer(Ctx().get(), del, &empty).ok());
  auto deleted = EventsOf(OutreachEvent::kOfficerDeleted);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].subject(), o.name());
  EXPECT_EQ(deleted[0].officer_deleted().division(), "south");
}

// --- versions ------------------------------------------------------------------------------
TEST_F(TrainingFixture, VersionLifecycleDraftPublishRetire) {
  v1::Course c = CreateCourse("cyber");
  // Only optional modules: cannot be published.
  v1::CourseVersion empty = CreateVersion(c.name(), "optional", false, {Module("x", false)});
  v1::PublishCourseVersionRequest pub;
  pub.set_name(empty.name());
  pub.set_etag(empty.etag());
  v1::CourseVersion out;
  grpc::Status s = stub_->PublishCourseVersion(Ctx().get(), pub, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "COURSE_VERSION_EMPTY");

  v1::CourseVersion v = CreateVersion(c.name(), "v1", false);
  EXPECT_EQ(v.state(), v1::COURSE_VERSION_STATE_DRAFT);
  // Modules are editable while DRAFT.
  v1::UpdateCourseVersionRequest up;
  *up.mutable_course_version() = v;
  *up.mutable_course_version()->add_modules() = Module("d", false);
  up.mutable_update_mask()->add_paths("modules");
  ASSERT_TRUE(stub_->UpdateCourseVersion(Ctx().get(), up, &v).ok());
  EXPECT_EQ(v.modules_size(), 4);

  pub.set_name(v.name());
  pub.set_etag("stale");
  s = stub_->PublishCourseVersion(Ctx().get(), pub, &out);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  pub.set_etag(v.etag());
  ASSERT_TRUE(stub_->PublishCourseVersion(Ctx().get(), pub, &v).ok());
  EXPECT_EQ(v.state(), v1::COURSE_VERSION_STATE_PUBLISHED);
  EXPECT_TRUE(v.has_publish_time());
  v1::GetCourseVersionRequest get;
  get.set_name(v.name());
  v1::CourseVersion got;
  ASSERT_TRUE(stub_->GetCourseVersion(Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.etag(), v.etag());
  EXPECT_EQ(got.modules(3).module_id(), "d");  // module order is kept
  get.set_name("forces/derbyshire/courses/cyber/versions/nope");
  EXPECT_EQ(stub_->GetCourseVersion(Ctx().get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  pub.set_etag(v.etag());
  s = stub_->PublishCourseVersion(Ctx().get(), pub, &out);
  EXPECT_EQ(ReasonOf(s), "COURSE_VERSION_NOT_DRAFT");

  // Modules are frozen after publication; the title is not.
  *up.mutable_course_version() = v;
  up.mutable_course_version()->mutable_modules()->RemoveLast();
  s = stub_->UpdateCourseVersion(Ctx().get(), up, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "COURSE_VERSION_NOT_DRAFT");
  up.mutable_update_mask()->Clear();
  up.mutable_update_mask()->add_paths("display_name");
  up.mutable_course_version()->set_display_name("2025 package");
  ASSERT_TRUE(stub_->UpdateCourseVersion(Ctx().get(), up, &v).ok());
  EXPECT_EQ(v.display_name(), "2025 package");
  EXPECT_EQ(v.modules_size(), 4);

  v1::DeleteCourseVersionRequest del;
  del.set_name(v.name());
  del.set_etag(v.etag());
  google::protobuf::Empty e;
  s = stub_->DeleteCourseVersion(Ctx().get(), del, &e);
  EXPECT_EQ(ReasonOf(s), "COURSE_VERSION_NOT_DRAFT");

  v1::RetireCourseVersionRequest ret;
  ret.set_name(v.name());
  ret.set_etag(v.etag());
  ASSERT_TRUE(stub_->RetireCourseVersion(Ctx().get(), ret, &v).ok());
  EXPECT_EQ(v.state(), v1::COURSE_VERSION_STATE_RETIRED);
  EXPECT_TRUE(v.has_retire_time());
  ret.set_etag(v.etag());
  s = stub_->RetireCourseVersion(Ctx().get(), ret, &out);
  EXPECT_EQ(ReasonOf(s), "COURSE_VERSION_NOT_PUBLISHED");
  ret.set_name(empty.name());
  ret.set_etag(empty.etag());
  s = stub_->RetireCourseVersion(Ctx().get(), ret, &out);
  EXPECT_EQ(ReasonOf(s), "COURSE_VERSION_NOT_PUBLISHED");

  // A draft can be deleted.
  del.set_name(empty.name());
  del.set_etag(empty.etag());
  ASSERT_TRUE(stub_->DeleteCourseVersion(Ctx().get(), del, &e).ok());

  v1::ListCourseVersionsRequest list;
  list.set_parent(c.name());
  list.set_filter("state = COURSE_VERSION_STATE_RETIRED");
  v1::ListCourseVersionsResponse listed;
  ASSERT_TRUE(stub_->ListCourseVersions(Ctx().get(), list, &listed).ok());
  ASSERT_EQ(listed.course_versions_size(), 1);
  EXPECT_EQ(listed.course_versions(0).name(), v.name());
  list.set_parent("forces/derbyshire/courses/missing");
  list.clear_filter();
  s = stub_->ListCourseVersions(Ctx().get(), list, &listed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

// --- enrolment rules -----------------------------------------------------------------------
TEST_F(TrainingFixture, EnrolmentRules) {
  v1::Course c = CreateCourse("cyber");
  v1::CourseVersion draft = CreateVersion(c.name(), "draft", false);
  v1::CourseVersion v1v = CreateVersion(c.name(), "v1");
  v1::CourseVersion v2v = CreateVersion(c.name(), "v2");
  v1::Officer o = CreateOfficer("o1");
  v1::Officer gone = CreateOfficer("o2", cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR, "north", false);
  v1::Enrolment e;

  grpc::Status s = Enrol(o.name(), draft.name(), &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "COURSE_VERSION_NOT_PUBLISHED");
  EXPECT_EQ(ErrorMetadataOf(s, "course_version"), draft.name());
  EXPECT_EQ(ErrorMetadataOf(s, "state"), "COURSE_VERSION_STATE_DRAFT");

  s = Enrol(gone.name(), v1v.name(), &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "OFFICER_INACTIVE");
  EXPECT_EQ(ErrorMetadataOf(s, "officer"), gone.name());

  s = Enrol("forces/derbyshire/officers/nobody", v1v.name(), &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_NOT_FOUND");
  s = Enrol(o.name(), "forces/derbyshire/courses/cyber/versions/v9", &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  v1::Enrolment first;
  ASSERT_TRUE(Enrol(o.name(), v1v.name(), &first, "first").ok());
  EXPECT_EQ(first.state(), v1::ENROLMENT_STATE_ENROLLED);
  EXPECT_EQ(first.course(), c.name());
  EXPECT_EQ(first.officer_role(), cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  EXPECT_EQ(first.source(), v1::RECORD_SOURCE_API);
  // Same id again: ALREADY_EXISTS.
  s = Enrol(o.name(), v2v.name(), &e, "first");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // Another open enrolment in any version of the same course: refused.
  s = Enrol(o.name(), v1v.name(), &e);
  EXPECT_EQ(ReasonOf(s), "DUPLICATE_ACTIVE_ENROLMENT");
  s = Enrol(o.name(), v2v.name(), &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "DUPLICATE_ACTIVE_ENROLMENT");
  EXPECT_EQ(ErrorMetadataOf(s, "enrolment"), first.name());

  // A retired version takes no new enrolment.
  v1::RetireCourseVersionRequest ret;
  ret.set_name(v2v.name());
  ret.set_etag(v2v.etag());
  ASSERT_TRUE(stub_->RetireCourseVersion(Ctx().get(), ret, &v2v).ok());
  v1::Officer o3 = CreateOfficer("o3");
  s = Enrol(o3.name(), v2v.name(), &e);
  EXPECT_EQ(ReasonOf(s), "COURSE_VERSION_RETIRED");

  // Once completed, the officer may enrol again (e.g. recertification).
  Complete(first.name(), Days(1));
  EXPECT_TRUE(Enrol(o.name(), v1v.name(), &e).ok());
}

TEST_F(TrainingFixture, ConcurrentEnrolmentsOfOneOfficerLeaveExactlyOne) {
  v1::CourseVersion v = CreateVersion(CreateCourse("cyber").name(), "v1");
  v1::Officer o = CreateOfficer("o1");
  std::atomic<int> ok{0}, duplicate{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto stub = v1::TrainingService::NewStub(harness_.channel());
      v1::EnrolOfficerRequest req;
      req.set_parent(kParent);
      req.set_enrolment_id(absl::StrCat("race-", i));
      req.mutable_enrolment()->set_officer(o.name());
      req.mutable_enrolment()->set_course_version(v.name());
      v1::Enrolment e;
      grpc::Status s = stub->EnrolOfficer(Ctx().get(), req, &e);
      if (s.ok()) {
        ++ok;
      } else if (ReasonOf(s) == "DUPLICATE_ACTIVE_ENROLMENT") {
        ++duplicate;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(duplicate.load(), 7);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(EventsOf(OutreachEvent::kEnrolmentCreated).size(), 1u);
}

TEST_F(TrainingFixture, ConcurrentResultsOfDifferentModulesCompleteOnce) {
  v1::CourseVersion v = CreateVersion(CreateCourse("cyber").name(), "v1");
  std::vector<std::string> enrolments;
  for (int i = 0; i < 4; ++i) {
    enrolments.push_back(MustEnrol(CreateOfficer(absl::StrCat("o", i)).name(), v.name()).name());
  }
  // Results of both mandatory modules of every enrolment arrive at once, each twice.
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (const auto& name : enrolments) {
    for (const char* module : {"a", "c", "a", "c"}) {
      threads.emplace_back([&, name, module] {
        auto stub = v1::TrainingService::NewStub(harness_.channel());
        v1::RecordModuleResultRequest req;
        req.set_name(name);
        req.set_module_id(module);
        req.set_score(90);
        *req.mutable_completed_time() = ToProtoTime(Days(1));
        v1::Enrolment out;
        if (!stub->RecordModuleResult(Ctx().get(), req, &out).ok()) ++failures;
      });
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (const auto& name : enrolments) {
    v1::Enrolment e = Get(name);
    EXPECT_EQ(e.state(), v1::ENROLMENT_STATE_COMPLETED);
    EXPECT_EQ(e.module_results_size(), 2);
  }
  // Duplicates changed nothing: one result event per module, one completion per enrolment.
  EXPECT_EQ(EventsOf(OutreachEvent::kModuleCompleted).size(), 8u);
  EXPECT_EQ(EventsOf(OutreachEvent::kEnrolmentCompleted).size(), 4u);
}

// --- module results and completion ---------------------------------------------------------
TEST_F(TrainingFixture, ModuleResultsCompleteTheEnrolmentWithACertificate) {
  v1::Course c = CreateCourse("cyber", 12);
  v1::CourseVersion v = CreateVersion(c.name(), "v1");
  v1::Officer o = CreateOfficer("o1", cv1::OFFICER_ROLE_DIGITAL_MEDIA_INVESTIGATOR, "derby-city");
  v1::Enrolment e = MustEnrol(o.name(), v.name());
  v1::Enrolment out;

  grpc::Status s = Record(e.name(), "zz", 90, Days(3), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "MODULE_NOT_IN_VERSION");
  EXPECT_EQ(ErrorMetadataOf(s, "module_id"), "zz");
  EXPECT_EQ(ErrorMetadataOf(s, "course_version"), v.name());
  s = Record(e.name(), "a", 101, Days(3), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("score"));
  s = Record(e.name(), "a", -1, Days(3), &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("score"));
  s = Record(e.name(), "a", 90, TestStart() + absl::Minutes(6), &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("completed_time"));
  s = Record("forces/derbyshire/enrolments/missing", "a", 90, Days(3), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  // A failing score keeps it in progress.
  ASSERT_TRUE(Record(e.name(), "a", 50, Days(4), &out).ok());
  EXPECT_EQ(out.state(), v1::ENROLMENT_STATE_IN_PROGRESS);
  EXPECT_FALSE(out.module_results(0).passed());
  EXPECT_TRUE(out.has_start_time());
  ASSERT_TRUE(Record(e.name(), "a", 80, Days(3), &out).ok());  // replaces the earlier result
  ASSERT_EQ(out.module_results_size(), 1);
  EXPECT_TRUE(out.module_results(0).passed());
  // The optional module is not needed; the last mandatory one completes the course.
  ASSERT_TRUE(Record(e.name(), "c", 75, Days(2), &out).ok());
  EXPECT_EQ(out.state(), v1::ENROLMENT_STATE_COMPLETED);
  ASSERT_TRUE(out.has_certificate());
  EXPECT_EQ(out.certificate().issue_time().seconds(), absl::ToUnixSeconds(Days(2)));
  EXPECT_EQ(out.complete_time().seconds(), absl::ToUnixSeconds(Days(2)));
  EXPECT_EQ(out.certificate().valid_until().seconds(),
            absl::ToUnixSeconds(*ValidUntil(Days(2), 12)));
  EXPECT_FALSE(out.certificate().certificate_id().empty());

  // Re-sending an identical result changes nothing, even now it is COMPLETED.
  v1::Enrolment again;
  ASSERT_TRUE(Record(e.name(), "c", 75, Days(2), &again).ok());
  EXPECT_EQ(again.etag(), out.etag());
  // A different result for a COMPLETED enrolment is refused.
  s = Record(e.name(), "b", 75, Days(1), &again);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "ENROLMENT_NOT_OPEN");

  // Events: one ModuleCompleted per recorded result, one EnrolmentCompleted.
  auto modules = EventsOf(OutreachEvent::kModuleCompleted);
  ASSERT_EQ(modules.size(), 3u);
  EXPECT_EQ(modules[0].subject(), e.name());
  EXPECT_EQ(modules[0].module_completed().module_id(), "a");
  EXPECT_FALSE(modules[0].module_completed().passed());
  EXPECT_EQ(modules[0].module_completed().score(), 50);
  EXPECT_TRUE(modules[0].module_completed().mandatory());
  EXPECT_EQ(modules[0].module_completed().role(), cv1::OFFICER_ROLE_DIGITAL_MEDIA_INVESTIGATOR);
  EXPECT_EQ(modules[0].module_completed().division(), "derby-city");
  EXPECT_EQ(modules[0].module_completed().course_version(), v.name());
  EXPECT_FALSE(modules[0].module_completed().imported());
  auto completed = EventsOf(OutreachEvent::kEnrolmentCompleted);
  ASSERT_EQ(completed.size(), 1u);
  const auto& p = completed[0].enrolment_completed();
  EXPECT_EQ(completed[0].force(), "derbyshire");
  EXPECT_EQ(completed[0].source(), "training");
  EXPECT_EQ(completed[0].occurred_time().seconds(), absl::ToUnixSeconds(TestStart()));
  EXPECT_EQ(p.officer(), o.name());
  EXPECT_EQ(p.role(), cv1::OFFICER_ROLE_DIGITAL_MEDIA_INVESTIGATOR);
  EXPECT_EQ(p.division(), "derby-city");
  EXPECT_EQ(p.course(), c.name());
  EXPECT_EQ(p.course_version(), v.name());
  EXPECT_EQ(p.completed_time().seconds(), absl::ToUnixSeconds(Days(2)));
  EXPECT_EQ(p.valid_until().seconds(), out.certificate().valid_until().seconds());
  auto created = EventsOf(OutreachEvent::kEnrolmentCreated);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].enrolment_created().division(), "derby-city");
  EXPECT_EQ(created[0].enrolment_created().course(), c.name());
}

TEST_F(TrainingFixture, PassedFlagIsUsedWithoutAScoreAndNeverExpiringCourses) {
  v1::CourseVersion v = CreateVersion(CreateCourse("forever", 0).name(), "v1");
  v1::Enrolment e = MustEnrol(CreateOfficer("o1").name(), v.name());
  v1::RecordModuleResultRequest req;
  req.set_name(e.name());
  req.set_passed(true);
  *req.mutable_completed_time() = ToProtoTime(Days(1));
  v1::Enrolment out;
  for (const char* m : {"a", "c"}) {
    req.set_module_id(m);
    ASSERT_TRUE(stub_->RecordModuleResult(Ctx().get(), req, &out).ok());
  }
  EXPECT_EQ(out.state(), v1::ENROLMENT_STATE_COMPLETED);
  EXPECT_FALSE(out.module_results(0).has_score());
  EXPECT_FALSE(out.certificate().has_valid_until());
  harness_.clock().Advance(absl::Hours(24 * 365 * 20));
  EXPECT_EQ(Get(e.name()).state(), v1::ENROLMENT_STATE_COMPLETED);
}

TEST_F(TrainingFixture, WithdrawnEnrolmentsTakeNoResultsOrChanges) {
  v1::Course c = CreateCourse("cyber");
  v1::CourseVersion v = CreateVersion(c.name(), "v1");
  v1::Officer o = CreateOfficer("o1");
  v1::Enrolment e = MustEnrol(o.name(), v.name());
  v1::Enrolment out;
  ASSERT_TRUE(Record(e.name(), "a", 90, Days(1), &out).ok());

  v1::WithdrawEnrolmentRequest w;
  w.set_name(e.name());
  w.set_etag(out.etag());
  grpc::Status s = stub_->WithdrawEnrolment(Ctx().get(), w, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("reason"));
  w.set_reason("left the role");
  w.set_etag(e.etag());  // stale: a result was recorded since
  s = stub_->WithdrawEnrolment(Ctx().get(), w, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  v1::Enrolment current = Get(e.name());
  w.set_etag(current.etag());
  ASSERT_TRUE(stub_->WithdrawEnrolment(Ctx().get(), w, &out).ok());
  EXPECT_EQ(out.state(), v1::ENROLMENT_STATE_WITHDRAWN);
  EXPECT_EQ(out.withdraw_reason(), "left the role");
  EXPECT_TRUE(out.has_withdraw_time());

  s = Record(e.name(), "c", 90, Days(1), &current);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "ENROLMENT_WITHDRAWN");
  s = Record(e.name(), "a", 70, Days(1), &current);  // a different result for module a
  EXPECT_EQ(ReasonOf(s), "ENROLMENT_WITHDRAWN");
  // A retry of the result accepted before the withdrawal is answered, and changes nothing.
  ASSERT_TRUE(Record(e.name(), "a", 90, Days(1), &current).ok());
  EXPECT_EQ(current.etag(), out.etag());
  EXPECT_EQ(current.state(), v1::ENROLMENT_STATE_WITHDRAWN);
  w.set_etag(out.etag());
  s = stub_->WithdrawEnrolment(Ctx().get(), w, &current);
  EXPECT_EQ(ReasonOf(s), "ENROLMENT_WITHDRAWN");
  v1::UpdateEnrolmentRequest up;
  *up.mutable_enrolment() = out;
  *up.mutable_enrolment()->mutable_due_date() = ToProtoDate(absl::CivilDay(2027, 1, 1));
  up.mutable_update_mask()->add_paths("due_date");
  s = stub_->UpdateEnrolment(Ctx().get(), up, &current);
  EXPECT_EQ(ReasonOf(s), "ENROLMENT_WITHDRAWN");

  auto withdrawn = EventsOf(OutreachEvent::kEnrolmentWithdrawn);
  ASSERT_EQ(withdrawn.size(), 1u);
  EXPECT_EQ(withdrawn[0].subject(), e.name());
  EXPECT_EQ(withdrawn[0].enrolment_withdrawn().officer(), o.name());
  EXPECT_EQ(withdrawn[0].enrolment_withdrawn().course(), c.name());
  EXPECT_EQ(withdrawn[0].enrolment_withdrawn().course_version(), v.name());
  EXPECT_EQ(withdrawn[0].enrolment_withdrawn().role(), cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  EXPECT_EQ(withdrawn[0].enrolment_withdrawn().division(), "north");

  // A withdrawn enrolment is not open: the officer can enrol again.
  v1::Enrolment again;
  EXPECT_TRUE(Enrol(o.name(), v.name(), &again).ok());
}

TEST_F(TrainingFixture, DueDateUpdatesAndCompletedEnrolmentsAreNotOpen) {
  v1::Course c = CreateCourse("cyber");
  v1::CourseVersion v = CreateVersion(c.name(), "v1");
  v1::Officer o = CreateOfficer("o1");
  v1::Enrolment e = MustEnrol(o.name(), v.name());
  v1::UpdateEnrolmentRequest up;
  *up.mutable_enrolment() = e;
  *up.mutable_enrolment()->mutable_due_date() = ToProtoDate(absl::CivilDay(2027, 3, 31));
  up.mutable_update_mask()->add_paths("due_date");
  v1::Enrolment out;
  ASSERT_TRUE(stub_->UpdateEnrolment(Ctx().get(), up, &out).ok());
  EXPECT_EQ(out.due_date().month(), 3);
  grpc::Status s = stub_->UpdateEnrolment(Ctx().get(), up, &out);  // stale etag now
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  // Clearing the due date.
  *up.mutable_enrolment() = out;
  up.mutable_enrolment()->clear_due_date();
  ASSERT_TRUE(stub_->UpdateEnrolment(Ctx().get(), up, &out).ok());
  EXPECT_FALSE(out.has_due_date());
  // Bad date, bad mask.
  *up.mutable_enrolment() = out;
  *up.mutable_enrolment()->mutable_due_date() = ToProtoDate(absl::CivilDay(2027, 3, 1));
  up.mutable_enrolment()->mutable_due_date()->set_day(31);
  up.mutable_enrolment()->mutable_due_date()->set_month(2);
  s = stub_->UpdateEnrolment(Ctx().get(), up, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("enrolment.due_date"));
  up.mutable_update_mask()->set_paths(0, "state");
  s = stub_->UpdateEnrolment(Ctx().get(), up, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("update_mask"));

  auto changed = EventsOf(OutreachEvent::kEnrolmentDueDateChanged);
  ASSERT_EQ(changed.size(), 2u);
  EXPECT_EQ(changed[0].enrolment_due_date_changed().due_date().year(), 2027);
  EXPECT_FALSE(changed[1].enrolment_due_date_changed().has_due_date());
  EXPECT_EQ(changed[1].enrolment_due_date_changed().officer(), o.name());

  v1::Enrolment done = Complete(e.name(), Days(1));
  *up.mutable_enrolment() = done;
  up.mutable_update_mask()->set_paths(0, "due_date");
  s = stub_->UpdateEnrolment(Ctx().get(), up, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "ENROLMENT_NOT_OPEN");
  v1::WithdrawEnrolmentRequest w;
  w.set_name(done.name());
  w.set_etag(done.etag());
  w.set_reason("too late");
  s = stub_->WithdrawEnrolment(Ctx().get(), w, &out);
  EXPECT_EQ(ReasonOf(s), "ENROLMENT_NOT_OPEN");
}

// --- expiry ----------------------------------------------------------------------------------
TEST_F(TrainingFixture, CertificatesExpireByTheInjectedClockAndEmitOneEvent) {
  v1::Course c = CreateCourse("cyber", 12);
  v1::CourseVersion v = CreateVersion(c.name(), "v1");
  v1::Officer o = CreateOfficer("o1", cv1::OFFICER_ROLE_NEIGHBOURHOOD_OFFICER, "south");
  v1::Enrolment e = Complete(MustEnrol(o.name(), v.name()).name(), Days(10));
  ASSERT_EQ(e.state(), v1::ENROLMENT_STATE_COMPLETED);
  const absl::Time until = *ValidUntil(Days(10), 12);

  harness_.clock().Set(until - absl::Seconds(1));
  EXPECT_EQ(Get(e.name()).state(), v1::ENROLMENT_STATE_COMPLETED);
  EXPECT_THAT(EventsOf(OutreachEvent::kCertificateExpired), IsEmpty());

  harness_.clock().Set(until);
  // Read: EXPIRED as of the clock, certificate kept.
  v1::Enrolment read = Get(e.name());
  EXPECT_EQ(read.state(), v1::ENROLMENT_STATE_EXPIRED);
  EXPECT_TRUE(read.has_certificate());
  v1::ListEnrolmentsRequest list;
  list.set_parent(kParent);
  list.set_filter("state = ENROLMENT_STATE_EXPIRED");
  v1::ListEnrolmentsResponse listed;
  ASSERT_TRUE(stub_->ListEnrolments(Ctx().get(), list, &listed).ok());
  ASSERT_EQ(listed.enrolments_size(), 1);
  EXPECT_EQ(listed.enrolments(0).state(), v1::ENROLMENT_STATE_EXPIRED);

  // Any write of the force materialises the expiry once, with its event.
  CreateOfficer("o2");
  CreateOfficer("o3");
  auto expired = EventsOf(OutreachEvent::kCertificateExpired);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].subject(), e.name());
  EXPECT_EQ(expired[0].occurred_time().seconds(), absl::ToUnixSeconds(until));
  const auto& p = expired[0].certificate_expired();
  EXPECT_EQ(p.officer(), o.name());
  EXPECT_EQ(p.role(), cv1::OFFICER_ROLE_NEIGHBOURHOOD_OFFICER);
  EXPECT_EQ(p.division(), "south");
  EXPECT_EQ(p.course(), c.name());
  EXPECT_EQ(p.course_version(), v.name());
  EXPECT_EQ(p.valid_until().seconds(), absl::ToUnixSeconds(until));

  // An expired enrolment takes no different result; the officer recertifies with a new one.
  v1::Enrolment out;
  grpc::Status s = Record(e.name(), "b", 90, TestStart(), &out);
  EXPECT_EQ(ReasonOf(s), "ENROLMENT_NOT_OPEN");
  EXPECT_TRUE(Enrol(o.name(), v.name(), &out).ok());
}

TEST_F(TrainingFixture, ReadsSweepExpiryPeriodicallyWithoutWrites) {
  v1::CourseVersion v = CreateVersion(CreateCourse("cyber", 1).name(), "v1");
  v1::Enrolment e = Complete(MustEnrol(CreateOfficer("o1").name(), v.name()).name(), Days(1));
  harness_.clock().Advance(absl::Hours(24 * 40));
  // Only reads from here on: the periodic sweep (clock-driven) still emits the event.
  Get(e.name());
  Get(e.name());
  EXPECT_EQ(EventsOf(OutreachEvent::kCertificateExpired).size(), 1u);
}

// --- lists -----------------------------------------------------------------------------------
TEST_F(TrainingFixture, ListOfficersPaginatesFiltersAndOrders) {
  for (int i = 0; i < 23; ++i) {
    CreateOfficer(absl::StrFormat("o%02d", i),
                  i % 2 ? cv1::OFFICER_ROLE_CALL_HANDLER : cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR,
                  i % 3 ? "north" : "south", i != 4);
  }
  v1::ListOfficersRequest req;
  req.set_parent(kParent);
  req.set_page_size(10);
  std::set<std::string> seen;
  int pages = 0;
  std::string first_token;
  do {
    v1::ListOfficersResponse page;
    ASSERT_TRUE(stub_->ListOfficers(Ctx().get(), req, &page).ok());
    EXPECT_EQ(page.total_size(), 23);
    for (const auto& o : page.officers()) EXPECT_TRUE(seen.insert(o.name()).second);
    req.set_page_token(page.next_page_token());
    if (pages == 0) first_token = page.next_page_token();
    ++pages;
  } while (!req.page_token().empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 23u);

  // Default page size is 50; negative is refused.
  req.set_page_size(0);
  v1::ListOfficersResponse all;
  ASSERT_TRUE(stub_->ListOfficers(Ctx().get(), req, &all).ok());
  EXPECT_EQ(all.officers_size(), 23);
  EXPECT_TRUE(all.next_page_token().empty());
  req.set_page_size(-1);
  grpc::Status s = stub_->ListOfficers(Ctx().get(), req, &all);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("page_size"));

  // Tokens are bound to the query.
  req.set_page_size(10);
  req.set_page_token("garbage");
  s = stub_->ListOfficers(Ctx().get(), req, &all);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(s), "INVALID_PAGE_TOKEN");
  req.set_page_token(first_token);
  req.set_filter("active = true");
  s = stub_->ListOfficers(Ctx().get(), req, &all);
  EXPECT_EQ(ReasonOf(s), "INVALID_PAGE_TOKEN");

  req.clear_page_token();
  req.set_filter("role = OFFICER_ROLE_CALL_HANDLER AND division = \"north\" AND active = true");
  req.set_order_by("staff_number desc");
  v1::ListOfficersResponse filtered;
  ASSERT_TRUE(stub_->ListOfficers(Ctx().get(), req, &filtered).ok());
  std::vector<std::string> names;
  for (const auto& o : filtered.officers()) names.push_back(o.name());
  // Odd i (call handlers) with i % 3 != 0: 1, 5, 7, 11, 13, 17, 19; descending.
  EXPECT_THAT(names, ElementsAre("forces/derbyshire/officers/o19", "forces/derbyshire/officers/o17",
                                 "forces/derbyshire/officers/o13", "forces/derbyshire/officers/o11",
                                 "forces/derbyshire/officers/o07", "forces/derbyshire/officers/o05",
                                 "forces/derbyshire/officers/o01"));
  req.set_filter("name = \"x\"");
  s = stub_->ListOfficers(Ctx().get(), req, &filtered);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("filter"));
  req.clear_filter();
  req.set_order_by("active");
  s = stub_->ListOfficers(Ctx().get(), req, &filtered);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("order_by"));
}

TEST_F(TrainingFixture, ListCoursesAndEnrolmentsFilter) {
  v1::Course a = CreateCourse("alpha", 12, "derbyshire", {cv1::OFFICER_ROLE_CALL_HANDLER});
  v1::Course b = CreateCourse("beta");
  v1::ListCoursesRequest lc;
  lc.set_parent(kParent);
  lc.set_filter("target_roles = \"OFFICER_ROLE_CALL_HANDLER\"");
  v1::ListCoursesResponse courses;
  ASSERT_TRUE(stub_->ListCourses(Ctx().get(), lc, &courses).ok());
  ASSERT_EQ(courses.courses_size(), 1);
  EXPECT_EQ(courses.courses(0).name(), a.name());
  lc.set_filter("origin = COURSE_ORIGIN_COLLEGE_OF_POLICING");
  lc.set_order_by("display_name desc");
  ASSERT_TRUE(stub_->ListCourses(Ctx().get(), lc, &courses).ok());
  ASSERT_EQ(courses.courses_size(), 2);
  EXPECT_EQ(courses.courses(0).name(), b.name());

  v1::CourseVersion va = CreateVersion(a.name(), "v1");
  v1::CourseVersion vb = CreateVersion(b.name(), "v1");
  v1::Officer o1 = CreateOfficer("o1");
  v1::Officer o2 = CreateOfficer("o2", cv1::OFFICER_ROLE_CALL_HANDLER, "south");
  MustEnrol(o1.name(), va.name());
  Complete(MustEnrol(o2.name(), va.name()).name(), Days(1));
  MustEnrol(o2.name(), vb.name());
  v1::ListEnrolmentsRequest le;
  le.set_parent(kParent);
  le.set_filter(absl::StrCat("course = \"", a.name(), "\" AND state = ENROLMENT_STATE_COMPLETED"));
  v1::ListEnrolmentsResponse enrolments;
  ASSERT_TRUE(stub_->ListEnrolments(Ctx().get(), le, &enrolments).ok());
  ASSERT_EQ(enrolments.enrolments_size(), 1);
  EXPECT_EQ(enrolments.enrolments(0).officer(), o2.name());
  le.set_filter("officer_division = \"south\" AND officer_role = OFFICER_ROLE_CALL_HANDLER");
  le.set_order_by("create_time desc");
  ASSERT_TRUE(stub_->ListEnrolments(Ctx().get(), le, &enrolments).ok());
  EXPECT_EQ(enrolments.total_size(), 2);
  le.set_filter("certificate.valid_until > \"2027-01-01T00:00:00Z\"");
  ASSERT_TRUE(stub_->ListEnrolments(Ctx().get(), le, &enrolments).ok());
  EXPECT_EQ(enrolments.total_size(), 1);
  le.set_filter("withdraw_reason = \"x\"");
  grpc::Status s = stub_->ListEnrolments(Ctx().get(), le, &enrolments);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("filter"));
}

// --- bad input -------------------------------------------------------------------------------
TEST_F(TrainingFixture, BadInputsNameTheField) {
  v1::Course course = CreateCourse("cyber");
  v1::CourseVersion version = CreateVersion(course.name(), "v1");
  v1::Officer officer = CreateOfficer("o1");
  v1::Enrolment enrolment = MustEnrol(officer.name(), version.name());
  struct Case {
    std::string label;
    std::function<grpc::Status()> call;
    std::string field;
  };
  auto create_course = [&](std::function<void(v1::CreateCourseRequest&)> edit) {
    return [&, edit] {
      v1::CreateCourseRequest r;
      r.set_parent(kParent);
      r.mutable_course()->set_display_name("Title");
      r.mutable_course()->set_origin(v1::COURSE_ORIGIN_FORCE);
      edit(r);
      v1::Course out;
      return stub_->CreateCourse(Ctx().get(), r, &out);
    };
  };
  auto create_officer = [&](std::function<void(v1::CreateOfficerRequest&)> edit) {
    return [&, edit] {
      v1::CreateOfficerRequest r;
      r.set_parent(kParent);
      r.mutable_officer()->set_staff_number("X1");
      r.mutable_officer()->set_role(cv1::OFFICER_ROLE_STAFF);
      r.mutable_officer()->set_division("north");
      edit(r);
      v1::Officer out;
      return stub_->CreateOfficer(Ctx().get(), r, &out);
    };
  };
  auto create_version = [&](std::function<void(v1::CreateCourseVersionRequest&)> edit) {
    return [&, edit] {
      v1::CreateCourseVersionRequest r;
      r.set_parent(course.name());
      r.mutable_course_version()->set_display_name("V");
      *r.mutable_course_version()->add_modules() = Module("m", true);
      edit(r);
      v1::CourseVersion out;
      return stub_->CreateCourseVersion(Ctx().get(), r, &out);
    };
  };
  auto enrol = [&](std::function<void(v1::EnrolOfficerRequest&)> edit) {
    return [&, edit] {
      v1::EnrolOfficerRequest r;
      r.set_parent(kParent);
      r.mutable_enrolment()->set_officer(officer.name());
      r.mutable_enrolment()->set_course_version(version.name());
      edit(r);
      v1::Enrolment out;
      return stub_->EnrolOfficer(Ctx().get(), r, &out);
    };
  };
  auto report = [&](std::function<void(v1::GetComplianceReportRequest&)> edit) {
    return [&, edit] {
      v1::GetComplianceReportRequest r;
      r.set_name("forces/derbyshire/complianceReport");
      edit(r);
      v1::ComplianceReport out;
      return stub_->GetComplianceReport(Ctx().get(), r, &out);
    };
  };
  const std::vector<Case> cases = {
      {"course parent", create_course([](auto& r) { r.set_parent("force/x"); }), "parent"},
      {"course id", create_course([](auto& r) { r.set_course_id("Bad_Id"); }), "course_id"},
      {"course title", create_course([](auto& r) { r.mutable_course()->clear_display_name(); }),
       "course.display_name"},
      {"course title long",
       create_course([](auto& r) { r.mutable_course()->set_display_name(std::string(201, 'x')); }),
       "course.display_name"},
      {"course origin", create_course([](auto& r) { r.mutable_course()->clear_origin(); }),
       "course.origin"},
      {"course validity",
       create_course([](auto& r) { r.mutable_course()->set_validity_months(121); }),
       "course.validity_months"},
      {"course role", create_course([](auto& r) {
         r.mutable_course()->add_target_roles(cv1::OFFICER_ROLE_UNSPECIFIED);
       }),
       "course.target_roles[0]"},
      {"course request id", create_course([](auto& r) { r.set_request_id("has space"); }),
       "request_id"},
      {"officer staff number",
       create_officer([](auto& r) { r.mutable_officer()->set_staff_number("a b"); }),
       "officer.staff_number"},
      {"officer role", create_officer([](auto& r) { r.mutable_officer()->clear_role(); }),
       "officer.role"},
      {"officer division", create_officer([](auto& r) { r.mutable_officer()->clear_division(); }),
       "officer.division"},
      {"version pass mark", create_version([](auto& r) {
         r.mutable_course_version()->mutable_modules(0)->set_pass_mark(101);
       }),
       "course_version.modules[0].pass_mark"},
      {"version duplicate module", create_version([](auto& r) {
         *r.mutable_course_version()->add_modules() = r.course_version().modules(0);
       }),
       "course_version.modules[1].module_id"},
      {"version too many modules", create_version([](auto& r) {
         for (int i = 0; i < 50; ++i) {
           *r.mutable_course_version()->add_modules() = Module(absl::StrCat("m", i), false);
         }
       }),
       "course_version.modules"},
      {"version parent", create_version([](auto& r) { r.set_parent("forces/derbyshire"); }),
       "parent"},
      {"enrol officer", enrol([](auto& r) { r.mutable_enrolment()->set_officer("officers/x"); }),
       "enrolment.officer"},
      {"enrol version", enrol([](auto& r) {
         r.mutable_enrolment()->set_course_version("forces/derbyshire/courses/c");
       }),
       "enrolment.course_version"},
      {"enrol due date",
       enrol([](auto& r) { r.mutable_enrolment()->mutable_due_date()->set_year(2024); }),
       "enrolment.due_date"},
      {"enrol id", enrol([](auto& r) { r.set_enrolment_id("-x"); }), "enrolment_id"},
      {"get enrolment",
       [&] {
         v1::GetEnrolmentRequest r;
         r.set_name("forces/derbyshire/enrolment/x");
         v1::Enrolment out;
         return stub_->GetEnrolment(Ctx().get(), r, &out);
       },
       "name"},
      {"record module id",
       [&] {
         v1::RecordModuleResultRequest r;
         r.set_name(enrolment.name());
         *r.mutable_completed_time() = ToProtoTime(Days(1));
         v1::Enrolment out;
         return stub_->RecordModuleResult(Ctx().get(), r, &out);
       },
       "module_id"},
      {"record completed time",
       [&] {
         v1::RecordModuleResultRequest r;
         r.set_name(enrolment.name());
         r.set_module_id("a");
         v1::Enrolment out;
         return stub_->RecordModuleResult(Ctx().get(), r, &out);
       },
       "completed_time"},
      {"withdraw etag",
       [&] {
         v1::WithdrawEnrolmentRequest r;
         r.set_name(enrolment.name());
         r.set_reason("x");
         v1::Enrolment out;
         return stub_->WithdrawEnrolment(Ctx().get(), r, &out);
       },
       "etag"},
      {"delete course etag",
       [&] {
         v1::DeleteCourseRequest r;
         r.set_name(course.name());
         google::protobuf::Empty out;
         return stub_->DeleteCourse(Ctx().get(), r, &out);
       },
       "etag"},
      {"update officer mask",
       [&] {
         v1::UpdateOfficerRequest r;
         *r.mutable_officer() = officer;
         v1::Officer out;
         return stub_->UpdateOfficer(Ctx().get(), r, &out);
       },
       "update_mask"},
      {"update officer role",
       [&] {
         v1::UpdateOfficerRequest r;
         *r.mutable_officer() = officer;
         r.mutable_officer()->set_role(static_cast<cv1::OfficerRole>(99));
         r.mutable_update_mask()->add_paths("role");
         v1::Officer out;
         return stub_->UpdateOfficer(Ctx().get(), r, &out);
       },
       "officer.role"},
      {"report name", report([](auto& r) { r.set_name("forces/derbyshire/report"); }), "name"},
      {"report target", report([](auto& r) { r.set_target_percent(101); }), "target_percent"},
      {"report target officers", report([](auto& r) { r.set_target_officers(-1); }),
       "target_officers"},
      {"report date", report([](auto& r) { r.mutable_as_of_date()->set_year(1999); }),
       "as_of_date"},
      {"report course", report([](auto& r) { r.set_course("courses/x"); }), "course"},
      {"report division", report([](auto& r) { r.set_division("a b"); }), "division"},
      {"import parent",
       [&] {
         v1::ImportCompletionsRequest r;
         r.set_parent("forces/");
         r.add_records();
         v1::ImportCompletionsResponse out;
         return stub_->ImportCompletions(Ctx().get(), r, &out);
       },
       "parent"},
  };
  for (const auto& c : cases) {
    grpc::Status s = c.call();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.label;
    EXPECT_THAT(ViolatedFields(s), Contains(c.field)) << c.label << ": " << s.error_message();
  }
}

// --- tenancy ---------------------------------------------------------------------------------
TEST_F(TrainingFixture, ForcesNeverSeeEachOthersData) {
  v1::Course c = CreateCourse("cyber", 12, "derbyshire");
  v1::CourseVersion v = CreateVersion(c.name(), "v1");
  v1::Officer o = CreateOfficer("o1");
  v1::Enrolment e = MustEnrol(o.name(), v.name());
  CreateCourse("cyber", 12, "nottinghamshire");
  CreateOfficer("o1", cv1::OFFICER_ROLE_CALL_HANDLER, "city", true, "nottinghamshire");

  // Same ids in another force are other resources.
  v1::GetOfficerRequest get;
  get.set_name("forces/nottinghamshire/officers/o1");
  v1::Officer other;
  ASSERT_TRUE(stub_->GetOfficer(Ctx().get(), get, &other).ok());
  EXPECT_EQ(other.role(), cv1::OFFICER_ROLE_CALL_HANDLER);
  v1::GetEnrolmentRequest ge;
  ge.set_name("forces/nottinghamshire/enrolments/" + e.name().substr(e.name().rfind('/') + 1));
  v1::Enrolment none;
  EXPECT_EQ(stub_->GetEnrolment(Ctx().get(), ge, &none).error_code(), grpc::StatusCode::NOT_FOUND);

  // Naming another force's officer or version is refused.
  grpc::Status s = Enrol(o.name(), "forces/nottinghamshire/courses/cyber/versions/v1", &none, "",
                         "nottinghamshire");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(s), "CROSS_FORCE_ACCESS");
  v1::GetComplianceReportRequest rep;
  rep.set_name("forces/nottinghamshire/complianceReport");
  rep.set_course(c.name());
  v1::ComplianceReport report;
  s = stub_->GetComplianceReport(Ctx().get(), rep, &report);
  EXPECT_EQ(ReasonOf(s), "CROSS_FORCE_ACCESS");

  // Lists and reports only count the force's own data.
  v1::ListEnrolmentsRequest le;
  le.set_parent("forces/nottinghamshire");
  v1::ListEnrolmentsResponse enrolments;
  ASSERT_TRUE(stub_->ListEnrolments(Ctx().get(), le, &enrolments).ok());
  EXPECT_EQ(enrolments.total_size(), 0);
  v1::ListOfficersRequest lo;
  lo.set_parent("forces/nottinghamshire");
  v1::ListOfficersResponse officers;
  ASSERT_TRUE(stub_->ListOfficers(Ctx().get(), lo, &officers).ok());
  EXPECT_EQ(officers.total_size(), 1);
  rep.clear_course();
  ASSERT_TRUE(stub_->GetComplianceReport(Ctx().get(), rep, &report).ok());
  EXPECT_EQ(report.totals().officers_in_scope(), 1);
  EXPECT_EQ(report.totals().in_progress(), 0);

  // Imports naming another force's officer are rejected per record.
  v1::ImportCompletionsRequest imp;
  imp.set_parent("forces/nottinghamshire");
  auto* r = imp.add_records();
  r->set_officer(o.name());
  r->set_course_version("forces/nottinghamshire/courses/cyber/versions/v1");
  *r->mutable_completed_time() = ToProtoTime(Days(1));
  v1::ImportCompletionsResponse result;
  ASSERT_TRUE(stub_->ImportCompletions(Ctx().get(), imp, &result).ok());
  EXPECT_EQ(result.rejected(), 1);
  EXPECT_EQ(result.errors(0).reason(), "CROSS_FORCE_ACCESS");

  // Events carry their own force.
  for (const auto& ev : OutboxEvents()) {
    EXPECT_TRUE(absl::StartsWith(ev.subject(), absl::StrCat("forces/", ev.force(), "/")))
        << ev.subject();
  }
}

// --- compliance -------------------------------------------------------------------------------
TEST_F(TrainingFixture, ComplianceReportCountsByRoleDivisionAndTarget) {
  v1::Course c =
      CreateCourse("cyber", 12, "derbyshire", {cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR});
  v1::CourseVersion v = CreateVersion(c.name(), "v1");
  // 3 current, 1 overdue, 1 in progress, 1 expired, 2 never trained (FI); SNT out of scope.
  std::vector<v1::Officer> fi;
  for (int i = 0; i < 8; ++i) {
    fi.push_back(CreateOfficer(absl::StrCat("fi", i), cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR,
                               i < 4 ? "north" : "south"));
  }
  CreateOfficer("snt", cv1::OFFICER_ROLE_NEIGHBOURHOOD_OFFICER);
  for (int i = 0; i < 3; ++i) Complete(MustEnrol(fi[i].name(), v.name()).name(), Days(20 + i));
  {
    v1::EnrolOfficerRequest req;
    req.set_parent(kParent);
    req.mutable_enrolment()->set_officer(fi[3].name());
    req.mutable_enrolment()->set_course_version(v.name());
    *req.mutable_enrolment()->mutable_due_date() = ToProtoDate(absl::CivilDay(2026, 11, 1));
    v1::Enrolment e;
    ASSERT_TRUE(stub_->EnrolOfficer(Ctx().get(), req, &e).ok());
  }
  MustEnrol(fi[4].name(), v.name());
  {
    // Completed 13 months ago with a 12-month validity: expired.
    v1::ImportCompletionsRequest imp;
    imp.set_parent(kParent);
    auto* r = imp.add_records();
    r->set_officer(fi[5].name());
    r->set_course_version(v.name());
    *r->mutable_completed_time() = ToProtoTime(Days(400));
    v1::ImportCompletionsResponse out;
    ASSERT_TRUE(stub_->ImportCompletions(Ctx().get(), imp, &out).ok());
    ASSERT_EQ(out.applied(), 1);
  }
  v1::GetComplianceReportRequest req;
  req.set_name("forces/derbyshire/complianceReport");
  req.set_course(c.name());
  req.set_target_percent(50);
  v1::ComplianceReport report;
  ASSERT_TRUE(stub_->GetComplianceReport(Ctx().get(), req, &report).ok());
  EXPECT_THAT(report.roles_in_scope(), ElementsAre(cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR));
  const auto& t = report.totals();
  EXPECT_EQ(t.officers_in_scope(), 8);
  EXPECT_EQ(t.current(), 3);
  EXPECT_EQ(t.overdue(), 1);
  EXPECT_EQ(t.in_progress(), 1);
  EXPECT_EQ(t.expired(), 1);
  EXPECT_EQ(t.never_trained(), 2);
  EXPECT_EQ(report.target_officers_required(), 4);
  EXPECT_FALSE(report.target_met());
  EXPECT_EQ(report.shortfall(), 1);
  EXPECT_EQ(report.as_of_date().day(), 28);
  ASSERT_EQ(report.breakdown_size(), 2);
  EXPECT_EQ(report.breakdown(0).division(), "north");
  EXPECT_EQ(report.breakdown(0).counts().current(), 3);
  ASSERT_EQ(report.expiring_size(), 3);
  EXPECT_EQ(report.expiring(2).officers(), 0);  // all valid for ~11 more months

  // Completions per year: 2025 (the expired one) and 2026 (three).
  ASSERT_EQ(report.completions_by_year_size(), 2);
  EXPECT_EQ(report.completions_by_year(0).year(), 2025);
  EXPECT_EQ(report.completions_by_year(0).officers(), 1);
  EXPECT_EQ(report.completions_by_year(1).year(), 2026);
  EXPECT_EQ(report.completions_by_year(1).officers(), 3);

  // Division filter and an explicit role.
  req.set_division("south");
  req.set_target_officers(1);
  ASSERT_TRUE(stub_->GetComplianceReport(Ctx().get(), req, &report).ok());
  EXPECT_EQ(report.totals().officers_in_scope(), 4);
  EXPECT_EQ(report.totals().current(), 0);
  EXPECT_EQ(report.shortfall(), 1);
  req.clear_division();
  req.set_role(cv1::OFFICER_ROLE_NEIGHBOURHOOD_OFFICER);
  ASSERT_TRUE(stub_->GetComplianceReport(Ctx().get(), req, &report).ok());
  EXPECT_EQ(report.totals().officers_in_scope(), 1);
  EXPECT_EQ(report.totals().never_trained(), 1);

  // A year ago nobody was current on this course yet; the expired one was.
  req.clear_role();
  *req.mutable_as_of_date() = ToProtoDate(absl::CivilDay(2025, 12, 1));
  ASSERT_TRUE(stub_->GetComplianceReport(Ctx().get(), req, &report).ok());
  EXPECT_EQ(report.totals().current(), 1);

  req.set_course("forces/derbyshire/courses/missing");
  grpc::Status s = stub_->GetComplianceReport(Ctx().get(), req, &report);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

// --- persistence -------------------------------------------------------------------------------
TEST_F(TrainingFixture, EverythingSurvivesARestart) {
  v1::CourseVersion v = CreateVersion(CreateCourse("cyber").name(), "v1");
  v1::Enrolment e = Complete(MustEnrol(CreateOfficer("o1").name(), v.name()).name(), Days(1));
  const size_t events = OutboxEvents().size();
  harness_.Restart();
  Reconnect();
  v1::Enrolment after = Get(e.name());
  EXPECT_EQ(after.etag(), e.etag());
  EXPECT_EQ(after.state(), v1::ENROLMENT_STATE_COMPLETED);
  EXPECT_EQ(OutboxEvents().size(), events);
}

}  // namespace
}  // namespace outreach::training
