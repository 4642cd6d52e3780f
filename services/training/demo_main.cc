// training_demo --target=127.0.0.1:50052 --force=derbyshire --tls-ca-file=data/pki/ca.pem
//     --token-file=data/pki/demo.token
//
// Loads the training demo data through the public gRPC API. Idempotent: resources have fixed
// ids and are read before they are created (creates also carry a request_id), imports are
// idempotent by content and module results are re-sent identically, so a second run changes
// nothing. Every call has a deadline; one progress line per step; exit 1 on any error.
//
// The data, by construction (see the seed article): one cybercrime course with
//   v1 "specialised cybercrime package" (last calendar year, now RETIRED), and
//   v2 the College of Policing package with force-designed modules, published "last month";
// 150 frontline investigators, 12 digital media investigators, 30 neighbourhood officers and 6
// call handlers across three divisions, with pseudonymous staff numbers and no names;
// exactly 128 frontline investigators (and 10 digital media investigators) completed v1 last
// year (imported from the learning platform); 62 officers are enrolled on v2, some in progress
// and 4 overdue.
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/client.h"
#include "common/config.h"
#include "outreach/training/v1/training.grpc.pb.h"

namespace {

namespace v1 = outreach::training::v1;
using outreach::common::v1::OfficerRole;

constexpr int kFrontline = 150;
constexpr int kFrontlineTrainedV1 = 128;
constexpr int kDmi = 12;
constexpr int kDmiTrainedV1 = 10;
constexpr int kNeighbourhood = 30;
constexpr int kCallHandlers = 6;
const char* const kDivisions[] = {"north", "south", "derby-city"};

struct Demo {
  std::unique_ptr<v1::TrainingService::Stub> stub;
  std::string force;
  std::string parent;

  std::unique_ptr<grpc::ClientContext> Ctx() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return ctx;
  }
};

bool Fail(absl::string_view step, const grpc::Status& s) {
  std::fprintf(stderr, "training_demo: step=%s failed code=%d message=%s\n",
               std::string(step).c_str(), static_cast<int>(s.error_code()),
               s.error_message().c_str());
  return false;
}

void Progress(absl::string_view step, absl::string_view detail) {
  std::printf("training_demo: step=%s %s\n", std::string(step).c_str(),
              std::string(detail).c_str());
  std::fflush(stdout);
}

v1::Module MakeModule(const std::string& id, const std::string& title, bool mandatory,
                      int pass_mark, int minutes, v1::CourseOrigin origin) {
  v1::Module m;
  m.set_module_id(id);
  m.set_title(title);
  m.set_mandatory(mandatory);
  m.set_pass_mark(pass_mark);
  m.set_expected_duration_minutes(minutes);
  m.set_origin(origin);
  return m;
}

struct OfficerSpec {
  std::string id;
  std::string staff_number;
  OfficerRole role;
  std::string division;
};

