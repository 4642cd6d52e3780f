#include "services/metrics/store.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/etag.h"
#include "common/status_macros.h"

namespace outreach::metrics {
namespace {

using db::Connection;
using db::Statement;

constexpr absl::string_view kSchema = R"sql(
CREATE TABLE metrics_events (
  force TEXT NOT NULL,
  event_id TEXT NOT NULL,
  source TEXT NOT NULL,
  subject TEXT NOT NULL,
  payload_case INTEGER NOT NULL,
  occurred_micros INTEGER NOT NULL,
  ingested_micros INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (force, event_id)
);
CREATE TABLE metrics_force_state (
  force TEXT NOT NULL PRIMARY KEY,
  data_version INTEGER NOT NULL,
  as_of_micros INTEGER
);
CREATE TABLE metrics_rollup (
  force TEXT NOT NULL,
  metric TEXT NOT NULL,
  dim_kind TEXT NOT NULL,
  scope TEXT NOT NULL,
  area TEXT NOT NULL,
  dim TEXT NOT NULL,
  day TEXT NOT NULL,
  value INTEGER NOT NULL,
  PRIMARY KEY (force, metric, dim_kind, scope, area, dim, day)
);
CREATE INDEX metrics_rollup_by_day ON metrics_rollup (force, dim_kind, scope, area, day);
CREATE TABLE metrics_school_visits (
  force TEXT NOT NULL,
  workshop TEXT NOT NULL,
  venue TEXT NOT NULL,
  area TEXT NOT NULL,
  day TEXT NOT NULL,
  PRIMARY KEY (force, workshop)
);
CREATE INDEX metrics_school_visits_by_day ON metrics_school_visits (force, day);
CREATE TABLE metrics_workshops (
  force TEXT NOT NULL,
  workshop TEXT NOT NULL,
  state TEXT NOT NULL,
  area TEXT NOT NULL,
  start_micros INTEGER,
  occurred_micros INTEGER NOT NULL,
  PRIMARY KEY (force, workshop)
);
CREATE TABLE metrics_venues (
  force TEXT NOT NULL,
  venue TEXT NOT NULL,
  kind INTEGER NOT NULL,
  area TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  occurred_micros INTEGER NOT NULL,
  PRIMARY KEY (force, venue)
);
CREATE TABLE metrics_presenters (
  force TEXT NOT NULL,
  presenter TEXT NOT NULL,
  state INTEGER NOT NULL,
  expire_micros INTEGER,
  occurred_micros INTEGER NOT NULL,
  PRIMARY KEY (force, presenter)
);
CREATE TABLE metrics_officers (
  force TEXT NOT NULL,
  officer TEXT NOT NULL,
  role INTEGER NOT NULL,
  division TEXT NOT NULL,
  active INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  occurred_micros INTEGER NOT NULL,
  PRIMARY KEY (force, officer)
);
CREATE TABLE metrics_enrolments (
  force TEXT NOT NULL,
  enrolment TEXT NOT NULL,
  officer TEXT NOT NULL,
  course TEXT NOT NULL,
  role INTEGER NOT NULL,
  division TEXT NOT NULL,
  open INTEGER NOT NULL,
  due_day TEXT,
  created_day TEXT,
  occurred_micros INTEGER NOT NULL,
  PRIMARY KEY (force, enrolment)
);
CREATE TABLE metrics_certificates (
  force TEXT NOT NULL,
  enrolment TEXT NOT NULL,
  officer TEXT NOT NULL,
  course TEXT NOT NULL,
  role INTEGER NOT NULL,
  division TEXT NOT NULL,
  completed_micros INTEGER NOT NULL,
  completed_day TEXT NOT NULL,
  valid_until_micros INTEGER,
  PRIMARY KEY (force, enrolment)
);
CREATE INDEX metrics_certificates_by_day ON metrics_certificates (force, completed_day);
CREATE TABLE metrics_expiries (
  force TEXT NOT NULL,
  enrolment TEXT NOT NULL,
  officer TEXT NOT NULL,
  course TEXT NOT NULL,
  role INTEGER NOT NULL,
  division TEXT NOT NULL,
  day TEXT NOT NULL,
  PRIMARY KEY (force, enrolment, day)
);
CREATE TABLE metrics_campaigns (
  force TEXT NOT NULL,
  campaign TEXT NOT NULL,
  state INTEGER NOT NULL,
  areas TEXT NOT NULL,
  reach_target INTEGER NOT NULL,
  first_active_day TEXT,
  last_active_day TEXT,
  occurred_micros INTEGER NOT NULL,
  PRIMARY KEY (force, campaign)
);
CREATE TABLE metrics_engagement (
  force TEXT NOT NULL,
  activity TEXT NOT NULL,
  day TEXT NOT NULL,
  revision INTEGER NOT NULL,
  channel INTEGER NOT NULL,
  audiences TEXT NOT NULL,
  areas TEXT NOT NULL,
  impressions INTEGER NOT NULL,
  reach INTEGER NOT NULL,
  engagements INTEGER NOT NULL,
  clicks INTEGER NOT NULL,
  shares INTEGER NOT NULL,
  attendance INTEGER NOT NULL,
  copies INTEGER NOT NULL,
  PRIMARY KEY (force, activity, day)
);
CREATE TABLE metrics_settings (
  force TEXT NOT NULL PRIMARY KEY,
  body BLOB NOT NULL
);
)sql";

// --- small SQL helpers --------------------------------------------------------------------
void BindAll(Statement&, int) {}
template <typename T, typename... Rest>
void BindAll(Statement& st, int i, const T& v, const Rest&... rest) {
  if constexpr (std::is_same_v<T, bool>) {
    st.Bind(i, static_cast<int64_t>(v ? 1 : 0));
  } else if constexpr (std::is_same_v<T, std::optional<std::string>>) {
    if (v.has_value()) {
      st.Bind(i, *v);
    } else {
      st.BindNull(i);
    }
  } else if constexpr (std::is_enum_v<T>) {
    st.Bind(i, static_cast<int64_t>(v));
  } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, int64_t> &&
                       !std::is_same_v<T, int>) {
    st.Bind(i, static_cast<int64_t>(v));
  } else {
    st.Bind(i, v);
  }
  BindAll(st, i + 1, rest...);
}

template <typename... Args>
absl::StatusOr<Statement> Query(Connection& tx, absl::string_view sql, const Args&... args) {
  auto st = tx.Prepare(sql);
  if (!st.ok()) return st.status();
  BindAll(*st, 1, args...);
  return std::move(*st);
}

// Prepared statements of the writer connection, reused across ingest transactions (preparing
// dominates the cost of the many small upserts of a batch). Only touched inside db.Write, which
// the database serializes; installed for the current thread by StatementCache::Use.
class StatementCache {
 public:
  class Use {
   public:
    Use(StatementCache* cache, Connection& tx) : previous_(current_) {
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
  // The cached statement for `sql` on `tx`, reset; nullptr when no cache is installed for tx.
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
    (void)it->second->Reset();
    return it->second.get();
  }

 private:
  static thread_local StatementCache* current_;
  Connection* connection_ = nullptr;
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> statements_;
};
thread_local StatementCache* StatementCache::current_ = nullptr;

// A query of the ingest path on a cached statement (valid until the next use of the same SQL).
template <typename... Args>
absl::StatusOr<Statement*> CachedQuery(Connection& tx, absl::string_view sql, const Args&... args) {
  auto cached = StatementCache::Get(tx, sql);
  if (!cached.ok()) return cached.status();
  if (*cached == nullptr) return absl::InternalError("no statement cache installed");
  BindAll(**cached, 1, args...);
  return *cached;
}

template <typename... Args>
absl::Status Run(Connection& tx, absl::string_view sql, const Args&... args) {
  auto cached = StatementCache::Get(tx, sql);
  if (!cached.ok()) return cached.status();
  if (*cached != nullptr) {
    BindAll(**cached, 1, args...);
    absl::Status s = (*cached)->Run();
    (void)(*cached)->Reset();
    return s;
  }
  auto st = Query(tx, sql, args...);
  if (!st.ok()) return st.status();
  return st->Run();
}

// One integer from a single-row query (0 when no row or NULL).
template <typename... Args>
absl::StatusOr<int64_t> QueryInt(Connection& tx, absl::string_view sql, const Args&... args) {
  auto st = Query(tx, sql, args...);
  if (!st.ok()) return st.status();
  auto row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row || st->IsNull(0)) return 0;
  return st->Int64(0);
}

std::string Day(absl::Time t) { return FormatDay(LocalDay(t)); }
std::string DayOf(const cv1::Date& d) { return FormatDay(*FromProtoDate("d", d)); }

