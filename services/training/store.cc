#include "services/training/store.h"

#include <functional>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/etag.h"
#include "common/query.h"
#include "common/store_support.h"

namespace outreach::training {
namespace {

using db::Connection;
using db::FromMicros;
using db::ToMicros;
using outreach::events::v1::OutreachEvent;

std::optional<int64_t> OptMicros(const google::protobuf::Timestamp& ts, bool has) {
  if (!has) return std::nullopt;
  return ToMicros(TimeFromProto(ts));
}

template <typename T>
absl::Status ParseBody(const std::string& bytes, T* out) {
  if (!out->ParseFromString(bytes)) return absl::InternalError("corrupt stored resource");
  return absl::OkStatus();
}

bool ParseRole(absl::string_view name, int64_t* out) {
  outreach::common::v1::OfficerRole r;
  if (!outreach::common::v1::OfficerRole_Parse(std::string(name), &r)) return false;
  *out = r;
  return true;
}
bool ParseOrigin(absl::string_view name, int64_t* out) {
  v1::CourseOrigin r;
  if (!v1::CourseOrigin_Parse(std::string(name), &r)) return false;
  *out = r;
  return true;
}
bool ParseVersionState(absl::string_view name, int64_t* out) {
  v1::CourseVersionState r;
  if (!v1::CourseVersionState_Parse(std::string(name), &r)) return false;
  *out = r;
  return true;
}
bool ParseEnrolmentState(absl::string_view name, int64_t* out) {
  v1::EnrolmentState r;
  if (!v1::EnrolmentState_Parse(std::string(name), &r)) return false;
  *out = r;
  return true;
}
bool ParseSource(absl::string_view name, int64_t* out) {
  v1::RecordSource r;
  if (!v1::RecordSource_Parse(std::string(name), &r)) return false;
  *out = r;
  return true;
}

using QF = QueryFieldType;

// `target_roles` is a repeated enum stored as ",NAME,NAME,": callers filter it with the
// quoted value name, e.g. target_roles = "OFFICER_ROLE_FRONTLINE_INVESTIGATOR".
const QuerySchema& CourseSchema() {
  static const QuerySchema s(
      {{"origin", "origin", QF::kEnum, true, false, ParseOrigin},
       {"target_roles", "target_roles", QF::kStringList, true, false, nullptr},
       {"display_name", "display_name", QF::kString, true, true, nullptr},
       {"external_code", "external_code", QF::kString, true, false, nullptr},
       {"validity_months", "validity_months", QF::kInt, true, false, nullptr},
       {"create_time", "create_micros", QF::kTimestamp, true, true, nullptr},
       {"update_time", "update_micros", QF::kTimestamp, false, true, nullptr}},
      "name");
  return s;
}

const QuerySchema& VersionSchema() {
  static const QuerySchema s(
      {{"state", "state", QF::kEnum, true, false, ParseVersionState},
       {"display_name", "display_name", QF::kString, true, true, nullptr},
       {"publish_time", "publish_micros", QF::kTimestamp, true, true, nullptr},
       {"create_time", "create_micros", QF::kTimestamp, true, true, nullptr}},
      "name");
  return s;
}

const QuerySchema& OfficerSchema() {
  static const QuerySchema s(
      {{"staff_number", "staff_number", QF::kString, true, true, nullptr},
       {"role", "role", QF::kEnum, true, true, ParseRole},
       {"division", "division", QF::kString, true, true, nullptr},
       {"active", "active", QF::kBool, true, false, nullptr},
       {"create_time", "create_micros", QF::kTimestamp, true, true, nullptr}},
      "name");
  return s;
}

// The enrolment state filter reads "as of now": the column expression embeds the clock's
// instant (an integer the server formats, never caller text).
QuerySchema EnrolmentSchema(absl::Time now) {
  const std::string state =
      absl::StrCat("(CASE WHEN state = ", static_cast<int>(v1::ENROLMENT_STATE_COMPLETED),
                   " AND valid_until_micros IS NOT NULL AND valid_until_micros <= ", ToMicros(now),
                   " THEN ", static_cast<int>(v1::ENROLMENT_STATE_EXPIRED), " ELSE state END)");
  return QuerySchema(
      {{"officer", "officer", QF::kString, true, false, nullptr},
       {"course", "course", QF::kString, true, false, nullptr},
       {"course_version", "course_version", QF::kString, true, false, nullptr},
       {"state", state, QF::kEnum, true, false, ParseEnrolmentState},
       {"officer_role", "officer_role", QF::kEnum, true, false, ParseRole},
       {"officer_division", "officer_division", QF::kString, true, false, nullptr},
       {"source", "source", QF::kEnum, true, false, ParseSource},
       {"due_date", "due_date", QF::kDate, true, true, nullptr},
       {"complete_time", "complete_micros", QF::kTimestamp, true, true, nullptr},
       {"certificate.valid_until", "valid_until_micros", QF::kTimestamp, true, true, nullptr},
       {"create_time", "create_micros", QF::kTimestamp, true, true, nullptr},
       {"update_time", "update_micros", QF::kTimestamp, false, true, nullptr}},
      "name");
}

template <typename T>
void Stamp(T* resource) {
  resource->clear_etag();
  resource->set_etag(ComputeEtag(*resource));
}

class SqlTrainingStore final : public TrainingStore {
 public:
  SqlTrainingStore(db::Database* db, const Clock* clock, const PageTokenCodec* tokens)
      : db_(db), clock_(clock), tokens_(tokens) {}