std::vector<OfficerSpec> Officers() {
  std::vector<OfficerSpec> out;
  auto add = [&](const char* prefix, const char* staff_prefix, int n, OfficerRole role) {
    for (int i = 1; i <= n; ++i) {
      out.push_back({absl::StrFormat("%s-%03d", prefix, i),
                     absl::StrFormat("%s%05d", staff_prefix, i), role, kDivisions[i % 3]});
    }
  };
  add("fi", "PSN-1", kFrontline, outreach::common::v1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  add("dmi", "PSN-2", kDmi, outreach::common::v1::OFFICER_ROLE_DIGITAL_MEDIA_INVESTIGATOR);
  add("snt", "PSN-3", kNeighbourhood, outreach::common::v1::OFFICER_ROLE_NEIGHBOURHOOD_OFFICER);
  add("ch", "PSN-4", kCallHandlers, outreach::common::v1::OFFICER_ROLE_CALL_HANDLER);
  return out;
}

bool EnsureCourse(Demo& d) {
  const std::string name = d.parent + "/courses/cybercrime";
  {
    v1::GetCourseRequest get;
    get.set_name(name);
    v1::Course got;
    if (d.stub->GetCourse(d.Ctx().get(), get, &got).ok()) {
      Progress("course", "existing=1");
      return true;
    }
  }
  v1::CreateCourseRequest req;
  req.set_parent(d.parent);
  req.set_course_id("cybercrime");
  req.set_request_id("training-demo-course-cybercrime");
  v1::Course* c = req.mutable_course();
  c->set_display_name("Cybercrime investigation package");
  c->set_description(
      "Specialised cybercrime training for investigators: sexting and youth-produced imagery, "
      "child sexual exploitation online, Snapchat, KIK and Instagram evidence.");
  c->set_origin(v1::COURSE_ORIGIN_COLLEGE_OF_POLICING);
  c->set_validity_months(36);
  c->add_target_roles(outreach::common::v1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  c->add_target_roles(outreach::common::v1::OFFICER_ROLE_DIGITAL_MEDIA_INVESTIGATOR);
  c->set_external_code("COP-CYBER");
  v1::Course out;
  grpc::Status s = d.stub->CreateCourse(d.Ctx().get(), req, &out);
  if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) return Fail("course", s);
  Progress("course", "created=1");
  return true;
}

// Creates the version if missing, then moves it to `target` (PUBLISHED or RETIRED).
bool EnsureVersion(Demo& d, const std::string& id, const std::string& title,
                   const std::string& description, const std::vector<v1::Module>& modules,
                   v1::CourseVersionState target, const std::function<bool()>& before_retire) {
  const std::string name = d.parent + "/courses/cybercrime/versions/" + id;
  const std::string step = "version-" + id;
  v1::CourseVersion v;
  v1::GetCourseVersionRequest get;
  get.set_name(name);
  grpc::Status s = d.stub->GetCourseVersion(d.Ctx().get(), get, &v);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
    v1::CreateCourseVersionRequest req;
    req.set_parent(d.parent + "/courses/cybercrime");
    req.set_course_version_id(id);
    req.set_request_id("training-demo-version-" + id);
    req.mutable_course_version()->set_display_name(title);
    req.mutable_course_version()->set_description(description);
    for (const auto& m : modules) *req.mutable_course_version()->add_modules() = m;
    s = d.stub->CreateCourseVersion(d.Ctx().get(), req, &v);
  }
  if (!s.ok()) return Fail(step, s);
  if (v.state() == v1::COURSE_VERSION_STATE_DRAFT) {
    v1::PublishCourseVersionRequest pub;
    pub.set_name(name);
    pub.set_etag(v.etag());
    if (s = d.stub->PublishCourseVersion(d.Ctx().get(), pub, &v); !s.ok()) return Fail(step, s);
  }
  if (before_retire && !before_retire()) return false;
  if (target == v1::COURSE_VERSION_STATE_RETIRED &&
      v.state() == v1::COURSE_VERSION_STATE_PUBLISHED) {
    v1::RetireCourseVersionRequest ret;
    ret.set_name(name);
    ret.set_etag(v.etag());
    if (s = d.stub->RetireCourseVersion(d.Ctx().get(), ret, &v); !s.ok()) return Fail(step, s);
  }
  Progress(step, absl::StrCat("state=", v1::CourseVersionState_Name(v.state())));
  return true;
}

bool EnsureOfficers(Demo& d, const std::vector<OfficerSpec>& officers) {
  int created = 0, existing = 0;
  for (const auto& o : officers) {
    v1::GetOfficerRequest get;
    get.set_name(d.parent + "/officers/" + o.id);
    v1::Officer got;
    if (d.stub->GetOfficer(d.Ctx().get(), get, &got).ok()) {
      ++existing;
      continue;
    }
    v1::CreateOfficerRequest req;
    req.set_parent(d.parent);
    req.set_officer_id(o.id);
    req.set_request_id("training-demo-officer-" + o.id);
    req.mutable_officer()->set_staff_number(o.staff_number);
    req.mutable_officer()->set_role(o.role);
    req.mutable_officer()->set_division(o.division);
    req.mutable_officer()->set_active(true);
    grpc::Status s = d.stub->CreateOfficer(d.Ctx().get(), req, &got);
    if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) return Fail("officers", s);
    ++created;
  }
  Progress("officers", absl::StrCat("created=", created, " existing=", existing));
  return true;
}