std::string JoinAreas(const google::protobuf::RepeatedPtrField<std::string>& areas) {
  std::set<std::string> s(areas.begin(), areas.end());
  return absl::StrJoin(s, ",");
}
std::vector<std::string> SplitList(const std::string& s) {
  if (s.empty()) return {};
  return absl::StrSplit(s, ',');
}

// Rollup metric keys. Rows of scope "A" are per area (a campaign counts in each area it targets,
// a force-wide one in area "*", which every area filter includes); rows of scope "F" (area "")
// are force totals, so that a multi-area campaign counts once and a force dashboard reads one
// row per metric and day.
constexpr char kDelivered[] = "w_delivered";
constexpr char kCancelled[] = "w_cancelled";
constexpr char kPupils[] = "w_pupils";
constexpr char kParents[] = "w_parents";
constexpr char kStaff[] = "w_staff";
constexpr char kCommunity[] = "w_community";
constexpr char kPeople[] = "w_people";
constexpr char kDisclosures[] = "w_disclosures";
constexpr char kResponses[] = "w_responses";
constexpr char kRatingsCount[] = "w_ratings_count";
constexpr char kRatingsSum[] = "w_ratings_sum";
constexpr char kWhatBefore[] = "w_kwtd_before";
constexpr char kWhatAfter[] = "w_kwtd_after";
constexpr char kWhoBefore[] = "w_kwtt_before";
constexpr char kWhoAfter[] = "w_kwtt_after";
constexpr char kImpressions[] = "c_impressions";
constexpr char kReach[] = "c_reach";
constexpr char kEngagements[] = "c_engagements";
constexpr char kClicks[] = "c_clicks";
constexpr char kShares[] = "c_shares";
constexpr char kAttendance[] = "c_attendance";
constexpr char kCopies[] = "c_copies";
constexpr char kPublished[] = "c_published";

// Rollup deltas of one ingest transaction, summed per row and written once at its end (rollups
// are never read while a batch is applied), so a batch of 500 events on a few days costs a few
// hundred upserts instead of tens of thousands. Installed for the current thread by Use.
class RollupBuffer {
 public:
  using Key = std::tuple<std::string, std::string, std::string, std::string, std::string,
                         std::string, std::string>;  // force, metric, kind, scope, area, dim, day
  class Use {
   public:
    explicit Use(RollupBuffer* buffer) : previous_(current_) { current_ = buffer; }
    ~Use() { current_ = previous_; }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    RollupBuffer* previous_;
  };
  static RollupBuffer* current() { return current_; }
  void Add(Key key, int64_t delta) { deltas_[std::move(key)] += delta; }
  absl::Status Flush(Connection& tx);

 private:
  static thread_local RollupBuffer* current_;
  absl::flat_hash_map<Key, int64_t> deltas_;
};
thread_local RollupBuffer* RollupBuffer::current_ = nullptr;

absl::Status UpsertRollup(Connection& tx, absl::string_view force, absl::string_view metric,
                          absl::string_view dim_kind, absl::string_view scope,
                          absl::string_view area, absl::string_view dim, absl::string_view day,
                          int64_t delta) {
  return Run(tx,
             "INSERT INTO metrics_rollup (force, metric, dim_kind, scope, area, dim, day, value) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (force, metric, dim_kind, scope, area, "
             "dim, day) DO UPDATE SET value = metrics_rollup.value + excluded.value",
             force, metric, dim_kind, scope, area, dim, day, delta);
}

absl::Status RollupBuffer::Flush(Connection& tx) {
  for (const auto& [k, delta] : deltas_) {
    if (delta == 0) continue;
    OUTREACH_RETURN_IF_ERROR(UpsertRollup(tx, std::get<0>(k), std::get<1>(k), std::get<2>(k),
                                          std::get<3>(k), std::get<4>(k), std::get<5>(k),
                                          std::get<6>(k), delta));
  }
  deltas_.clear();
  return absl::OkStatus();
}

absl::Status AddRollup(Connection& tx, const std::string& force, absl::string_view metric,
                       absl::string_view dim_kind, absl::string_view scope, absl::string_view area,
                       absl::string_view dim, const std::string& day, int64_t delta) {
  if (delta == 0) return absl::OkStatus();
  if (RollupBuffer* b = RollupBuffer::current(); b != nullptr) {
    b->Add({force, std::string(metric), std::string(dim_kind), std::string(scope),
            std::string(area), std::string(dim), day},
           delta);
    return absl::OkStatus();
  }
  return UpsertRollup(tx, force, metric, dim_kind, scope, area, dim, day, delta);
}

// Campaign numbers for one day, in every scope/area/dimension they count in.
struct CampaignDims {
  int channel = 0;
  std::vector<std::string> audiences;  // CampaignAudience names
  std::vector<std::string> areas;      // empty = force-wide
};

absl::Status AddCampaign(Connection& tx, const std::string& force, const CampaignDims& dims,
                         const std::string& day,
                         const std::vector<std::pair<const char*, int64_t>>& values) {
  std::vector<std::string> areas = dims.areas;
  if (areas.empty()) areas.push_back("*");
  const std::string channel = cv1::Channel_Name(static_cast<cv1::Channel>(dims.channel));
  for (const auto& [metric, v] : values) {
    if (v == 0) continue;
    auto all_dims = [&](absl::string_view scope, absl::string_view area) -> absl::Status {
      OUTREACH_RETURN_IF_ERROR(AddRollup(tx, force, metric, "", scope, area, "", day, v));
      OUTREACH_RETURN_IF_ERROR(
          AddRollup(tx, force, metric, "channel", scope, area, channel, day, v));
      for (const auto& a : dims.audiences) {
        OUTREACH_RETURN_IF_ERROR(AddRollup(tx, force, metric, "audience", scope, area, a, day, v));
      }
      return absl::OkStatus();
    };
    OUTREACH_RETURN_IF_ERROR(all_dims("F", ""));
    for (const auto& area : areas) OUTREACH_RETURN_IF_ERROR(all_dims("A", area));
  }
  return absl::OkStatus();
}

template <typename Repeated>
std::vector<std::string> CampaignAudienceNames(const Repeated& audiences) {
  std::set<std::string> out;
  for (int a : audiences)
    out.insert(cv1::CampaignAudience_Name(static_cast<cv1::CampaignAudience>(a)));
  return {out.begin(), out.end()};
}

// --- applying one accepted event --------------------------------------------------------
absl::Status ApplyWorkshopDelivered(Connection& tx, const std::string& force,
                                    const ev::OutreachEvent& e) {
  const auto& p = e.workshop_delivered();
  const std::string day = Day(*FromProtoTime("t", p.delivered_time()));
  const std::string& area = p.area();
  int64_t pupils = 0;
  for (const auto& y : p.headcount().pupils()) pupils += y.pupils();
  const int64_t parents = p.headcount().parents();
  const int64_t staff = p.headcount().staff();
  const int64_t community = p.headcount().community_members();
  const auto& f = p.feedback();
  const std::set<std::string> topics(p.topics().begin(), p.topics().end());
  std::set<std::string> audiences;
  for (int a : p.audiences()) {
    audiences.insert(cv1::WorkshopAudience_Name(static_cast<cv1::WorkshopAudience>(a)));
  }
  struct Item {
    const char* metric;
    int64_t value;
    bool by_topic;
  };
  const Item items[] = {
      {kDelivered, 1, true},
      {kPupils, pupils, true},
      {kParents, parents, true},
      {kStaff, staff, true},
      {kCommunity, community, true},
      {kPeople, pupils + parents + staff + community, true},
      {kDisclosures, p.safeguarding_disclosures(), true},
      {kResponses, f.responses(), false},
      {kRatingsCount, f.ratings_count(), true},
      {kRatingsSum, f.ratings_sum(), true},
      {kWhatBefore, f.know_what_to_do().before(), false},
      {kWhatAfter, f.know_what_to_do().after(), false},
      {kWhoBefore, f.know_who_to_tell().before(), false},
      {kWhoAfter, f.know_who_to_tell().after(), false},
  };
  for (const Item& item : items) {
    OUTREACH_RETURN_IF_ERROR(AddRollup(tx, force, item.metric, "", "A", area, "", day, item.value));
    OUTREACH_RETURN_IF_ERROR(AddRollup(tx, force, item.metric, "", "F", "", "", day, item.value));
    if (item.by_topic) {
      for (const auto& t : topics) {
        OUTREACH_RETURN_IF_ERROR(
            AddRollup(tx, force, item.metric, "topic", "A", area, t, day, item.value));
      }
    }
  }
  for (const auto& a : audiences) {
    OUTREACH_RETURN_IF_ERROR(AddRollup(tx, force, kDelivered, "audience", "A", area, a, day, 1));
  }
  const std::pair<const char*, int64_t> by_audience[] = {
      {"WORKSHOP_AUDIENCE_PUPILS", pupils},
      {"WORKSHOP_AUDIENCE_PARENTS", parents},
      {"WORKSHOP_AUDIENCE_STAFF", staff},
      {"WORKSHOP_AUDIENCE_COMMUNITY", community}};
  for (const auto& [name, v] : by_audience) {
    OUTREACH_RETURN_IF_ERROR(AddRollup(tx, force, kPeople, "audience", "A", area, name, day, v));
  }
  if (IsSchoolKind(p.venue_kind()) && pupils > 0) {
    OUTREACH_RETURN_IF_ERROR(
        Run(tx,
            "INSERT INTO metrics_school_visits (force, workshop, venue, area, day) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (force, workshop) DO NOTHING",
            force, e.subject(), p.venue(), area, day));
  }
  return Run(
      tx,
      "INSERT INTO metrics_workshops (force, workshop, state, area, start_micros, "
      "occurred_micros) VALUES (?, ?, 'DELIVERED', ?, ?, ?) ON CONFLICT (force, workshop) "
      "DO UPDATE SET state = excluded.state, area = excluded.area, start_micros = "
      "excluded.start_micros, occurred_micros = excluded.occurred_micros",
      force, e.subject(), area,
      p.has_start_time() ? std::optional<int64_t>(MicrosFromProto(p.start_time())) : std::nullopt,
      MicrosFromProto(e.occurred_time()));
}

