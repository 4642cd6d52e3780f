#include "services/training/training_service.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/etag.h"
#include "common/field_mask.h"
#include "common/log.h"
#include "common/resource_name.h"
#include "common/store_support.h"

namespace outreach::training {
namespace {

constexpr absl::Duration kSweepInterval = absl::Minutes(1);
constexpr absl::Duration kFutureTolerance = absl::Minutes(5);

constexpr char kPrefix[] = "/outreach.training.v1.TrainingService/";

grpc::Status Reply(const absl::Status& s, absl::string_view method) {
  return ToGrpcStatus(s, kDomain, absl::StrCat(kPrefix, method));
}

// Parses `name` against `pattern`; the first id is the force.
absl::StatusOr<std::vector<std::string>> Parse(const ResourcePattern& pattern,
                                               absl::string_view field, absl::string_view name) {
  return pattern.Parse(field, name);
}

absl::Status SameForce(const std::string& force, const std::string& other,
                       absl::string_view field) {
  if (force == other) return absl::OkStatus();
  return PermissionDenied("CROSS_FORCE_ACCESS",
                          absl::StrCat(field, " names another force than the request"));
}

absl::Status CheckId(absl::string_view field, const std::string& id) {
  if (id.empty() || IsValidResourceId(id)) return absl::OkStatus();
  return InvalidArgument(field, "must match [a-z][a-z0-9-]{0,62}");
}

// Keeps only the violations of fields that an update mask changes ("course.display_name" is
// kept for path "display_name"; "course.modules[2].title" for "modules").
absl::Status OnlyMasked(const absl::Status& s, absl::string_view prefix,
                        const std::set<std::string>& paths) {
  if (s.ok()) return s;
  std::vector<FieldViolation> kept;
  for (const auto& v : FieldViolations(s)) {
    for (const auto& p : paths) {
      const std::string base = absl::StrCat(prefix, ".", p);
      if (v.field == base || absl::StartsWith(v.field, base + ".") ||
          absl::StartsWith(v.field, base + "[")) {
        kept.push_back(v);
        break;
      }
    }
  }
  if (kept.empty()) return absl::OkStatus();
  return InvalidArguments(std::move(kept));
}

ListParams ToParams(int32_t size, const std::string& token, const std::string& filter,
                    const std::string& order) {
  return {size, token, filter, order};
}

absl::StatusOr<std::optional<absl::CivilDay>> OptDate(absl::string_view field, bool has,
                                                      const outreach::common::v1::Date& d) {
  if (!has) return std::optional<absl::CivilDay>();
  auto day = FromProtoDate(field, d);
  if (!day.ok()) return day.status();
  return std::optional<absl::CivilDay>(*day);
}

}  // namespace

TrainingServiceImpl::TrainingServiceImpl(const ServiceContext& context,
                                         std::unique_ptr<TrainingStore> store)
    : context_(context), store_(std::move(store)) {}

void TrainingServiceImpl::MaybeSweep(const std::string& force) {
  const absl::Time now = context_.clock->Now();
  {
    absl::MutexLock lock(&sweep_mu_);
    auto it = last_sweep_.find(force);
    if (it != last_sweep_.end() && now - it->second < kSweepInterval) return;
    last_sweep_[force] = now;
  }
  auto moved = store_->SweepExpired(force);
  if (!moved.ok()) {
    OUTREACH_LOG(kWarn, "expiry_sweep_failed")
        .Kv("force", force)
        .Kv("detail", moved.status().message());
  } else if (*moved > 0) {
    OUTREACH_LOG(kInfo, "certificates_expired").Kv("force", force).Kv("count", *moved);
  }
}

// --- courses -------------------------------------------------------------------------------
grpc::Status TrainingServiceImpl::GetCourse(grpc::ServerContext*, const v1::GetCourseRequest* r,
                                            v1::Course* out) {
  auto ids = Parse(CoursePattern(), "name", r->name());
  if (!ids.ok()) return Reply(ids.status(), "GetCourse");
  auto c = store_->GetCourse((*ids)[0], (*ids)[1]);
  if (!c.ok()) return Reply(c.status(), "GetCourse");
  *out = std::move(*c);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::ListCourses(grpc::ServerContext*, const v1::ListCoursesRequest* r,
                                              v1::ListCoursesResponse* out) {
  auto ids = Parse(ForcePattern(), "parent", r->parent());
  if (!ids.ok()) return Reply(ids.status(), "ListCourses");
  auto page = store_->ListCourses(
      (*ids)[0], ToParams(r->page_size(), r->page_token(), r->filter(), r->order_by()));
  if (!page.ok()) return Reply(page.status(), "ListCourses");
  for (auto& c : page->items) *out->add_courses() = std::move(c);
  out->set_next_page_token(page->next_page_token);
  out->set_total_size(page->total_size);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::CreateCourse(grpc::ServerContext*,
                                               const v1::CreateCourseRequest* r, v1::Course* out) {
  auto ids = Parse(ForcePattern(), "parent", r->parent());
  if (!ids.ok()) return Reply(ids.status(), "CreateCourse");
  absl::Status s = CheckId("course_id", r->course_id());
  if (s.ok()) s = ValidateRequestId(r->request_id());
  if (s.ok()) s = ValidateCourse(r->course(), "course");
  if (!s.ok()) return Reply(s, "CreateCourse");
  auto c = store_->CreateCourse((*ids)[0], r->course_id(), r->course(),
                                {r->request_id(), RequestHash(*r)});
  if (!c.ok()) return Reply(c.status(), "CreateCourse");
  *out = std::move(*c);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::UpdateCourse(grpc::ServerContext*,
                                               const v1::UpdateCourseRequest* r, v1::Course* out) {
  auto ids = Parse(CoursePattern(), "course.name", r->course().name());
  if (!ids.ok()) return Reply(ids.status(), "UpdateCourse");
  auto paths =
      ValidateUpdateMask(r->update_mask(), {"display_name", "description", "origin",
                                            "validity_months", "target_roles", "external_code"});
  if (!paths.ok()) return Reply(paths.status(), "UpdateCourse");
  if (absl::Status s = OnlyMasked(ValidateCourse(r->course(), "course"), "course", *paths);
      !s.ok()) {
    return Reply(s, "UpdateCourse");
  }
  if (r->course().etag().empty()) {
    return Reply(InvalidArgument("course.etag", "is required"), "UpdateCourse");
  }
  auto c = store_->UpdateCourse((*ids)[0], (*ids)[1], r->course(), *paths, r->course().etag());
  if (!c.ok()) return Reply(c.status(), "UpdateCourse");
  *out = std::move(*c);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::DeleteCourse(grpc::ServerContext*,
                                               const v1::DeleteCourseRequest* r,
                                               google::protobuf::Empty*) {
  auto ids = Parse(CoursePattern(), "name", r->name());
  if (!ids.ok()) return Reply(ids.status(), "DeleteCourse");
  if (r->etag().empty()) return Reply(InvalidArgument("etag", "is required"), "DeleteCourse");
  return Reply(store_->DeleteCourse((*ids)[0], (*ids)[1], r->etag()), "DeleteCourse");
}

// --- versions ------------------------------------------------------------------------------
grpc::Status TrainingServiceImpl::GetCourseVersion(grpc::ServerContext*,
                                                   const v1::GetCourseVersionRequest* r,
                                                   v1::CourseVersion* out) {
  auto ids = Parse(CourseVersionPattern(), "name", r->name());
  if (!ids.ok()) return Reply(ids.status(), "GetCourseVersion");
  auto v = store_->GetCourseVersion((*ids)[0], (*ids)[1], (*ids)[2]);
  if (!v.ok()) return Reply(v.status(), "GetCourseVersion");
  *out = std::move(*v);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::ListCourseVersions(grpc::ServerContext*,
                                                     const v1::ListCourseVersionsRequest* r,
                                                     v1::ListCourseVersionsResponse* out) {
  auto ids = Parse(CoursePattern(), "parent", r->parent());
  if (!ids.ok()) return Reply(ids.status(), "ListCourseVersions");
  auto page = store_->ListCourseVersions(
      (*ids)[0], (*ids)[1], ToParams(r->page_size(), r->page_token(), r->filter(), r->order_by()));
  if (!page.ok()) return Reply(page.status(), "ListCourseVersions");
  for (auto& v : page->items) *out->add_course_versions() = std::move(v);
  out->set_next_page_token(page->next_page_token);
  out->set_total_size(page->total_size);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::CreateCourseVersion(grpc::ServerContext*,
                                                      const v1::CreateCourseVersionRequest* r,
                                                      v1::CourseVersion* out) {
  auto ids = Parse(CoursePattern(), "parent", r->parent());
  if (!ids.ok()) return Reply(ids.status(), "CreateCourseVersion");
  std::vector<FieldViolation> v;
  for (const absl::Status& s :
       {CheckId("course_version_id", r->course_version_id()), ValidateRequestId(r->request_id()),
        ValidateCourseVersionText(r->course_version(), "course_version"),
        ValidateModules(r->course_version().modules(), "course_version")}) {
    for (auto& f : FieldViolations(s)) v.push_back(f);
  }
  if (!v.empty()) return Reply(InvalidArguments(std::move(v)), "CreateCourseVersion");
  auto cv = store_->CreateCourseVersion((*ids)[0], (*ids)[1], r->course_version_id(),
                                        r->course_version(), {r->request_id(), RequestHash(*r)});
  if (!cv.ok()) return Reply(cv.status(), "CreateCourseVersion");
  *out = std::move(*cv);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::UpdateCourseVersion(grpc::ServerContext*,
                                                      const v1::UpdateCourseVersionRequest* r,
                                                      v1::CourseVersion* out) {
  auto ids = Parse(CourseVersionPattern(), "course_version.name", r->course_version().name());
  if (!ids.ok()) return Reply(ids.status(), "UpdateCourseVersion");
  auto paths = ValidateUpdateMask(r->update_mask(), {"display_name", "description", "modules"});
  if (!paths.ok()) return Reply(paths.status(), "UpdateCourseVersion");
  std::vector<FieldViolation> v;
  for (const absl::Status& s : {ValidateCourseVersionText(r->course_version(), "course_version"),
                                ValidateModules(r->course_version().modules(), "course_version")}) {
    for (auto& f : FieldViolations(OnlyMasked(s, "course_version", *paths))) v.push_back(f);
  }
  if (!v.empty()) return Reply(InvalidArguments(std::move(v)), "UpdateCourseVersion");
  if (r->course_version().etag().empty()) {
    return Reply(InvalidArgument("course_version.etag", "is required"), "UpdateCourseVersion");
  }
  auto cv = store_->UpdateCourseVersion((*ids)[0], (*ids)[1], (*ids)[2], r->course_version(),
                                        *paths, r->course_version().etag());
  if (!cv.ok()) return Reply(cv.status(), "UpdateCourseVersion");
  *out = std::move(*cv);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::DeleteCourseVersion(grpc::ServerContext*,
                                                      const v1::DeleteCourseVersionRequest* r,
                                                      google::protobuf::Empty*) {
  auto ids = Parse(CourseVersionPattern(), "name", r->name());
  if (!ids.ok()) return Reply(ids.status(), "DeleteCourseVersion");
  if (r->etag().empty()) {
    return Reply(InvalidArgument("etag", "is required"), "DeleteCourseVersion");
  }
  return Reply(store_->DeleteCourseVersion((*ids)[0], (*ids)[1], (*ids)[2], r->etag()),
               "DeleteCourseVersion");
}

grpc::Status TrainingServiceImpl::PublishCourseVersion(grpc::ServerContext*,
                                                       const v1::PublishCourseVersionRequest* r,
                                                       v1::CourseVersion* out) {
  auto ids = Parse(CourseVersionPattern(), "name", r->name());
  if (!ids.ok()) return Reply(ids.status(), "PublishCourseVersion");
  if (r->etag().empty()) {
    return Reply(InvalidArgument("etag", "is required"), "PublishCourseVersion");
  }
  auto cv = store_->PublishCourseVersion((*ids)[0], (*ids)[1], (*ids)[2], r->etag());
  if (!cv.ok()) return Reply(cv.status(), "PublishCourseVersion");
  *out = std::move(*cv);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::RetireCourseVersion(grpc::ServerContext*,
                                                      const v1::RetireCourseVersionRequest* r,
                                                      v1::CourseVersion* out) {
  auto ids = Parse(CourseVersionPattern(), "name", r->name());
  if (!ids.ok()) return Reply(ids.status(), "RetireCourseVersion");
  if (r->etag().empty()) {
    return Reply(InvalidArgument("etag", "is required"), "RetireCourseVersion");
  }
  auto cv = store_->RetireCourseVersion((*ids)[0], (*ids)[1], (*ids)[2], r->etag());
  if (!cv.ok()) return Reply(cv.status(), "RetireCourseVersion");
  *out = std::move(*cv);
  return grpc::Status::OK;
}

// --- officers ------------------------------------------------------------------------------
grpc::Status TrainingServiceImpl::GetOfficer(grpc::ServerContext*, const v1::GetOfficerRequest* r,
                                             v1::Officer* out) {
  auto ids = Parse(OfficerPattern(), "name", r->name());
  if (!ids.ok()) return Reply(ids.status(), "GetOfficer");
  auto o = store_->GetOfficer((*ids)[0], (*ids)[1]);
  if (!o.ok()) return Reply(o.status(), "GetOfficer");
  *out = std::move(*o);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::ListOfficers(grpc::ServerContext*,
                                               const v1::ListOfficersRequest* r,
                                               v1::ListOfficersResponse* out) {
  auto ids = Parse(ForcePattern(), "parent", r->parent());
  if (!ids.ok()) return Reply(ids.status(), "ListOfficers");
  auto page = store_->ListOfficers(
      (*ids)[0], ToParams(r->page_size(), r->page_token(), r->filter(), r->order_by()));
  if (!page.ok()) return Reply(page.status(), "ListOfficers");
  for (auto& o : page->items) *out->add_officers() = std::move(o);
  out->set_next_page_token(page->next_page_token);
  out->set_total_size(page->total_size);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::CreateOfficer(grpc::ServerContext*,
                                                const v1::CreateOfficerRequest* r,
                                                v1::Officer* out) {
  auto ids = Parse(ForcePattern(), "parent", r->parent());
  if (!ids.ok()) return Reply(ids.status(), "CreateOfficer");
  std::vector<FieldViolation> v;
  for (const absl::Status& s :
       {CheckId("officer_id", r->officer_id()), ValidateRequestId(r->request_id()),
        ValidateOfficer(r->officer(), "officer")}) {
    for (auto& f : FieldViolations(s)) v.push_back(f);
  }
  if (!v.empty()) return Reply(InvalidArguments(std::move(v)), "CreateOfficer");
  auto o = store_->CreateOfficer((*ids)[0], r->officer_id(), r->officer(),
                                 {r->request_id(), RequestHash(*r)});
  if (!o.ok()) return Reply(o.status(), "CreateOfficer");
  *out = std::move(*o);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::UpdateOfficer(grpc::ServerContext*,
                                                const v1::UpdateOfficerRequest* r,
                                                v1::Officer* out) {
  auto ids = Parse(OfficerPattern(), "officer.name", r->officer().name());
  if (!ids.ok()) return Reply(ids.status(), "UpdateOfficer");
  auto paths = ValidateUpdateMask(r->update_mask(), {"role", "division", "active"});
  if (!paths.ok()) return Reply(paths.status(), "UpdateOfficer");
  if (absl::Status s = OnlyMasked(ValidateOfficer(r->officer(), "officer"), "officer", *paths);
      !s.ok()) {
    return Reply(s, "UpdateOfficer");
  }
  if (r->officer().etag().empty()) {
    return Reply(InvalidArgument("officer.etag", "is required"), "UpdateOfficer");
  }
  auto o = store_->UpdateOfficer((*ids)[0], (*ids)[1], r->officer(), *paths, r->officer().etag());
  if (!o.ok()) return Reply(o.status(), "UpdateOfficer");
  *out = std::move(*o);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::DeleteOfficer(grpc::ServerContext*,
                                                const v1::DeleteOfficerRequest* r,
                                                google::protobuf::Empty*) {
  auto ids = Parse(OfficerPattern(), "name", r->name());
  if (!ids.ok()) return Reply(ids.status(), "DeleteOfficer");
  if (r->etag().empty()) return Reply(InvalidArgument("etag", "is required"), "DeleteOfficer");
  return Reply(store_->DeleteOfficer((*ids)[0], (*ids)[1], r->etag()), "DeleteOfficer");
}

// --- enrolments ----------------------------------------------------------------------------
grpc::Status TrainingServiceImpl::GetEnrolment(grpc::ServerContext*,
                                               const v1::GetEnrolmentRequest* r,
                                               v1::Enrolment* out) {
  auto ids = Parse(EnrolmentPattern(), "name", r->name());
  if (!ids.ok()) return Reply(ids.status(), "GetEnrolment");
  MaybeSweep((*ids)[0]);
  auto e = store_->GetEnrolment((*ids)[0], (*ids)[1]);
  if (!e.ok()) return Reply(e.status(), "GetEnrolment");
  *out = std::move(*e);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::ListEnrolments(grpc::ServerContext*,
                                                 const v1::ListEnrolmentsRequest* r,
                                                 v1::ListEnrolmentsResponse* out) {
  auto ids = Parse(ForcePattern(), "parent", r->parent());
  if (!ids.ok()) return Reply(ids.status(), "ListEnrolments");
  MaybeSweep((*ids)[0]);
  auto page = store_->ListEnrolments(
      (*ids)[0], ToParams(r->page_size(), r->page_token(), r->filter(), r->order_by()));
  if (!page.ok()) return Reply(page.status(), "ListEnrolments");
  for (auto& e : page->items) *out->add_enrolments() = std::move(e);
  out->set_next_page_token(page->next_page_token);
  out->set_total_size(page->total_size);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::EnrolOfficer(grpc::ServerContext*,
                                               const v1::EnrolOfficerRequest* r,
                                               v1::Enrolment* out) {
  auto ids = Parse(ForcePattern(), "parent", r->parent());
  if (!ids.ok()) return Reply(ids.status(), "EnrolOfficer");
  const std::string& force = (*ids)[0];
  std::vector<FieldViolation> v;
  for (const absl::Status& s :
       {CheckId("enrolment_id", r->enrolment_id()), ValidateRequestId(r->request_id())}) {
    for (auto& f : FieldViolations(s)) v.push_back(f);
  }
  auto officer = Parse(OfficerPattern(), "enrolment.officer", r->enrolment().officer());
  if (!officer.ok()) {
    for (auto& f : FieldViolations(officer.status())) v.push_back(f);
  }
  auto version =
      Parse(CourseVersionPattern(), "enrolment.course_version", r->enrolment().course_version());
  if (!version.ok()) {
    for (auto& f : FieldViolations(version.status())) v.push_back(f);
  }
  auto due =
      OptDate("enrolment.due_date", r->enrolment().has_due_date(), r->enrolment().due_date());
  if (!due.ok()) {
    for (auto& f : FieldViolations(due.status())) v.push_back(f);
  }
  if (!v.empty()) return Reply(InvalidArguments(std::move(v)), "EnrolOfficer");
  absl::Status s = SameForce(force, (*officer)[0], "enrolment.officer");
  if (s.ok()) s = SameForce(force, (*version)[0], "enrolment.course_version");
  if (!s.ok()) return Reply(s, "EnrolOfficer");
  auto e = store_->EnrolOfficer(force, r->enrolment_id(), (*officer)[1], (*version)[1],
                                (*version)[2], *due, {r->request_id(), RequestHash(*r)});
  if (!e.ok()) return Reply(e.status(), "EnrolOfficer");
  *out = std::move(*e);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::UpdateEnrolment(grpc::ServerContext*,
                                                  const v1::UpdateEnrolmentRequest* r,
                                                  v1::Enrolment* out) {
  auto ids = Parse(EnrolmentPattern(), "enrolment.name", r->enrolment().name());
  if (!ids.ok()) return Reply(ids.status(), "UpdateEnrolment");
  auto paths = ValidateUpdateMask(r->update_mask(), {"due_date"});
  if (!paths.ok()) return Reply(paths.status(), "UpdateEnrolment");
  auto due =
      OptDate("enrolment.due_date", r->enrolment().has_due_date(), r->enrolment().due_date());
  if (!due.ok()) return Reply(due.status(), "UpdateEnrolment");
  if (r->enrolment().etag().empty()) {
    return Reply(InvalidArgument("enrolment.etag", "is required"), "UpdateEnrolment");
  }
  auto e = store_->UpdateEnrolmentDueDate((*ids)[0], (*ids)[1], *due, r->enrolment().etag());
  if (!e.ok()) return Reply(e.status(), "UpdateEnrolment");
  *out = std::move(*e);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::RecordModuleResult(grpc::ServerContext*,
                                                     const v1::RecordModuleResultRequest* r,
                                                     v1::Enrolment* out) {
  auto ids = Parse(EnrolmentPattern(), "name", r->name());
  if (!ids.ok()) return Reply(ids.status(), "RecordModuleResult");
  std::vector<FieldViolation> v;
  if (!IsValidResourceId(r->module_id())) {
    v.push_back({"module_id", "is required, [a-z][a-z0-9-]{0,62}"});
  }
  if (r->has_score() && (r->score() < 0 || r->score() > 100)) {
    v.push_back({"score", "must be 0-100"});
  }
  absl::Time completed;
  if (!r->has_completed_time()) {
    v.push_back({"completed_time", "is required"});
  } else {
    auto t = FromProtoTime("completed_time", r->completed_time());
    if (!t.ok()) {
      v.push_back({"completed_time", "is not a valid time"});
    } else if (*t > context_.clock->Now() + kFutureTolerance) {
      v.push_back({"completed_time", "must not be in the future"});
    } else {
      completed = *t;
    }
  }
  if (!v.empty()) return Reply(InvalidArguments(std::move(v)), "RecordModuleResult");
  ModuleResultInput input;
  input.module_id = r->module_id();
  if (r->has_score()) input.score = r->score();
  input.passed = r->passed();
  input.completed_time = completed;
  auto e = store_->RecordModuleResult((*ids)[0], (*ids)[1], input);
  if (!e.ok()) return Reply(e.status(), "RecordModuleResult");
  *out = std::move(*e);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::WithdrawEnrolment(grpc::ServerContext*,
                                                    const v1::WithdrawEnrolmentRequest* r,
                                                    v1::Enrolment* out) {
  auto ids = Parse(EnrolmentPattern(), "name", r->name());
  if (!ids.ok()) return Reply(ids.status(), "WithdrawEnrolment");
  std::vector<FieldViolation> v;
  CheckText(r->reason(), 2000, true, "reason", &v);
  if (r->etag().empty()) v.push_back({"etag", "is required"});
  if (!v.empty()) return Reply(InvalidArguments(std::move(v)), "WithdrawEnrolment");
  auto e = store_->WithdrawEnrolment((*ids)[0], (*ids)[1], r->etag(), r->reason());
  if (!e.ok()) return Reply(e.status(), "WithdrawEnrolment");
  *out = std::move(*e);
  return grpc::Status::OK;
}

// --- import --------------------------------------------------------------------------------
namespace {
void Fill(const ImportSummary& s, v1::ImportCompletionsResponse* out) {
  out->set_applied(s.applied);
  out->set_skipped(s.skipped);
  out->set_rejected(s.rejected);
  for (const auto& e : s.errors) *out->add_errors() = e;
}
}  // namespace

grpc::Status TrainingServiceImpl::ImportCompletions(grpc::ServerContext*,
                                                    const v1::ImportCompletionsRequest* r,
                                                    v1::ImportCompletionsResponse* out) {
  auto ids = Parse(ForcePattern(), "parent", r->parent());
  if (!ids.ok()) return Reply(ids.status(), "ImportCompletions");
  if (r->records_size() < 1 || r->records_size() > kMaxImportBatch) {
    return Reply(InvalidArgument("records", "must hold 1-1000 records"), "ImportCompletions");
  }
  std::vector<v1::CompletionRecord> records(r->records().begin(), r->records().end());
  ImportSummary summary;
  absl::Status s = store_->ImportCompletions((*ids)[0], records, 0, &summary);
  if (!s.ok()) {
    // Nothing of the call was applied; the caller retries the whole call.
    if (IsPublicError(s)) return Reply(s, "ImportCompletions");
    return Reply(StorageUnavailable(), "ImportCompletions");
  }
  Fill(summary, out);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::StreamImportCompletions(
    grpc::ServerContext*, grpc::ServerReader<v1::StreamImportCompletionsRequest>* reader,
    v1::ImportCompletionsResponse* out) {
  v1::StreamImportCompletionsRequest msg;
  std::string parent;
  std::string force;
  std::vector<v1::CompletionRecord> pending;
  ImportSummary summary;
  int received = 0;
  int next_index = 0;
  auto flush = [&]() -> absl::Status {
    if (pending.empty()) return absl::OkStatus();
    absl::Status s = store_->ImportCompletions(force, pending, next_index, &summary);
    next_index += static_cast<int>(pending.size());
    pending.clear();
    return s;
  };
  bool first = true;
  while (reader->Read(&msg)) {
    if (first) {
      auto ids = Parse(ForcePattern(), "parent", msg.parent());
      if (!ids.ok()) return Reply(ids.status(), "StreamImportCompletions");
      parent = msg.parent();
      force = (*ids)[0];
      first = false;
    } else if (!msg.parent().empty() && msg.parent() != parent) {
      return Reply(InvalidArgument("parent", "must be the same in every message of the stream"),
                   "StreamImportCompletions");
    }
    if (msg.records_size() > kMaxImportBatch) {
      return Reply(InvalidArgument("records", "must hold at most 1000 records per message"),
                   "StreamImportCompletions");
    }
    received += msg.records_size();
    if (received > kMaxStreamRecords) {
      return Reply(InvalidArgument("records", "a stream may hold at most 1000000 records"),
                   "StreamImportCompletions");
    }
    for (auto& rec : *msg.mutable_records()) {
      pending.push_back(std::move(rec));
      if (static_cast<int>(pending.size()) == kMaxImportBatch) {
        if (absl::Status s = flush(); !s.ok()) {
          return Reply(IsPublicError(s) ? s : StorageUnavailable(), "StreamImportCompletions");
        }
      }
    }
  }
  if (first) {
    return Reply(InvalidArgument("parent", "the first message must name the force"),
                 "StreamImportCompletions");
  }
  if (absl::Status s = flush(); !s.ok()) {
    return Reply(IsPublicError(s) ? s : StorageUnavailable(), "StreamImportCompletions");
  }
  Fill(summary, out);
  return grpc::Status::OK;
}

// --- compliance ----------------------------------------------------------------------------
grpc::Status TrainingServiceImpl::GetComplianceReport(grpc::ServerContext*,
                                                      const v1::GetComplianceReportRequest* r,
                                                      v1::ComplianceReport* out) {
  constexpr char kMethod[] = "GetComplianceReport";
  auto ids = Parse(ComplianceReportPattern(), "name", r->name());
  if (!ids.ok()) return Reply(ids.status(), kMethod);
  const std::string& force = (*ids)[0];
  std::vector<FieldViolation> v;
  std::string course_id;
  std::optional<std::string> course_force;
  if (!r->course().empty()) {
    auto c = Parse(CoursePattern(), "course", r->course());
    if (!c.ok()) {
      v.push_back({"course", "must be forces/{force}/courses/{course}"});
    } else {
      course_force = (*c)[0];
      course_id = (*c)[1];
    }
  }
  if (r->role() != 0 && !IsValidRole(r->role())) v.push_back({"role", "is not a known role"});
  if (!r->division().empty() && !IsValidStaffNumber(r->division())) {
    v.push_back({"division", "must be 1-32 characters of [A-Za-z0-9-]"});
  }
  ComplianceScope scope;
  scope.as_of_date = LocalDay(context_.clock->Now());
  if (r->has_as_of_date()) {
    auto d = FromProtoDate("as_of_date", r->as_of_date());
    if (!d.ok()) {
      v.push_back({"as_of_date", "must be a valid date, years 2000-2100"});
    } else {
      scope.as_of_date = *d;
    }
  }
  if (r->target_case() == v1::GetComplianceReportRequest::kTargetOfficers) {
    if (r->target_officers() < 0 || r->target_officers() > 1000000) {
      v.push_back({"target_officers", "must be 0-1000000"});
    }
    scope.target_officers = r->target_officers();
  } else if (r->target_case() == v1::GetComplianceReportRequest::kTargetPercent) {
    if (!(r->target_percent() >= 0.0 && r->target_percent() <= 100.0)) {
      v.push_back({"target_percent", "must be 0-100"});
    }
    scope.target_percent = r->target_percent();
  }
  if (!v1::YearBasis_IsValid(r->year_basis())) v.push_back({"year_basis", "is not known"});
  if (!v.empty()) return Reply(InvalidArguments(std::move(v)), kMethod);
  if (course_force.has_value()) {
    if (absl::Status s = SameForce(force, *course_force, "course"); !s.ok()) {
      return Reply(s, kMethod);
    }
  }
  scope.division = r->division();
  scope.year_basis = r->year_basis();
  MaybeSweep(force);
  auto facts = store_->LoadComplianceFacts(force, course_id);
  if (!facts.ok()) return Reply(facts.status(), kMethod);
  if (r->role() != 0) {
    scope.roles.insert(r->role());
  } else if (facts->course.has_value()) {
    for (int role : facts->course->target_roles()) scope.roles.insert(role);
  }
  out->set_name(r->name());
  out->set_course(r->course());
  out->set_role(r->role());
  for (int role : scope.roles) out->add_roles_in_scope(static_cast<OfficerRole>(role));
  out->set_division(r->division());
  *out->mutable_as_of_date() = ToProtoDate(scope.as_of_date);
  ComputeCompliance(scope, facts->officers, facts->enrolments, out);
  *out->mutable_compute_time() = ToProtoTime(context_.clock->Now());
  return grpc::Status::OK;
}

ServiceSpec TrainingServiceSpec() {
  ServiceSpec spec;
  spec.name = "training";
  spec.health_name = "outreach.training.v1.TrainingService";
  spec.default_grpc_address = "127.0.0.1:50052";
  spec.default_http_address = "127.0.0.1:9102";
  spec.schema = {CommonMigrations(), TrainingMigrations()};
  spec.make_service = [](const ServiceContext& context) -> std::unique_ptr<grpc::Service> {
    return std::make_unique<TrainingServiceImpl>(
        context, NewSqlTrainingStore(context.db, context.clock, context.page_tokens));
  };
  return spec;
}

}  // namespace outreach::training