// Last year's completions of v1, as the national learning platform exports them: one
// whole-version record per officer, spread over the year.
bool ImportLastYear(Demo& d, int last_year) {
  v1::ImportCompletionsRequest req;
  req.set_parent(d.parent);
  auto add = [&](const std::string& officer, int i) {
    v1::CompletionRecord* r = req.add_records();
    r->set_officer(d.parent + "/officers/" + officer);
    r->set_course_version(d.parent + "/courses/cybercrime/versions/v1");
    const absl::CivilSecond local(last_year, 2 + i % 10, 1 + i % 27, 10, 0, 0);
    *r->mutable_completed_time() =
        outreach::ToProtoTime(absl::FromCivil(local, outreach::ForceTimeZone()));
    r->set_external_record_id(absl::StrCat("ncalt-", last_year, "-", officer));
  };
  for (int i = 1; i <= kFrontlineTrainedV1; ++i) add(absl::StrFormat("fi-%03d", i), i);
  for (int i = 1; i <= kDmiTrainedV1; ++i) add(absl::StrFormat("dmi-%03d", i), i);
  v1::ImportCompletionsResponse out;
  grpc::Status s = d.stub->ImportCompletions(d.Ctx().get(), req, &out);
  if (!s.ok()) return Fail("import-v1", s);
  if (out.rejected() != 0) {
    std::fprintf(stderr, "training_demo: step=import-v1 rejected=%d first_reason=%s\n",
                 out.rejected(), out.errors(0).reason().c_str());
    return false;
  }
  Progress("import-v1", absl::StrCat("applied=", out.applied(), " skipped=", out.skipped(),
                                     " year=", last_year));
  return true;
}

