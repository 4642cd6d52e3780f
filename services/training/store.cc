#include "services/training/store.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/etag.h"
#include "common/query.h"
#include "common/resource_name.h"
#include "common/status_macros.h"
#include "common/store_kit.h"
#include "common/store_support.h"

namespace outreach::training {
namespace {

using db::Connection;
using db::FromMicros;
using db::ToMicros;

constexpr char kCourses[] = "training_courses";
constexpr char kVersions[] = "training_versions";
constexpr char kOfficers[] = "training_officers";
constexpr char kEnrolments[] = "training_enrolments";

std::optional<int64_t> OptMicros(const google::protobuf::Timestamp& ts, bool has) {
  if (!has) return std::nullopt;
  return ToMicros(TimeFromProto(ts));
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

// --- rows: the one place each resource maps to its columns ------------------------------
absl::Status SaveCourse(Connection& c, absl::string_view force, absl::string_view id,
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

absl::Status SaveVersion(Connection& c, absl::string_view force, absl::string_view course,
                         absl::string_view id, const v1::CourseVersion& x) {
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

absl::Status SaveOfficer(Connection& c, absl::string_view force, absl::string_view id,
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

absl::Status SaveEnrolment(Connection& c, absl::string_view force, absl::string_view id,
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

const ResourceTable<v1::Course>& Courses() {
  static const ResourceTable<v1::Course> table{kCourses, &CoursePattern(), SaveCourse};
  return table;
}
const ResourceTable<v1::Officer>& Officers() {
  static const ResourceTable<v1::Officer> table{kOfficers, &OfficerPattern(), SaveOfficer};
  return table;
}

// The bodies a query with bound `params` finds, in order. A body that does not parse is an
// error, never "absent".
template <typename M>
absl::StatusOr<std::vector<M>> QueryBodies(Connection& c, absl::string_view sql,
                                           const std::vector<SqlValue>& params) {
  OUTREACH_ASSIGN_OR_RETURN(db::Statement q, c.Prepare(sql));
  BindAll(q, params);
  std::vector<M> out;
  while (true) {
    OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    M m;
    if (!m.ParseFromString(q.Blob(0))) return absl::InternalError("stored row does not parse");
    out.push_back(std::move(m));
  }
}

// The one row a query by a unique key finds, or nullopt when there is none.
template <typename M>
absl::StatusOr<std::optional<M>> QueryBody(Connection& c, absl::string_view sql,
                                           const std::vector<SqlValue>& params) {
  OUTREACH_ASSIGN_OR_RETURN(std::vector<M> rows, QueryBodies<M>(c, sql, params));
  if (rows.empty()) return std::optional<M>();
  return std::optional<M>(std::move(rows.front()));
}

absl::Status Exec(Connection& c, absl::string_view sql, const std::vector<SqlValue>& params) {
  OUTREACH_ASSIGN_OR_RETURN(db::Statement q, c.Prepare(sql));
  BindAll(q, params);
  return q.Run();
}

// Versions are keyed by (force, course, id), so the kit's (force, id) loads do not fit.
absl::StatusOr<std::optional<v1::CourseVersion>> LoadVersion(Connection& c,
                                                             const std::string& force,
                                                             const std::string& course,
                                                             const std::string& id) {
  return QueryBody<v1::CourseVersion>(
      c, "SELECT body FROM training_versions WHERE force = ? AND course = ? AND id = ?",
      {force, course, id});
}
absl::StatusOr<v1::CourseVersion> MustLoadVersion(Connection& c, const std::string& force,
                                                  const std::string& course,
                                                  const std::string& id) {
  OUTREACH_ASSIGN_OR_RETURN(std::optional<v1::CourseVersion> v, LoadVersion(c, force, course, id));
  if (!v) return NotFound(CourseVersionPattern().Format({force, course, id}));
  return std::move(*v);
}

absl::StatusOr<v1::Course> MustLoadCourse(Connection& c, const std::string& force,
                                          const std::string& id) {
  return MustLoad<v1::Course>(c, kCourses, force, id, Courses().Name(force, id));
}
absl::StatusOr<v1::Officer> MustLoadOfficer(Connection& c, const std::string& force,
                                            const std::string& id) {
  return MustLoad<v1::Officer>(c, kOfficers, force, id, Officers().Name(force, id));
}
absl::StatusOr<v1::Enrolment> MustLoadEnrolment(Connection& c, const std::string& force,
                                                const std::string& id) {
  return MustLoad<v1::Enrolment>(c, kEnrolments, force, id, EnrolmentPattern().Format({force, id}));
}
absl::StatusOr<v1::Officer> LoadOfficerByName(Connection& c, const std::string& force,
                                              const std::string& name) {
  OUTREACH_ASSIGN_OR_RETURN(
      std::optional<v1::Officer> o,
      QueryBody<v1::Officer>(c, "SELECT body FROM training_officers WHERE force = ? AND name = ?",
                             {force, name}));
  if (!o) return NotFound(name);
  return std::move(*o);
}

// Writes what a rule decided: the enrolment, stamped, and its events.
absl::StatusOr<v1::Enrolment> WriteEnrolment(Connection& c, const std::string& force,
                                             EnrolmentChange change, absl::Time now, bool created) {
  StampResource(&change.enrolment, now, created);
  OUTREACH_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                            EnrolmentPattern().Parse("name", change.enrolment.name()));
  OUTREACH_RETURN_IF_ERROR(SaveEnrolment(c, force, ids[1], change.enrolment));
  for (OutreachEvent& e : change.events) {
    OUTREACH_RETURN_IF_ERROR(Outbox::Append(c, std::move(e), now));
  }
  return std::move(change.enrolment);
}

// Materialises due expiries (see store.h); `force` empty: every force.
absl::StatusOr<int> Sweep(Connection& c, const std::string& force, absl::Time now) {
  std::string sql =
      "SELECT force, body FROM training_enrolments WHERE state = ? AND "
      "valid_until_micros IS NOT NULL AND valid_until_micros <= ?";
  if (!force.empty()) sql += " AND force = ?";
  OUTREACH_ASSIGN_OR_RETURN(db::Statement q, c.Prepare(sql));
  q.Bind(1, static_cast<int>(v1::ENROLMENT_STATE_COMPLETED)).Bind(2, ToMicros(now));
  if (!force.empty()) q.Bind(3, force);
  std::vector<std::pair<std::string, v1::Enrolment>> due;
  while (true) {
    OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    v1::Enrolment e;
    if (!e.ParseFromString(q.Blob(1))) return absl::InternalError("stored row does not parse");
    due.emplace_back(q.Text(0), std::move(e));
  }
  for (auto& [f, e] : due) {
    OUTREACH_ASSIGN_OR_RETURN(v1::Officer officer, LoadOfficerByName(c, f, e.officer()));
    OUTREACH_RETURN_IF_ERROR(
        WriteEnrolment(c, f, ExpireCertificate(f, std::move(e), officer, now), now, false)
            .status());
  }
  return static_cast<int>(due.size());
}

absl::StatusOr<std::string> FindOpenEnrolment(Connection& c, const std::string& force,
                                              const std::string& officer,
                                              const std::string& course) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement q,
      c.Prepare("SELECT name FROM training_enrolments WHERE force = ? AND officer = ? AND "
                "course = ? AND state IN (?, ?) ORDER BY name LIMIT 1"));
  q.Bind(1, force)
      .Bind(2, officer)
      .Bind(3, course)
      .Bind(4, static_cast<int>(v1::ENROLMENT_STATE_ENROLLED))
      .Bind(5, static_cast<int>(v1::ENROLMENT_STATE_IN_PROGRESS));
  OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Text(0) : std::string();
}

// What the rules read, from one write transaction. Versions and officers are read once per
// transaction (imports never change them); enrolments are read each time, since earlier
// records of the batch may have written them.
class TransactionReader final : public ImportReader {
 public:
  TransactionReader(Connection& c, const std::string& force) : c_(c), force_(force) {}

  absl::StatusOr<std::optional<v1::Officer>> OfficerById(const std::string& id) override {
    return Cached(id, [&] { return LoadBody<v1::Officer>(c_, kOfficers, force_, id); });
  }

  absl::StatusOr<std::optional<v1::Officer>> OfficerByStaffNumber(
      const std::string& staff_number) override {
    return Cached("staff_number:" + staff_number, [&] {
      return QueryBody<v1::Officer>(
          c_, "SELECT body FROM training_officers WHERE force = ? AND staff_number = ?",
          {force_, staff_number});
    });
  }

  absl::StatusOr<const VersionFacts*> Version(const std::string& version_name) override {
    auto it = versions_.find(version_name);
    if (it != versions_.end()) return &it->second;
    OUTREACH_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                              CourseVersionPattern().Parse("course_version", version_name));
    OUTREACH_ASSIGN_OR_RETURN(std::optional<v1::CourseVersion> version,
                              LoadVersion(c_, ids[0], ids[1], ids[2]));
    if (!version) return static_cast<const VersionFacts*>(nullptr);
    OUTREACH_ASSIGN_OR_RETURN(std::optional<v1::Course> course,
                              LoadBody<v1::Course>(c_, kCourses, ids[0], ids[1]));
    if (!course) return static_cast<const VersionFacts*>(nullptr);
    VersionFacts facts{std::move(*version), course->validity_months(), course->name()};
    return &versions_.emplace(version_name, std::move(facts)).first->second;
  }

  absl::StatusOr<std::vector<v1::Enrolment>> EnrolmentsOf(
      const std::string& officer_name, const std::string& version_name) override {
    return QueryBodies<v1::Enrolment>(
        c_,
        "SELECT body FROM training_enrolments WHERE force = ? AND officer = ? AND "
        "course_version = ? ORDER BY create_micros, id",
        {force_, officer_name, version_name});
  }

 private:
  template <typename Load>
  absl::StatusOr<std::optional<v1::Officer>> Cached(const std::string& key, Load load) {
    auto it = officers_.find(key);
    if (it != officers_.end()) return std::optional<v1::Officer>(it->second);
    OUTREACH_ASSIGN_OR_RETURN(std::optional<v1::Officer> found, load());
    if (found) officers_[key] = *found;
    return found;
  }

  Connection& c_;
  const std::string force_;
  std::map<std::string, v1::Officer> officers_;
  std::map<std::string, VersionFacts> versions_;
};

void AddToSummary(ImportSummary batch, ImportSummary* summary) {
  summary->applied += batch.applied;
  summary->skipped += batch.skipped;
  summary->rejected += batch.rejected;
  for (auto& e : batch.errors) {
    if (static_cast<int>(summary->errors.size()) < kMaxImportErrors) {
      summary->errors.push_back(std::move(e));
    }
  }
}

absl::StatusOr<ComplianceFacts> ReadComplianceFacts(Connection& c, const std::string& force,
                                                    const std::string& course) {
  ComplianceFacts facts;
  if (!course.empty()) {
    OUTREACH_ASSIGN_OR_RETURN(facts.course, MustLoadCourse(c, force, course));
  }
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement q,
      c.Prepare("SELECT name, role, division, active FROM training_officers WHERE force = ?"));
  q.Bind(1, force);
  while (true) {
    OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    facts.officers.push_back({q.Text(0), static_cast<int>(q.Int64(1)), q.Text(2), q.Int64(3) != 0});
  }
  std::string sql =
      "SELECT officer, officer_role, officer_division, create_micros, complete_micros, "
      "valid_until_micros, withdraw_micros, due_date FROM training_enrolments WHERE force = ?";
  if (!course.empty()) sql += " AND course = ?";
  OUTREACH_ASSIGN_OR_RETURN(db::Statement e, c.Prepare(sql));
  e.Bind(1, force);
  if (!course.empty()) e.Bind(2, CoursePattern().Format({force, course}));
  while (true) {
    OUTREACH_ASSIGN_OR_RETURN(bool row, e.Step());
    if (!row) break;
    EnrolmentFacts f;
    f.officer = e.Text(0);
    f.role = static_cast<int>(e.Int64(1));
    f.division = e.Text(2);
    f.create_time = FromMicros(e.Int64(3));
    if (!e.IsNull(4)) f.complete_time = FromMicros(e.Int64(4));
    if (!e.IsNull(5)) f.valid_until = FromMicros(e.Int64(5));
    if (!e.IsNull(6)) f.withdraw_time = FromMicros(e.Int64(6));
    if (!e.IsNull(7)) {
      absl::CivilDay day;
      if (absl::ParseCivilTime(e.Text(7), &day)) f.due_date = day;
    }
    facts.enrolments.push_back(std::move(f));
  }
  return facts;
}

class SqlTrainingStore final : public TrainingStore {
 public:
  SqlTrainingStore(db::Database* db, const Clock* clock) : db_(db), clock_(clock) {}

