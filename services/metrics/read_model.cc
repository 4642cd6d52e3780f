#include "services/metrics/read_model.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/bounds.h"
#include "common/calendar.h"
#include "common/etag.h"
#include "common/status_macros.h"
#include "services/metrics/catalogue.h"
#include "services/metrics/sql.h"

namespace outreach::metrics::read_model {
namespace {

using sql::ForEachRow;
using sql::Query;
using sql::QueryInt;

std::vector<std::string> SplitList(const std::string& s) {
  if (s.empty()) return {};
  return absl::StrSplit(s, ',');
}

std::optional<absl::CivilDay> ParseDay(const std::string& text) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(text, &day)) return std::nullopt;
  return day;
}

absl::Status LoadActiveOfficers(db::Connection& tx, const std::string& force, TrainingSnapshot* s) {
  OUTREACH_ASSIGN_OR_RETURN(db::Statement st,
                            Query(tx,
                                  "SELECT officer, role, division FROM metrics_officers "
                                  "WHERE force = ? AND active = 1 AND deleted = 0",
                                  force));
  return ForEachRow(st, [&](db::Statement& r) {
    s->active[r.Text(0)] = {static_cast<int>(r.Int64(1)), r.Text(2)};
  });
}

// A certificate's creation is not kept: it counts from its completion, as the standing rules
// read imported history.
absl::Status LoadCertificates(db::Connection& tx, const std::string& force, TrainingSnapshot* s) {
  OUTREACH_ASSIGN_OR_RETURN(db::Statement st,
                            Query(tx,
                                  "SELECT officer, course, completed_micros, valid_until_micros "
                                  "FROM metrics_certificates WHERE force = ?",
                                  force));
  return ForEachRow(st, [&](db::Statement& r) {
    rules::EnrolmentRecord c;
    c.course = r.Text(1);
    c.complete_time = db::FromMicros(r.Int64(2));
    c.create_time = *c.complete_time;
    if (!r.IsNull(3)) c.valid_until = db::FromMicros(r.Int64(3));
    s->records[r.Text(0)].push_back(std::move(c));
  });
}

// Enrolments open now (the latest state; metrics does not keep when they opened or closed).
absl::Status LoadOpenEnrolments(db::Connection& tx, const std::string& force, TrainingSnapshot* s) {
  OUTREACH_ASSIGN_OR_RETURN(db::Statement st,
                            Query(tx,
                                  "SELECT officer, course, due_day FROM metrics_enrolments "
                                  "WHERE force = ? AND open = 1",
                                  force));
  return ForEachRow(st, [&](db::Statement& r) {
    rules::EnrolmentRecord o;
    o.course = r.Text(1);
    if (!r.IsNull(2)) o.due_date = ParseDay(r.Text(2));
    s->records[r.Text(0)].push_back(std::move(o));
  });
}

}  // namespace

absl::StatusOr<ForceState> ReadForceState(db::Connection& tx, const std::string& force) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement st,
      Query(tx, "SELECT data_version, as_of_micros FROM metrics_force_state WHERE force = ?",
            force));
  OUTREACH_ASSIGN_OR_RETURN(bool found, st.Step());
  ForceState out;
  if (!found) return out;
  out.data_version = st.Int64(0);
  if (!st.IsNull(1)) out.as_of = db::FromMicros(st.Int64(1));
  return out;
}

absl::StatusOr<v1::ForceSettings> ReadSettings(db::Connection& tx, const std::string& force) {
  v1::ForceSettings s;
  OUTREACH_ASSIGN_OR_RETURN(db::Statement st,
                            Query(tx, "SELECT body FROM metrics_settings WHERE force = ?", force));
  OUTREACH_ASSIGN_OR_RETURN(bool found, st.Step());
  if (found) {
    if (!s.ParseFromString(st.Blob(0))) return absl::InternalError("corrupt settings row");
  } else {
    s.set_name(absl::StrCat("forces/", force, "/settings"));
    s.set_etag(ComputeEtag(s));
  }
  return s;
}

