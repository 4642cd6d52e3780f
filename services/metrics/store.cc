#include "services/metrics/store.h"

#include <algorithm>
#include <map>
#include <optional>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/bounds.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/etag.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "services/metrics/catalogue.h"
#include "services/metrics/kpis.h"
#include "services/metrics/projection.h"
#include "services/metrics/read_model.h"
#include "services/metrics/sql.h"

namespace outreach::metrics {
namespace {

using db::Connection;
using db::Statement;
using sql::BindAll;
using sql::Query;
using sql::QueryInt;

// Prepared statements of the writer connection, reused across ingest transactions (preparing
// dominates the cost of the many small upserts of a batch). Only touched inside db.Write, which
// the database serializes; installed for the current thread by StatementCache::Use.
class StatementCache {
 public:
  class Use {
   public:
    Use(StatementCache* cache, Connection& tx) : previous_(current_) {
      // PostgreSQL: writers run in parallel on pooled connections and each connection keeps its
      // own prepared statements, so there is nothing to cache here (and sharing would race).
      if (tx.backend() != db::Backend::kSqlite) {
        current_ = nullptr;
        return;
      }
      if (cache->connection_ != &tx) {
        cache->statements_.clear();
        cache->connection_ = &tx;
      }
      current_ = cache;
    }
    ~Use() { current_ = previous_; }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    StatementCache* previous_;
  };
  // The cached statement for `sql` on `tx`; nullptr when no cache is installed for tx. Every
  // user resets the statement after use (and returns that failure); a failure here repeats
  // the error of an earlier use, which its caller already got, so it is only logged.
  static absl::StatusOr<Statement*> Get(Connection& tx, absl::string_view sql) {
    StatementCache* c = current_;
    if (c == nullptr || c->connection_ != &tx) return nullptr;
    auto it = c->statements_.find(sql);
    if (it == c->statements_.end()) {
      auto st = tx.Prepare(sql);
      if (!st.ok()) return st.status();
      it = c->statements_.emplace(std::string(sql), std::make_unique<Statement>(std::move(*st)))
               .first;
    }
    if (absl::Status reset = it->second->Reset(); !reset.ok()) {
      OUTREACH_LOG(kWarn, "metrics_statement_reset_failed").Kv("error", reset.ToString());
    }
    return it->second.get();
  }

 private:
  static thread_local StatementCache* current_;
  Connection* connection_ = nullptr;
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> statements_;
};
thread_local StatementCache* StatementCache::current_ = nullptr;

// The first failure of a statement's use and its reset (a failed step makes the reset repeat
// the same error, so the step's is the one kept).
absl::Status FirstError(const absl::Status& used, Statement& st) {
  absl::Status reset = st.Reset();
  return used.ok() ? reset : used;
}

// The cached statement for `sql`, or, on a connection without a cache (PostgreSQL), one
// prepared into *own.
absl::StatusOr<Statement*> StatementFor(Connection& tx, absl::string_view sql,
                                        std::optional<Statement>* own) {
  OUTREACH_ASSIGN_OR_RETURN(Statement * cached, StatementCache::Get(tx, sql));
  if (cached != nullptr) return cached;
  OUTREACH_ASSIGN_OR_RETURN(Statement prepared, tx.Prepare(sql));
  return &own->emplace(std::move(prepared));
}

template <typename... Args>
absl::Status Run(Connection& tx, absl::string_view sql, const Args&... args) {
  std::optional<Statement> own;
  OUTREACH_ASSIGN_OR_RETURN(Statement * st, StatementFor(tx, sql, &own));
  BindAll(*st, 1, args...);
  return FirstError(st->Run(), *st);
}

// Reads at most one row of `sql` on a cached statement into `row(st)`; returns whether there
// was one. The statement is reset before returning.
template <typename Fn, typename... Args>
absl::StatusOr<bool> ReadOne(Connection& tx, absl::string_view sql, Fn&& row, const Args&... args) {
  std::optional<Statement> own;
  OUTREACH_ASSIGN_OR_RETURN(Statement * st, StatementFor(tx, sql, &own));
  BindAll(*st, 1, args...);
  absl::StatusOr<bool> found = st->Step();
  if (found.ok() && *found) row(*st);
  OUTREACH_RETURN_IF_ERROR(FirstError(found.status(), *st));
  return *found;
}

std::vector<std::string> SplitList(const std::string& s) {
  if (s.empty()) return {};
  return absl::StrSplit(s, ',');
}

// --- latest-state rows -> SQL ---------------------------------------------------------------
// Each writer maps one projected row onto its table for `force`; latest occurred_time wins.
// Writers add no rollup deltas: what a row adds is known before any row is written (Project,
// PlanEngagement), so an event refused for overflow has written nothing.
struct RowWriter {
  Connection& tx;
  const std::string& force;