  // --- courses ---------------------------------------------------------------------------
  absl::StatusOr<v1::Course> GetCourse(const std::string& force,
                                       const std::string& course) override {
    return GetResource(db_, Courses(), force, course);
  }

  absl::StatusOr<ListPage<v1::Course>> ListCourses(const std::string& force,
                                                   const ListQuery& query) override {
    return ListRows<v1::Course>(db_, kCourses, CourseSchema(), "display_name", force, query);
  }

  absl::StatusOr<v1::Course> CreateCourse(const std::string& force, std::string id,
                                          const v1::Course& course,
                                          const RequestKey& key) override {
    if (id.empty()) id = GenerateResourceId("c");
    return WriteIn<v1::Course>(force, [&](Connection& c, absl::Time now) {
      return CreateResource(c, Courses(), {force, "CreateCourse", key, now}, id, course);
    });
  }

  absl::StatusOr<v1::Course> UpdateCourse(const std::string& force, const std::string& course,
                                          const v1::Course& patch,
                                          const std::set<std::string>& paths) override {
    return WriteIn<v1::Course>(force, [&](Connection& c, absl::Time now) {
      return UpdateResource<v1::Course>(
          c, Courses(), force, course, patch, paths, "course.etag", now,
          [](const v1::Course& merged) { return ValidateCourse(merged, "course"); });
    });
  }