absl::Status UpsertWorkshopState(Connection& tx, const std::string& force,
                                 const ev::OutreachEvent& e, absl::string_view state,
                                 const std::string& area, std::optional<int64_t> start) {
  // A delivered workshop stays delivered; otherwise the latest occurred_time wins.
  return Run(tx,
             "INSERT INTO metrics_workshops (force, workshop, state, area, start_micros, "
             "occurred_micros) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (force, workshop) DO UPDATE "
             "SET state = excluded.state, area = excluded.area, start_micros = "
             "excluded.start_micros, occurred_micros = excluded.occurred_micros WHERE "
             "metrics_workshops.state <> 'DELIVERED' AND excluded.occurred_micros >= "
             "metrics_workshops.occurred_micros",
             force, e.subject(), state, area, start, MicrosFromProto(e.occurred_time()));
}

absl::Status UpsertEnrolment(Connection& tx, const std::string& force, const ev::OutreachEvent& e,
                             const std::string& officer, const std::string& course, int role,
                             const std::string& division, bool open,
                             std::optional<std::string> due_day, bool set_due,
                             std::optional<std::string> created_day) {
  const int64_t occurred = MicrosFromProto(e.occurred_time());
  OUTREACH_RETURN_IF_ERROR(Run(
      tx,
      "INSERT INTO metrics_enrolments (force, enrolment, officer, course, role, division, open, "
      "due_day, created_day, occurred_micros) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (force, enrolment) DO NOTHING",
      force, e.subject(), officer, course, role, division, open, due_day, created_day, occurred));
  if (created_day.has_value()) {
    OUTREACH_RETURN_IF_ERROR(
        Run(tx,
            "UPDATE metrics_enrolments SET created_day = ?, role = ?, division = ? "
            "WHERE force = ? AND enrolment = ?",
            *created_day, role, division, force, e.subject()));
  }
  OUTREACH_RETURN_IF_ERROR(
      Run(tx,
          "UPDATE metrics_enrolments SET open = ?, occurred_micros = ? WHERE force = "
          "? AND enrolment = ? AND occurred_micros <= ?",
          open, occurred, force, e.subject(), occurred));
  if (set_due) {
    OUTREACH_RETURN_IF_ERROR(Run(tx,
                                 "UPDATE metrics_enrolments SET due_day = ? WHERE force = ? AND "
                                 "enrolment = ?",
                                 due_day, force, e.subject()));
  }
  return absl::OkStatus();
}

absl::Status ApplyCampaignState(Connection& tx, const std::string& force,
                                const ev::OutreachEvent& e) {
  const auto& p = e.campaign_state_changed();
  const int64_t occurred = MicrosFromProto(e.occurred_time());
  const std::string day = Day(*FromProtoTime("t", e.occurred_time()));
  std::optional<std::string> first, last;
  int64_t stored_occurred = -1;
  OUTREACH_ASSIGN_OR_RETURN(
      Statement * q, CachedQuery(tx,
                                 "SELECT first_active_day, last_active_day, occurred_micros FROM "
                                 "metrics_campaigns WHERE force = ? AND campaign = ?",
                                 force, e.subject()));
  Statement& st = *q;
  OUTREACH_ASSIGN_OR_RETURN(bool found, st.Step());
  if (found) {
    if (!st.IsNull(0)) first = st.Text(0);
    if (!st.IsNull(1)) last = st.Text(1);
    stored_occurred = st.Int64(2);
  }
  (void)st.Reset();
  const bool active = p.state() == cv1::CAMPAIGN_STATE_ACTIVE;
  if (active) {
    if (!first.has_value() || day < *first) first = day;
    if (occurred >= stored_occurred) last.reset();
  } else if (first.has_value() && (p.previous_state() == cv1::CAMPAIGN_STATE_ACTIVE || !last)) {
    if (!last.has_value() || day > *last) last = day;
  }
  if (occurred < stored_occurred) {
    // An older change: only the active span may learn from it.
    return Run(tx,
               "UPDATE metrics_campaigns SET first_active_day = ?, last_active_day = ? WHERE "
               "force = ? AND campaign = ?",
               first, last, force, e.subject());
  }
  return Run(tx,
             "INSERT INTO metrics_campaigns (force, campaign, state, areas, reach_target, "
             "first_active_day, last_active_day, occurred_micros) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
             "ON CONFLICT (force, campaign) DO UPDATE SET state = excluded.state, areas = "
             "excluded.areas, reach_target = excluded.reach_target, first_active_day = "
             "excluded.first_active_day, last_active_day = excluded.last_active_day, "
             "occurred_micros = excluded.occurred_micros",
             force, e.subject(), static_cast<int>(p.state()), JoinAreas(p.areas()),
             p.reach_target(), first, last, occurred);
}

absl::Status ApplyEngagement(Connection& tx, const std::string& force, const ev::OutreachEvent& e) {
  const auto& p = e.engagement_reported();
  const std::string day = DayOf(p.day());
  OUTREACH_ASSIGN_OR_RETURN(
      Statement * q, CachedQuery(tx,
                                 "SELECT revision, channel, audiences, areas, impressions, reach, "
                                 "engagements, clicks, shares, attendance, copies FROM "
                                 "metrics_engagement WHERE force = ? AND activity = ? AND day = ?",
                                 force, e.subject(), day));
  Statement& st = *q;
  OUTREACH_ASSIGN_OR_RETURN(bool found, st.Step());
  if (found) {
    const int64_t revision = st.Int64(0);
    const CampaignDims old{static_cast<int>(st.Int64(1)), SplitList(st.Text(2)),
                           SplitList(st.Text(3))};
    const std::vector<std::pair<const char*, int64_t>> previous = {
        {kImpressions, -st.Int64(4)}, {kReach, -st.Int64(5)},  {kEngagements, -st.Int64(6)},
        {kClicks, -st.Int64(7)},      {kShares, -st.Int64(8)}, {kAttendance, -st.Int64(9)},
        {kCopies, -st.Int64(10)}};
    (void)st.Reset();
    if (revision >= p.revision()) return absl::OkStatus();  // older or equal: ignored
    // Replace: take the previous report's numbers out where they were counted.
    OUTREACH_RETURN_IF_ERROR(AddCampaign(tx, force, old, day, previous));
  }
  (void)st.Reset();
  CampaignDims dims{p.channel(), CampaignAudienceNames(p.audiences()),
                    SplitList(JoinAreas(p.areas()))};
  OUTREACH_RETURN_IF_ERROR(AddCampaign(tx, force, dims, day,
                                       {{kImpressions, p.impressions()},
                                        {kReach, p.reach()},
                                        {kEngagements, p.engagements()},
                                        {kClicks, p.clicks()},
                                        {kShares, p.shares()},
                                        {kAttendance, p.attendance()},
                                        {kCopies, p.copies_distributed()}}));
  return Run(tx,
             "INSERT INTO metrics_engagement (force, activity, day, revision, channel, audiences, "
             "areas, impressions, reach, engagements, clicks, shares, attendance, copies) VALUES "
             "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (force, activity, day) DO "
             "UPDATE SET revision = excluded.revision, channel = excluded.channel, audiences = "
             "excluded.audiences, areas = excluded.areas, impressions = excluded.impressions, "
             "reach = excluded.reach, engagements = excluded.engagements, clicks = "
             "excluded.clicks, shares = excluded.shares, attendance = excluded.attendance, "
             "copies = excluded.copies",
             force, e.subject(), day, p.revision(), static_cast<int>(p.channel()),
             absl::StrJoin(dims.audiences, ","), absl::StrJoin(dims.areas, ","), p.impressions(),
             p.reach(), p.engagements(), p.clicks(), p.shares(), p.attendance(),
             p.copies_distributed());
}