// Enrolments on v2: the 22 frontline investigators not trained on v1, the first 20 who were
// (moving to the new package), every digital media investigator and 8 neighbourhood officers.
bool EnrolOnV2(Demo& d, absl::CivilDay today) {
  const absl::CivilMonth this_month(today);
  const absl::CivilMonth last_month = this_month - 1;
  std::vector<std::string> ids;
  for (int i = kFrontlineTrainedV1 + 1; i <= kFrontline; ++i) {
    ids.push_back(absl::StrFormat("fi-%03d", i));
  }
  for (int i = 1; i <= 20; ++i) ids.push_back(absl::StrFormat("fi-%03d", i));
  for (int i = 1; i <= kDmi; ++i) ids.push_back(absl::StrFormat("dmi-%03d", i));
  for (int i = 1; i <= 8; ++i) ids.push_back(absl::StrFormat("snt-%03d", i));
  int created = 0, existing = 0, results = 0;
  const std::vector<std::string> v2_modules = {"online-cse-and-grooming", "sexting-law",
                                               "apps-snapchat-kik-instagram"};
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string name = d.parent + "/enrolments/v2-" + ids[i];
    v1::Enrolment e;
    v1::GetEnrolmentRequest get;
    get.set_name(name);
    if (d.stub->GetEnrolment(d.Ctx().get(), get, &e).ok()) {
      ++existing;
    } else {
      v1::EnrolOfficerRequest req;
      req.set_parent(d.parent);
      req.set_enrolment_id("v2-" + ids[i]);
      req.set_request_id(
          absl::StrCat("training-demo-enrol-v2-", ids[i], "-", absl::FormatCivilTime(this_month)));
      req.mutable_enrolment()->set_officer(d.parent + "/officers/" + ids[i]);
      req.mutable_enrolment()->set_course_version(d.parent + "/courses/cybercrime/versions/v2");
      // Four enrolments were due mid last month (overdue); the rest are due in three months.
      const absl::CivilDay due =
          i < 4 ? absl::CivilDay(last_month) + 14 : absl::CivilDay(this_month + 4) - 1;
      *req.mutable_enrolment()->mutable_due_date() = outreach::ToProtoDate(due);
      grpc::Status s = d.stub->EnrolOfficer(d.Ctx().get(), req, &e);
      if (!s.ok()) return Fail("enrol-v2", s);
      ++created;
    }
    // Every other officer has started: 1-3 modules passed, on fixed days of last month.
    if (i % 2 == 1 && e.state() != v1::ENROLMENT_STATE_WITHDRAWN) {
      const size_t done = 1 + i % 3;
      for (size_t m = 0; m < done && m < v2_modules.size(); ++m) {
        v1::RecordModuleResultRequest rec;
        rec.set_name(name);
        rec.set_module_id(v2_modules[m]);
        rec.set_score(75 + static_cast<int>((i + m) % 20));
        const absl::CivilDay day = absl::CivilDay(last_month) + 15 + static_cast<int>(m);
        const absl::CivilSecond when(day.year(), day.month(), day.day(),
                                     9 + static_cast<int>(i % 8), 0, 0);
        *rec.mutable_completed_time() =
            outreach::ToProtoTime(absl::FromCivil(when, outreach::ForceTimeZone()));
        v1::Enrolment after;
        grpc::Status s = d.stub->RecordModuleResult(d.Ctx().get(), rec, &after);
        if (!s.ok()) return Fail("results-v2", s);
        ++results;
      }
    }
  }
  Progress("enrol-v2",
           absl::StrCat("created=", created, " existing=", existing, " results_sent=", results));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target;
  std::string force;
  outreach::ClientSecurity security;
  outreach::ConfigParser parser("training_demo", "TRAINING_DEMO_");
  parser.String("target", &target, std::string("127.0.0.1:50052"),
                "host:port of the training service", outreach::ValidateHostPort);
  parser.String("force", &force, std::string("derbyshire"), "force id to load the demo into");
  outreach::RegisterClientSecuritySettings(parser, &security);
  outreach::ParseConfigOrExit(parser, argc, argv);
  auto channel = outreach::OpenChannel(target, security);
  if (!channel.ok()) {
    std::fprintf(stderr, "training_demo: %s\n", std::string(channel.status().message()).c_str());
    return 2;
  }

  Demo d;
  d.stub = v1::TrainingService::NewStub(*channel);
  d.force = force;
  d.parent = "forces/" + force;

  const absl::CivilDay today = outreach::LocalDay(absl::Now());
  const int last_year = static_cast<int>(today.year()) - 1;
  const auto cop = v1::COURSE_ORIGIN_COLLEGE_OF_POLICING;
  const auto own = v1::COURSE_ORIGIN_FORCE;
  const std::vector<v1::Module> v1_modules = {
      MakeModule("cybercrime-foundations", "Cybercrime foundations", true, 70, 90, cop),
      MakeModule("digital-evidence", "Seizing and preserving digital evidence", true, 70, 120, cop),
      MakeModule("sexting-and-cse", "Sexting and child sexual exploitation online", true, 70, 60,
                 cop),
      MakeModule("further-reading", "Further reading", false, 0, 30, cop)};
  const std::vector<v1::Module> v2_modules = {
      MakeModule("online-cse-and-grooming", "Online CSE and grooming", true, 70, 90, cop),
      MakeModule("sexting-law", "Sexting: youth-produced imagery and the law", true, 70, 60, own),
      MakeModule("apps-snapchat-kik-instagram", "Evidence from Snapchat, KIK and Instagram", true,
                 70, 90, own),
      MakeModule("sextortion-response", "Responding to sextortion reports", true, 70, 60, own),
      MakeModule("partner-workshops", "Co-delivering school workshops with Derby University", false,
                 0, 45, own)};

  const std::vector<OfficerSpec> officers = Officers();
  bool ok =
      EnsureCourse(d) && EnsureOfficers(d, officers) &&
      EnsureVersion(d, "v1", absl::StrCat(last_year, " specialised cybercrime package"),
                    "Last year's package for frontline investigators.", v1_modules,
                    v1::COURSE_VERSION_STATE_RETIRED,
                    [&] { return ImportLastYear(d, last_year); }) &&
      EnsureVersion(d, "v2", "College of Policing package",
                    absl::StrCat("Launched ", absl::FormatCivilTime(absl::CivilMonth(today) - 1),
                                 " by the College of Policing, with modules designed by "
                                 "the force's digital media co-ordinator."),
                    v2_modules, v1::COURSE_VERSION_STATE_PUBLISHED, nullptr) &&
      EnrolOnV2(d, today);
  if (!ok) return 1;
  Progress("done", absl::StrCat("force=", force));
  return 0;
}