  absl::Status DeleteCourse(const std::string& force, const std::string& course,
                            const std::string& etag) override {
    WriteHooks<v1::Course> hooks;
    hooks.check = [&](Connection& c, const v1::Course&) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(
          bool used,
          RowExists(c, "SELECT 1 FROM training_versions WHERE force = ? AND course = ? LIMIT 1",
                    force, course));
      if (!used) return absl::OkStatus();
      return FailedPrecondition("RESOURCE_IN_USE",
                                "the course has versions; delete its draft versions first");
    };
    return WriteStatusIn(force, [&](Connection& c, absl::Time now) {
      return DeleteResource(c, Courses(), force, course, etag, now, hooks);
    });
  }

  // --- versions --------------------------------------------------------------------------
  absl::StatusOr<v1::CourseVersion> GetCourseVersion(const std::string& force,
                                                     const std::string& course,
                                                     const std::string& version) override {
    return ReadValue<v1::CourseVersion>(
        db_, [&](Connection& c) { return MustLoadVersion(c, force, course, version); });
  }

  // Keyed by the parent course, so the kit's ListRows (force-scoped) does not fit.
  absl::StatusOr<ListPage<v1::CourseVersion>> ListCourseVersions(const std::string& force,
                                                                 const std::string& course,
                                                                 const ListQuery& query) override {
    OUTREACH_ASSIGN_OR_RETURN(SqlFragment where, VersionSchema().Where(query.filter));
    OUTREACH_ASSIGN_OR_RETURN(std::string order,
                              VersionSchema().OrderBy(query.order_by, "create_time"));
    return ReadValue<ListPage<v1::CourseVersion>>(
        db_, [&](Connection& c) -> absl::StatusOr<ListPage<v1::CourseVersion>> {
          OUTREACH_RETURN_IF_ERROR(MustLoadCourse(c, force, course).status());
          OUTREACH_ASSIGN_OR_RETURN(
              RowPage rows,
              SelectRowPage(c, kVersions, "body", "force = ? AND course = ?", {force, course},
                            where, order, query.page_size, query.offset));
          ListPage<v1::CourseVersion> page;
          page.total_size = rows.total_size;
          for (const std::string& body : rows.bodies) {
            if (!page.items.emplace_back().ParseFromString(body)) {
              return absl::InternalError("stored row of training_versions does not parse");
            }
          }
          if (rows.more) page.next_offset = query.offset + static_cast<int64_t>(page.items.size());
          return page;
        });
  }