absl::Status Apply(Connection& tx, const std::string& force, const ev::OutreachEvent& e) {
  using E = ev::OutreachEvent;
  const int64_t occurred = MicrosFromProto(e.occurred_time());
  switch (e.payload_case()) {
    case E::kVenueUpserted:
    case E::kVenueDeleted: {
      const bool deleted = e.payload_case() == E::kVenueDeleted;
      const int kind = deleted ? e.venue_deleted().kind() : e.venue_upserted().kind();
      const std::string& area = deleted ? e.venue_deleted().area() : e.venue_upserted().area();
      return Run(tx,
                 "INSERT INTO metrics_venues (force, venue, kind, area, deleted, occurred_micros) "
                 "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (force, venue) DO UPDATE SET kind = "
                 "excluded.kind, area = excluded.area, deleted = excluded.deleted, "
                 "occurred_micros = excluded.occurred_micros WHERE excluded.occurred_micros >= "
                 "metrics_venues.occurred_micros",
                 force, e.subject(), kind, area, deleted, occurred);
    }
    case E::kPresenterAccreditationChanged: {
      const auto& p = e.presenter_accreditation_changed();
      return Run(tx,
                 "INSERT INTO metrics_presenters (force, presenter, state, expire_micros, "
                 "occurred_micros) VALUES (?, ?, ?, ?, ?) ON CONFLICT (force, presenter) DO "
                 "UPDATE SET state = excluded.state, expire_micros = excluded.expire_micros, "
                 "occurred_micros = excluded.occurred_micros WHERE excluded.occurred_micros >= "
                 "metrics_presenters.occurred_micros",
                 force, e.subject(), static_cast<int>(p.state()),
                 p.has_expire_time() ? std::optional<int64_t>(MicrosFromProto(p.expire_time()))
                                     : std::nullopt,
                 occurred);
    }
    case E::kWorkshopScheduled: {
      const auto& p = e.workshop_scheduled();
      return UpsertWorkshopState(tx, force, e, "SCHEDULED", p.area(),
                                 MicrosFromProto(p.start_time()));
    }
    case E::kWorkshopPostponed: {
      const auto& p = e.workshop_postponed();
      return UpsertWorkshopState(tx, force, e, "POSTPONED", p.area(),
                                 p.has_start_time()
                                     ? std::optional<int64_t>(MicrosFromProto(p.start_time()))
                                     : std::nullopt);
    }
    case E::kWorkshopCancelled: {
      const auto& p = e.workshop_cancelled();
      OUTREACH_RETURN_IF_ERROR(UpsertWorkshopState(
          tx, force, e, "CANCELLED", p.area(),
          p.has_start_time() ? std::optional<int64_t>(MicrosFromProto(p.start_time()))
                             : std::nullopt));
      const std::string day = Day(*FromProtoTime("t", e.occurred_time()));
      OUTREACH_RETURN_IF_ERROR(AddRollup(tx, force, kCancelled, "", "F", "", "", day, 1));
      return AddRollup(tx, force, kCancelled, "", "A", p.area(), "", day, 1);
    }
    case E::kWorkshopDelivered:
      return ApplyWorkshopDelivered(tx, force, e);
    case E::kOfficerUpserted:
    case E::kOfficerDeleted: {
      const bool deleted = e.payload_case() == E::kOfficerDeleted;
      const int role = deleted ? e.officer_deleted().role() : e.officer_upserted().role();
      const std::string& division =
          deleted ? e.officer_deleted().division() : e.officer_upserted().division();
      const bool active = !deleted && e.officer_upserted().active();
      return Run(tx,
                 "INSERT INTO metrics_officers (force, officer, role, division, active, deleted, "
                 "occurred_micros) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (force, officer) DO "
                 "UPDATE SET role = excluded.role, division = excluded.division, active = "
                 "excluded.active, deleted = excluded.deleted, occurred_micros = "
                 "excluded.occurred_micros WHERE excluded.occurred_micros >= "
                 "metrics_officers.occurred_micros",
                 force, e.subject(), role, division, active, deleted, occurred);
    }
    case E::kEnrolmentCreated: {
      const auto& p = e.enrolment_created();
      std::optional<std::string> due;
      if (p.has_due_date()) due = DayOf(p.due_date());
      return UpsertEnrolment(tx, force, e, p.officer(), p.course(), p.role(), p.division(), true,
                             due, true, Day(*FromProtoTime("t", e.occurred_time())));
    }
    case E::kEnrolmentDueDateChanged: {
      const auto& p = e.enrolment_due_date_changed();
      std::optional<std::string> due;
      if (p.has_due_date()) due = DayOf(p.due_date());
      return Run(tx, "UPDATE metrics_enrolments SET due_day = ? WHERE force = ? AND enrolment = ?",
                 due, force, e.subject());
    }
    case E::kModuleCompleted:
      return absl::OkStatus();  // stored; no KPI counts module results
    case E::kEnrolmentCompleted: {
      const auto& p = e.enrolment_completed();
      OUTREACH_RETURN_IF_ERROR(UpsertEnrolment(tx, force, e, p.officer(), p.course(), p.role(),
                                               p.division(), false, std::nullopt, false,
                                               std::nullopt));
      const absl::Time completed = *FromProtoTime("t", p.completed_time());
      return Run(tx,
                 "INSERT INTO metrics_certificates (force, enrolment, officer, course, role, "
                 "division, completed_micros, completed_day, valid_until_micros) VALUES (?, ?, ?, "
                 "?, ?, ?, ?, ?, ?) ON CONFLICT (force, enrolment) DO NOTHING",
                 force, e.subject(), p.officer(), p.course(), static_cast<int>(p.role()),
                 p.division(), db::ToMicros(completed), Day(completed),
                 p.has_valid_until() ? std::optional<int64_t>(MicrosFromProto(p.valid_until()))
                                     : std::nullopt);
    }
    case E::kCertificateExpired: {
      const auto& p = e.certificate_expired();
      return Run(tx,
                 "INSERT INTO metrics_expiries (force, enrolment, officer, course, role, "
                 "division, day) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (force, enrolment, day) "
                 "DO NOTHING",
                 force, e.subject(), p.officer(), p.course(), static_cast<int>(p.role()),
                 p.division(), Day(*FromProtoTime("t", p.valid_until())));
    }
    case E::kEnrolmentWithdrawn: {
      const auto& p = e.enrolment_withdrawn();
      return UpsertEnrolment(tx, force, e, p.officer(), p.course(), p.role(), p.division(), false,
                             std::nullopt, false, std::nullopt);
    }
    case E::kCampaignStateChanged:
      return ApplyCampaignState(tx, force, e);
    case E::kActivityPublished: {
      const auto& p = e.activity_published();
      CampaignDims dims{p.channel(), CampaignAudienceNames(p.audiences()),
                        SplitList(JoinAreas(p.areas()))};
      return AddCampaign(tx, force, dims, Day(EventTime(e)), {{kPublished, 1}});
    }
    case E::kActivityWithdrawn:
      return absl::OkStatus();  // its reported numbers stay counted
    case E::kEngagementReported:
      return ApplyEngagement(tx, force, e);
    case E::PAYLOAD_NOT_SET:
      break;
  }
  return absl::InternalError("unvalidated payload");
}

// --- reading ----------------------------------------------------------------------------
// Officers, certificates and open enrolments of a force: enough to classify every officer at
// any instant (current / overdue / in progress / expired / never trained).
struct TrainingSnapshot {
  struct Officer {
    int role = 0;
    std::string division;
  };
  struct Certificate {
    std::string course;
    int64_t completed = 0;
    std::optional<int64_t> valid_until;
  };
  struct OpenEnrolment {
    std::string course;
    std::optional<std::string> due_day;
  };
  std::map<std::string, Officer> active;  // active, not deleted
  absl::flat_hash_map<std::string, std::vector<Certificate>> certificates;
  absl::flat_hash_map<std::string, std::vector<OpenEnrolment>> open;
};