  // --- courses ---------------------------------------------------------------------------
  absl::StatusOr<v1::Course> GetCourse(const std::string& force,
                                       const std::string& course) override {
    v1::Course out;
    absl::Status s = db_->Read([&](Connection& c) { return LoadCourse(c, force, course, &out); });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<Page<v1::Course>> ListCourses(const std::string& force,
                                               const ListParams& params) override {
    return List<v1::Course>("training_courses", "force = ?", {force}, CourseSchema(),
                            "display_name", params, {"courses", force}, nullptr);
  }

  absl::StatusOr<v1::Course> CreateCourse(const std::string& force, std::string id,
                                          const v1::Course& course,
                                          const Idempotency& idem) override {
    v1::Course out;
    absl::Status s = WriteIn(force, [&](Connection& c) -> absl::Status {
      bool replayed = false;
      if (auto st = Replay(c, force, "CreateCourse", idem, &out, &replayed); !st.ok() || replayed)
        return st;
      if (id.empty()) id = GenerateResourceId("c");
      const std::string name = CoursePattern().Format({force, id});
      v1::Course existing;
      if (LoadCourse(c, force, id, &existing).ok()) return AlreadyExists(name);
      const absl::Time now = clock_->Now();
      out = course;
      out.set_name(name);
      *out.mutable_create_time() = ToProtoTime(now);
      *out.mutable_update_time() = ToProtoTime(now);
      Stamp(&out);
      if (auto st = SaveCourse(c, force, id, out); !st.ok()) return st;
      return Remember(c, force, "CreateCourse", idem, out);
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<v1::Course> UpdateCourse(const std::string& force, const std::string& course,
                                          const v1::Course& patch,
                                          const std::set<std::string>& paths,
                                          const std::string& etag) override {
    v1::Course out;
    absl::Status s = WriteIn(force, [&](Connection& c) -> absl::Status {
      if (auto st = LoadCourse(c, force, course, &out); !st.ok()) return st;
      if (auto st = CheckEtag("course.etag", out.name(), etag, out.etag()); !st.ok()) return st;
      if (paths.count("display_name")) out.set_display_name(patch.display_name());
      if (paths.count("description")) out.set_description(patch.description());
      if (paths.count("origin")) out.set_origin(patch.origin());
      if (paths.count("validity_months")) out.set_validity_months(patch.validity_months());
      if (paths.count("target_roles")) *out.mutable_target_roles() = patch.target_roles();
      if (paths.count("external_code")) out.set_external_code(patch.external_code());
      *out.mutable_update_time() = ToProtoTime(clock_->Now());
      Stamp(&out);
      return SaveCourse(c, force, course, out);
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::Status DeleteCourse(const std::string& force, const std::string& course,
                            const std::string& etag) override {
    return WriteIn(force, [&](Connection& c) -> absl::Status {
      v1::Course existing;
      if (auto st = LoadCourse(c, force, course, &existing); !st.ok()) return st;
      if (auto st = CheckEtag("etag", existing.name(), etag, existing.etag()); !st.ok()) return st;
      auto q = c.Prepare("SELECT COUNT(*) FROM training_versions WHERE force = ? AND course = ?");
      if (!q.ok()) return q.status();
      q->Bind(1, force).Bind(2, course);
      if (auto row = q->Step(); !row.ok()) return row.status();
      if (q->Int64(0) > 0) {
        return FailedPrecondition("RESOURCE_IN_USE",
                                  "the course has versions; delete its draft versions first");
      }
      return Exec(c, "DELETE FROM training_courses WHERE force = ? AND id = ?", {force, course});
    });
  }

  // --- versions --------------------------------------------------------------------------
  absl::StatusOr<v1::CourseVersion> GetCourseVersion(const std::string& force,
                                                     const std::string& course,
                                                     const std::string& version) override {
    v1::CourseVersion out;
    absl::Status s =
        db_->Read([&](Connection& c) { return LoadVersion(c, force, course, version, &out); });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<Page<v1::CourseVersion>> ListCourseVersions(const std::string& force,
                                                             const std::string& course,
                                                             const ListParams& params) override {
    v1::Course parent;
    if (auto st = db_->Read([&](Connection& c) { return LoadCourse(c, force, course, &parent); });
        !st.ok()) {
      return st;
    }
    return List<v1::CourseVersion>("training_versions", "force = ? AND course = ?", {force, course},
                                   VersionSchema(), "create_time", params,
                                   {"versions", force, course}, nullptr);
  }

  absl::StatusOr<v1::CourseVersion> CreateCourseVersion(const std::string& force,
                                                        const std::string& course, std::string id,
                                                        const v1::CourseVersion& version,
                                                        const Idempotency& idem) override {
    v1::CourseVersion out;
    absl::Status s = WriteIn(force, [&](Connection& c) -> absl::Status {
      bool replayed = false;
      if (auto st = Replay(c, force, "CreateCourseVersion", idem, &out, &replayed);
          !st.ok() || replayed)
        return st;
      v1::Course parent;
      if (auto st = LoadCourse(c, force, course, &parent); !st.ok()) return st;
      if (id.empty()) id = GenerateResourceId("v");
      const std::string name = CourseVersionPattern().Format({force, course, id});
      v1::CourseVersion existing;
      if (LoadVersion(c, force, course, id, &existing).ok()) return AlreadyExists(name);
      const absl::Time now = clock_->Now();
      out = version;
      out.set_name(name);
      out.set_state(v1::COURSE_VERSION_STATE_DRAFT);
      out.clear_publish_time();
      out.clear_retire_time();
      *out.mutable_create_time() = ToProtoTime(now);
      *out.mutable_update_time() = ToProtoTime(now);
      Stamp(&out);
      if (auto st = SaveVersion(c, force, course, id, out); !st.ok()) return st;
      return Remember(c, force, "CreateCourseVersion", idem, out);
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<v1::CourseVersion> UpdateCourseVersion(const std::string& force,
                                                        const std::string& course,
                                                        const std::string& version,
                                                        const v1::CourseVersion& patch,
                                                        const std::set<std::string>& paths,
                                                        const std::string& etag) override {
    v1::CourseVersion out;
    absl::Status s = WriteIn(force, [&](Connection& c) -> absl::Status {
      if (auto st = LoadVersion(c, force, course, version, &out); !st.ok()) return st;
      if (auto st = CheckEtag("course_version.etag", out.name(), etag, out.etag()); !st.ok())
        return st;
      if (paths.count("modules")) {
        if (out.state() != v1::COURSE_VERSION_STATE_DRAFT) {
          return WithMetadata(TrainingError(v1::TRAINING_ERROR_REASON_COURSE_VERSION_NOT_DRAFT,
                                            "modules are frozen once the version is published"),
                              {{"course_version", out.name()},
                               {"state", v1::CourseVersionState_Name(out.state())}});
        }
        *out.mutable_modules() = patch.modules();
      }
      if (paths.count("display_name")) out.set_display_name(patch.display_name());
      if (paths.count("description")) out.set_description(patch.description());
      *out.mutable_update_time() = ToProtoTime(clock_->Now());
      Stamp(&out);
      return SaveVersion(c, force, course, version, out);
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::Status DeleteCourseVersion(const std::string& force, const std::string& course,
                                   const std::string& version, const std::string& etag) override {
    return WriteIn(force, [&](Connection& c) -> absl::Status {
      v1::CourseVersion existing;
      if (auto st = LoadVersion(c, force, course, version, &existing); !st.ok()) return st;
      if (auto st = CheckEtag("etag", existing.name(), etag, existing.etag()); !st.ok()) return st;
      if (existing.state() != v1::COURSE_VERSION_STATE_DRAFT) {
        return WithMetadata(TrainingError(v1::TRAINING_ERROR_REASON_COURSE_VERSION_NOT_DRAFT,
                                          "only a DRAFT version can be deleted; retire it instead"),
                            {{"course_version", existing.name()},
                             {"state", v1::CourseVersionState_Name(existing.state())}});
      }
      return Exec(c, "DELETE FROM training_versions WHERE force = ? AND course = ? AND id = ?",
                  {force, course, version});
    });
  }

  absl::StatusOr<v1::CourseVersion> PublishCourseVersion(const std::string& force,
                                                         const std::string& course,
                                                         const std::string& version,
                                                         const std::string& etag) override {
    return ChangeVersionState(force, course, version, etag, [&](v1::CourseVersion* v) {
      if (v->state() != v1::COURSE_VERSION_STATE_DRAFT) {
        return WithMetadata(
            TrainingError(v1::TRAINING_ERROR_REASON_COURSE_VERSION_NOT_DRAFT,
                          "only a DRAFT version can be published"),
            {{"course_version", v->name()}, {"state", v1::CourseVersionState_Name(v->state())}});
      }
      bool mandatory = false;
      for (const auto& m : v->modules()) mandatory = mandatory || m.mandatory();
      if (!mandatory) {
        return TrainingError(v1::TRAINING_ERROR_REASON_COURSE_VERSION_EMPTY,
                             "a version needs at least one mandatory module to be published");
      }
      v->set_state(v1::COURSE_VERSION_STATE_PUBLISHED);
      *v->mutable_publish_time() = ToProtoTime(clock_->Now());
      return absl::OkStatus();
    });
  }

  absl::StatusOr<v1::CourseVersion> RetireCourseVersion(const std::string& force,
                                                        const std::string& course,
                                                        const std::string& version,
                                                        const std::string& etag) override {
    return ChangeVersionState(force, course, version, etag, [&](v1::CourseVersion* v) {
      if (v->state() != v1::COURSE_VERSION_STATE_PUBLISHED) {
        return WithMetadata(
            TrainingError(v1::TRAINING_ERROR_REASON_COURSE_VERSION_NOT_PUBLISHED,
                          "only a PUBLISHED version can be retired"),
            {{"course_version", v->name()}, {"state", v1::CourseVersionState_Name(v->state())}});
      }
      v->set_state(v1::COURSE_VERSION_STATE_RETIRED);
      *v->mutable_retire_time() = ToProtoTime(clock_->Now());
      return absl::OkStatus();
    });
  }

  // --- officers --------------------------------------------------------------------------
  absl::StatusOr<v1::Officer> GetOfficer(const std::string& force,
                                         const std::string& officer) override {
    v1::Officer out;
    absl::Status s = db_->Read([&](Connection& c) { return LoadOfficer(c, force, officer, &out); });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<Page<v1::Officer>> ListOfficers(const std::string& force,
                                                 const ListParams& params) override {
    return List<v1::Officer>("training_officers", "force = ?", {force}, OfficerSchema(),
                             "staff_number", params, {"officers", force}, nullptr);
  }

  absl::StatusOr<v1::Officer> CreateOfficer(const std::string& force, std::string id,
                                            const v1::Officer& officer,
                                            const Idempotency& idem) override {
    v1::Officer out;
    absl::Status s = WriteIn(force, [&](Connection& c) -> absl::Status {
      bool replayed = false;
      if (auto st = Replay(c, force, "CreateOfficer", idem, &out, &replayed); !st.ok() || replayed)
        return st;
      if (id.empty()) id = GenerateResourceId("o");
      const std::string name = OfficerPattern().Format({force, id});
      v1::Officer existing;
      if (LoadOfficer(c, force, id, &existing).ok()) return AlreadyExists(name);
      auto q = c.Prepare("SELECT name FROM training_officers WHERE force = ? AND staff_number = ?");
      if (!q.ok()) return q.status();
      q->Bind(1, force).Bind(2, officer.staff_number());
      auto row = q->Step();
      if (!row.ok()) return row.status();
      if (*row) return AlreadyExists(q->Text(0));
      const absl::Time now = clock_->Now();
      out = officer;
      out.set_name(name);
      *out.mutable_create_time() = ToProtoTime(now);
      *out.mutable_update_time() = ToProtoTime(now);
      Stamp(&out);
      if (auto st = SaveOfficer(c, force, id, out); !st.ok()) return st;
      if (auto st = EmitOfficerUpserted(c, force, out, now); !st.ok()) return st;
      return Remember(c, force, "CreateOfficer", idem, out);
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<v1::Officer> UpdateOfficer(const std::string& force, const std::string& officer,
                                            const v1::Officer& patch,
                                            const std::set<std::string>& paths,
                                            const std::string& etag) override {
    v1::Officer out;
    absl::Status s = WriteIn(force, [&](Connection& c) -> absl::Status {
      if (auto st = LoadOfficer(c, force, officer, &out); !st.ok()) return st;
      if (auto st = CheckEtag("officer.etag", out.name(), etag, out.etag()); !st.ok()) return st;
      if (paths.count("role")) out.set_role(patch.role());
      if (paths.count("division")) out.set_division(patch.division());
      if (paths.count("active")) out.set_active(patch.active());
      const absl::Time now = clock_->Now();
      *out.mutable_update_time() = ToProtoTime(now);
      Stamp(&out);
      if (auto st = SaveOfficer(c, force, officer, out); !st.ok()) return st;
      return EmitOfficerUpserted(c, force, out, now);
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::Status DeleteOfficer(const std::string& force, const std::string& officer,
                             const std::string& etag) override {
    return WriteIn(force, [&](Connection& c) -> absl::Status {
      v1::Officer existing;
      if (auto st = LoadOfficer(c, force, officer, &existing); !st.ok()) return st;
      if (auto st = CheckEtag("etag", existing.name(), etag, existing.etag()); !st.ok()) return st;
      auto q =
          c.Prepare("SELECT COUNT(*) FROM training_enrolments WHERE force = ? AND officer = ?");
      if (!q.ok()) return q.status();
      q->Bind(1, force).Bind(2, existing.name());
      if (auto row = q->Step(); !row.ok()) return row.status();
      if (q->Int64(0) > 0) {
        return FailedPrecondition("RESOURCE_IN_USE",
                                  "the officer has enrolments; set active to false instead");
      }
      if (auto st =
              Exec(c, "DELETE FROM training_officers WHERE force = ? AND id = ?", {force, officer});
          !st.ok())
        return st;
      const absl::Time now = clock_->Now();
      OutreachEvent e = Envelope(force, existing.name(), now);
      e.mutable_officer_deleted()->set_role(existing.role());
      e.mutable_officer_deleted()->set_division(existing.division());
      return Outbox::Append(c, std::move(e), now);
    });
  }

  // --- enrolments ------------------------------------------------------------------------
  absl::StatusOr<v1::Enrolment> GetEnrolment(const std::string& force,
                                             const std::string& enrolment) override {
    v1::Enrolment out;
    const absl::Time now = clock_->Now();
    absl::Status s =
        db_->Read([&](Connection& c) { return LoadEnrolment(c, force, enrolment, &out); });
    if (!s.ok()) return s;
    Present(now, &out);
    return out;
  }

  absl::StatusOr<Page<v1::Enrolment>> ListEnrolments(const std::string& force,
                                                     const ListParams& params) override {
    const absl::Time now = clock_->Now();
    return List<v1::Enrolment>("training_enrolments", "force = ?", {force}, EnrolmentSchema(now),
                               "create_time", params, {"enrolments", force},
                               [&](v1::Enrolment* e) { Present(now, e); });
  }

  absl::StatusOr<v1::Enrolment> EnrolOfficer(const std::string& force, std::string id,
                                             const std::string& officer, const std::string& course,
                                             const std::string& version,
                                             std::optional<absl::CivilDay> due_date,
                                             const Idempotency& idem) override {
    v1::Enrolment out;
    const absl::Time now = clock_->Now();
    absl::Status s = WriteIn(force, [&](Connection& c) -> absl::Status {
      bool replayed = false;
      if (auto st = Replay(c, force, "EnrolOfficer", idem, &out, &replayed); !st.ok() || replayed)
        return st;
      v1::Officer o;
      if (auto st = LoadOfficer(c, force, officer, &o); !st.ok()) return st;
      v1::CourseVersion v;
      if (auto st = LoadVersion(c, force, course, version, &v); !st.ok()) return st;
      if (id.empty()) id = GenerateResourceId("e");
      const std::string name = EnrolmentPattern().Format({force, id});
      v1::Enrolment existing;
      if (LoadEnrolment(c, force, id, &existing).ok()) return AlreadyExists(name);
      if (v.state() == v1::COURSE_VERSION_STATE_DRAFT) {
        return WithMetadata(
            TrainingError(v1::TRAINING_ERROR_REASON_COURSE_VERSION_NOT_PUBLISHED,
                          "the course version is not published yet"),
            {{"course_version", v.name()}, {"state", v1::CourseVersionState_Name(v.state())}});
      }
      if (v.state() == v1::COURSE_VERSION_STATE_RETIRED) {
        return WithMetadata(
            TrainingError(v1::TRAINING_ERROR_REASON_COURSE_VERSION_RETIRED,
                          "the course version is retired; enrol in a newer version"),
            {{"course_version", v.name()}});
      }
      if (!o.active()) {
        return WithMetadata(
            TrainingError(v1::TRAINING_ERROR_REASON_OFFICER_INACTIVE, "the officer is not active"),
            {{"officer", o.name()}});
      }
      const std::string course_name = CoursePattern().Format({force, course});
      auto open = FindOpenEnrolment(c, force, o.name(), course_name);
      if (!open.ok()) return open.status();
      if (!open->empty()) {
        return WithMetadata(
            TrainingError(v1::TRAINING_ERROR_REASON_DUPLICATE_ACTIVE_ENROLMENT,
                          absl::StrCat("the officer already has an open enrolment in this "
                                       "course: ",
                                       *open)),
            {{"enrolment", *open}});
      }
      out = NewEnrolment(name, o, v, course_name, v1::RECORD_SOURCE_API, now);
      if (due_date.has_value()) *out.mutable_due_date() = ToProtoDate(*due_date);
      Stamp(&out);
      if (auto st = SaveEnrolment(c, force, id, out); !st.ok()) return st;
      if (auto st = EmitEnrolmentCreated(c, force, out, now); !st.ok()) return st;
      return Remember(c, force, "EnrolOfficer", idem, out);
    });
    if (!s.ok()) return s;
    Present(now, &out);
    return out;
  }

  absl::StatusOr<v1::Enrolment> UpdateEnrolmentDueDate(const std::string& force,
                                                       const std::string& enrolment,
                                                       std::optional<absl::CivilDay> due_date,
                                                       const std::string& etag) override {
    v1::Enrolment out;
    const absl::Time now = clock_->Now();
    absl::Status s = WriteIn(force, [&](Connection& c) -> absl::Status {
      if (auto st = LoadEnrolment(c, force, enrolment, &out); !st.ok()) return st;
      if (auto st = CheckEtag("enrolment.etag", out.name(), etag, out.etag()); !st.ok()) return st;
      if (auto st = RequireOpen(out, now); !st.ok()) return st;
      if (due_date.has_value()) {
        *out.mutable_due_date() = ToProtoDate(*due_date);
      } else {
        out.clear_due_date();
      }
      *out.mutable_update_time() = ToProtoTime(now);
      Stamp(&out);
      if (auto st = SaveEnrolment(c, force, enrolment, out); !st.ok()) return st;
      OutreachEvent e = Envelope(force, out.name(), now);
      auto* p = e.mutable_enrolment_due_date_changed();
      p->set_officer(out.officer());
      p->set_course(out.course());
      if (out.has_due_date()) *p->mutable_due_date() = out.due_date();
      return Outbox::Append(c, std::move(e), now);
    });
    if (!s.ok()) return s;
    Present(now, &out);
    return out;
  }

  absl::StatusOr<v1::Enrolment> RecordModuleResult(const std::string& force,
                                                   const std::string& enrolment,
                                                   const ModuleResultInput& input) override {
    v1::Enrolment out;
    const absl::Time now = clock_->Now();
    absl::Status s = WriteIn(force, [&](Connection& c) -> absl::Status {
      if (auto st = LoadEnrolment(c, force, enrolment, &out); !st.ok()) return st;
      VersionCache cache;
      auto v = cache.Get(*this, c, out.course_version());
      if (!v.ok()) return v.status();
      const v1::Module* module = FindModule((*v)->version, input.module_id);
      if (module == nullptr) {
        return WithMetadata(
            TrainingError(v1::TRAINING_ERROR_REASON_MODULE_NOT_IN_VERSION,
                          "the module is not part of the enrolment's course version"),
            {{"module_id", input.module_id}, {"course_version", out.course_version()}});
      }
      // An identical re-send (a client retry) changes nothing and succeeds in any state.
      const bool passed = DecidePassed(*module, input.score, input.passed);
      if (HoldsIdenticalResult(out, input.module_id, input.score, passed, input.completed_time)) {
        return absl::OkStatus();
      }
      if (out.state() == v1::ENROLMENT_STATE_WITHDRAWN) {
        return TrainingError(v1::TRAINING_ERROR_REASON_ENROLMENT_WITHDRAWN,
                             "the enrolment was withdrawn and takes no results");
      }
      if (auto st = RequireOpen(out, now); !st.ok()) return st;
      v1::Officer officer;
      if (auto st = LoadOfficerByName(c, force, out.officer(), &officer); !st.ok()) return st;
      return ApplyResults(c, force, **v, officer,
                          {{input.module_id, input.score, passed, input.completed_time}},
                          v1::RECORD_SOURCE_API, now, &out);
    });
    if (!s.ok()) return s;
    Present(now, &out);
    return out;
  }

  absl::StatusOr<v1::Enrolment> WithdrawEnrolment(const std::string& force,
                                                  const std::string& enrolment,
                                                  const std::string& etag,
                                                  const std::string& reason) override {
    v1::Enrolment out;
    const absl::Time now = clock_->Now();
    absl::Status s = WriteIn(force, [&](Connection& c) -> absl::Status {
      if (auto st = LoadEnrolment(c, force, enrolment, &out); !st.ok()) return st;
      if (auto st = CheckEtag("etag", out.name(), etag, out.etag()); !st.ok()) return st;
      if (auto st = RequireOpen(out, now); !st.ok()) return st;
      out.set_state(v1::ENROLMENT_STATE_WITHDRAWN);
      *out.mutable_withdraw_time() = ToProtoTime(now);
      out.set_withdraw_reason(reason);
      *out.mutable_update_time() = ToProtoTime(now);
      Stamp(&out);
      if (auto st = SaveEnrolment(c, force, enrolment, out); !st.ok()) return st;
      v1::Officer o;
      if (auto st = LoadOfficerByName(c, force, out.officer(), &o); !st.ok()) return st;
      OutreachEvent e = Envelope(force, out.name(), now);
      auto* p = e.mutable_enrolment_withdrawn();
      p->set_officer(out.officer());
      p->set_role(o.role());
      p->set_division(o.division());
      p->set_course(out.course());
      p->set_course_version(out.course_version());
      return Outbox::Append(c, std::move(e), now);
    });
    if (!s.ok()) return s;
    Present(now, &out);
    return out;
  }

  // --- import ----------------------------------------------------------------------------
  absl::Status ImportCompletions(const std::string& force,
                                 const std::vector<v1::CompletionRecord>& records, int first_index,
                                 ImportSummary* summary) override {
    ImportSummary batch;
    const absl::Time now = clock_->Now();
    absl::Status s = WriteIn(force, [&](Connection& c) -> absl::Status {
      batch = ImportSummary();
      VersionCache cache;
      std::map<std::string, v1::Officer> officers;
      for (size_t i = 0; i < records.size(); ++i) {
        const int index = first_index + static_cast<int>(i);
        auto outcome = ImportOne(c, force, records[i], now, cache, officers);
        if (!outcome.ok()) return outcome.status();  // store failure: nothing of the batch
        if (outcome->reason.empty()) {
          if (outcome->applied) {
            ++batch.applied;
          } else {
            ++batch.skipped;
          }
        } else {
          ++batch.rejected;
          v1::ImportRecordError err;
          err.set_index(index);
          err.set_external_record_id(records[i].external_record_id());
          err.set_reason(outcome->reason);
          err.set_field(outcome->field);
          batch.errors.push_back(std::move(err));
        }
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    summary->applied += batch.applied;
    summary->skipped += batch.skipped;
    summary->rejected += batch.rejected;
    for (auto& e : batch.errors) {
      if (static_cast<int>(summary->errors.size()) < kMaxImportErrors) {
        summary->errors.push_back(std::move(e));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int> SweepExpired(const std::string& force) override {
    int moved = 0;
    const absl::Time now = clock_->Now();
    absl::Status s = db_->Write([&](Connection& c) -> absl::Status {
      auto n = Sweep(c, force, now);
      if (!n.ok()) return n.status();
      moved = *n;
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return moved;
  }

  absl::StatusOr<ComplianceFacts> LoadComplianceFacts(const std::string& force,
                                                      const std::string& course) override {
    ComplianceFacts facts;
    absl::Status s = db_->Read([&](Connection& c) -> absl::Status {
      if (!course.empty()) {
        v1::Course co;
        if (auto st = LoadCourse(c, force, course, &co); !st.ok()) return st;
        facts.course = co;
      }
      auto q =
          c.Prepare("SELECT name, role, division, active FROM training_officers WHERE force = ?");
      if (!q.ok()) return q.status();
      q->Bind(1, force);
      while (true) {
        auto row = q->Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        facts.officers.push_back(
            {q->Text(0), static_cast<int>(q->Int64(1)), q->Text(2), q->Int64(3) != 0});
      }
      std::string sql =
          "SELECT officer, officer_role, officer_division, create_micros, complete_micros, "
          "valid_until_micros, withdraw_micros, due_date FROM training_enrolments WHERE force = ?";
      if (!course.empty()) sql += " AND course = ?";
      auto e = c.Prepare(sql);
      if (!e.ok()) return e.status();
      e->Bind(1, force);
      if (!course.empty()) e->Bind(2, CoursePattern().Format({force, course}));
      while (true) {
        auto row = e->Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        EnrolmentFacts f;
        f.officer = e->Text(0);
        f.role = static_cast<int>(e->Int64(1));
        f.division = e->Text(2);
        f.create_time = FromMicros(e->Int64(3));
        if (!e->IsNull(4)) f.complete_time = FromMicros(e->Int64(4));
        if (!e->IsNull(5)) f.valid_until = FromMicros(e->Int64(5));
        if (!e->IsNull(6)) f.withdraw_time = FromMicros(e->Int64(6));
        if (!e->IsNull(7)) {
          absl::CivilDay day;
          if (absl::ParseCivilTime(e->Text(7), &day)) f.due_date = day;
        }
        facts.enrolments.push_back(std::move(f));
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return facts;
  }

 private:
  struct CachedVersion {
    v1::CourseVersion version;
    int validity_months = 0;
    std::string course_name;
  };
  // Versions (with their course's validity) read once per transaction.
  class VersionCache {
   public:
    absl::StatusOr<const CachedVersion*> Get(SqlTrainingStore& store, Connection& c,
                                             const std::string& version_name) {
      auto it = cache_.find(version_name);
      if (it != cache_.end()) return &it->second;
      auto ids = CourseVersionPattern().Parse("course_version", version_name);
      if (!ids.ok()) return ids.status();
      CachedVersion cv;
      if (auto st = store.LoadVersion(c, (*ids)[0], (*ids)[1], (*ids)[2], &cv.version); !st.ok())
        return st;
      v1::Course course;
      if (auto st = store.LoadCourse(c, (*ids)[0], (*ids)[1], &course); !st.ok()) return st;
      cv.validity_months = course.validity_months();
      cv.course_name = course.name();
      return &cache_.emplace(version_name, std::move(cv)).first->second;
    }

   private:
    std::map<std::string, CachedVersion> cache_;
  };

  struct ImportOutcome {
    bool applied = false;
    std::string reason;  // empty: accepted
    std::string field;
  };

  static ImportOutcome Reject(absl::string_view reason, absl::string_view field = "") {
    return {false, std::string(reason), std::string(field)};
  }

  // `officers` caches the officers read in this transaction, by resource name and by
  // "staff_number:<n>" (imports never change officers).
  absl::StatusOr<ImportOutcome> ImportOne(Connection& c, const std::string& force,
                                          const v1::CompletionRecord& r, absl::Time now,
                                          VersionCache& cache,
                                          std::map<std::string, v1::Officer>& officers) {
    // Validation of the record's own fields.
    if (r.learner_case() == v1::CompletionRecord::LEARNER_NOT_SET) {
      return Reject("FIELD_INVALID", "officer");
    }
    if (!r.has_completed_time()) return Reject("FIELD_INVALID", "completed_time");
    auto completed = FromProtoTime("completed_time", r.completed_time());
    if (!completed.ok() || *completed > now) return Reject("FIELD_INVALID", "completed_time");
    if (r.has_score() && (r.score() < 0 || r.score() > 100))
      return Reject("FIELD_INVALID", "score");
    if (r.has_score() && r.module_id().empty()) return Reject("FIELD_INVALID", "score");
    if (r.external_record_id().size() > 64) return Reject("FIELD_INVALID", "external_record_id");
    if (!r.module_id().empty() && !IsValidResourceId(r.module_id())) {
      return Reject("FIELD_INVALID", "module_id");
    }
    auto vids = CourseVersionPattern().Parse("course_version", r.course_version());
    if (!vids.ok()) return Reject("FIELD_INVALID", "course_version");
    if ((*vids)[0] != force) return Reject("CROSS_FORCE_ACCESS", "course_version");

    // The officer.
    v1::Officer officer;
    if (r.learner_case() == v1::CompletionRecord::kOfficer) {
      auto oids = OfficerPattern().Parse("officer", r.officer());
      if (!oids.ok()) return Reject("FIELD_INVALID", "officer");
      if ((*oids)[0] != force) return Reject("CROSS_FORCE_ACCESS", "officer");
      auto it = officers.find(r.officer());
      if (it != officers.end()) {
        officer = it->second;
      } else {
        absl::Status st = LoadOfficer(c, force, (*oids)[1], &officer);
        if (absl::IsNotFound(st)) return Reject("RESOURCE_NOT_FOUND", "officer");
        if (!st.ok()) return st;
        officers[officer.name()] = officer;
      }
    } else {
      if (!IsValidStaffNumber(r.staff_number())) return Reject("FIELD_INVALID", "staff_number");
      const std::string key = "staff_number:" + r.staff_number();
      auto it = officers.find(key);
      if (it != officers.end()) {
        officer = it->second;
      } else {
        auto q =
            c.Prepare("SELECT body FROM training_officers WHERE force = ? AND staff_number = ?");
        if (!q.ok()) return q.status();
        q->Bind(1, force).Bind(2, r.staff_number());
        auto row = q->Step();
        if (!row.ok()) return row.status();
        if (!*row) return Reject("RESOURCE_NOT_FOUND", "staff_number");
        if (auto st = ParseBody(q->Blob(0), &officer); !st.ok()) return st;
        officers[key] = officer;
      }
    }

    // The version.
    auto cv = cache.Get(*this, c, r.course_version());
    if (!cv.ok()) {
      if (absl::IsNotFound(cv.status())) return Reject("RESOURCE_NOT_FOUND", "course_version");
      return cv.status();
    }
    const CachedVersion& version = **cv;
    if (version.version.state() == v1::COURSE_VERSION_STATE_DRAFT) {
      return Reject(ReasonName(v1::TRAINING_ERROR_REASON_COURSE_VERSION_NOT_PUBLISHED),
                    "course_version");
    }
    std::vector<ModuleResultInput> results;
    if (r.module_id().empty()) {
      for (const auto& m : version.version.modules()) {
        results.push_back({m.module_id(), std::nullopt, true, *completed});
      }
    } else {
      const v1::Module* m = FindModule(version.version, r.module_id());
      if (m == nullptr) {
        return Reject(ReasonName(v1::TRAINING_ERROR_REASON_MODULE_NOT_IN_VERSION), "module_id");
      }
      const std::optional<int> score = r.has_score() ? std::optional<int>(r.score()) : std::nullopt;
      results.push_back({m->module_id(), score, DecidePassed(*m, score, r.passed()), *completed});
    }
    auto holds_all = [&](const v1::Enrolment& e) {
      for (const auto& x : results) {
        if (!HoldsIdenticalResult(e, x.module_id, x.score, x.passed, x.completed_time)) {
          return false;
        }
      }
      return true;
    };

    // Which enrolment takes the record (see CompletionRecord in the proto).
    auto q = c.Prepare(
        "SELECT id, body FROM training_enrolments WHERE force = ? AND officer = ? AND "
        "course_version = ? ORDER BY create_micros, id");
    if (!q.ok()) return q.status();
    q->Bind(1, force).Bind(2, officer.name()).Bind(3, r.course_version());
    std::vector<std::pair<std::string, v1::Enrolment>> existing;
    while (true) {
      auto row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      v1::Enrolment e;
      if (auto st = ParseBody(q->Blob(1), &e); !st.ok()) return st;
      existing.emplace_back(q->Text(0), std::move(e));
    }
    for (auto& [id, e] : existing) {
      if (e.state() == v1::ENROLMENT_STATE_ENROLLED ||
          e.state() == v1::ENROLMENT_STATE_IN_PROGRESS) {
        if (holds_all(e)) return ImportOutcome{};
        std::vector<ModuleResultInput> changed;
        for (const auto& x : results) {
          if (!HoldsIdenticalResult(e, x.module_id, x.score, x.passed, x.completed_time)) {
            changed.push_back(x);
          }
        }
        if (auto st = ApplyResults(c, force, version, officer, changed, v1::RECORD_SOURCE_IMPORT,
                                   now, &e);
            !st.ok())
          return st;
        return ImportOutcome{true, "", ""};
      }
    }
    for (auto& [id, e] : existing) {
      if (e.state() != v1::ENROLMENT_STATE_WITHDRAWN && holds_all(e)) return ImportOutcome{};
    }
    const std::string id = GenerateResourceId("e");
    v1::Enrolment e = NewEnrolment(EnrolmentPattern().Format({force, id}), officer, version.version,
                                   version.course_name, v1::RECORD_SOURCE_IMPORT, now);
    Stamp(&e);
    if (auto st = SaveEnrolment(c, force, id, e); !st.ok()) return st;
    if (auto st = EmitEnrolmentCreated(c, force, e, now); !st.ok()) return st;
    if (auto st =
            ApplyResults(c, force, version, officer, results, v1::RECORD_SOURCE_IMPORT, now, &e);
        !st.ok())
      return st;
    return ImportOutcome{true, "", ""};
  }

  // Records results on an open enrolment (ENROLLED/IN_PROGRESS), completes it when every
  // mandatory module is passed, saves it and appends the events.
  // `officer` is the enrolment's officer as stored now (its role and division are recorded at
  // completion).
  absl::Status ApplyResults(Connection& c, const std::string& force, const CachedVersion& cv,
                            const v1::Officer& officer,
                            const std::vector<ModuleResultInput>& results, v1::RecordSource source,
                            absl::Time now, v1::Enrolment* e) {
    if (results.empty()) return absl::OkStatus();
    const bool imported = source == v1::RECORD_SOURCE_IMPORT;
    for (const auto& x : results) {
      v1::ModuleResult r;
      r.set_module_id(x.module_id);
      if (x.score.has_value()) r.set_score(*x.score);
      r.set_passed(x.passed);
      *r.mutable_completed_time() = ToProtoTime(x.completed_time);
      *r.mutable_record_time() = ToProtoTime(now);
      r.set_source(source);
      UpsertModuleResult(cv.version, r, e);
      const v1::Module* m = FindModule(cv.version, x.module_id);
      OutreachEvent ev = Envelope(force, e->name(), now);
      auto* p = ev.mutable_module_completed();
      p->set_officer(e->officer());
      p->set_role(e->officer_role());
      p->set_division(e->officer_division());
      p->set_course(e->course());
      p->set_course_version(e->course_version());
      p->set_module_id(x.module_id);
      p->set_mandatory(m != nullptr && m->mandatory());
      p->set_passed(x.passed);
      if (x.score.has_value()) p->set_score(*x.score);
      *p->mutable_completed_time() = ToProtoTime(x.completed_time);
      p->set_imported(imported);
      if (auto st = Outbox::Append(c, std::move(ev), now); !st.ok()) return st;
    }
    if (!e->has_start_time()) *e->mutable_start_time() = ToProtoTime(now);
    if (e->state() == v1::ENROLMENT_STATE_ENROLLED) e->set_state(v1::ENROLMENT_STATE_IN_PROGRESS);
    const std::optional<absl::Time> done = CompletionTime(cv.version, *e);
    if (done.has_value()) {
      e->set_state(v1::ENROLMENT_STATE_COMPLETED);
      e->set_officer_role(officer.role());
      e->set_officer_division(officer.division());
      auto* cert = e->mutable_certificate();
      cert->set_certificate_id(absl::StrCat(
          absl::string_view(e->name()).substr(e->name().rfind('/') + 1), "-", ToMicros(*done)));
      *cert->mutable_issue_time() = ToProtoTime(*done);
      const std::optional<absl::Time> until = ValidUntil(*done, cv.validity_months);
      if (until.has_value()) {
        *cert->mutable_valid_until() = ToProtoTime(*until);
      } else {
        cert->clear_valid_until();
      }
      *e->mutable_complete_time() = ToProtoTime(*done);
      OutreachEvent ev = Envelope(force, e->name(), now);
      auto* p = ev.mutable_enrolment_completed();
      p->set_officer(e->officer());
      p->set_role(officer.role());
      p->set_division(officer.division());
      p->set_course(e->course());
      p->set_course_version(e->course_version());
      *p->mutable_completed_time() = ToProtoTime(*done);
      if (until.has_value()) *p->mutable_valid_until() = ToProtoTime(*until);
      p->set_imported(imported);
      if (auto st = Outbox::Append(c, std::move(ev), now); !st.ok()) return st;
    }
    *e->mutable_update_time() = ToProtoTime(now);
    Stamp(e);
    auto ids = EnrolmentPattern().Parse("name", e->name());
    if (!ids.ok()) return ids.status();
    if (auto st = SaveEnrolment(c, force, (*ids)[1], *e); !st.ok()) return st;
    // A certificate already past its validity (imported history) expires at once; re-read the
    // enrolment so the caller gets the materialised state and etag.
    const std::optional<absl::Time> until = ValidUntilOf(*e);
    if (done.has_value() && until.has_value() && *until <= now) {
      if (auto st = Sweep(c, force, now); !st.ok()) return st.status();
      return LoadEnrolment(c, force, (*ids)[1], e);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int> Sweep(Connection& c, const std::string& force, absl::Time now) {
    std::string sql =
        "SELECT force, id, body FROM training_enrolments WHERE state = ? AND "
        "valid_until_micros IS NOT NULL AND valid_until_micros <= ?";
    if (!force.empty()) sql += " AND force = ?";
    auto q = c.Prepare(sql);
    if (!q.ok()) return q.status();
    q->Bind(1, static_cast<int>(v1::ENROLMENT_STATE_COMPLETED)).Bind(2, ToMicros(now));
    if (!force.empty()) q->Bind(3, force);
    std::vector<std::tuple<std::string, std::string, v1::Enrolment>> due;
    while (true) {
      auto row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      v1::Enrolment e;
      if (auto st = ParseBody(q->Blob(2), &e); !st.ok()) return st;
      due.emplace_back(q->Text(0), q->Text(1), std::move(e));
    }
    for (auto& [f, id, e] : due) {
      e.set_state(v1::ENROLMENT_STATE_EXPIRED);
      *e.mutable_update_time() = ToProtoTime(now);
      Stamp(&e);
      if (auto st = SaveEnrolment(c, f, id, e); !st.ok()) return st;
      v1::Officer o;
      if (auto st = LoadOfficerByName(c, f, e.officer(), &o); !st.ok()) return st;
      OutreachEvent ev = Envelope(f, e.name(), now);
      auto* p = ev.mutable_certificate_expired();
      p->set_officer(e.officer());
      p->set_role(o.role());
      p->set_division(o.division());
      p->set_course(e.course());
      p->set_course_version(e.course_version());
      *p->mutable_valid_until() = e.certificate().valid_until();
      if (auto st = Outbox::Append(c, std::move(ev), now); !st.ok()) return st;
    }
    return static_cast<int>(due.size());
  }

  static v1::Enrolment NewEnrolment(const std::string& name, const v1::Officer& o,
                                    const v1::CourseVersion& v, const std::string& course_name,
                                    v1::RecordSource source, absl::Time now) {
    v1::Enrolment e;
    e.set_name(name);
    e.set_officer(o.name());
    e.set_course_version(v.name());
    e.set_course(course_name);
    e.set_state(v1::ENROLMENT_STATE_ENROLLED);
    e.set_officer_role(o.role());
    e.set_officer_division(o.division());
    e.set_source(source);
    *e.mutable_create_time() = ToProtoTime(now);
    *e.mutable_update_time() = ToProtoTime(now);
    return e;
  }

  static absl::Status RequireOpen(const v1::Enrolment& e, absl::Time now) {
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

  static std::optional<absl::Time> ValidUntilOf(const v1::Enrolment& e) {
    if (!e.has_certificate() || !e.certificate().has_valid_until()) return std::nullopt;
    return TimeFromProto(e.certificate().valid_until());
  }

  static void Present(absl::Time now, v1::Enrolment* e) {
    e->set_state(EffectiveState(e->state(), ValidUntilOf(*e), now));
  }

  static OutreachEvent Envelope(const std::string& force, const std::string& subject,
                                absl::Time now) {
    OutreachEvent e;
    e.set_force(force);
    e.set_source(kSource);
    e.set_subject(subject);
    *e.mutable_occurred_time() = ToProtoTime(now);
    return e;
  }

  absl::Status EmitOfficerUpserted(Connection& c, const std::string& force, const v1::Officer& o,
                                   absl::Time now) {
    OutreachEvent e = Envelope(force, o.name(), now);
    auto* p = e.mutable_officer_upserted();
    p->set_role(o.role());
    p->set_division(o.division());
    p->set_active(o.active());
    return Outbox::Append(c, std::move(e), now);
  }

  absl::Status EmitEnrolmentCreated(Connection& c, const std::string& force,
                                    const v1::Enrolment& en, absl::Time now) {
    OutreachEvent e = Envelope(force, en.name(), now);
    auto* p = e.mutable_enrolment_created();
    p->set_officer(en.officer());
    p->set_role(en.officer_role());
    p->set_division(en.officer_division());
    p->set_course(en.course());
    p->set_course_version(en.course_version());
    if (en.has_due_date()) *p->mutable_due_date() = en.due_date();
    p->set_imported(en.source() == v1::RECORD_SOURCE_IMPORT);
    return Outbox::Append(c, std::move(e), now);
  }

  absl::StatusOr<std::string> FindOpenEnrolment(Connection& c, const std::string& force,
                                                const std::string& officer,
                                                const std::string& course) {
    auto q = c.Prepare(
        "SELECT name FROM training_enrolments WHERE force = ? AND officer = ? AND course = ? "
        "AND state IN (?, ?) ORDER BY name LIMIT 1");
    if (!q.ok()) return q.status();
    q->Bind(1, force)
        .Bind(2, officer)
        .Bind(3, course)
        .Bind(4, static_cast<int>(v1::ENROLMENT_STATE_ENROLLED))
        .Bind(5, static_cast<int>(v1::ENROLMENT_STATE_IN_PROGRESS));
    auto row = q->Step();
    if (!row.ok()) return row.status();
    return *row ? q->Text(0) : std::string();
  }

  // Every write transaction of a force first materialises the expiries that are due, so the
  // CertificateExpired events precede whatever the write changes.
  absl::Status WriteIn(const std::string& force, absl::FunctionRef<absl::Status(Connection&)> fn) {
    return db_->Write([&](Connection& c) -> absl::Status {
      if (auto st = Sweep(c, force, clock_->Now()); !st.ok()) return st.status();
      return fn(c);
    });
  }

  // --- request ledger ----------------------------------------------------------------------
  template <typename T>
  absl::Status Replay(Connection& c, const std::string& force, absl::string_view method,
                      const Idempotency& idem, T* out, bool* replayed) {
    auto found = RequestLedger::Find(c, force, method, idem.request_id, idem.request_hash);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::OkStatus();
    *replayed = true;
    return ParseBody(**found, out);
  }

  template <typename T>
  absl::Status Remember(Connection& c, const std::string& force, absl::string_view method,
                        const Idempotency& idem, const T& response) {
    return RequestLedger::Remember(c, force, method, idem.request_id, idem.request_hash,
                                   response.SerializeAsString(), clock_->Now());
  }

  // --- rows ----------------------------------------------------------------------------------
  static absl::Status Exec(Connection& c, absl::string_view sql,
                           const std::vector<SqlValue>& params) {
    auto q = c.Prepare(sql);
    if (!q.ok()) return q.status();
    BindAll(*q, params);
    return q->Run();
  }

  template <typename T>
  static absl::Status LoadOne(Connection& c, absl::string_view sql,
                              const std::vector<SqlValue>& params, const std::string& name,
                              T* out) {
    auto q = c.Prepare(sql);
    if (!q.ok()) return q.status();
    BindAll(*q, params);
    auto row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NotFound(name);
    return ParseBody(q->Blob(0), out);
  }

  absl::Status LoadCourse(Connection& c, const std::string& force, const std::string& id,
                          v1::Course* out) {
    return LoadOne(c, "SELECT body FROM training_courses WHERE force = ? AND id = ?", {force, id},
                   CoursePattern().Format({force, id}), out);
  }
  absl::Status LoadVersion(Connection& c, const std::string& force, const std::string& course,
                           const std::string& id, v1::CourseVersion* out) {
    return LoadOne(c,
                   "SELECT body FROM training_versions WHERE force = ? AND course = ? AND id = ?",
                   {force, course, id}, CourseVersionPattern().Format({force, course, id}), out);
  }
  absl::Status LoadOfficer(Connection& c, const std::string& force, const std::string& id,
                           v1::Officer* out) {
    return LoadOne(c, "SELECT body FROM training_officers WHERE force = ? AND id = ?", {force, id},
                   OfficerPattern().Format({force, id}), out);
  }
  absl::Status LoadOfficerByName(Connection& c, const std::string& force, const std::string& name,
                                 v1::Officer* out) {
    return LoadOne(c, "SELECT body FROM training_officers WHERE force = ? AND name = ?",
                   {force, name}, name, out);
  }
  absl::Status LoadEnrolment(Connection& c, const std::string& force, const std::string& id,
                             v1::Enrolment* out) {
    return LoadOne(c, "SELECT body FROM training_enrolments WHERE force = ? AND id = ?",
                   {force, id}, EnrolmentPattern().Format({force, id}), out);
  }

  static absl::Status SaveCourse(Connection& c, const std::string& force, const std::string& id,
                                 const v1::Course& x) {
    std::vector<std::string> roles;
    for (int r : x.target_roles()) {
      roles.push_back(outreach::common::v1::OfficerRole_Name(static_cast<OfficerRole>(r)));
    }
    auto q = c.Prepare(
        "INSERT INTO training_courses (force, id, name, display_name, origin, validity_months, "
        "target_roles, external_code, create_micros, update_micros, body) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (force, id) DO UPDATE SET "
        "display_name = excluded.display_name, origin = excluded.origin, "
        "validity_months = excluded.validity_months, target_roles = excluded.target_roles, "
        "external_code = excluded.external_code, update_micros = excluded.update_micros, "
        "body = excluded.body");
    if (!q.ok()) return q.status();
    q->Bind(1, force)
        .Bind(2, id)
        .Bind(3, x.name())
        .Bind(4, x.display_name())
        .Bind(5, static_cast<int>(x.origin()))
        .Bind(6, x.validity_months())
        .Bind(7, JoinStringList(roles))
        .Bind(8, x.external_code())
        .Bind(9, ToMicros(TimeFromProto(x.create_time())))
        .Bind(10, ToMicros(TimeFromProto(x.update_time())))
        .BindBlob(11, x.SerializeAsString());
    return q->Run();
  }

  static absl::Status SaveVersion(Connection& c, const std::string& force,
                                  const std::string& course, const std::string& id,
                                  const v1::CourseVersion& x) {
    auto q = c.Prepare(
        "INSERT INTO training_versions (force, course, id, name, display_name, state, "
        "publish_micros, create_micros, update_micros, body) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (force, course, id) DO UPDATE SET "
        "display_name = excluded.display_name, state = excluded.state, "
        "publish_micros = excluded.publish_micros, update_micros = excluded.update_micros, "
        "body = excluded.body");
    if (!q.ok()) return q.status();
    q->Bind(1, force)
        .Bind(2, course)
        .Bind(3, id)
        .Bind(4, x.name())
        .Bind(5, x.display_name())
        .Bind(6, static_cast<int>(x.state()))
        .Bind(7, OptMicros(x.publish_time(), x.has_publish_time()))
        .Bind(8, ToMicros(TimeFromProto(x.create_time())))
        .Bind(9, ToMicros(TimeFromProto(x.update_time())))
        .BindBlob(10, x.SerializeAsString());
    return q->Run();
  }

  static absl::Status SaveOfficer(Connection& c, const std::string& force, const std::string& id,
                                  const v1::Officer& x) {
    auto q = c.Prepare(
        "INSERT INTO training_officers (force, id, name, staff_number, role, division, active, "
        "create_micros, update_micros, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (force, id) DO UPDATE SET role = excluded.role, "
        "division = excluded.division, active = excluded.active, "
        "update_micros = excluded.update_micros, body = excluded.body");
    if (!q.ok()) return q.status();
    q->Bind(1, force)
        .Bind(2, id)
        .Bind(3, x.name())
        .Bind(4, x.staff_number())
        .Bind(5, static_cast<int>(x.role()))
        .Bind(6, x.division())
        .Bind(7, x.active() ? 1 : 0)
        .Bind(8, ToMicros(TimeFromProto(x.create_time())))
        .Bind(9, ToMicros(TimeFromProto(x.update_time())))
        .BindBlob(10, x.SerializeAsString());
    return q->Run();
  }

  static absl::Status SaveEnrolment(Connection& c, const std::string& force, const std::string& id,
                                    const v1::Enrolment& x) {
    auto q = c.Prepare(
        "INSERT INTO training_enrolments (force, id, name, officer, course, course_version, "
        "state, officer_role, officer_division, source, due_date, create_micros, "
        "complete_micros, valid_until_micros, withdraw_micros, update_micros, body) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (force, id) DO UPDATE "
        "SET state = excluded.state, officer_role = excluded.officer_role, "
        "officer_division = excluded.officer_division, due_date = excluded.due_date, "
        "complete_micros = excluded.complete_micros, "
        "valid_until_micros = excluded.valid_until_micros, "
        "withdraw_micros = excluded.withdraw_micros, update_micros = excluded.update_micros, "
        "body = excluded.body");
    if (!q.ok()) return q.status();
    q->Bind(1, force)
        .Bind(2, id)
        .Bind(3, x.name())
        .Bind(4, x.officer())
        .Bind(5, x.course())
        .Bind(6, x.course_version())
        .Bind(7, static_cast<int>(x.state()))
        .Bind(8, static_cast<int>(x.officer_role()))
        .Bind(9, x.officer_division())
        .Bind(10, static_cast<int>(x.source()));
    if (x.has_due_date()) {
      q->Bind(11, absl::StrFormat("%04d-%02d-%02d", x.due_date().year(), x.due_date().month(),
                                  x.due_date().day()));
    } else {
      q->BindNull(11);
    }
    q->Bind(12, ToMicros(TimeFromProto(x.create_time())))
        .Bind(13, OptMicros(x.complete_time(), x.has_complete_time()))
        .Bind(14, OptMicros(x.certificate().valid_until(),
                            x.has_certificate() && x.certificate().has_valid_until()))
        .Bind(15, OptMicros(x.withdraw_time(), x.has_withdraw_time()))
        .Bind(16, ToMicros(TimeFromProto(x.update_time())))
        .BindBlob(17, x.SerializeAsString());
    return q->Run();
  }

  absl::StatusOr<v1::CourseVersion> ChangeVersionState(
      const std::string& force, const std::string& course, const std::string& version,
      const std::string& etag, const std::function<absl::Status(v1::CourseVersion*)>& change) {
    v1::CourseVersion out;
    absl::Status s = WriteIn(force, [&](Connection& c) -> absl::Status {
      if (auto st = LoadVersion(c, force, course, version, &out); !st.ok()) return st;
      if (auto st = CheckEtag("etag", out.name(), etag, out.etag()); !st.ok()) return st;
      if (auto st = change(&out); !st.ok()) return st;
      *out.mutable_update_time() = ToProtoTime(clock_->Now());
      Stamp(&out);
      return SaveVersion(c, force, course, version, out);
    });
    if (!s.ok()) return s;
    return out;
  }

  template <typename T>
  absl::StatusOr<Page<T>> List(const std::string& table, const std::string& scope_sql,
                               std::vector<SqlValue> scope_params, const QuerySchema& schema,
                               absl::string_view default_order, const ListParams& p,
                               std::vector<std::string> fingerprint,
                               const std::function<void(T*)>& present) {
    auto where = schema.Where(p.filter);
    if (!where.ok()) return where.status();
    auto order = schema.OrderBy(p.order_by, default_order);
    if (!order.ok()) return order.status();
    fingerprint.push_back(p.filter);
    fingerprint.push_back(p.order_by);
    std::vector<absl::string_view> parts(fingerprint.begin(), fingerprint.end());
    auto paging = DecodeListPaging(*tokens_, p.page_size, p.page_token, parts);
    if (!paging.ok()) return paging.status();
    Page<T> page;
    absl::Status s = db_->Read([&](Connection& c) -> absl::Status {
      auto rows = SelectRowPage(c, table, "body", scope_sql, scope_params, *where, *order,
                                paging->page_size, paging->offset);
      if (!rows.ok()) return rows.status();
      page.total_size = rows->total_size;
      for (const std::string& body : rows->bodies) {
        T item;
        if (auto st = ParseBody(body, &item); !st.ok()) return st;
        if (present) present(&item);
        page.items.push_back(std::move(item));
      }
      page.next_page_token =
          NextPageToken(*tokens_, *paging, static_cast<int64_t>(page.items.size()), rows->more);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return page;
  }

  db::Database* db_;
  const Clock* clock_;
  const PageTokenCodec* tokens_;
};

}  // namespace

db::MigrationSet TrainingMigrations() {
  return {"training",
          {{1, "courses, versions, officers, enrolments",
            "CREATE TABLE training_courses ("
            "  force TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
            "  display_name TEXT NOT NULL, origin INTEGER NOT NULL,"
            "  validity_months INTEGER NOT NULL, target_roles TEXT NOT NULL,"
            "  external_code TEXT NOT NULL, create_micros INTEGER NOT NULL,"
            "  update_micros INTEGER NOT NULL, body BLOB NOT NULL,"
            "  PRIMARY KEY (force, id));"
            "CREATE TABLE training_versions ("
            "  force TEXT NOT NULL, course TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
            "  display_name TEXT NOT NULL, state INTEGER NOT NULL, publish_micros INTEGER,"
            "  create_micros INTEGER NOT NULL, update_micros INTEGER NOT NULL,"
            "  body BLOB NOT NULL, PRIMARY KEY (force, course, id));"
            "CREATE TABLE training_officers ("
            "  force TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
            "  staff_number TEXT NOT NULL, role INTEGER NOT NULL, division TEXT NOT NULL,"
            "  active INTEGER NOT NULL, create_micros INTEGER NOT NULL,"
            "  update_micros INTEGER NOT NULL, body BLOB NOT NULL,"
            "  PRIMARY KEY (force, id), UNIQUE (force, staff_number));"
            "CREATE INDEX training_officers_name ON training_officers (force, name);"
            "CREATE TABLE training_enrolments ("
            "  force TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
            "  officer TEXT NOT NULL, course TEXT NOT NULL, course_version TEXT NOT NULL,"
            "  state INTEGER NOT NULL, officer_role INTEGER NOT NULL,"
            "  officer_division TEXT NOT NULL, source INTEGER NOT NULL, due_date TEXT,"
            "  create_micros INTEGER NOT NULL, complete_micros INTEGER,"
            "  valid_until_micros INTEGER, withdraw_micros INTEGER,"
            "  update_micros INTEGER NOT NULL, body BLOB NOT NULL,"
            "  PRIMARY KEY (force, id));"
            "CREATE INDEX training_enrolments_officer_version"
            "  ON training_enrolments (force, officer, course_version);"
            "CREATE INDEX training_enrolments_officer_course"
            "  ON training_enrolments (force, officer, course, state);"
            "CREATE INDEX training_enrolments_expiry"
            "  ON training_enrolments (state, valid_until_micros);"}}};
}

std::unique_ptr<TrainingStore> NewSqlTrainingStore(db::Database* db, const Clock* clock,
                                                   const PageTokenCodec* page_tokens) {
  return std::make_unique<SqlTrainingStore>(db, clock, page_tokens);
}

}  // namespace outreach::training