  absl::StatusOr<v1::CourseVersion> CreateCourseVersion(const std::string& force,
                                                        const std::string& course, std::string id,
                                                        const v1::CourseVersion& version,
                                                        const RequestKey& key) override {
    if (id.empty()) id = GenerateResourceId("v");
    return WriteIn<v1::CourseVersion>(force, [&](Connection& c, absl::Time now) {
      return CreateOnce<v1::CourseVersion>(
          c, {force, "CreateCourseVersion", key, now}, [&]() -> absl::StatusOr<v1::CourseVersion> {
            OUTREACH_RETURN_IF_ERROR(MustLoadCourse(c, force, course).status());
            const std::string name = CourseVersionPattern().Format({force, course, id});
            OUTREACH_ASSIGN_OR_RETURN(std::optional<v1::CourseVersion> existing,
                                      LoadVersion(c, force, course, id));
            if (existing) return AlreadyExists(name);
            v1::CourseVersion out = version;
            out.set_name(name);
            out.set_state(v1::COURSE_VERSION_STATE_DRAFT);
            out.clear_publish_time();
            out.clear_retire_time();
            StampResource(&out, now, /*created=*/true);
            OUTREACH_RETURN_IF_ERROR(SaveVersion(c, force, course, id, out));
            return out;
          });
    });
  }