  absl::Status operator()(const VenueRow& r) {
    return Run(tx,
               "INSERT INTO metrics_venues (force, venue, kind, area, deleted, occurred_micros) "
               "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (force, venue) DO UPDATE SET kind = "
               "excluded.kind, area = excluded.area, deleted = excluded.deleted, "
               "occurred_micros = excluded.occurred_micros WHERE excluded.occurred_micros >= "
               "metrics_venues.occurred_micros",
               force, r.venue, r.kind, r.area, r.deleted, r.occurred);
  }
  absl::Status operator()(const PresenterRow& r) {
    return Run(tx,
               "INSERT INTO metrics_presenters (force, presenter, state, expire_micros, "
               "occurred_micros) VALUES (?, ?, ?, ?, ?) ON CONFLICT (force, presenter) DO "
               "UPDATE SET state = excluded.state, expire_micros = excluded.expire_micros, "
               "occurred_micros = excluded.occurred_micros WHERE excluded.occurred_micros >= "
               "metrics_presenters.occurred_micros",
               force, r.presenter, r.state, r.expire, r.occurred);
  }
  absl::Status operator()(const WorkshopRow& r) {
    // A delivered workshop stays delivered; otherwise the latest occurred_time wins.
    constexpr char kDelivered[] =
        "INSERT INTO metrics_workshops (force, workshop, state, area, start_micros, "
        "occurred_micros) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (force, workshop) DO UPDATE SET "
        "state = excluded.state, area = excluded.area, start_micros = excluded.start_micros, "
        "occurred_micros = excluded.occurred_micros";
    constexpr char kOther[] =
        "INSERT INTO metrics_workshops (force, workshop, state, area, start_micros, "
        "occurred_micros) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (force, workshop) DO UPDATE SET "
        "state = excluded.state, area = excluded.area, start_micros = excluded.start_micros, "
        "occurred_micros = excluded.occurred_micros WHERE metrics_workshops.state <> "
        "'DELIVERED' AND excluded.occurred_micros >= metrics_workshops.occurred_micros";
    const char* sql = r.state == "DELIVERED" ? kDelivered : kOther;
    return Run(tx, sql, force, r.workshop, r.state, r.area, r.start, r.occurred);
  }
  absl::Status operator()(const SchoolVisitRow& r) {
    return Run(tx,
               "INSERT INTO metrics_school_visits (force, workshop, venue, area, day) "
               "VALUES (?, ?, ?, ?, ?) ON CONFLICT (force, workshop) DO NOTHING",
               force, r.workshop, r.venue, r.area, r.day);
  }
  absl::Status operator()(const OfficerRow& r) {
    return Run(tx,
               "INSERT INTO metrics_officers (force, officer, role, division, active, deleted, "
               "occurred_micros) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (force, officer) DO "
               "UPDATE SET role = excluded.role, division = excluded.division, active = "
               "excluded.active, deleted = excluded.deleted, occurred_micros = "
               "excluded.occurred_micros WHERE excluded.occurred_micros >= "
               "metrics_officers.occurred_micros",
               force, r.officer, r.role, r.division, r.active, r.deleted, r.occurred);
  }
  absl::Status operator()(const EnrolmentRow& r);
  absl::Status operator()(const DueDateRow& r) {
    return Run(tx, "UPDATE metrics_enrolments SET due_day = ? WHERE force = ? AND enrolment = ?",
               r.due_day, force, r.enrolment);
  }
  absl::Status operator()(const CertificateRow& r) {
    return Run(tx,
               "INSERT INTO metrics_certificates (force, enrolment, officer, course, role, "
               "division, completed_micros, completed_day, valid_until_micros) VALUES (?, ?, ?, "
               "?, ?, ?, ?, ?, ?) ON CONFLICT (force, enrolment) DO NOTHING",
               force, r.enrolment, r.officer, r.course, r.role, r.division, r.completed,
               r.completed_day, r.valid_until);
  }
  absl::Status operator()(const ExpiryRow& r) {
    return Run(tx,
               "INSERT INTO metrics_expiries (force, enrolment, officer, course, role, "
               "division, day) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (force, enrolment, day) "
               "DO NOTHING",
               force, r.enrolment, r.officer, r.course, r.role, r.division, r.day);
  }
  absl::Status operator()(const CampaignChange& r);
  absl::Status operator()(const EngagementReport& r);
};

absl::Status RowWriter::operator()(const EnrolmentRow& r) {
  OUTREACH_RETURN_IF_ERROR(Run(
      tx,
      "INSERT INTO metrics_enrolments (force, enrolment, officer, course, role, division, open, "
      "due_day, created_day, occurred_micros) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (force, enrolment) DO NOTHING",
      force, r.enrolment, r.officer, r.course, r.role, r.division, r.open, r.due_day, r.created_day,
      r.occurred));
  if (r.created_day.has_value()) {
    OUTREACH_RETURN_IF_ERROR(Run(tx,
                                 "UPDATE metrics_enrolments SET created_day = ?, role = ?, "
                                 "division = ? WHERE force = ? AND enrolment = ?",
                                 *r.created_day, r.role, r.division, force, r.enrolment));
  }
  OUTREACH_RETURN_IF_ERROR(Run(tx,
                               "UPDATE metrics_enrolments SET open = ?, occurred_micros = ? WHERE "
                               "force = ? AND enrolment = ? AND occurred_micros <= ?",
                               r.open, r.occurred, force, r.enrolment, r.occurred));
  if (!r.set_due) return absl::OkStatus();
  return Run(tx, "UPDATE metrics_enrolments SET due_day = ? WHERE force = ? AND enrolment = ?",
             r.due_day, force, r.enrolment);
}

absl::Status RowWriter::operator()(const CampaignChange& r) {
  CampaignSpan stored;
  OUTREACH_RETURN_IF_ERROR(ReadOne(
                               tx,
                               "SELECT first_active_day, last_active_day, occurred_micros FROM "
                               "metrics_campaigns WHERE force = ? AND campaign = ?",
                               [&](Statement& st) {
                                 if (!st.IsNull(0)) stored.first_active_day = st.Text(0);
                                 if (!st.IsNull(1)) stored.last_active_day = st.Text(1);
                                 stored.occurred = st.Int64(2);
                               },
                               force, r.campaign)
                               .status());
  const CampaignSpan next = NextCampaignSpan(stored, r);
  if (r.occurred < stored.occurred) {
    // An older change: only the active span may learn from it.
    return Run(tx,
               "UPDATE metrics_campaigns SET first_active_day = ?, last_active_day = ? WHERE "
               "force = ? AND campaign = ?",
               next.first_active_day, next.last_active_day, force, r.campaign);
  }
  return Run(tx,
             "INSERT INTO metrics_campaigns (force, campaign, state, areas, reach_target, "
             "first_active_day, last_active_day, occurred_micros) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
             "ON CONFLICT (force, campaign) DO UPDATE SET state = excluded.state, areas = "
             "excluded.areas, reach_target = excluded.reach_target, first_active_day = "
             "excluded.first_active_day, last_active_day = excluded.last_active_day, "
             "occurred_micros = excluded.occurred_micros",
             force, r.campaign, r.state, r.areas, r.reach_target, next.first_active_day,
             next.last_active_day, r.occurred);
}

// Whether report `r` replaces the stored one (a higher revision), adding the difference of
// their numbers to *deltas; reads only.
absl::StatusOr<bool> PlanEngagement(Connection& tx, const std::string& force,
                                    const EngagementReport& r, RollupDeltas* deltas) {
  std::optional<EngagementReport> previous;
  OUTREACH_RETURN_IF_ERROR(
      ReadOne(
          tx,
          "SELECT revision, channel, audiences, areas, impressions, reach, engagements, clicks, "
          "shares, attendance, copies FROM metrics_engagement WHERE force = ? AND activity = ? "
          "AND day = ?",
          [&](Statement& st) {
            EngagementReport& p = previous.emplace();
            p.activity = r.activity;
            p.day = r.day;
            p.revision = st.Int64(0);
            p.dims = {static_cast<int>(st.Int64(1)), SplitList(st.Text(2)), SplitList(st.Text(3))};
            for (size_t i = 0; i < p.values.size(); ++i)
              p.values[i] = st.Int64(static_cast<int>(4 + i));
          },
          force, r.activity, r.day)
          .status());
  return ReplaceEngagement(previous, r, deltas);
}

// Stores a report that PlanEngagement said replaces the stored one.
absl::Status RowWriter::operator()(const EngagementReport& r) {
  const auto& v = r.values;
  return Run(tx,
             "INSERT INTO metrics_engagement (force, activity, day, revision, channel, audiences, "
             "areas, impressions, reach, engagements, clicks, shares, attendance, copies) VALUES "
             "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (force, activity, day) DO "
             "UPDATE SET revision = excluded.revision, channel = excluded.channel, audiences = "
             "excluded.audiences, areas = excluded.areas, impressions = excluded.impressions, "
             "reach = excluded.reach, engagements = excluded.engagements, clicks = "
             "excluded.clicks, shares = excluded.shares, attendance = excluded.attendance, "
             "copies = excluded.copies",
             force, r.activity, r.day, r.revision, r.dims.channel,
             absl::StrJoin(r.dims.audiences, ","), absl::StrJoin(r.dims.areas, ","), v[0], v[1],
             v[2], v[3], v[4], v[5], v[6]);
}

// The upsert of one metrics_figures row: its key, then one number per figure, added to what
// the row holds.
const std::string& FigureUpsertSql() {
  static const std::string* sql = [] {
    std::string columns, values, updates;
    for (const char* f : rollup::kFigures) {
      absl::StrAppend(&columns, ", ", f);
      absl::StrAppend(&values, ", ?");
      absl::StrAppend(&updates, updates.empty() ? "" : ", ", f, " = metrics_figures.", f,
                      " + excluded.", f);
    }
    return new std::string(absl::StrCat(
        "INSERT INTO metrics_figures (force, dim_kind, scope, area, day, dim", columns,
        ") VALUES (?, ?, ?, ?, ?, ?", values,
        ") ON CONFLICT (force, dim_kind, scope, area, day, dim) DO UPDATE SET ", updates));
  }();
  return *sql;
}

absl::Status FlushRollups(Connection& tx, const std::string& force, const RollupDeltas& deltas) {
  const std::string& sql = FigureUpsertSql();
  for (const auto& [k, figures] : deltas.cells()) {
    std::optional<Statement> own;
    OUTREACH_ASSIGN_OR_RETURN(Statement * st, StatementFor(tx, sql, &own));
    BindAll(*st, 1, force, k.dim_kind, k.scope, k.area, k.day, k.dim);
    for (int i = 0; i < rollup::kFigureCount; ++i) st->Bind(7 + i, figures[i]);
    OUTREACH_RETURN_IF_ERROR(FirstError(st->Run(), *st));
  }
  return absl::OkStatus();
}

absl::Status BumpVersion(Connection& tx, const std::string& force, std::optional<int64_t> newest) {
  return Run(tx,
             "INSERT INTO metrics_force_state (force, data_version, as_of_micros) VALUES (?, 1, "
             "?) ON CONFLICT (force) DO UPDATE SET data_version = "
             "metrics_force_state.data_version + 1, as_of_micros = CASE WHEN "
             "excluded.as_of_micros IS NULL THEN metrics_force_state.as_of_micros WHEN "
             "metrics_force_state.as_of_micros IS NULL OR excluded.as_of_micros > "
             "metrics_force_state.as_of_micros THEN excluded.as_of_micros ELSE "
             "metrics_force_state.as_of_micros END",
             force, newest);
}

absl::StatusOr<int64_t> ReadDataVersion(Connection& tx, const std::string& force) {
  return QueryInt(tx, "SELECT data_version FROM metrics_force_state WHERE force = ?", force);
}

// The rollup deltas of a batch so far, and the force's stored all-time totals (read once per
// batch): what an event's deltas are checked against before they join the batch.
struct BatchTotals {
  RollupDeltas deltas;
  std::optional<Figures> stored;
};

// The first figure whose all-time total (stored + batch + `event`) would not fit in int64, or
// nullopt when the event may join the batch. Every cell is at most its force's all-time total
// (projection.h), so this one check covers every cell the event touches.
absl::StatusOr<std::optional<std::string>> OverflowingMetric(Connection& tx,
                                                             const std::string& force,
                                                             const RollupDeltas& event,
                                                             BatchTotals* batch) {
  if (!batch->stored.has_value()) {
    Figures stored{};
    static const std::string* sql = new std::string(
        absl::StrCat("SELECT ", absl::StrJoin(rollup::kFigures, ", "),
                     " FROM metrics_figures WHERE force = ? AND dim_kind = '' AND scope = 'T' "
                     "AND area = '' AND day = '' AND dim = ''"));
    OUTREACH_RETURN_IF_ERROR(ReadOne(
                                 tx, *sql,
                                 [&](Statement& st) {
                                   for (int i = 0; i < rollup::kFigureCount; ++i) {
                                     stored[i] = st.Int64(i);
                                   }
                                 },
                                 force)
                                 .status());
    batch->stored = stored;
  }
  const Figures pending = batch->deltas.Totals();
  const Figures mine = event.Totals();
  for (int i = 0; i < rollup::kFigureCount; ++i) {
    if (mine[i] == 0) continue;
    const std::optional<int64_t> sum = bounds::CheckedAdd(pending[i], mine[i]);
    if (!sum.has_value() || !bounds::CheckedAdd((*batch->stored)[i], *sum).has_value()) {
      return std::string(rollup::kFigures[i]);
    }
  }
  return std::nullopt;
}

void Reject(const Rejection& rej, v1::EventResult* r, v1::IngestEventsResponse* response) {
  r->set_outcome(v1::INGEST_OUTCOME_REJECTED);
  r->set_reason(rej.reason);
  if (rej.reason == "FIELD_INVALID") r->set_field(rej.field);
  response->set_rejected(response->rejected() + 1);
}

// Stores one event of a batch, once per (force, event_id), and applies it when new: its rows
// now, its rollup deltas into the batch. An event that would take a total past int64 is
// rejected and leaves nothing behind: its deltas are known before any of its rows is written,
// and its event row is deleted again. (A savepoint per event did the same at about half the
// ingest rate.) Sets its outcome in *r.
absl::Status IngestOne(Connection& tx, const std::string& force, const ev::OutreachEvent& e,
                       absl::Time now, BatchTotals* batch, v1::EventResult* r,
                       v1::IngestEventsResponse* response) {
  if (auto rej = ValidateEvent(e, force, now); rej.has_value()) {
    Reject(*rej, r, response);
    return absl::OkStatus();
  }
  OUTREACH_RETURN_IF_ERROR(Run(
      tx,
      "INSERT INTO metrics_events (force, event_id, source, subject, "
      "payload_case, occurred_micros, ingested_micros, body) VALUES (?, "
      "?, ?, ?, ?, ?, ?, ?) ON CONFLICT (force, event_id) DO NOTHING",
      force, e.event_id(), e.source(), e.subject(), static_cast<int>(e.payload_case()),
      MicrosFromProto(e.occurred_time()), db::ToMicros(now), sql::Bytes{e.SerializeAsString()}));
  if (tx.Changes() == 0) {
    r->set_outcome(v1::INGEST_OUTCOME_DUPLICATE);
    response->set_duplicates(response->duplicates() + 1);
    return absl::OkStatus();
  }
  if (e.payload_case() == ev::OutreachEvent::PAYLOAD_NOT_SET) {
    return absl::InternalError("unvalidated payload");
  }
  RollupDeltas mine;
  const std::vector<ProjectedRow> rows = Project(e, &mine);
  std::vector<bool> write(rows.size(), true);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (const auto* report = std::get_if<EngagementReport>(&rows[i])) {
      OUTREACH_ASSIGN_OR_RETURN(write[i], PlanEngagement(tx, force, *report, &mine));
    }
  }
  OUTREACH_ASSIGN_OR_RETURN(std::optional<std::string> overflow,
                            OverflowingMetric(tx, force, mine, batch));
  if (overflow.has_value()) {
    Reject({"FIELD_INVALID", FieldCounting(e, *overflow)}, r, response);
    return Run(tx, "DELETE FROM metrics_events WHERE force = ? AND event_id = ?", force,
               e.event_id());
  }
  RowWriter writer{tx, force};
  for (size_t i = 0; i < rows.size(); ++i) {
    if (write[i]) OUTREACH_RETURN_IF_ERROR(std::visit(writer, rows[i]));
  }
  batch->deltas.Merge(mine);
  r->set_outcome(v1::INGEST_OUTCOME_ACCEPTED);
  response->set_accepted(response->accepted() + 1);
  return absl::OkStatus();
}

// --- reads ----------------------------------------------------------------------------------
template <typename Response>
absl::Status FillState(Connection& tx, const std::string& force, Response* out) {
  OUTREACH_ASSIGN_OR_RETURN(read_model::ForceState state, read_model::ReadForceState(tx, force));
  out->set_data_version(state.data_version);
  if (state.as_of.has_value()) {
    const google::protobuf::Timestamp as_of = ToProtoTime(*state.as_of);
    if (as_of.seconds() != 0) *out->mutable_as_of() = as_of;
  }
  return absl::OkStatus();
}

absl::Status FillDashboard(Connection& tx, const std::string& force, DayRange days,
                           const std::string& area, absl::Time now, v1::Dashboard* d) {
  OUTREACH_RETURN_IF_ERROR(FillState(tx, force, d));
  *d->mutable_compute_time() = ToProtoTime(now);
  *d->mutable_date_range()->mutable_start_date() = ToProtoDate(days.start);
  *d->mutable_date_range()->mutable_end_date() = ToProtoDate(days.end);
  d->set_area(area);
  OUTREACH_ASSIGN_OR_RETURN(v1::ForceSettings settings, read_model::ReadSettings(tx, force));
  d->set_force_display_name(settings.display_name());
  const rules::EvaluationPoint when = EvaluationOf(days, now);
  OUTREACH_ASSIGN_OR_RETURN(RollupSums sums, read_model::SumRollups(tx, force, days, area));
  OUTREACH_ASSIGN_OR_RETURN(WorkshopCounts workshops,
                            read_model::ReadWorkshopCounts(tx, force, days, area, when.at));
  FillWorkshopKpis(sums, workshops, settings.school_coverage_target_percent(),
                   d->mutable_workshops());
  OUTREACH_ASSIGN_OR_RETURN(TrainingCounts training,
                            read_model::ReadTrainingCounts(tx, force, days, area));
  OUTREACH_ASSIGN_OR_RETURN(TrainingSnapshot snapshot, read_model::LoadTraining(tx, force));
  FillTrainingKpis(training, snapshot, settings, area, when, d->mutable_training());
  OUTREACH_ASSIGN_OR_RETURN(std::vector<ActiveCampaign> campaigns,
                            read_model::ReadActiveCampaigns(tx, force, days));
  FillCampaignKpis(sums, campaigns, area, d->mutable_campaigns());
  return absl::OkStatus();
}

// Adds the numbers of `def` over `buckets` to *grid, read by how the catalogue says it is
// computed.
absl::Status AddSeriesNumbers(Connection& tx, const std::string& force, const MetricDef& def,
                              const v1::QuerySeriesRequest& req, const std::vector<Bucket>& buckets,
                              absl::Time now, SeriesGrid* grid) {
  const std::string from = FormatDay(buckets.front().days.start);
  const std::string to = FormatDay(buckets.back().days.end);
  const std::string& area = req.area();
  const v1::GroupBy g = req.group_by();
  switch (def.computation) {
    case Computation::kSchoolsCovered: {
      OUTREACH_ASSIGN_OR_RETURN(auto visits,
                                read_model::ReadSchoolVisits(tx, force, from, to, area));
      AddSchoolsCovered(visits, g, grid);
      return absl::OkStatus();
    }
    case Computation::kOfficersTrained:
    case Computation::kCompletions:
    case Computation::kExpiries: {
      const auto which = def.computation == Computation::kExpiries
                             ? read_model::OfficerDays::kExpiries
                             : read_model::OfficerDays::kCompletions;
      OUTREACH_ASSIGN_OR_RETURN(
          auto rows, read_model::ReadOfficerDays(tx, which, force, from, to, area, req.course()));
      AddOfficerDays(rows, def.computation == Computation::kOfficersTrained, g, grid);
      return absl::OkStatus();
    }
    case Computation::kOfficersCurrent:
    case Computation::kCompliance: {
      OUTREACH_ASSIGN_OR_RETURN(TrainingSnapshot snapshot, read_model::LoadTraining(tx, force));
      if (def.computation == Computation::kOfficersCurrent) {
        AddOfficersCurrent(snapshot, req.course(), nullptr, area, g, buckets, now, grid);
        return absl::OkStatus();
      }
      OUTREACH_ASSIGN_OR_RETURN(v1::ForceSettings settings, read_model::ReadSettings(tx, force));
      const std::optional<v1::TrainingTarget> target = SeriesTarget(settings, req.course());
      if (target.has_value()) {
        AddOfficersCurrent(snapshot, target->course(), &*target, area, g, buckets, now, grid);
      }
      return absl::OkStatus();
    }
    case Computation::kRollupSum: {
      std::vector<std::string> keys = {def.numerator};
      if (def.denominator != nullptr) keys.push_back(def.denominator);
      OUTREACH_ASSIGN_OR_RETURN(
          auto cells, read_model::ReadRollupCells(tx, force, keys, SelectRollups(def, g, area),
                                                  area, from, to));
      AddRollupCells(cells, def, g, grid);
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown computation");
}

absl::Status FillSeries(Connection& tx, const std::string& force, const v1::QuerySeriesRequest& req,
                        const std::vector<Bucket>& buckets, absl::Time now,
                        v1::QuerySeriesResponse* out) {
  const MetricDef* def = FindMetric(req.metric());
  if (def == nullptr) return absl::InternalError("unknown metric");
  OUTREACH_RETURN_IF_ERROR(FillState(tx, force, out));
  out->set_metric(req.metric());
  out->set_granularity(req.granularity());
  out->set_group_by(req.group_by());
  *out->mutable_date_range() = req.date_range();
  SeriesGrid grid(buckets);
  OUTREACH_RETURN_IF_ERROR(AddSeriesNumbers(tx, force, *def, req, buckets, now, &grid));
  grid.Fill(def->unit, req.group_by(), out);
  return absl::OkStatus();
}

// Applies the `paths` of `update` to `current` and stamps it: the settings to store.
v1::ForceSettings MergeSettings(v1::ForceSettings current, const v1::ForceSettings& update,
                                const std::set<std::string>& paths, absl::Time now) {
  if (paths.count("display_name")) current.set_display_name(update.display_name());
  if (paths.count("training_targets")) {
    *current.mutable_training_targets() = update.training_targets();
  }
  if (paths.count("school_coverage_target_percent")) {
    current.set_school_coverage_target_percent(update.school_coverage_target_percent());
  }
  if (!current.has_create_time()) *current.mutable_create_time() = ToProtoTime(now);
  *current.mutable_update_time() = ToProtoTime(now);
  current.clear_etag();
  current.set_etag(ComputeEtag(current));
  return current;
}

class SqlMetricsStore final : public MetricsStore {
 public:
  explicit SqlMetricsStore(db::Database* db) : db_(db) {}

  absl::StatusOr<IngestOutput> Ingest(
      const std::string& force, const google::protobuf::RepeatedPtrField<ev::OutreachEvent>& events,
      absl::Time now) override {
    IngestOutput out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](Connection& tx) -> absl::Status {
      StatementCache::Use use(&statements_, tx);
      // Rollups are never read while a batch is applied: summed per cell and written once at
      // the end, a batch of 500 events costs a few hundred upserts, not tens of thousands.
      BatchTotals batch;
      out = IngestOutput();
      int64_t newest = 0;
      for (int i = 0; i < events.size(); ++i) {
        const ev::OutreachEvent& e = events.Get(i);
        v1::EventResult* r = out.response.add_results();
        r->set_index(i);
        r->set_event_id(e.event_id().substr(0, 200));
        OUTREACH_RETURN_IF_ERROR(IngestOne(tx, force, e, now, &batch, r, &out.response));
        if (r->outcome() == v1::INGEST_OUTCOME_ACCEPTED) {
          newest = std::max(newest, MicrosFromProto(e.occurred_time()));
        }
      }
      OUTREACH_RETURN_IF_ERROR(FlushRollups(tx, force, batch.deltas));
      if (out.response.accepted() > 0) {
        OUTREACH_RETURN_IF_ERROR(BumpVersion(tx, force, newest));
        out.changed = true;
      }
      OUTREACH_ASSIGN_OR_RETURN(out.data_version, ReadDataVersion(tx, force));
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<int64_t> DataVersion(const std::string& force) override {
    int64_t v = 0;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](Connection& tx) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(v, ReadDataVersion(tx, force));
      return absl::OkStatus();
    }));
    return v;
  }