absl::StatusOr<RollupSums> SumRollups(db::Connection& tx, const std::string& force, DayRange days,
                                      const std::string& area) {
  const std::string from = FormatDay(days.start), to = FormatDay(days.end);
  // The period's rows (at most one per day, two with an area: its own and "*"), summed here,
  // saturating. 23 plain columns prepare far faster than 46 SQL aggregates (SQLite compares
  // each aggregate with every other while preparing: twice the cost of a whole dashboard).
  static const std::string* select = new std::string(
      absl::StrCat("SELECT ", absl::StrJoin(rollup::kFigures, ", "),
                   " FROM metrics_figures WHERE force = ? AND dim_kind = '' AND dim = '' AND "));
  absl::StatusOr<db::Statement> st =
      area.empty()
          ? Query(tx, absl::StrCat(*select, "scope = 'F' AND area = '' AND day >= ? AND day <= ?"),
                  force, from, to)
          : Query(
                tx,
                absl::StrCat(*select, "scope = 'A' AND area IN (?, '*') AND day >= ? AND day <= ?"),
                force, area, from, to);
  if (!st.ok()) return st.status();
  std::array<int64_t, rollup::kFigureCount> sums{};
  bool any = false;
  OUTREACH_RETURN_IF_ERROR(ForEachRow(*st, [&](db::Statement& r) {
    any = true;
    for (int i = 0; i < rollup::kFigureCount; ++i) {
      sums[i] = bounds::SaturatingAdd(sums[i], r.Int64(i));
    }
  }));
  RollupSums out;
  if (!any) return out;
  for (int i = 0; i < rollup::kFigureCount; ++i) out[rollup::kFigures[i]] = sums[i];
  return out;
}

absl::StatusOr<WorkshopCounts> ReadWorkshopCounts(db::Connection& tx, const std::string& force,
                                                  DayRange days, const std::string& area,
                                                  absl::Time at) {
  const std::string from = FormatDay(days.start), to = FormatDay(days.end);
  const int64_t period_start = db::ToMicros(StartOfLocalDay(days.start));
  const int64_t period_end = db::ToMicros(StartOfLocalDay(days.end + 1));
  WorkshopCounts c;
  OUTREACH_ASSIGN_OR_RETURN(
      c.scheduled, QueryInt(tx,
                            "SELECT COUNT(*) FROM metrics_workshops WHERE force = ? AND state = "
                            "'SCHEDULED' AND start_micros >= ? AND start_micros < ? AND (? = '' "
                            "OR area = ?)",
                            force, period_start, period_end, area, area));
  OUTREACH_ASSIGN_OR_RETURN(
      c.schools_covered, QueryInt(tx,
                                  "SELECT COUNT(DISTINCT venue) FROM metrics_school_visits WHERE "
                                  "force = ? AND day >= ? AND day <= ? AND (? = '' OR area = ?)",
                                  force, from, to, area, area));
  OUTREACH_ASSIGN_OR_RETURN(
      c.schools_total, QueryInt(tx,
                                "SELECT COUNT(*) FROM metrics_venues WHERE force = ? AND deleted = "
                                "0 AND kind >= ? AND kind <= ? AND (? = '' OR area = ?)",
                                force, static_cast<int>(cv1::VENUE_KIND_PRIMARY),
                                static_cast<int>(cv1::VENUE_KIND_COLLEGE), area, area));
  OUTREACH_ASSIGN_OR_RETURN(
      c.presenters_accredited,
      QueryInt(tx,
               "SELECT COUNT(*) FROM metrics_presenters WHERE force = ? AND state "
               "= ? AND (expire_micros IS NULL OR expire_micros > ?)",
               force, static_cast<int>(cv1::ACCREDITATION_STATE_ACCREDITED), db::ToMicros(at)));
  return c;
}

absl::StatusOr<TrainingCounts> ReadTrainingCounts(db::Connection& tx, const std::string& force,
                                                  DayRange days, const std::string& area) {
  const std::string from = FormatDay(days.start), to = FormatDay(days.end);
  TrainingCounts c;
  OUTREACH_ASSIGN_OR_RETURN(
      c.officers_trained,
      QueryInt(tx,
               "SELECT COUNT(DISTINCT officer) FROM metrics_certificates WHERE force = ? AND "
               "completed_day >= ? AND completed_day <= ? AND (? = '' OR division = ?)",
               force, from, to, area, area));
  OUTREACH_ASSIGN_OR_RETURN(
      c.course_completions,
      QueryInt(tx,
               "SELECT COUNT(*) FROM metrics_certificates WHERE force = ? AND completed_day >= ? "
               "AND completed_day <= ? AND (? = '' OR division = ?)",
               force, from, to, area, area));
  OUTREACH_ASSIGN_OR_RETURN(
      c.enrolments_created,
      QueryInt(tx,
               "SELECT COUNT(*) FROM metrics_enrolments WHERE force = ? AND created_day >= ? AND "
               "created_day <= ? AND (? = '' OR division = ?)",
               force, from, to, area, area));
  OUTREACH_ASSIGN_OR_RETURN(
      c.certificates_expired,
      QueryInt(tx,
               "SELECT COUNT(*) FROM metrics_expiries WHERE force = ? AND day >= ? AND day <= ? "
               "AND (? = '' OR division = ?)",
               force, from, to, area, area));
  return c;
}