  absl::StatusOr<v1::CourseVersion> UpdateCourseVersion(
      const std::string& force, const std::string& course, const std::string& version,
      const v1::CourseVersion& patch, const std::set<std::string>& paths) override {
    return ChangeVersion(force, course, version, "course_version.etag", patch.etag(),
                         [&](absl::Time, v1::CourseVersion* v) -> absl::Status {
                           if (paths.count("modules")) {
                             OUTREACH_RETURN_IF_ERROR(RequireDraft(
                                 *v, "modules are frozen once the version is published"));
                           }
                           MergeMasked(patch, paths, v);
                           return absl::OkStatus();
                         });
  }

  absl::Status DeleteCourseVersion(const std::string& force, const std::string& course,
                                   const std::string& version, const std::string& etag) override {
    return WriteStatusIn(force, [&](Connection& c, absl::Time) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(v1::CourseVersion stored,
                                MustLoadVersion(c, force, course, version));
      OUTREACH_RETURN_IF_ERROR(CheckEtag("etag", stored.name(), etag, stored.etag()));
      OUTREACH_RETURN_IF_ERROR(
          RequireDraft(stored, "only a DRAFT version can be deleted; retire it instead"));
      return Exec(c, "DELETE FROM training_versions WHERE force = ? AND course = ? AND id = ?",
                  {force, course, version});
    });
  }

  absl::StatusOr<v1::CourseVersion> PublishCourseVersion(const std::string& force,
                                                         const std::string& course,
                                                         const std::string& version,
                                                         const std::string& etag) override {
    return ChangeVersion(force, course, version, "etag", etag, PublishVersion);
  }

  absl::StatusOr<v1::CourseVersion> RetireCourseVersion(const std::string& force,
                                                        const std::string& course,
                                                        const std::string& version,
                                                        const std::string& etag) override {
    return ChangeVersion(force, course, version, "etag", etag, RetireVersion);
  }

  // --- officers --------------------------------------------------------------------------
  absl::StatusOr<v1::Officer> GetOfficer(const std::string& force,
                                         const std::string& officer) override {
    return GetResource(db_, Officers(), force, officer);
  }

  absl::StatusOr<ListPage<v1::Officer>> ListOfficers(const std::string& force,
                                                     const ListQuery& query) override {
    return ListRows<v1::Officer>(db_, kOfficers, OfficerSchema(), "staff_number", force, query);
  }