absl::StatusOr<TrainingSnapshot> LoadTraining(Connection& tx, const std::string& force) {
  TrainingSnapshot s;
  {
    OUTREACH_ASSIGN_OR_RETURN(Statement st,
                              Query(tx,
                                    "SELECT officer, role, division FROM metrics_officers "
                                    "WHERE force = ? AND active = 1 AND deleted = 0",
                                    force));
    for (;;) {
      OUTREACH_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      s.active[st.Text(0)] = {static_cast<int>(st.Int64(1)), st.Text(2)};
    }
  }
  {
    OUTREACH_ASSIGN_OR_RETURN(Statement st,
                              Query(tx,
                                    "SELECT officer, course, completed_micros, "
                                    "valid_until_micros FROM metrics_certificates WHERE "
                                    "force = ?",
                                    force));
    for (;;) {
      OUTREACH_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      TrainingSnapshot::Certificate c{st.Text(1), st.Int64(2), std::nullopt};
      if (!st.IsNull(3)) c.valid_until = st.Int64(3);
      s.certificates[st.Text(0)].push_back(std::move(c));
    }
  }
  {
    OUTREACH_ASSIGN_OR_RETURN(Statement st,
                              Query(tx,
                                    "SELECT officer, course, due_day FROM metrics_enrolments "
                                    "WHERE force = ? AND open = 1",
                                    force));
    for (;;) {
      OUTREACH_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      TrainingSnapshot::OpenEnrolment o{st.Text(1), std::nullopt};
      if (!st.IsNull(2)) o.due_day = st.Text(2);
      s.open[st.Text(0)].push_back(std::move(o));
    }
  }
  return s;
}

enum class Standing { kCurrent, kOverdue, kInProgress, kExpired, kNever };

bool CurrentAt(const TrainingSnapshot::Certificate& c, int64_t at) {
  return c.completed <= at && (!c.valid_until.has_value() || *c.valid_until > at);
}

// `course` empty = any course.
Standing Classify(const TrainingSnapshot& s, const std::string& officer, const std::string& course,
                  int64_t at, const std::string& today) {
  bool any_cert = false;
  if (auto it = s.certificates.find(officer); it != s.certificates.end()) {
    for (const auto& c : it->second) {
      if (!course.empty() && c.course != course) continue;
      if (c.completed > at) continue;
      if (CurrentAt(c, at)) return Standing::kCurrent;
      any_cert = true;
    }
  }
  if (auto it = s.open.find(officer); it != s.open.end()) {
    bool open = false;
    for (const auto& o : it->second) {
      if (!course.empty() && o.course != course) continue;
      if (o.due_day.has_value() && *o.due_day < today) return Standing::kOverdue;
      open = true;
    }
    if (open) return Standing::kInProgress;
  }
  return any_cert ? Standing::kExpired : Standing::kNever;
}

bool RoleInScope(const v1::TrainingTarget& t, int role) {
  if (t.roles_size() == 0) return true;
  for (int r : t.roles()) {
    if (r == role) return true;
  }
  return false;
}

// The evaluation instant of a range: the end of its last day, or now if earlier.
int64_t EvalMicros(DayRange days, absl::Time now) {
  return db::ToMicros(std::min(StartOfLocalDay(days.end + 1), now));
}
std::string EvalDay(int64_t at) { return FormatDay(LocalDay(db::FromMicros(at))); }

v1::TrainingTargetStatus TargetStatus(
    const TrainingSnapshot& s, const v1::TrainingTarget& target, const std::string& area,
    int64_t at,
    const std::function<bool(const std::string&, const TrainingSnapshot::Officer&)>& extra_filter =
        nullptr) {
  v1::TrainingTargetStatus st;
  *st.mutable_target() = target;
  const std::string today = EvalDay(at);
  for (const auto& [officer, o] : s.active) {
    if (!area.empty() && o.division != area) continue;
    if (!RoleInScope(target, o.role)) continue;
    if (extra_filter && !extra_filter(officer, o)) continue;
    st.set_officers_in_scope(st.officers_in_scope() + 1);
    switch (Classify(s, officer, target.course(), at, today)) {
      case Standing::kCurrent:
        st.set_officers_current(st.officers_current() + 1);
        break;
      case Standing::kOverdue:
        st.set_officers_overdue(st.officers_overdue() + 1);
        break;
      case Standing::kInProgress:
        st.set_officers_in_progress(st.officers_in_progress() + 1);
        break;
      case Standing::kExpired:
        st.set_officers_expired(st.officers_expired() + 1);
        break;
      case Standing::kNever:
        st.set_officers_never_trained(st.officers_never_trained() + 1);
        break;
    }
  }
  FinishTargetStatus(&st);
  return st;
}

bool HasCurrent(const TrainingSnapshot& s, const std::string& officer, const std::string& course,
                int64_t at) {
  auto it = s.certificates.find(officer);
  if (it == s.certificates.end()) return false;
  for (const auto& c : it->second) {
    if (!course.empty() && c.course != course) continue;
    if (CurrentAt(c, at)) return true;
  }
  return false;
}

