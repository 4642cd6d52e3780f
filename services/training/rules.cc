#include "services/training/rules.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/resource_name.h"

namespace outreach::training {
namespace {

OutreachEvent Envelope(absl::string_view force, const std::string& subject, absl::Time now) {
  OutreachEvent e;
  e.set_force(std::string(force));
  e.set_source(kSource);
  e.set_subject(subject);
  *e.mutable_occurred_time() = ToProtoTime(now);
  return e;
}

absl::Status VersionStateError(v1::TrainingErrorReason reason, absl::string_view message,
                               const v1::CourseVersion& v) {
  return WithMetadata(
      TrainingError(reason, message),
      {{"course_version", v.name()}, {"state", v1::CourseVersionState_Name(v.state())}});
}

bool IsOpen(v1::EnrolmentState state) {
  return state == v1::ENROLMENT_STATE_ENROLLED || state == v1::ENROLMENT_STATE_IN_PROGRESS;
}

// The fields every enrolment event carries: whose, which course, and the officer's role and
// division as the event reports them.
template <typename Payload>
void Describe(const v1::Enrolment& e, OfficerRole role, const std::string& division, Payload* p) {
  p->set_officer(e.officer());
  p->set_role(role);
  p->set_division(division);
  p->set_course(e.course());
  p->set_course_version(e.course_version());
}

OutreachEvent ModuleCompleted(absl::string_view force, const v1::Enrolment& e,
                              const v1::CourseVersion& version, const ModuleResultInput& x,
                              bool imported, absl::Time now) {
  OutreachEvent ev = Envelope(force, e.name(), now);
  auto* p = ev.mutable_module_completed();
  Describe(e, e.officer_role(), e.officer_division(), p);
  p->set_module_id(x.module_id);
  const v1::Module* m = FindModule(version, x.module_id);
  p->set_mandatory(m != nullptr && m->mandatory());
  p->set_passed(x.passed);
  if (x.score.has_value()) p->set_score(*x.score);
  *p->mutable_completed_time() = ToProtoTime(x.completed_time);
  p->set_imported(imported);
  return ev;
}

// Completes `e` at `done`: the certificate (valid for the course's months) and the officer's
// role and division as they are now.
OutreachEvent Complete(absl::string_view force, const VersionFacts& version,
                       const v1::Officer& officer, absl::Time done, bool imported, absl::Time now,
                       v1::Enrolment* e) {
  e->set_state(v1::ENROLMENT_STATE_COMPLETED);
  e->set_officer_role(officer.role());
  e->set_officer_division(officer.division());
  auto* cert = e->mutable_certificate();
  cert->set_certificate_id(
      absl::StrCat(absl::string_view(e->name()).substr(e->name().rfind('/') + 1), "-",
                   absl::ToUnixMicros(done)));
  *cert->mutable_issue_time() = ToProtoTime(done);
  const std::optional<absl::Time> until = ValidUntil(done, version.validity_months);
  if (until.has_value()) {
    *cert->mutable_valid_until() = ToProtoTime(*until);
  } else {
    cert->clear_valid_until();
  }
  *e->mutable_complete_time() = ToProtoTime(done);
  OutreachEvent ev = Envelope(force, e->name(), now);
  auto* p = ev.mutable_enrolment_completed();
  Describe(*e, officer.role(), officer.division(), p);
  *p->mutable_completed_time() = ToProtoTime(done);
  if (until.has_value()) *p->mutable_valid_until() = ToProtoTime(*until);
  p->set_imported(imported);
  return ev;
}

}  // namespace

std::optional<absl::Time> ValidUntilOf(const v1::Enrolment& e) {
  if (!e.has_certificate() || !e.certificate().has_valid_until()) return std::nullopt;
  return TimeFromProto(e.certificate().valid_until());
}

void PresentAsOf(absl::Time now, v1::Enrolment* e) {
  e->set_state(EffectiveState(e->state(), ValidUntilOf(*e), now));
}

// --- course versions -----------------------------------------------------------------------
absl::Status RequireDraft(const v1::CourseVersion& v, absl::string_view message) {
  if (v.state() == v1::COURSE_VERSION_STATE_DRAFT) return absl::OkStatus();
  return VersionStateError(v1::TRAINING_ERROR_REASON_COURSE_VERSION_NOT_DRAFT, message, v);
}

absl::Status PublishVersion(absl::Time now, v1::CourseVersion* v) {
  if (absl::Status s = RequireDraft(*v, "only a DRAFT version can be published"); !s.ok()) {
    return s;
  }
  bool mandatory = false;
  for (const auto& m : v->modules()) mandatory = mandatory || m.mandatory();
  if (!mandatory) {
    return TrainingError(v1::TRAINING_ERROR_REASON_COURSE_VERSION_EMPTY,
                         "a version needs at least one mandatory module to be published");
  }
  v->set_state(v1::COURSE_VERSION_STATE_PUBLISHED);
  *v->mutable_publish_time() = ToProtoTime(now);
  return absl::OkStatus();
}

absl::Status RetireVersion(absl::Time now, v1::CourseVersion* v) {
  if (v->state() != v1::COURSE_VERSION_STATE_PUBLISHED) {
    return VersionStateError(v1::TRAINING_ERROR_REASON_COURSE_VERSION_NOT_PUBLISHED,
                             "only a PUBLISHED version can be retired", *v);
  }
  v->set_state(v1::COURSE_VERSION_STATE_RETIRED);
  *v->mutable_retire_time() = ToProtoTime(now);
  return absl::OkStatus();
}

// --- officers ------------------------------------------------------------------------------
OutreachEvent OfficerUpserted(absl::string_view force, const v1::Officer& o, absl::Time now) {
  OutreachEvent e = Envelope(force, o.name(), now);
  auto* p = e.mutable_officer_upserted();
  p->set_role(o.role());
  p->set_division(o.division());
  p->set_active(o.active());
  return e;
}

OutreachEvent OfficerDeleted(absl::string_view force, const v1::Officer& o, absl::Time now) {
  OutreachEvent e = Envelope(force, o.name(), now);
  e.mutable_officer_deleted()->set_role(o.role());
  e.mutable_officer_deleted()->set_division(o.division());
  return e;
}

// --- enrolments ----------------------------------------------------------------------------
absl::Status CheckEnrolment(const v1::Officer& o, const v1::CourseVersion& v,
                            const std::string& open_enrolment) {
  if (v.state() == v1::COURSE_VERSION_STATE_DRAFT) {
    return VersionStateError(v1::TRAINING_ERROR_REASON_COURSE_VERSION_NOT_PUBLISHED,
                             "the course version is not published yet", v);
  }
  if (v.state() == v1::COURSE_VERSION_STATE_RETIRED) {
    return WithMetadata(TrainingError(v1::TRAINING_ERROR_REASON_COURSE_VERSION_RETIRED,
                                      "the course version is retired; enrol in a newer version"),
                        {{"course_version", v.name()}});
  }
  if (!o.active()) {
    return WithMetadata(
        TrainingError(v1::TRAINING_ERROR_REASON_OFFICER_INACTIVE, "the officer is not active"),
        {{"officer", o.name()}});
  }
  if (!open_enrolment.empty()) {
    return WithMetadata(
        TrainingError(v1::TRAINING_ERROR_REASON_DUPLICATE_ACTIVE_ENROLMENT,
                      absl::StrCat("the officer already has an open enrolment in this course: ",
                                   open_enrolment)),
        {{"enrolment", open_enrolment}});
  }
  return absl::OkStatus();
}

v1::Enrolment NewEnrolment(const std::string& name, const v1::Officer& o,
                           const std::string& version_name, const std::string& course_name,
                           v1::RecordSource source, absl::Time now) {
  v1::Enrolment e;
  e.set_name(name);
  e.set_officer(o.name());
  e.set_course_version(version_name);
  e.set_course(course_name);
  e.set_state(v1::ENROLMENT_STATE_ENROLLED);
  e.set_officer_role(o.role());
  e.set_officer_division(o.division());
  e.set_source(source);
  *e.mutable_create_time() = ToProtoTime(now);
  *e.mutable_update_time() = ToProtoTime(now);
  return e;
}

OutreachEvent EnrolmentCreated(absl::string_view force, const v1::Enrolment& en, absl::Time now) {
  OutreachEvent e = Envelope(force, en.name(), now);
  auto* p = e.mutable_enrolment_created();
  Describe(en, en.officer_role(), en.officer_division(), p);
  if (en.has_due_date()) *p->mutable_due_date() = en.due_date();
  p->set_imported(en.source() == v1::RECORD_SOURCE_IMPORT);
  return e;
}

absl::Status RequireOpen(const v1::Enrolment& e, absl::Time now) {
  const v1::EnrolmentState state = EffectiveState(e.state(), ValidUntilOf(e), now);
  if (state == v1::ENROLMENT_STATE_WITHDRAWN) {
    return TrainingError(v1::TRAINING_ERROR_REASON_ENROLMENT_WITHDRAWN,
                         "the enrolment was withdrawn");
  }
  if (state == v1::ENROLMENT_STATE_COMPLETED || state == v1::ENROLMENT_STATE_EXPIRED) {
    return WithMetadata(
        TrainingError(v1::TRAINING_ERROR_REASON_ENROLMENT_NOT_OPEN,
                      absl::StrCat("the enrolment is ", v1::EnrolmentState_Name(state))),
        {{"state", v1::EnrolmentState_Name(state)}});
  }
  return absl::OkStatus();
}

absl::StatusOr<EnrolmentChange> ChangeDueDate(absl::string_view force, v1::Enrolment e,
                                              std::optional<absl::CivilDay> due_date,
                                              absl::Time now) {
  if (absl::Status s = RequireOpen(e, now); !s.ok()) return s;
  if (due_date.has_value()) {
    *e.mutable_due_date() = ToProtoDate(*due_date);
  } else {
    e.clear_due_date();
  }
  OutreachEvent ev = Envelope(force, e.name(), now);
  auto* p = ev.mutable_enrolment_due_date_changed();
  p->set_officer(e.officer());
  p->set_course(e.course());
  if (e.has_due_date()) *p->mutable_due_date() = e.due_date();
  return EnrolmentChange{std::move(e), {std::move(ev)}};
}

absl::StatusOr<EnrolmentChange> Withdraw(absl::string_view force, v1::Enrolment e,
                                         const v1::Officer& officer, const std::string& reason,
                                         absl::Time now) {
  if (absl::Status s = RequireOpen(e, now); !s.ok()) return s;
  e.set_state(v1::ENROLMENT_STATE_WITHDRAWN);
  *e.mutable_withdraw_time() = ToProtoTime(now);
  e.set_withdraw_reason(reason);
  OutreachEvent ev = Envelope(force, e.name(), now);
  Describe(e, officer.role(), officer.division(), ev.mutable_enrolment_withdrawn());
  return EnrolmentChange{std::move(e), {std::move(ev)}};
}

absl::StatusOr<std::optional<ModuleResultInput>> CheckModuleResult(const v1::Enrolment& e,
                                                                   const v1::CourseVersion& version,
                                                                   const ModuleResultInput& input,
                                                                   absl::Time now) {
  const v1::Module* module = FindModule(version, input.module_id);
  if (module == nullptr) {
    return WithMetadata(TrainingError(v1::TRAINING_ERROR_REASON_MODULE_NOT_IN_VERSION,
                                      "the module is not part of the enrolment's course version"),
                        {{"module_id", input.module_id}, {"course_version", e.course_version()}});
  }
  ModuleResultInput result = input;
  result.passed = DecidePassed(*module, input.score, input.passed);
  if (HoldsIdenticalResult(e, result.module_id, result.score, result.passed,
                           result.completed_time)) {
    return std::optional<ModuleResultInput>();
  }
  if (e.state() == v1::ENROLMENT_STATE_WITHDRAWN) {
    return TrainingError(v1::TRAINING_ERROR_REASON_ENROLMENT_WITHDRAWN,
                         "the enrolment was withdrawn and takes no results");
  }
  if (absl::Status s = RequireOpen(e, now); !s.ok()) return s;
  return std::optional<ModuleResultInput>(std::move(result));
}

EnrolmentChange ApplyResults(absl::string_view force, const VersionFacts& version,
                             const v1::Officer& officer, v1::Enrolment e,
                             const std::vector<ModuleResultInput>& results, v1::RecordSource source,
                             absl::Time now) {
  const bool imported = source == v1::RECORD_SOURCE_IMPORT;
  EnrolmentChange change;
  for (const auto& x : results) {
    v1::ModuleResult r;
    r.set_module_id(x.module_id);
    if (x.score.has_value()) r.set_score(*x.score);
    r.set_passed(x.passed);
    *r.mutable_completed_time() = ToProtoTime(x.completed_time);
    *r.mutable_record_time() = ToProtoTime(now);
    r.set_source(source);
    UpsertModuleResult(version.version, r, &e);
    change.events.push_back(ModuleCompleted(force, e, version.version, x, imported, now));
  }
  if (!e.has_start_time()) *e.mutable_start_time() = ToProtoTime(now);
  if (e.state() == v1::ENROLMENT_STATE_ENROLLED) e.set_state(v1::ENROLMENT_STATE_IN_PROGRESS);
  const std::optional<absl::Time> done = CompletionTime(version.version, e);
  if (!done.has_value()) {
    change.enrolment = std::move(e);
    return change;
  }
  change.events.push_back(Complete(force, version, officer, *done, imported, now, &e));
  const std::optional<absl::Time> until = ValidUntilOf(e);
  if (until.has_value() && *until <= now) {
    EnrolmentChange expired = ExpireCertificate(force, std::move(e), officer, now);
    change.enrolment = std::move(expired.enrolment);
    for (auto& ev : expired.events) change.events.push_back(std::move(ev));
    return change;
  }
  change.enrolment = std::move(e);
  return change;
}

EnrolmentChange ExpireCertificate(absl::string_view force, v1::Enrolment e,
                                  const v1::Officer& officer, absl::Time now) {
  e.set_state(v1::ENROLMENT_STATE_EXPIRED);
  OutreachEvent ev = Envelope(force, e.name(), now);
  auto* p = ev.mutable_certificate_expired();
  Describe(e, officer.role(), officer.division(), p);
  *p->mutable_valid_until() = e.certificate().valid_until();
  return EnrolmentChange{std::move(e), {std::move(ev)}};
}

// --- import --------------------------------------------------------------------------------
namespace {

struct Rejection {
  std::string reason;
  std::string field;
};

ImportDecision Rejected(const Rejection& r) {
  return ImportDecision{r.reason, r.field, std::nullopt};
}

// The record's own fields: its completed_time when they are valid, else `rejection` says why.
absl::Time CheckRecordFields(absl::string_view force, const v1::CompletionRecord& r, absl::Time now,
                             Rejection* rejection) {
  auto reject = [&](const char* reason, const char* field) {
    *rejection = {reason, field};
    return absl::Time();
  };
  if (r.learner_case() == v1::CompletionRecord::LEARNER_NOT_SET) {
    return reject("FIELD_INVALID", "officer");
  }
  if (!r.has_completed_time()) return reject("FIELD_INVALID", "completed_time");
  absl::StatusOr<absl::Time> completed = FromProtoTime("completed_time", r.completed_time());
  if (!completed.ok() || *completed > now) return reject("FIELD_INVALID", "completed_time");
  if (r.has_score() && (r.score() < 0 || r.score() > 100)) return reject("FIELD_INVALID", "score");
  if (r.has_score() && r.module_id().empty()) return reject("FIELD_INVALID", "score");
  if (r.external_record_id().size() > 64) return reject("FIELD_INVALID", "external_record_id");
  if (!r.module_id().empty() && !IsValidResourceId(r.module_id())) {
    return reject("FIELD_INVALID", "module_id");
  }
  auto vids = CourseVersionPattern().Parse("course_version", r.course_version());
  if (!vids.ok()) return reject("FIELD_INVALID", "course_version");
  if ((*vids)[0] != force) return reject("CROSS_FORCE_ACCESS", "course_version");
  return *completed;
}

// The record's officer, by name or by staff number.
absl::StatusOr<std::optional<v1::Officer>> FindLearner(absl::string_view force,
                                                       const v1::CompletionRecord& r,
                                                       ImportReader& reader, Rejection* rejection) {
  if (r.learner_case() == v1::CompletionRecord::kOfficer) {
    auto oids = OfficerPattern().Parse("officer", r.officer());
    if (!oids.ok()) {
      *rejection = {"FIELD_INVALID", "officer"};
      return std::nullopt;
    }
    if ((*oids)[0] != force) {
      *rejection = {"CROSS_FORCE_ACCESS", "officer"};
      return std::nullopt;
    }
    absl::StatusOr<std::optional<v1::Officer>> found = reader.OfficerById((*oids)[1]);
    if (found.ok() && !found->has_value()) *rejection = {"RESOURCE_NOT_FOUND", "officer"};
    return found;
  }
  if (!IsValidStaffNumber(r.staff_number())) {
    *rejection = {"FIELD_INVALID", "staff_number"};
    return std::nullopt;
  }
  absl::StatusOr<std::optional<v1::Officer>> found = reader.OfficerByStaffNumber(r.staff_number());
  if (found.ok() && !found->has_value()) *rejection = {"RESOURCE_NOT_FOUND", "staff_number"};
  return found;
}

// The results a record gives: one module, or every module of the version passed.
std::optional<std::vector<ModuleResultInput>> ResultsOf(const v1::CompletionRecord& r,
                                                        const v1::CourseVersion& version,
                                                        absl::Time completed) {
  std::vector<ModuleResultInput> results;
  if (r.module_id().empty()) {
    for (const auto& m : version.modules()) {
      results.push_back({m.module_id(), std::nullopt, true, completed});
    }
    return results;
  }
  const v1::Module* m = FindModule(version, r.module_id());
  if (m == nullptr) return std::nullopt;
  const std::optional<int> score = r.has_score() ? std::optional<int>(r.score()) : std::nullopt;
  results.push_back({m->module_id(), score, DecidePassed(*m, score, r.passed()), completed});
  return results;
}

std::vector<ModuleResultInput> NotHeld(const v1::Enrolment& e,
                                       const std::vector<ModuleResultInput>& results) {
  std::vector<ModuleResultInput> out;
  for (const auto& x : results) {
    if (!HoldsIdenticalResult(e, x.module_id, x.score, x.passed, x.completed_time)) {
      out.push_back(x);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<ImportDecision> DecideImport(absl::string_view force, const v1::CompletionRecord& r,
                                            absl::Time now, ImportReader& reader,
                                            absl::FunctionRef<std::string()> new_enrolment_id) {
  Rejection rejection;
  const absl::Time completed = CheckRecordFields(force, r, now, &rejection);
  if (!rejection.reason.empty()) return Rejected(rejection);
  absl::StatusOr<std::optional<v1::Officer>> officer = FindLearner(force, r, reader, &rejection);
  if (!officer.ok()) return officer.status();
  if (!rejection.reason.empty()) return Rejected(rejection);
  absl::StatusOr<const VersionFacts*> version = reader.Version(r.course_version());
  if (!version.ok()) return version.status();
  if (*version == nullptr) return Rejected({"RESOURCE_NOT_FOUND", "course_version"});
  const VersionFacts& facts = **version;
  if (facts.version.state() == v1::COURSE_VERSION_STATE_DRAFT) {
    return Rejected(
        {ReasonName(v1::TRAINING_ERROR_REASON_COURSE_VERSION_NOT_PUBLISHED), "course_version"});
  }
  std::optional<std::vector<ModuleResultInput>> results = ResultsOf(r, facts.version, completed);
  if (!results.has_value()) {
    return Rejected({ReasonName(v1::TRAINING_ERROR_REASON_MODULE_NOT_IN_VERSION), "module_id"});
  }
  absl::StatusOr<std::vector<v1::Enrolment>> existing =
      reader.EnrolmentsOf((*officer)->name(), r.course_version());
  if (!existing.ok()) return existing.status();
  // The oldest open enrolment takes the record; it is skipped when it holds every result.
  for (v1::Enrolment& e : *existing) {
    if (!IsOpen(e.state())) continue;
    std::vector<ModuleResultInput> changed = NotHeld(e, *results);
    if (changed.empty()) return ImportDecision{};
    return ImportDecision{"", "",
                          ApplyResults(force, facts, **officer, std::move(e), changed,
                                       v1::RECORD_SOURCE_IMPORT, now)};
  }
  // Without one, a completed (or expired) enrolment holding every result makes it a re-send.
  for (const v1::Enrolment& e : *existing) {
    if (e.state() != v1::ENROLMENT_STATE_WITHDRAWN && NotHeld(e, *results).empty()) {
      return ImportDecision{};
    }
  }
  v1::Enrolment created =
      NewEnrolment(EnrolmentPattern().Format({std::string(force), new_enrolment_id()}), **officer,
                   facts.version.name(), facts.course_name, v1::RECORD_SOURCE_IMPORT, now);
  OutreachEvent created_event = EnrolmentCreated(force, created, now);
  EnrolmentChange change = ApplyResults(force, facts, **officer, std::move(created), *results,
                                        v1::RECORD_SOURCE_IMPORT, now);
  change.events.insert(change.events.begin(), std::move(created_event));
  return ImportDecision{"", "", std::move(change), /*created=*/true};
}

}  // namespace outreach::training
