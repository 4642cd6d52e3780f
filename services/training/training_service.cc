#include "services/training/training_service.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/etag.h"
#include "common/field_mask.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/pagination.h"
#include "common/resource_name.h"
#include "common/status_macros.h"
#include "common/store_support.h"
#include "common/validation.h"

namespace outreach::training {
namespace {

constexpr absl::Duration kSweepInterval = absl::Minutes(1);
constexpr absl::Duration kFutureTolerance = absl::Minutes(5);

const ServiceHandlers kHandlers{kDomain, "/outreach.training.v1.TrainingService/"};

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
  return ViolationsToStatus(std::move(kept));
}

absl::StatusOr<std::optional<absl::CivilDay>> OptDate(absl::string_view field, bool has,
                                                      const outreach::common::v1::Date& d) {
  if (!has) return std::optional<absl::CivilDay>();
  OUTREACH_ASSIGN_OR_RETURN(absl::CivilDay day, FromProtoDate(field, d));
  return std::optional<absl::CivilDay>(day);
}

// Each collection binds its page tokens to its own name too, so that a token of one List
// method is refused by another with the same parent and filter.
template <typename Request>
absl::StatusOr<ListQuery> QueryOf(const Request& r, const PageTokenCodec& codec,
                                  absl::string_view collection) {
  return ListQueryFor(r, codec, {collection});
}

template <typename Request, typename T, typename Response, typename Add>
void FillPage(const Request& r, const PageTokenCodec& codec, absl::string_view collection,
              ListPage<T> page, Response* out, Add add) {
  out->set_next_page_token(NextPageTokenFor(r, codec, page, {collection}));
  out->set_total_size(page.total_size);
  for (T& item : page.items) *add(out) = std::move(item);
}

// A failed import applied nothing of the call; a storage failure is answered as retryable.
absl::Status ImportFailure(const absl::Status& s) {
  return IsPublicError(s) ? s : StorageUnavailable();
}

void Fill(const ImportSummary& s, v1::ImportCompletionsResponse* out) {
  out->set_applied(s.applied);
  out->set_skipped(s.skipped);
  out->set_rejected(s.rejected);
  for (const auto& e : s.errors) *out->add_errors() = e;
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
grpc::Status TrainingServiceImpl::GetCourse(grpc::ServerContext* ctx, const v1::GetCourseRequest* r,
                                            v1::Course* out) {
  return kHandlers.Run(ctx, "GetCourse", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, CoursePattern().Parse("name", r->name()));
    OUTREACH_ASSIGN_OR_RETURN(*out, store_->GetCourse(ids[0], ids[1]));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::ListCourses(grpc::ServerContext* ctx,
                                              const v1::ListCoursesRequest* r,
                                              v1::ListCoursesResponse* out) {
  return kHandlers.Run(ctx, "ListCourses", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, ForcePattern().Parse("parent", r->parent()));
    OUTREACH_ASSIGN_OR_RETURN(ListQuery query, QueryOf(*r, *context_.page_tokens, "courses"));
    OUTREACH_ASSIGN_OR_RETURN(auto page, store_->ListCourses(ids[0], query));
    FillPage(*r, *context_.page_tokens, "courses", std::move(page), out,
             [](v1::ListCoursesResponse* o) { return o->add_courses(); });
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::CreateCourse(grpc::ServerContext* ctx,
                                               const v1::CreateCourseRequest* r, v1::Course* out) {
  return kHandlers.Run(ctx, "CreateCourse", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, ForcePattern().Parse("parent", r->parent()));
    OUTREACH_RETURN_IF_ERROR(CheckId("course_id", r->course_id()));
    OUTREACH_RETURN_IF_ERROR(ValidateRequestId(r->request_id()));
    OUTREACH_RETURN_IF_ERROR(ValidateCourse(r->course(), "course"));
    OUTREACH_ASSIGN_OR_RETURN(
        *out, store_->CreateCourse(ids[0], r->course_id(), r->course(), RequestKeyOf(*r)));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::UpdateCourse(grpc::ServerContext* ctx,
                                               const v1::UpdateCourseRequest* r, v1::Course* out) {
  return kHandlers.Run(ctx, "UpdateCourse", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, CoursePattern().Parse("course.name", r->course().name()));
    OUTREACH_ASSIGN_OR_RETURN(
        auto paths,
        ValidateUpdateMask(r->update_mask(), {"display_name", "description", "origin",
                                              "validity_months", "target_roles", "external_code"}));
    OUTREACH_RETURN_IF_ERROR(OnlyMasked(ValidateCourse(r->course(), "course"), "course", paths));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("course.etag", r->course().etag()));
    OUTREACH_ASSIGN_OR_RETURN(*out, store_->UpdateCourse(ids[0], ids[1], r->course(), paths));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::DeleteCourse(grpc::ServerContext* ctx,
                                               const v1::DeleteCourseRequest* r,
                                               google::protobuf::Empty*) {
  return kHandlers.Run(ctx, "DeleteCourse", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, CoursePattern().Parse("name", r->name()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", r->etag()));
    return store_->DeleteCourse(ids[0], ids[1], r->etag());
  });
}

// --- versions ------------------------------------------------------------------------------
grpc::Status TrainingServiceImpl::GetCourseVersion(grpc::ServerContext* ctx,
                                                   const v1::GetCourseVersionRequest* r,
                                                   v1::CourseVersion* out) {
  return kHandlers.Run(ctx, "GetCourseVersion", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, CourseVersionPattern().Parse("name", r->name()));
    OUTREACH_ASSIGN_OR_RETURN(*out, store_->GetCourseVersion(ids[0], ids[1], ids[2]));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::ListCourseVersions(grpc::ServerContext* ctx,
                                                     const v1::ListCourseVersionsRequest* r,
                                                     v1::ListCourseVersionsResponse* out) {
  return kHandlers.Run(ctx, "ListCourseVersions", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, CoursePattern().Parse("parent", r->parent()));
    OUTREACH_ASSIGN_OR_RETURN(ListQuery query, QueryOf(*r, *context_.page_tokens, "versions"));
    OUTREACH_ASSIGN_OR_RETURN(auto page, store_->ListCourseVersions(ids[0], ids[1], query));
    FillPage(*r, *context_.page_tokens, "versions", std::move(page), out,
             [](v1::ListCourseVersionsResponse* o) { return o->add_course_versions(); });
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::CreateCourseVersion(grpc::ServerContext* ctx,
                                                      const v1::CreateCourseVersionRequest* r,
                                                      v1::CourseVersion* out) {
  return kHandlers.Run(ctx, "CreateCourseVersion", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, CoursePattern().Parse("parent", r->parent()));
    std::vector<FieldViolation> v;
    AppendViolations(CheckId("course_version_id", r->course_version_id()), &v);
    AppendViolations(ValidateRequestId(r->request_id()), &v);
    AppendViolations(ValidateCourseVersionText(r->course_version(), "course_version"), &v);
    AppendViolations(ValidateModules(r->course_version().modules(), "course_version"), &v);
    OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(v)));
    OUTREACH_ASSIGN_OR_RETURN(*out,
                              store_->CreateCourseVersion(ids[0], ids[1], r->course_version_id(),
                                                          r->course_version(), RequestKeyOf(*r)));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::UpdateCourseVersion(grpc::ServerContext* ctx,
                                                      const v1::UpdateCourseVersionRequest* r,
                                                      v1::CourseVersion* out) {
  return kHandlers.Run(ctx, "UpdateCourseVersion", [&]() -> absl::Status {
    const v1::CourseVersion& patch = r->course_version();
    OUTREACH_ASSIGN_OR_RETURN(auto ids,
                              CourseVersionPattern().Parse("course_version.name", patch.name()));
    OUTREACH_ASSIGN_OR_RETURN(
        auto paths,
        ValidateUpdateMask(r->update_mask(), {"display_name", "description", "modules"}));
    std::vector<FieldViolation> v;
    AppendViolations(
        OnlyMasked(ValidateCourseVersionText(patch, "course_version"), "course_version", paths),
        &v);
    AppendViolations(
        OnlyMasked(ValidateModules(patch.modules(), "course_version"), "course_version", paths),
        &v);
    OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(v)));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("course_version.etag", patch.etag()));
    OUTREACH_ASSIGN_OR_RETURN(*out,
                              store_->UpdateCourseVersion(ids[0], ids[1], ids[2], patch, paths));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::DeleteCourseVersion(grpc::ServerContext* ctx,
                                                      const v1::DeleteCourseVersionRequest* r,
                                                      google::protobuf::Empty*) {
  return kHandlers.Run(ctx, "DeleteCourseVersion", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, CourseVersionPattern().Parse("name", r->name()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", r->etag()));
    return store_->DeleteCourseVersion(ids[0], ids[1], ids[2], r->etag());
  });
}

grpc::Status TrainingServiceImpl::PublishCourseVersion(grpc::ServerContext* ctx,
                                                       const v1::PublishCourseVersionRequest* r,
                                                       v1::CourseVersion* out) {
  return kHandlers.Run(ctx, "PublishCourseVersion", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, CourseVersionPattern().Parse("name", r->name()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", r->etag()));
    OUTREACH_ASSIGN_OR_RETURN(*out,
                              store_->PublishCourseVersion(ids[0], ids[1], ids[2], r->etag()));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::RetireCourseVersion(grpc::ServerContext* ctx,
                                                      const v1::RetireCourseVersionRequest* r,
                                                      v1::CourseVersion* out) {
  return kHandlers.Run(ctx, "RetireCourseVersion", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, CourseVersionPattern().Parse("name", r->name()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", r->etag()));
    OUTREACH_ASSIGN_OR_RETURN(*out, store_->RetireCourseVersion(ids[0], ids[1], ids[2], r->etag()));
    return absl::OkStatus();
  });
}

// --- officers ------------------------------------------------------------------------------
grpc::Status TrainingServiceImpl::GetOfficer(grpc::ServerContext* ctx,
                                             const v1::GetOfficerRequest* r, v1::Officer* out) {
  return kHandlers.Run(ctx, "GetOfficer", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, OfficerPattern().Parse("name", r->name()));
    OUTREACH_ASSIGN_OR_RETURN(*out, store_->GetOfficer(ids[0], ids[1]));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::ListOfficers(grpc::ServerContext* ctx,
                                               const v1::ListOfficersRequest* r,
                                               v1::ListOfficersResponse* out) {
  return kHandlers.Run(ctx, "ListOfficers", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, ForcePattern().Parse("parent", r->parent()));
    OUTREACH_ASSIGN_OR_RETURN(ListQuery query, QueryOf(*r, *context_.page_tokens, "officers"));
    OUTREACH_ASSIGN_OR_RETURN(auto page, store_->ListOfficers(ids[0], query));
    FillPage(*r, *context_.page_tokens, "officers", std::move(page), out,
             [](v1::ListOfficersResponse* o) { return o->add_officers(); });
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::CreateOfficer(grpc::ServerContext* ctx,
                                                const v1::CreateOfficerRequest* r,
                                                v1::Officer* out) {
  return kHandlers.Run(ctx, "CreateOfficer", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, ForcePattern().Parse("parent", r->parent()));
    std::vector<FieldViolation> v;
    AppendViolations(CheckId("officer_id", r->officer_id()), &v);
    AppendViolations(ValidateRequestId(r->request_id()), &v);
    AppendViolations(ValidateOfficer(r->officer(), "officer"), &v);
    OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(v)));
    OUTREACH_ASSIGN_OR_RETURN(
        *out, store_->CreateOfficer(ids[0], r->officer_id(), r->officer(), RequestKeyOf(*r)));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::UpdateOfficer(grpc::ServerContext* ctx,
                                                const v1::UpdateOfficerRequest* r,
                                                v1::Officer* out) {
  return kHandlers.Run(ctx, "UpdateOfficer", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids,
                              OfficerPattern().Parse("officer.name", r->officer().name()));
    OUTREACH_ASSIGN_OR_RETURN(auto paths,
                              ValidateUpdateMask(r->update_mask(), {"role", "division", "active"}));
    OUTREACH_RETURN_IF_ERROR(
        OnlyMasked(ValidateOfficer(r->officer(), "officer"), "officer", paths));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("officer.etag", r->officer().etag()));
    OUTREACH_ASSIGN_OR_RETURN(*out, store_->UpdateOfficer(ids[0], ids[1], r->officer(), paths));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::DeleteOfficer(grpc::ServerContext* ctx,
                                                const v1::DeleteOfficerRequest* r,
                                                google::protobuf::Empty*) {
  return kHandlers.Run(ctx, "DeleteOfficer", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, OfficerPattern().Parse("name", r->name()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", r->etag()));
    return store_->DeleteOfficer(ids[0], ids[1], r->etag());
  });
}

// --- enrolments ----------------------------------------------------------------------------
grpc::Status TrainingServiceImpl::GetEnrolment(grpc::ServerContext* ctx,
                                               const v1::GetEnrolmentRequest* r,
                                               v1::Enrolment* out) {
  return kHandlers.Run(ctx, "GetEnrolment", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, EnrolmentPattern().Parse("name", r->name()));
    MaybeSweep(ids[0]);
    OUTREACH_ASSIGN_OR_RETURN(*out, store_->GetEnrolment(ids[0], ids[1]));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::ListEnrolments(grpc::ServerContext* ctx,
                                                 const v1::ListEnrolmentsRequest* r,
                                                 v1::ListEnrolmentsResponse* out) {
  return kHandlers.Run(ctx, "ListEnrolments", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, ForcePattern().Parse("parent", r->parent()));
    MaybeSweep(ids[0]);
    OUTREACH_ASSIGN_OR_RETURN(ListQuery query, QueryOf(*r, *context_.page_tokens, "enrolments"));
    OUTREACH_ASSIGN_OR_RETURN(auto page, store_->ListEnrolments(ids[0], query));
    FillPage(*r, *context_.page_tokens, "enrolments", std::move(page), out,
             [](v1::ListEnrolmentsResponse* o) { return o->add_enrolments(); });
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::EnrolOfficer(grpc::ServerContext* ctx,
                                               const v1::EnrolOfficerRequest* r,
                                               v1::Enrolment* out) {
  return kHandlers.Run(ctx, "EnrolOfficer", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, ForcePattern().Parse("parent", r->parent()));
    const std::string& force = ids[0];
    const v1::Enrolment& e = r->enrolment();
    std::vector<FieldViolation> v;
    AppendViolations(CheckId("enrolment_id", r->enrolment_id()), &v);
    AppendViolations(ValidateRequestId(r->request_id()), &v);
    auto officer = OfficerPattern().Parse("enrolment.officer", e.officer());
    AppendViolations(officer.status(), &v);
    auto version = CourseVersionPattern().Parse("enrolment.course_version", e.course_version());
    AppendViolations(version.status(), &v);
    auto due = OptDate("enrolment.due_date", e.has_due_date(), e.due_date());
    AppendViolations(due.status(), &v);
    OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(v)));
    OUTREACH_RETURN_IF_ERROR(SameForce(force, (*officer)[0], "enrolment.officer"));
    OUTREACH_RETURN_IF_ERROR(SameForce(force, (*version)[0], "enrolment.course_version"));
    OUTREACH_ASSIGN_OR_RETURN(
        *out, store_->EnrolOfficer(force, r->enrolment_id(), (*officer)[1], (*version)[1],
                                   (*version)[2], *due, RequestKeyOf(*r)));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::UpdateEnrolment(grpc::ServerContext* ctx,
                                                  const v1::UpdateEnrolmentRequest* r,
                                                  v1::Enrolment* out) {
  return kHandlers.Run(ctx, "UpdateEnrolment", [&]() -> absl::Status {
    const v1::Enrolment& e = r->enrolment();
    OUTREACH_ASSIGN_OR_RETURN(auto ids, EnrolmentPattern().Parse("enrolment.name", e.name()));
    OUTREACH_RETURN_IF_ERROR(ValidateUpdateMask(r->update_mask(), {"due_date"}).status());
    OUTREACH_ASSIGN_OR_RETURN(auto due,
                              OptDate("enrolment.due_date", e.has_due_date(), e.due_date()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("enrolment.etag", e.etag()));
    OUTREACH_ASSIGN_OR_RETURN(*out, store_->UpdateEnrolmentDueDate(ids[0], ids[1], due, e.etag()));
    return absl::OkStatus();
  });
}

// The completed_time of a result: required, a valid time, not in the future (with a small
// tolerance for clock skew).
absl::StatusOr<absl::Time> TrainingServiceImpl::CompletedTime(
    bool has, const google::protobuf::Timestamp& t) const {
  if (!has) return InvalidArgument("completed_time", "is required");
  absl::StatusOr<absl::Time> time = FromProtoTime("completed_time", t);
  if (!time.ok()) return InvalidArgument("completed_time", "is not a valid time");
  if (*time > context_.clock->Now() + kFutureTolerance) {
    return InvalidArgument("completed_time", "must not be in the future");
  }
  return *time;
}

grpc::Status TrainingServiceImpl::RecordModuleResult(grpc::ServerContext* ctx,
                                                     const v1::RecordModuleResultRequest* r,
                                                     v1::Enrolment* out) {
  return kHandlers.Run(ctx, "RecordModuleResult", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, EnrolmentPattern().Parse("name", r->name()));
    Violations v;
    if (!IsValidResourceId(r->module_id())) {
      v.Add("module_id", "is required, [a-z][a-z0-9-]{0,62}");
    }
    if (r->has_score() && (r->score() < 0 || r->score() > 100)) v.Add("score", "must be 0-100");
    absl::StatusOr<absl::Time> completed =
        CompletedTime(r->has_completed_time(), r->completed_time());
    v.Merge(completed.status());
    OUTREACH_RETURN_IF_ERROR(v.ToStatus());
    ModuleResultInput input;
    input.module_id = r->module_id();
    if (r->has_score()) input.score = r->score();
    input.passed = r->passed();
    input.completed_time = *completed;
    OUTREACH_ASSIGN_OR_RETURN(*out, store_->RecordModuleResult(ids[0], ids[1], input));
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::WithdrawEnrolment(grpc::ServerContext* ctx,
                                                    const v1::WithdrawEnrolmentRequest* r,
                                                    v1::Enrolment* out) {
  return kHandlers.Run(ctx, "WithdrawEnrolment", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, EnrolmentPattern().Parse("name", r->name()));
    Violations v;
    CheckText(r->reason(), 2000, true, "reason", v.list());
    v.Merge(RequireEtag("etag", r->etag()));
    OUTREACH_RETURN_IF_ERROR(v.ToStatus());
    OUTREACH_ASSIGN_OR_RETURN(*out,
                              store_->WithdrawEnrolment(ids[0], ids[1], r->etag(), r->reason()));
    return absl::OkStatus();
  });
}

// --- import --------------------------------------------------------------------------------
grpc::Status TrainingServiceImpl::ImportCompletions(grpc::ServerContext* ctx,
                                                    const v1::ImportCompletionsRequest* r,
                                                    v1::ImportCompletionsResponse* out) {
  return kHandlers.Run(ctx, "ImportCompletions", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, ForcePattern().Parse("parent", r->parent()));
    if (r->records_size() < 1 || r->records_size() > kMaxImportBatch) {
      return InvalidArgument("records", "must hold 1-1000 records");
    }
    std::vector<v1::CompletionRecord> records(r->records().begin(), r->records().end());
    ImportSummary summary;
    // Nothing of the call was applied on failure; the caller retries the whole call.
    if (absl::Status s = store_->ImportCompletions(ids[0], records, 0, &summary); !s.ok()) {
      return ImportFailure(s);
    }
    Fill(summary, out);
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::StreamImportCompletions(
    grpc::ServerContext* ctx, grpc::ServerReader<v1::StreamImportCompletionsRequest>* reader,
    v1::ImportCompletionsResponse* out) {
  return kHandlers.Run(ctx, "StreamImportCompletions", [&]() -> absl::Status {
    v1::StreamImportCompletionsRequest msg;
    std::string parent;
    std::string force;
    std::vector<v1::CompletionRecord> pending;
    ImportSummary summary;
    int received = 0;
    int next_index = 0;
    // Batches commit one by one: a failure keeps the batches before it.
    auto flush = [&]() -> absl::Status {
      if (pending.empty()) return absl::OkStatus();
      absl::Status s = store_->ImportCompletions(force, pending, next_index, &summary);
      next_index += static_cast<int>(pending.size());
      pending.clear();
      return s.ok() ? s : ImportFailure(s);
    };
    bool first = true;
    while (reader->Read(&msg)) {
      // Each message's forces are checked as it arrives (common/security/interceptor.h).
      OUTREACH_RETURN_IF_ERROR(security::RecheckCurrentCall());
      if (first) {
        OUTREACH_ASSIGN_OR_RETURN(auto ids, ForcePattern().Parse("parent", msg.parent()));
        parent = msg.parent();
        force = ids[0];
        first = false;
      } else if (!msg.parent().empty() && msg.parent() != parent) {
        return InvalidArgument("parent", "must be the same in every message of the stream");
      }
      if (msg.records_size() > kMaxImportBatch) {
        return InvalidArgument("records", "must hold at most 1000 records per message");
      }
      received += msg.records_size();
      if (received > kMaxStreamRecords) {
        return InvalidArgument("records", "a stream may hold at most 1000000 records");
      }
      for (auto& rec : *msg.mutable_records()) {
        pending.push_back(std::move(rec));
        if (static_cast<int>(pending.size()) == kMaxImportBatch) OUTREACH_RETURN_IF_ERROR(flush());
      }
    }
    if (first) return InvalidArgument("parent", "the first message must name the force");
    OUTREACH_RETURN_IF_ERROR(flush());
    Fill(summary, out);
    return absl::OkStatus();
  });
}

// --- compliance ----------------------------------------------------------------------------
// The scope of a report request, or INVALID_ARGUMENT naming every bad field. `course_force`
// and `course_id` are set when the request names a course.
absl::StatusOr<ComplianceScope> TrainingServiceImpl::ScopeOf(
    const v1::GetComplianceReportRequest& r, std::optional<std::string>* course_force,
    std::string* course_id) const {
  Violations v;
  if (!r.course().empty()) {
    auto c = CoursePattern().Parse("course", r.course());
    if (!c.ok()) {
      v.Add("course", "must be forces/{force}/courses/{course}");
    } else {
      *course_force = (*c)[0];
      *course_id = (*c)[1];
    }
  }
  if (r.role() != 0 && !IsValidRole(r.role())) v.Add("role", "is not a known role");
  if (!r.division().empty() && !IsValidStaffNumber(r.division())) {
    v.Add("division", "must be 1-32 characters of [A-Za-z0-9-]");
  }
  ComplianceScope scope;
  scope.as_of_date = LocalDay(context_.clock->Now());
  if (r.has_as_of_date()) {
    auto d = FromProtoDate("as_of_date", r.as_of_date());
    if (!d.ok()) {
      v.Add("as_of_date", "must be a valid date, years 2000-2100");
    } else {
      scope.as_of_date = *d;
    }
  }
  if (r.target_case() == v1::GetComplianceReportRequest::kTargetOfficers) {
    if (r.target_officers() < 0 || r.target_officers() > 1000000) {
      v.Add("target_officers", "must be 0-1000000");
    }
    scope.target_officers = r.target_officers();
  } else if (r.target_case() == v1::GetComplianceReportRequest::kTargetPercent) {
    if (!(r.target_percent() >= 0.0 && r.target_percent() <= 100.0)) {
      v.Add("target_percent", "must be 0-100");
    }
    scope.target_percent = r.target_percent();
  }
  if (!v1::YearBasis_IsValid(r.year_basis())) v.Add("year_basis", "is not known");
  OUTREACH_RETURN_IF_ERROR(v.ToStatus());
  scope.division = r.division();
  scope.year_basis = r.year_basis();
  return scope;
}

grpc::Status TrainingServiceImpl::GetComplianceReport(grpc::ServerContext* ctx,
                                                      const v1::GetComplianceReportRequest* r,
                                                      v1::ComplianceReport* out) {
  return kHandlers.Run(ctx, "GetComplianceReport", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(auto ids, ComplianceReportPattern().Parse("name", r->name()));
    const std::string& force = ids[0];
    std::optional<std::string> course_force;
    std::string course_id;
    OUTREACH_ASSIGN_OR_RETURN(ComplianceScope scope, ScopeOf(*r, &course_force, &course_id));
    if (course_force.has_value()) {
      OUTREACH_RETURN_IF_ERROR(SameForce(force, *course_force, "course"));
    }
    MaybeSweep(force);
    OUTREACH_ASSIGN_OR_RETURN(ComplianceFacts facts, store_->LoadComplianceFacts(force, course_id));
    if (r->role() != 0) {
      scope.roles.insert(r->role());
    } else if (facts.course.has_value()) {
      for (int role : facts.course->target_roles()) scope.roles.insert(role);
    }
    out->set_name(r->name());
    out->set_course(r->course());
    out->set_role(r->role());
    for (int role : scope.roles) out->add_roles_in_scope(static_cast<OfficerRole>(role));
    out->set_division(r->division());
    *out->mutable_as_of_date() = ToProtoDate(scope.as_of_date);
    ComputeCompliance(scope, facts.officers, facts.enrolments, out);
    *out->mutable_compute_time() = ToProtoTime(context_.clock->Now());
    return absl::OkStatus();
  });
}

ServiceSpec TrainingServiceSpec() {
  ServiceSpec spec;
  spec.name = "training";
  spec.health_name = "outreach.training.v1.TrainingService";
  spec.default_grpc_address = "127.0.0.1:50052";
  spec.default_http_address = "127.0.0.1:9102";
  spec.schema = {CommonMigrations(), TrainingMigrations()};
  spec.make_service = [](const ServiceContext& context) -> std::unique_ptr<grpc::Service> {
    return std::make_unique<TrainingServiceImpl>(context,
                                                 NewSqlTrainingStore(context.db, context.clock));
  };
  return spec;
}

}  // namespace outreach::training