absl::StatusOr<v1::ForceSettings> ReadSettings(Connection& tx, const std::string& force) {
  v1::ForceSettings s;
  OUTREACH_ASSIGN_OR_RETURN(Statement st,
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

// Sums of rollup metrics over days, for the whole force or one area (dimension "").
absl::StatusOr<std::map<std::string, int64_t>> SumRollups(Connection& tx, const std::string& force,
                                                          DayRange days, const std::string& area) {
  std::map<std::string, int64_t> out;
  const std::string from = FormatDay(days.start), to = FormatDay(days.end);
  absl::StatusOr<Statement> st =
      area.empty()
          ? Query(tx,
                  "SELECT metric, SUM(value) FROM metrics_rollup WHERE force = ? AND dim_kind = "
                  "'' AND scope = 'F' AND area = '' AND day >= ? AND day <= ? GROUP BY metric",
                  force, from, to)
          : Query(tx,
                  "SELECT metric, SUM(value) FROM metrics_rollup WHERE force = ? AND dim_kind = "
                  "'' AND scope = 'A' AND area IN (?, '*') AND day >= ? AND day <= ? GROUP BY "
                  "metric",
                  force, area, from, to);
  if (!st.ok()) return st.status();
  for (;;) {
    OUTREACH_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out[st->Text(0)] = st->Int64(1);
  }
  return out;
}

double Ratio(int64_t num, int64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

class SqlMetricsStore final : public MetricsStore {
 public:
  explicit SqlMetricsStore(db::Database* db) : db_(db) {}

  absl::StatusOr<IngestOutput> Ingest(
      const std::string& force, const google::protobuf::RepeatedPtrField<ev::OutreachEvent>& events,
      absl::Time now) override {
    IngestOutput out;
    absl::Status s = db_->Write([&](Connection& tx) -> absl::Status {
      StatementCache::Use use(&statements_, tx);
      RollupBuffer rollups;
      RollupBuffer::Use buffered(&rollups);
      out = IngestOutput();
      int64_t newest = 0;
      for (int i = 0; i < events.size(); ++i) {
        const ev::OutreachEvent& e = events.Get(i);
        v1::EventResult* r = out.response.add_results();
        r->set_index(i);
        r->set_event_id(e.event_id().substr(0, 200));
        if (auto rej = ValidateEvent(e, force, now); rej.has_value()) {
          r->set_outcome(v1::INGEST_OUTCOME_REJECTED);
          r->set_reason(rej->reason);
          if (rej->reason == "FIELD_INVALID") r->set_field(rej->field);
          out.response.set_rejected(out.response.rejected() + 1);
          continue;
        }
        const int64_t occurred = MicrosFromProto(e.occurred_time());
        OUTREACH_RETURN_IF_ERROR(
            Run(tx,
                "INSERT INTO metrics_events (force, event_id, source, subject, "
                "payload_case, occurred_micros, ingested_micros, body) VALUES (?, ?, "
                "?, ?, ?, ?, ?, ?) ON CONFLICT (force, event_id) DO NOTHING",
                force, e.event_id(), e.source(), e.subject(), static_cast<int>(e.payload_case()),
                occurred, db::ToMicros(now), e.SerializeAsString()));
        if (tx.Changes() == 0) {
          r->set_outcome(v1::INGEST_OUTCOME_DUPLICATE);
          out.response.set_duplicates(out.response.duplicates() + 1);
          continue;
        }
        OUTREACH_RETURN_IF_ERROR(Apply(tx, force, e));
        r->set_outcome(v1::INGEST_OUTCOME_ACCEPTED);
        out.response.set_accepted(out.response.accepted() + 1);
        newest = std::max(newest, occurred);
      }
      OUTREACH_RETURN_IF_ERROR(rollups.Flush(tx));
      if (out.response.accepted() > 0) {
        OUTREACH_RETURN_IF_ERROR(BumpVersion(tx, force, newest));
        out.changed = true;
      }
      OUTREACH_ASSIGN_OR_RETURN(
          out.data_version,
          QueryInt(tx, "SELECT data_version FROM metrics_force_state WHERE force = ?", force));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<int64_t> DataVersion(const std::string& force) override {
    int64_t v = 0;
    absl::Status s = db_->Read([&](Connection& tx) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(v, QueryInt(tx,
                                            "SELECT data_version FROM metrics_force_state WHERE "
                                            "force = ?",
                                            force));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return v;
  }

  absl::StatusOr<v1::Dashboard> ComputeDashboard(const std::string& force, DayRange days,
                                                 const std::string& area, absl::Time now) override {
    v1::Dashboard d;
    absl::Status s = db_->Read([&](Connection& tx) -> absl::Status {
      d.Clear();
      return FillDashboard(tx, force, days, area, now, &d);
    });
    if (!s.ok()) return s;
    return d;
  }

  absl::StatusOr<v1::QuerySeriesResponse> ComputeSeries(const std::string& force,
                                                        const v1::QuerySeriesRequest& request,
                                                        const std::vector<Bucket>& buckets,
                                                        absl::Time now) override {
    v1::QuerySeriesResponse out;
    absl::Status s = db_->Read([&](Connection& tx) -> absl::Status {
      out.Clear();
      return FillSeries(tx, force, request, buckets, now, &out);
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<std::vector<std::string>> ListForces(int limit) override {
    return ListText("SELECT force FROM metrics_force_state ORDER BY force LIMIT ?", "", limit);
  }

  absl::StatusOr<std::vector<std::string>> ListAreas(const std::string& force, int limit) override {
    return ListText(
        "SELECT area FROM (SELECT area FROM metrics_venues WHERE force = ?1 AND deleted = 0 "
        "UNION SELECT division AS area FROM metrics_officers WHERE force = ?1 AND deleted = 0) "
        "WHERE area <> '' ORDER BY area LIMIT ?2",
        force, limit);
  }

  absl::StatusOr<v1::ForceSettings> GetSettings(const std::string& force) override {
    v1::ForceSettings out;
    absl::Status s = db_->Read([&](Connection& tx) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(out, ReadSettings(tx, force));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<v1::ForceSettings> UpdateSettings(const std::string& force,
                                                   const v1::ForceSettings& settings,
                                                   const std::set<std::string>& paths,
                                                   absl::Time now, int64_t* data_version) override {
    v1::ForceSettings out;
    absl::Status s = db_->Write([&](Connection& tx) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(v1::ForceSettings current, ReadSettings(tx, force));
      OUTREACH_RETURN_IF_ERROR(
          CheckEtag("force_settings.etag", current.name(), settings.etag(), current.etag()));
      out = current;
      if (paths.count("display_name")) out.set_display_name(settings.display_name());
      if (paths.count("training_targets")) {
        *out.mutable_training_targets() = settings.training_targets();
      }
      if (paths.count("school_coverage_target_percent")) {
        out.set_school_coverage_target_percent(settings.school_coverage_target_percent());
      }
      if (!out.has_create_time()) *out.mutable_create_time() = ToProtoTime(now);
      *out.mutable_update_time() = ToProtoTime(now);
      out.clear_etag();
      out.set_etag(ComputeEtag(out));
      OUTREACH_RETURN_IF_ERROR(
          Run(tx,
              "INSERT INTO metrics_settings (force, body) VALUES (?, ?) ON CONFLICT "
              "(force) DO UPDATE SET body = excluded.body",
              force, out.SerializeAsString()));
      OUTREACH_RETURN_IF_ERROR(BumpVersion(tx, force, std::nullopt));
      OUTREACH_ASSIGN_OR_RETURN(
          *data_version,
          QueryInt(tx, "SELECT data_version FROM metrics_force_state WHERE force = ?", force));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

 private:
  absl::StatusOr<std::vector<std::string>> ListText(absl::string_view sql, const std::string& force,
                                                    int limit) {
    std::vector<std::string> out;
    absl::Status s = db_->Read([&](Connection& tx) -> absl::Status {
      out.clear();
      absl::StatusOr<Statement> st =
          force.empty() ? Query(tx, sql, limit) : Query(tx, sql, force, limit);
      if (!st.ok()) return st.status();
      for (;;) {
        OUTREACH_ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) break;
        out.push_back(st->Text(0));
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  static absl::Status BumpVersion(Connection& tx, const std::string& force,
                                  std::optional<int64_t> newest) {
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

  static absl::Status FillState(Connection& tx, const std::string& force,
                                google::protobuf::Timestamp* as_of, int64_t* version) {
    OUTREACH_ASSIGN_OR_RETURN(Statement st, Query(tx,
                                                  "SELECT data_version, as_of_micros FROM "
                                                  "metrics_force_state WHERE force = ?",
                                                  force));
    OUTREACH_ASSIGN_OR_RETURN(bool found, st.Step());
    *version = found ? st.Int64(0) : 0;
    if (found && !st.IsNull(1)) *as_of = ToProtoTime(db::FromMicros(st.Int64(1)));
    return absl::OkStatus();
  }

  static absl::Status FillDashboard(Connection& tx, const std::string& force, DayRange days,
                                    const std::string& area, absl::Time now, v1::Dashboard* d) {
    int64_t version = 0;
    google::protobuf::Timestamp as_of;
    OUTREACH_RETURN_IF_ERROR(FillState(tx, force, &as_of, &version));
    d->set_data_version(version);
    if (as_of.seconds() != 0) *d->mutable_as_of() = as_of;
    *d->mutable_compute_time() = ToProtoTime(now);
    d->mutable_date_range()->mutable_start_date()->CopyFrom(ToProtoDate(days.start));
    d->mutable_date_range()->mutable_end_date()->CopyFrom(ToProtoDate(days.end));
    d->set_area(area);
    OUTREACH_ASSIGN_OR_RETURN(v1::ForceSettings settings, ReadSettings(tx, force));
    d->set_force_display_name(settings.display_name());
    const std::string from = FormatDay(days.start), to = FormatDay(days.end);
    const int64_t at = EvalMicros(days, now);

    OUTREACH_ASSIGN_OR_RETURN(auto sums, SumRollups(tx, force, days, area));
    auto get = [&](const char* m) {
      auto it = sums.find(m);
      return it == sums.end() ? int64_t{0} : it->second;
    };
    // Workshops.
    v1::WorkshopKpis* w = d->mutable_workshops();
    w->set_workshops_delivered(get(kDelivered));
    w->set_workshops_cancelled(get(kCancelled));
    w->set_pupils_reached(get(kPupils));
    w->set_parents_reached(get(kParents));
    w->set_staff_reached(get(kStaff));
    w->set_community_reached(get(kCommunity));
    w->set_people_reached(get(kPeople));
    w->set_safeguarding_disclosures(get(kDisclosures));
    w->set_feedback_responses(get(kResponses));
    w->set_mean_rating(Ratio(get(kRatingsSum), get(kRatingsCount)));
    w->mutable_know_what_to_do()->set_before(static_cast<int32_t>(get(kWhatBefore)));
    w->mutable_know_what_to_do()->set_after(static_cast<int32_t>(get(kWhatAfter)));
    w->mutable_know_who_to_tell()->set_before(static_cast<int32_t>(get(kWhoBefore)));
    w->mutable_know_who_to_tell()->set_after(static_cast<int32_t>(get(kWhoAfter)));
    const int64_t period_start = db::ToMicros(StartOfLocalDay(days.start));
    const int64_t period_end = db::ToMicros(StartOfLocalDay(days.end + 1));
    OUTREACH_ASSIGN_OR_RETURN(
        int64_t scheduled,
        QueryInt(tx,
                 "SELECT COUNT(*) FROM metrics_workshops WHERE force = ? AND state = "
                 "'SCHEDULED' AND start_micros >= ? AND start_micros < ? AND (? = '' "
                 "OR area = ?)",
                 force, period_start, period_end, area, area));
    w->set_workshops_scheduled(scheduled);
    OUTREACH_ASSIGN_OR_RETURN(
        int64_t covered, QueryInt(tx,
                                  "SELECT COUNT(DISTINCT venue) FROM metrics_school_visits WHERE "
                                  "force = ? AND day >= ? AND day <= ? AND (? = '' OR area = ?)",
                                  force, from, to, area, area));
    w->set_schools_covered(covered);
    OUTREACH_ASSIGN_OR_RETURN(
        int64_t total, QueryInt(tx,
                                "SELECT COUNT(*) FROM metrics_venues WHERE force = ? AND deleted = "
                                "0 AND kind >= ? AND kind <= ? AND (? = '' OR area = ?)",
                                force, static_cast<int>(cv1::VENUE_KIND_PRIMARY),
                                static_cast<int>(cv1::VENUE_KIND_COLLEGE), area, area));
    w->set_schools_total(total);
    w->set_schools_covered_percent(total == 0 ? 0.0
                                              : std::min(100.0, 100.0 * Ratio(covered, total)));
    w->set_school_coverage_target_percent(settings.school_coverage_target_percent());
    OUTREACH_ASSIGN_OR_RETURN(
        int64_t presenters,
        QueryInt(tx,
                 "SELECT COUNT(*) FROM metrics_presenters WHERE force = ? AND state "
                 "= ? AND (expire_micros IS NULL OR expire_micros > ?)",
                 force, static_cast<int>(cv1::ACCREDITATION_STATE_ACCREDITED), at));
    w->set_presenters_accredited(presenters);

    // Training.
    v1::TrainingKpis* t = d->mutable_training();
    OUTREACH_ASSIGN_OR_RETURN(
        int64_t trained,
        QueryInt(tx,
                 "SELECT COUNT(DISTINCT officer) FROM metrics_certificates WHERE "
                 "force = ? AND completed_day >= ? AND completed_day <= ? AND (? = '' "
                 "OR division = ?)",
                 force, from, to, area, area));
    t->set_officers_trained(trained);
    OUTREACH_ASSIGN_OR_RETURN(
        int64_t completions,
        QueryInt(tx,
                 "SELECT COUNT(*) FROM metrics_certificates WHERE force = ? AND "
                 "completed_day >= ? AND completed_day <= ? AND (? = '' OR division "
                 "= ?)",
                 force, from, to, area, area));
    t->set_course_completions(completions);
    OUTREACH_ASSIGN_OR_RETURN(
        int64_t created,
        QueryInt(tx,
                 "SELECT COUNT(*) FROM metrics_enrolments WHERE force = ? AND "
                 "created_day >= ? AND created_day <= ? AND (? = '' OR division = ?)",
                 force, from, to, area, area));
    t->set_enrolments_created(created);
    OUTREACH_ASSIGN_OR_RETURN(
        int64_t expired,
        QueryInt(tx,
                 "SELECT COUNT(*) FROM metrics_expiries WHERE force = ? AND day >= ? "
                 "AND day <= ? AND (? = '' OR division = ?)",
                 force, from, to, area, area));
    t->set_certificates_expired(expired);
    OUTREACH_ASSIGN_OR_RETURN(TrainingSnapshot snap, LoadTraining(tx, force));
    int64_t active = 0, current = 0;
    for (const auto& [officer, o] : snap.active) {
      if (!area.empty() && o.division != area) continue;
      ++active;
      if (HasCurrent(snap, officer, "", at)) ++current;
    }
    t->set_officers_active(active);
    t->set_officers_current(current);
    for (const auto& target : settings.training_targets()) {
      *t->add_targets() = TargetStatus(snap, target, area, at);
    }

    // Campaigns.
    v1::CampaignKpis* c = d->mutable_campaigns();
    c->set_activities_published(get(kPublished));
    c->set_impressions(get(kImpressions));
    c->set_reach(get(kReach));
    c->set_engagements(get(kEngagements));
    c->set_clicks(get(kClicks));
    c->set_shares(get(kShares));
    c->set_attendance(get(kAttendance));
    c->set_copies_distributed(get(kCopies));
    c->set_engagement_rate(Ratio(c->engagements(), c->impressions()));
    c->set_click_through_rate(Ratio(c->clicks(), c->impressions()));
    OUTREACH_ASSIGN_OR_RETURN(
        Statement st, Query(tx,
                            "SELECT areas, reach_target FROM metrics_campaigns WHERE force = ? AND "
                            "first_active_day IS NOT NULL AND first_active_day <= ? AND "
                            "(last_active_day IS NULL OR last_active_day >= ?)",
                            force, to, from));
    int64_t campaigns = 0, reach_target = 0;
    for (;;) {
      OUTREACH_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const std::vector<std::string> areas = SplitList(st.Text(0));
      if (!area.empty() && !areas.empty() &&
          std::find(areas.begin(), areas.end(), area) == areas.end()) {
        continue;
      }
      ++campaigns;
      reach_target += st.Int64(1);
    }
    c->set_campaigns_active(campaigns);
    c->set_reach_target(reach_target);
    c->set_reach_target_percent(reach_target == 0 ? 0.0 : 100.0 * Ratio(c->reach(), reach_target));
    return absl::OkStatus();
  }

  // Adds `value` to (group, bucket) for the bucket containing `day`.
  struct Grid {
    const std::vector<Bucket>* buckets;
    std::vector<std::string> starts;  // bucket start days, formatted
    std::map<std::string, std::vector<double>> values;
    std::map<std::string, std::vector<double>> denominators;
    explicit Grid(const std::vector<Bucket>& b) : buckets(&b) {
      for (const auto& x : b) starts.push_back(FormatDay(x.days.start));
    }
    int Index(const std::string& day) const {
      auto it = std::upper_bound(starts.begin(), starts.end(), day);
      return static_cast<int>(it - starts.begin()) - 1;
    }
    std::vector<double>& Row(std::map<std::string, std::vector<double>>& m,
                             const std::string& group) {
      auto& row = m[group];
      if (row.empty()) row.assign(buckets->size(), 0.0);
      return row;
    }
    void Add(const std::string& group, const std::string& day, double v, bool denominator = false) {
      const int i = Index(day);
      if (i < 0) return;
      Row(denominator ? denominators : values, group)[i] += v;
      if (!denominator) Row(denominators, group);
    }
  };

  static absl::Status FillSeries(Connection& tx, const std::string& force,
                                 const v1::QuerySeriesRequest& req,
                                 const std::vector<Bucket>& buckets, absl::Time now,
                                 v1::QuerySeriesResponse* out) {
    int64_t version = 0;
    google::protobuf::Timestamp as_of;
    OUTREACH_RETURN_IF_ERROR(FillState(tx, force, &as_of, &version));
    out->set_data_version(version);
    if (as_of.seconds() != 0) *out->mutable_as_of() = as_of;
    out->set_metric(req.metric());
    out->set_granularity(req.granularity());
    out->set_group_by(req.group_by());
    *out->mutable_date_range() = req.date_range();

    const std::string from = FormatDay(buckets.front().days.start);
    const std::string to = FormatDay(buckets.back().days.end);
    const std::string& area = req.area();
    const v1::GroupBy g = req.group_by();
    Grid grid(buckets);
    bool ratio = false;
    bool percent = false;
    switch (req.metric()) {
      case v1::METRIC_SCHOOLS_COVERED: {
        OUTREACH_ASSIGN_OR_RETURN(
            Statement st, Query(tx,
                                "SELECT day, venue, area FROM metrics_school_visits WHERE force = "
                                "? AND day >= ? AND day <= ? AND (? = '' OR area = ?)",
                                force, from, to, area, area));
        std::set<std::tuple<std::string, int, std::string>> seen;
        for (;;) {
          OUTREACH_ASSIGN_OR_RETURN(bool row, st.Step());
          if (!row) break;
          const std::string group = g == v1::GROUP_BY_AREA ? st.Text(2) : "";
          const int i = grid.Index(st.Text(0));
          if (seen.insert({group, i, st.Text(1)}).second) grid.Add(group, st.Text(0), 1);
        }
        break;
      }
      case v1::METRIC_OFFICERS_TRAINED:
      case v1::METRIC_COURSE_COMPLETIONS:
      case v1::METRIC_CERTIFICATES_EXPIRED: {
        const bool expiries = req.metric() == v1::METRIC_CERTIFICATES_EXPIRED;
        OUTREACH_ASSIGN_OR_RETURN(
            Statement st,
            Query(tx,
                  expiries ? "SELECT day, officer, division, role FROM metrics_expiries WHERE "
                             "force = ? AND day >= ? AND day <= ? AND (? = '' OR division = ?) "
                             "AND (? = '' OR course = ?)"
                           : "SELECT completed_day, officer, division, role FROM "
                             "metrics_certificates WHERE force = ? AND completed_day >= ? AND "
                             "completed_day <= ? AND (? = '' OR division = ?) AND (? = '' OR "
                             "course = ?)",
                  force, from, to, area, area, req.course(), req.course()));
        std::set<std::tuple<std::string, int, std::string>> seen;
        for (;;) {
          OUTREACH_ASSIGN_OR_RETURN(bool row, st.Step());
          if (!row) break;
          std::string group;
          if (g == v1::GROUP_BY_AREA) group = st.Text(2);
          if (g == v1::GROUP_BY_ROLE) {
            group = cv1::OfficerRole_Name(static_cast<cv1::OfficerRole>(st.Int64(3)));
          }
          if (req.metric() == v1::METRIC_OFFICERS_TRAINED &&
              !seen.insert({group, grid.Index(st.Text(0)), st.Text(1)}).second) {
            continue;
          }
          grid.Add(group, st.Text(0), 1);
        }
        break;
      }
      case v1::METRIC_OFFICERS_CURRENT:
      case v1::METRIC_COMPLIANCE_PERCENT: {
        OUTREACH_ASSIGN_OR_RETURN(TrainingSnapshot snap, LoadTraining(tx, force));
        v1::TrainingTarget target;
        bool have_target = true;
        if (req.metric() == v1::METRIC_COMPLIANCE_PERCENT) {
          OUTREACH_ASSIGN_OR_RETURN(v1::ForceSettings settings, ReadSettings(tx, force));
          have_target = false;
          for (const auto& t : settings.training_targets()) {
            if (req.course().empty() || t.course() == req.course()) {
              target = t;
              have_target = true;
              break;
            }
          }
          if (!have_target && !req.course().empty()) {
            target.set_course(req.course());
            have_target = true;
          }
          percent = true;
        } else {
          target.set_course(req.course());
        }
        for (size_t i = 0; i < buckets.size() && have_target; ++i) {
          const int64_t at = EvalMicros(buckets[i].days, now);
          std::map<std::string, std::pair<int64_t, int64_t>> per_group;  // current, scope
          for (const auto& [officer, o] : snap.active) {
            if (!area.empty() && o.division != area) continue;
            if (percent && !RoleInScope(target, o.role)) continue;
            std::string group;
            if (g == v1::GROUP_BY_AREA) group = o.division;
            if (g == v1::GROUP_BY_ROLE) {
              group = cv1::OfficerRole_Name(static_cast<cv1::OfficerRole>(o.role));
            }
            auto& cell = per_group[group];
            ++cell.second;
            if (HasCurrent(snap, officer, target.course(), at)) ++cell.first;
          }
          for (const auto& [group, cell] : per_group) {
            const std::string day = FormatDay(buckets[i].days.start);
            grid.Add(group, day, static_cast<double>(cell.first));
            if (percent) grid.Add(group, day, static_cast<double>(cell.second), true);
          }
        }
        break;
      }
      case v1::METRIC_CAMPAIGN_IMPRESSIONS:
      case v1::METRIC_CAMPAIGN_REACH:
      case v1::METRIC_CAMPAIGN_ENGAGEMENTS:
      case v1::METRIC_CAMPAIGN_CLICKS:
      case v1::METRIC_CAMPAIGN_SHARES:
      case v1::METRIC_CAMPAIGN_ENGAGEMENT_RATE:
      case v1::METRIC_EVENT_ATTENDANCE:
      case v1::METRIC_LEAFLETS_DISTRIBUTED:
      case v1::METRIC_ACTIVITIES_PUBLISHED:
      default: {
        const char* numerator = nullptr;
        const char* denominator = nullptr;
        switch (req.metric()) {
          case v1::METRIC_WORKSHOPS_DELIVERED:
            numerator = kDelivered;
            break;
          case v1::METRIC_PUPILS_REACHED:
            numerator = kPupils;
            break;
          case v1::METRIC_PARENTS_REACHED:
            numerator = kParents;
            break;
          case v1::METRIC_STAFF_REACHED:
            numerator = kStaff;
            break;
          case v1::METRIC_PEOPLE_REACHED:
            numerator = kPeople;
            break;
          case v1::METRIC_SAFEGUARDING_DISCLOSURES:
            numerator = kDisclosures;
            break;
          case v1::METRIC_FEEDBACK_MEAN_RATING:
            numerator = kRatingsSum;
            denominator = kRatingsCount;
            break;
          case v1::METRIC_CAMPAIGN_IMPRESSIONS:
            numerator = kImpressions;
            break;
          case v1::METRIC_CAMPAIGN_REACH:
            numerator = kReach;
            break;
          case v1::METRIC_CAMPAIGN_ENGAGEMENTS:
            numerator = kEngagements;
            break;
          case v1::METRIC_CAMPAIGN_CLICKS:
            numerator = kClicks;
            break;
          case v1::METRIC_CAMPAIGN_SHARES:
            numerator = kShares;
            break;
          case v1::METRIC_CAMPAIGN_ENGAGEMENT_RATE:
            numerator = kEngagements;
            denominator = kImpressions;
            break;
          case v1::METRIC_EVENT_ATTENDANCE:
            numerator = kAttendance;
            break;
          case v1::METRIC_LEAFLETS_DISTRIBUTED:
            numerator = kCopies;
            break;
          case v1::METRIC_ACTIVITIES_PUBLISHED:
            numerator = kPublished;
            break;
          default:
            return absl::InternalError("unknown metric");
        }
        ratio = denominator != nullptr;
        const bool campaign = FamilyOf(req.metric()) == MetricFamily::kCampaign;
        const char* dim_kind = g == v1::GROUP_BY_TOPIC      ? "topic"
                               : g == v1::GROUP_BY_AUDIENCE ? "audience"
                               : g == v1::GROUP_BY_CHANNEL  ? "channel"
                                                            : "";
        // Force totals (scope F) exist per day for every metric without a dimension, and for
        // campaign metrics with one; the rest sums the per-area rows.
        const char* scope =
            (!area.empty() || g == v1::GROUP_BY_AREA || (!campaign && *dim_kind != '\0')) ? "A"
                                                                                          : "F";
        OUTREACH_ASSIGN_OR_RETURN(
            Statement st, Query(tx,
                                "SELECT day, area, dim, metric, SUM(value) FROM metrics_rollup "
                                "WHERE force = ? AND metric IN (?, ?) AND dim_kind = ? AND scope "
                                "= ? AND (? = '' OR area IN (?, '*')) AND day >= ? AND day <= ? "
                                "GROUP BY day, area, dim, metric",
                                force, numerator, denominator ? denominator : numerator, dim_kind,
                                scope, area, area, from, to));
        for (;;) {
          OUTREACH_ASSIGN_OR_RETURN(bool row, st.Step());
          if (!row) break;
          std::string group;
          if (g == v1::GROUP_BY_AREA) group = st.Text(1) == "*" ? "" : st.Text(1);
          if (*dim_kind != '\0') group = st.Text(2);
          const bool is_den = denominator != nullptr && st.Text(3) == denominator;
          grid.Add(group, st.Text(0), static_cast<double>(st.Int64(4)), is_den);
        }
        break;
      }
    }
    if (g == v1::GROUP_BY_UNSPECIFIED) {
      grid.Row(grid.values, "");
      grid.Row(grid.denominators, "");
    }
    for (auto& [group, values] : grid.values) {
      v1::Series* s = out->add_series();
      s->set_group_key(group);
      const auto& den = grid.Row(grid.denominators, group);
      for (size_t i = 0; i < buckets.size(); ++i) {
        v1::Point* p = s->add_points();
        p->mutable_bucket()->mutable_start_date()->CopyFrom(ToProtoDate(buckets[i].days.start));
        p->mutable_bucket()->mutable_end_date()->CopyFrom(ToProtoDate(buckets[i].days.end));
        p->set_label(buckets[i].label);
        double v = values[i];
        if (ratio) v = den[i] == 0 ? 0.0 : values[i] / den[i];
        if (percent) v = den[i] == 0 ? 0.0 : 100.0 * values[i] / den[i];
        p->set_value(v);
      }
    }
    return absl::OkStatus();
  }

  db::Database* db_;
  StatementCache statements_;
};

}  // namespace

db::MigrationSet MetricsMigrations() {
  return {"metrics", {{1, "events, rollups, latest-state tables, settings", kSchema}}};
}

std::unique_ptr<MetricsStore> NewSqlMetricsStore(db::Database* db) {
  return std::make_unique<SqlMetricsStore>(db);
}

}  // namespace outreach::metrics