  absl::StatusOr<v1::Dashboard> ComputeDashboard(const std::string& force, DayRange days,
                                                 const std::string& area, absl::Time now) override {
    v1::Dashboard d;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](Connection& tx) -> absl::Status {
      d.Clear();
      return FillDashboard(tx, force, days, area, now, &d);
    }));
    return d;
  }

  absl::StatusOr<v1::QuerySeriesResponse> ComputeSeries(const std::string& force,
                                                        const v1::QuerySeriesRequest& request,
                                                        const std::vector<Bucket>& buckets,
                                                        absl::Time now) override {
    v1::QuerySeriesResponse out;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](Connection& tx) -> absl::Status {
      out.Clear();
      return FillSeries(tx, force, request, buckets, now, &out);
    }));
    return out;
  }

  absl::StatusOr<std::vector<std::string>> ListForces(int limit) override {
    return ListText("SELECT force FROM metrics_force_state ORDER BY force LIMIT ?", "", limit);
  }

  absl::StatusOr<std::vector<std::string>> ListConfiguredForces(int limit) override {
    return ListText("SELECT force FROM metrics_settings ORDER BY force LIMIT ?", "", limit);
  }

  absl::StatusOr<std::vector<std::string>> ListAreas(const std::string& force, int limit) override {
    return ListText(
        "SELECT area FROM (SELECT area FROM metrics_venues WHERE force = ?1 AND deleted = 0 "
        "UNION SELECT division AS area FROM metrics_officers WHERE force = ?1 AND deleted = 0) "
        "AS areas WHERE area <> '' ORDER BY area LIMIT ?2",
        force, limit);
  }

  absl::StatusOr<v1::ForceSettings> GetSettings(const std::string& force) override {
    v1::ForceSettings out;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](Connection& tx) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(out, read_model::ReadSettings(tx, force));
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<v1::ForceSettings> UpdateSettings(const std::string& force,
                                                   const v1::ForceSettings& settings,
                                                   const std::set<std::string>& paths,
                                                   absl::Time now, int64_t* data_version) override {
    v1::ForceSettings out;
    OUTREACH_RETURN_IF_ERROR(db_->Write([&](Connection& tx) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(v1::ForceSettings current, read_model::ReadSettings(tx, force));
      OUTREACH_RETURN_IF_ERROR(
          CheckEtag("force_settings.etag", current.name(), settings.etag(), current.etag()));
      out = MergeSettings(std::move(current), settings, paths, now);
      OUTREACH_RETURN_IF_ERROR(Run(tx,
                                   "INSERT INTO metrics_settings (force, body) VALUES (?, ?) ON "
                                   "CONFLICT (force) DO UPDATE SET body = excluded.body",
                                   force, sql::Bytes{out.SerializeAsString()}));
      OUTREACH_RETURN_IF_ERROR(BumpVersion(tx, force, std::nullopt));
      OUTREACH_ASSIGN_OR_RETURN(*data_version, ReadDataVersion(tx, force));
      return absl::OkStatus();
    }));
    return out;
  }

 private:
  absl::StatusOr<std::vector<std::string>> ListText(absl::string_view sql, const std::string& force,
                                                    int limit) {
    std::vector<std::string> out;
    OUTREACH_RETURN_IF_ERROR(db_->Read([&](Connection& tx) -> absl::Status {
      out.clear();
      absl::StatusOr<Statement> st =
          force.empty() ? Query(tx, sql, limit) : Query(tx, sql, force, limit);
      if (!st.ok()) return st.status();
      return sql::ForEachRow(*st, [&](Statement& r) { out.push_back(r.Text(0)); });
    }));
    return out;
  }

  db::Database* db_;
  StatementCache statements_;
};

}  // namespace

std::unique_ptr<MetricsStore> NewSqlMetricsStore(db::Database* db) {
  return std::make_unique<SqlMetricsStore>(db);
}

}  // namespace outreach::metrics