  absl::StatusOr<v1::Officer> CreateOfficer(const std::string& force, std::string id,
                                            const v1::Officer& officer,
                                            const RequestKey& key) override {
    if (id.empty()) id = GenerateResourceId("o");
    WriteHooks<v1::Officer> hooks = OfficerUpsertHooks(force);
    // A staff number names one officer of the force.
    hooks.check = [&](Connection& c, const v1::Officer& o) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(
          db::Statement q,
          c.Prepare("SELECT name FROM training_officers WHERE force = ? AND staff_number = ?"));
      q.Bind(1, force).Bind(2, o.staff_number());
      OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
      return row ? AlreadyExists(q.Text(0)) : absl::OkStatus();
    };
    return WriteIn<v1::Officer>(force, [&](Connection& c, absl::Time now) {
      return CreateResource(c, Officers(), {force, "CreateOfficer", key, now}, id, officer, hooks);
    });
  }

  absl::StatusOr<v1::Officer> UpdateOfficer(const std::string& force, const std::string& officer,
                                            const v1::Officer& patch,
                                            const std::set<std::string>& paths) override {
    return WriteIn<v1::Officer>(force, [&](Connection& c, absl::Time now) {
      return UpdateResource<v1::Officer>(
          c, Officers(), force, officer, patch, paths, "officer.etag", now,
          [](const v1::Officer& merged) { return ValidateOfficer(merged, "officer"); },
          OfficerUpsertHooks(force));
    });
  }

  absl::Status DeleteOfficer(const std::string& force, const std::string& officer,
                             const std::string& etag) override {
    WriteHooks<v1::Officer> hooks;
    hooks.check = [&](Connection& c, const v1::Officer& o) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(
          bool used,
          RowExists(c, "SELECT 1 FROM training_enrolments WHERE force = ? AND officer = ? LIMIT 1",
                    force, o.name()));
      if (!used) return absl::OkStatus();
      return FailedPrecondition("RESOURCE_IN_USE",
                                "the officer has enrolments; set active to false instead");
    };
    hooks.after = [&](Connection& c, const v1::Officer& o, absl::Time now) {
      return Outbox::Append(c, OfficerDeleted(force, o, now), now);
    };
    return WriteStatusIn(force, [&](Connection& c, absl::Time now) {
      return DeleteResource(c, Officers(), force, officer, etag, now, hooks);
    });
  }

  // --- enrolments ------------------------------------------------------------------------
  absl::StatusOr<v1::Enrolment> GetEnrolment(const std::string& force,
                                             const std::string& enrolment) override {
    OUTREACH_ASSIGN_OR_RETURN(v1::Enrolment out, ReadValue<v1::Enrolment>(db_, [&](Connection& c) {
                                return MustLoadEnrolment(c, force, enrolment);
                              }));
    return Presented(std::move(out));
  }

  absl::StatusOr<ListPage<v1::Enrolment>> ListEnrolments(const std::string& force,
                                                         const ListQuery& query) override {
    const absl::Time now = clock_->Now();
    OUTREACH_ASSIGN_OR_RETURN(ListPage<v1::Enrolment> page,
                              ListRows<v1::Enrolment>(db_, kEnrolments, EnrolmentSchema(now),
                                                      "create_time", force, query));
    for (v1::Enrolment& e : page.items) PresentAsOf(now, &e);
    return page;
  }

  absl::StatusOr<v1::Enrolment> EnrolOfficer(const std::string& force, std::string id,
                                             const std::string& officer, const std::string& course,
                                             const std::string& version,
                                             std::optional<absl::CivilDay> due_date,
                                             const RequestKey& key) override {
    if (id.empty()) id = GenerateResourceId("e");
    auto enrol = [&](Connection& c, absl::Time now) -> absl::StatusOr<v1::Enrolment> {
      OUTREACH_ASSIGN_OR_RETURN(v1::Officer o, MustLoadOfficer(c, force, officer));
      OUTREACH_ASSIGN_OR_RETURN(v1::CourseVersion v, MustLoadVersion(c, force, course, version));
      const std::string name = EnrolmentPattern().Format({force, id});
      OUTREACH_RETURN_IF_ERROR(RequireAbsent(c, kEnrolments, force, id, name));
      const std::string course_name = CoursePattern().Format({force, course});
      OUTREACH_ASSIGN_OR_RETURN(std::string open,
                                FindOpenEnrolment(c, force, o.name(), course_name));
      OUTREACH_RETURN_IF_ERROR(CheckEnrolment(o, v, open));
      v1::Enrolment e = NewEnrolment(name, o, v.name(), course_name, v1::RECORD_SOURCE_API, now);
      if (due_date.has_value()) *e.mutable_due_date() = ToProtoDate(*due_date);
      OutreachEvent created = EnrolmentCreated(force, e, now);
      return WriteEnrolment(c, force, {std::move(e), {std::move(created)}}, now, true);
    };
    OUTREACH_ASSIGN_OR_RETURN(
        v1::Enrolment out, WriteIn<v1::Enrolment>(force, [&](Connection& c, absl::Time now) {
          return CreateOnce<v1::Enrolment>(c, {force, "EnrolOfficer", key, now},
                                           [&] { return enrol(c, now); });
        }));
    return Presented(std::move(out));
  }

  absl::StatusOr<v1::Enrolment> UpdateEnrolmentDueDate(const std::string& force,
                                                       const std::string& enrolment,
                                                       std::optional<absl::CivilDay> due_date,
                                                       const std::string& etag) override {
    return ChangeEnrolment(force, enrolment, "enrolment.etag", etag,
                           [&](Connection&, v1::Enrolment e, absl::Time now) {
                             return ChangeDueDate(force, std::move(e), due_date, now);
                           });
  }

  absl::StatusOr<v1::Enrolment> RecordModuleResult(const std::string& force,
                                                   const std::string& enrolment,
                                                   const ModuleResultInput& input) override {
    OUTREACH_ASSIGN_OR_RETURN(
        v1::Enrolment out,
        WriteIn<v1::Enrolment>(
            force, [&](Connection& c, absl::Time now) -> absl::StatusOr<v1::Enrolment> {
              OUTREACH_ASSIGN_OR_RETURN(v1::Enrolment e, MustLoadEnrolment(c, force, enrolment));
              TransactionReader reader(c, force);
              OUTREACH_ASSIGN_OR_RETURN(const VersionFacts* v, reader.Version(e.course_version()));
              if (v == nullptr) return NotFound(e.course_version());
              OUTREACH_ASSIGN_OR_RETURN(std::optional<ModuleResultInput> result,
                                        CheckModuleResult(e, v->version, input, now));
              if (!result) return e;  // already held: a retry changes nothing
              OUTREACH_ASSIGN_OR_RETURN(v1::Officer officer,
                                        LoadOfficerByName(c, force, e.officer()));
              return WriteEnrolment(c, force,
                                    ApplyResults(force, *v, officer, std::move(e), {*result},
                                                 v1::RECORD_SOURCE_API, now),
                                    now, false);
            }));
    return Presented(std::move(out));
  }

  absl::StatusOr<v1::Enrolment> WithdrawEnrolment(const std::string& force,
                                                  const std::string& enrolment,
                                                  const std::string& etag,
                                                  const std::string& reason) override {
    return ChangeEnrolment(
        force, enrolment, "etag", etag,
        [&](Connection& c, v1::Enrolment e, absl::Time now) -> absl::StatusOr<EnrolmentChange> {
          OUTREACH_ASSIGN_OR_RETURN(v1::Officer officer, LoadOfficerByName(c, force, e.officer()));
          return Withdraw(force, std::move(e), officer, reason, now);
        });
  }

  // --- import ----------------------------------------------------------------------------
  absl::Status ImportCompletions(const std::string& force,
                                 const std::vector<v1::CompletionRecord>& records, int first_index,
                                 ImportSummary* summary) override {
    ImportSummary batch;
    OUTREACH_RETURN_IF_ERROR(
        WriteStatusIn(force, [&](Connection& c, absl::Time now) -> absl::Status {
          batch = ImportSummary();
          TransactionReader reader(c, force);
          for (size_t i = 0; i < records.size(); ++i) {
            // A storage failure applies nothing of the batch.
            OUTREACH_ASSIGN_OR_RETURN(ImportDecision d,
                                      DecideImport(force, records[i], now, reader,
                                                   [] { return GenerateResourceId("e"); }));
            if (!d.reason.empty()) {
              ++batch.rejected;
              v1::ImportRecordError& err = batch.errors.emplace_back();
              err.set_index(first_index + static_cast<int>(i));
              err.set_external_record_id(records[i].external_record_id());
              err.set_reason(d.reason);
              err.set_field(d.field);
            } else if (!d.change) {
              ++batch.skipped;
            } else {
              OUTREACH_RETURN_IF_ERROR(
                  WriteEnrolment(c, force, std::move(*d.change), now, d.created).status());
              ++batch.applied;
            }
          }
          return absl::OkStatus();
        }));
    AddToSummary(std::move(batch), summary);
    return absl::OkStatus();
  }

  absl::StatusOr<int> SweepExpired(const std::string& force) override {
    return WriteValue<int>(db_, [&](Connection& c) { return Sweep(c, force, clock_->Now()); });
  }

  absl::StatusOr<ComplianceFacts> LoadComplianceFacts(const std::string& force,
                                                      const std::string& course) override {
    return ReadValue<ComplianceFacts>(
        db_, [&](Connection& c) { return ReadComplianceFacts(c, force, course); });
  }

 private:
  // Every write transaction of a force first materialises the expiries that are due, so the
  // CertificateExpired events precede whatever the write changes.
  template <typename T>
  absl::StatusOr<T> WriteIn(const std::string& force,
                            absl::FunctionRef<absl::StatusOr<T>(Connection&, absl::Time)> fn) {
    return WriteValue<T>(db_, [&](Connection& c) -> absl::StatusOr<T> {
      const absl::Time now = clock_->Now();
      OUTREACH_RETURN_IF_ERROR(Sweep(c, force, now).status());
      return fn(c, now);
    });
  }
  absl::Status WriteStatusIn(const std::string& force,
                             absl::FunctionRef<absl::Status(Connection&, absl::Time)> fn) {
    return db_->Write([&](Connection& c) -> absl::Status {
      const absl::Time now = clock_->Now();
      OUTREACH_RETURN_IF_ERROR(Sweep(c, force, now).status());
      return fn(c, now);
    });
  }

  v1::Enrolment Presented(v1::Enrolment e) const {
    PresentAsOf(clock_->Now(), &e);
    return e;
  }

  static WriteHooks<v1::Officer> OfficerUpsertHooks(const std::string& force) {
    WriteHooks<v1::Officer> hooks;
    hooks.after = [force](Connection& c, const v1::Officer& o, absl::Time now) {
      return Outbox::Append(c, OfficerUpserted(force, o, now), now);
    };
    return hooks;
  }

  // A version edit or state change: load, check the etag (naming `etag_field`), let `change`
  // edit it (a rule's error refuses it), stamp and save.
  absl::StatusOr<v1::CourseVersion> ChangeVersion(
      const std::string& force, const std::string& course, const std::string& version,
      absl::string_view etag_field, const std::string& etag,
      absl::FunctionRef<absl::Status(absl::Time, v1::CourseVersion*)> change) {
    return WriteIn<v1::CourseVersion>(
        force, [&](Connection& c, absl::Time now) -> absl::StatusOr<v1::CourseVersion> {
          OUTREACH_ASSIGN_OR_RETURN(v1::CourseVersion v,
                                    MustLoadVersion(c, force, course, version));
          OUTREACH_RETURN_IF_ERROR(CheckEtag(etag_field, v.name(), etag, v.etag()));
          OUTREACH_RETURN_IF_ERROR(change(now, &v));
          StampResource(&v, now, /*created=*/false);
          OUTREACH_RETURN_IF_ERROR(SaveVersion(c, force, course, version, v));
          return v;
        });
  }

  // An enrolment change decided by a rule: load, check the etag, write what `rule` returns.
  absl::StatusOr<v1::Enrolment> ChangeEnrolment(
      const std::string& force, const std::string& enrolment, absl::string_view etag_field,
      const std::string& etag,
      absl::FunctionRef<absl::StatusOr<EnrolmentChange>(Connection&, v1::Enrolment, absl::Time)>
          rule) {
    OUTREACH_ASSIGN_OR_RETURN(
        v1::Enrolment out,
        WriteIn<v1::Enrolment>(
            force, [&](Connection& c, absl::Time now) -> absl::StatusOr<v1::Enrolment> {
              OUTREACH_ASSIGN_OR_RETURN(v1::Enrolment e, MustLoadEnrolment(c, force, enrolment));
              OUTREACH_RETURN_IF_ERROR(CheckEtag(etag_field, e.name(), etag, e.etag()));
              OUTREACH_ASSIGN_OR_RETURN(EnrolmentChange change, rule(c, std::move(e), now));
              return WriteEnrolment(c, force, std::move(change), now, false);
            }));
    return Presented(std::move(out));
  }

  db::Database* db_;
  const Clock* clock_;
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

std::unique_ptr<TrainingStore> NewSqlTrainingStore(db::Database* db, const Clock* clock) {
  return std::make_unique<SqlTrainingStore>(db, clock);
}

}  // namespace outreach::training