absl::StatusOr<std::vector<ActiveCampaign>> ReadActiveCampaigns(db::Connection& tx,
                                                                const std::string& force,
                                                                DayRange days) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement st, Query(tx,
                              "SELECT areas, reach_target FROM metrics_campaigns WHERE force = ? "
                              "AND first_active_day IS NOT NULL AND first_active_day <= ? AND "
                              "(last_active_day IS NULL OR last_active_day >= ?)",
                              force, FormatDay(days.end), FormatDay(days.start)));
  std::vector<ActiveCampaign> out;
  OUTREACH_RETURN_IF_ERROR(ForEachRow(st, [&](db::Statement& r) {
    out.push_back({SplitList(r.Text(0)), r.Int64(1)});
  }));
  return out;
}

absl::StatusOr<TrainingSnapshot> LoadTraining(db::Connection& tx, const std::string& force) {
  TrainingSnapshot s;
  OUTREACH_RETURN_IF_ERROR(LoadActiveOfficers(tx, force, &s));
  OUTREACH_RETURN_IF_ERROR(LoadCertificates(tx, force, &s));
  OUTREACH_RETURN_IF_ERROR(LoadOpenEnrolments(tx, force, &s));
  return s;
}

absl::StatusOr<std::vector<SchoolVisit>> ReadSchoolVisits(db::Connection& tx,
                                                          const std::string& force,
                                                          const std::string& from,
                                                          const std::string& to,
                                                          const std::string& area) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement st, Query(tx,
                              "SELECT day, venue, area FROM metrics_school_visits WHERE force = "
                              "? AND day >= ? AND day <= ? AND (? = '' OR area = ?)",
                              force, from, to, area, area));
  std::vector<SchoolVisit> out;
  OUTREACH_RETURN_IF_ERROR(ForEachRow(st, [&](db::Statement& r) {
    out.push_back({r.Text(0), r.Text(1), r.Text(2)});
  }));
  return out;
}

absl::StatusOr<std::vector<OfficerDay>> ReadOfficerDays(
    db::Connection& tx, OfficerDays which, const std::string& force, const std::string& from,
    const std::string& to, const std::string& area, const std::string& course) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement st,
      Query(tx,
            which == OfficerDays::kExpiries
                ? "SELECT day, officer, division, role FROM metrics_expiries WHERE force = ? AND "
                  "day >= ? AND day <= ? AND (? = '' OR division = ?) AND (? = '' OR course = ?)"
                : "SELECT completed_day, officer, division, role FROM metrics_certificates WHERE "
                  "force = ? AND completed_day >= ? AND completed_day <= ? AND (? = '' OR "
                  "division = ?) AND (? = '' OR course = ?)",
            force, from, to, area, area, course, course));
  std::vector<OfficerDay> out;
  OUTREACH_RETURN_IF_ERROR(ForEachRow(st, [&](db::Statement& r) {
    out.push_back({r.Text(0), r.Text(1), r.Text(2), static_cast<int>(r.Int64(3))});
  }));
  return out;
}

absl::StatusOr<std::vector<RollupCell>> ReadRollupCells(
    db::Connection& tx, const std::string& force, const std::vector<std::string>& metrics,
    const RollupSelection& selection, const std::string& area, const std::string& from,
    const std::string& to) {
  if (metrics.empty() || metrics.size() > 2) return absl::InternalError("one or two rollups");
  // The figures are column names: only catalogued ones are put into the statement.
  for (const std::string& m : metrics) {
    if (rollup::FigureIndex(m) < 0) return absl::InternalError("not a rollup figure");
  }
  const std::string& first = metrics.front();
  const std::string& second = metrics.back();
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement st,
      Query(tx,
            // One row per (area, day, dim) already: the rest of the key is fixed here.
            absl::StrCat("SELECT day, area, dim, ", first, ", ", second,
                         " FROM metrics_figures WHERE force = ? AND dim_kind = ? AND scope = ? "
                         "AND (? = '' OR area IN (?, '*')) AND day >= ? AND day <= ? AND (",
                         first, " <> 0 OR ", second, " <> 0)"),
            force, selection.dim_kind, selection.scope, area, area, from, to));
  std::vector<RollupCell> out;
  OUTREACH_RETURN_IF_ERROR(ForEachRow(st, [&](db::Statement& r) {
    out.push_back({r.Text(0), r.Text(1), r.Text(2), first, r.Int64(3)});
    if (second != first) out.push_back({r.Text(0), r.Text(1), r.Text(2), second, r.Int64(4)});
  }));
  return out;
}

}  // namespace outreach::metrics::read_model
