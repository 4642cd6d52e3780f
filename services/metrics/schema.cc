#include "services/metrics/schema.h"

#include "absl/strings/string_view.h"

namespace outreach::metrics {
namespace {

// Times as INTEGER micros UTC, days as 'YYYY-MM-DD' local (portable SQL).
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

// Version 2: the rollups become one row per cell with a column per figure (rollup::kFigures),
// so an event writes ~5 rows instead of ~25 (issue 15, goal 3). Scope "T" (day '') holds each
// force's all-time total of every figure, the bound that every other cell stays under: an
// ingest checks one row for overflow, not each cell. The pivot keeps every stored value; a
// total is clamped to INT64_MAX (SQLite's SUM would fail on overflow, so high and low bits are
// summed apart, as the reads do). WITHOUT ROWID: SQLite keeps the rows in the key's b-tree
// alone, not in a table and its key index. Frozen once released: a new figure is a new
// migration.
constexpr absl::string_view kFiguresSchema = R"sql(
CREATE TABLE metrics_figures (
  force TEXT NOT NULL,
  dim_kind TEXT NOT NULL,
  scope TEXT NOT NULL,
  area TEXT NOT NULL,
  day TEXT NOT NULL,
  dim TEXT NOT NULL,
  w_delivered INTEGER NOT NULL DEFAULT 0,
  w_cancelled INTEGER NOT NULL DEFAULT 0,
  w_pupils INTEGER NOT NULL DEFAULT 0,
  w_parents INTEGER NOT NULL DEFAULT 0,
  w_staff INTEGER NOT NULL DEFAULT 0,
  w_community INTEGER NOT NULL DEFAULT 0,
  w_people INTEGER NOT NULL DEFAULT 0,
  w_disclosures INTEGER NOT NULL DEFAULT 0,
  w_responses INTEGER NOT NULL DEFAULT 0,
  w_ratings_count INTEGER NOT NULL DEFAULT 0,
  w_ratings_sum INTEGER NOT NULL DEFAULT 0,
  w_kwtd_before INTEGER NOT NULL DEFAULT 0,
  w_kwtd_after INTEGER NOT NULL DEFAULT 0,
  w_kwtt_before INTEGER NOT NULL DEFAULT 0,
  w_kwtt_after INTEGER NOT NULL DEFAULT 0,
  c_impressions INTEGER NOT NULL DEFAULT 0,
  c_reach INTEGER NOT NULL DEFAULT 0,
  c_engagements INTEGER NOT NULL DEFAULT 0,
  c_clicks INTEGER NOT NULL DEFAULT 0,
  c_shares INTEGER NOT NULL DEFAULT 0,
  c_attendance INTEGER NOT NULL DEFAULT 0,
  c_copies INTEGER NOT NULL DEFAULT 0,
  c_published INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (force, dim_kind, scope, area, day, dim)
) WITHOUT ROWID;
INSERT INTO metrics_figures (force, dim_kind, scope, area, day, dim,
  w_delivered, w_cancelled, w_pupils, w_parents, w_staff, w_community, w_people,
  w_disclosures, w_responses, w_ratings_count, w_ratings_sum, w_kwtd_before, w_kwtd_after,
  w_kwtt_before, w_kwtt_after, c_impressions, c_reach, c_engagements, c_clicks, c_shares,
  c_attendance, c_copies, c_published)
SELECT force, dim_kind, scope, area, day, dim,
  SUM(CASE WHEN metric = 'w_delivered' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_cancelled' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_pupils' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_parents' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_staff' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_community' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_people' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_disclosures' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_responses' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_ratings_count' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_ratings_sum' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_kwtd_before' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_kwtd_after' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_kwtt_before' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'w_kwtt_after' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'c_impressions' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'c_reach' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'c_engagements' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'c_clicks' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'c_shares' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'c_attendance' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'c_copies' THEN value ELSE 0 END),
  SUM(CASE WHEN metric = 'c_published' THEN value ELSE 0 END)
FROM metrics_rollup GROUP BY force, dim_kind, scope, area, day, dim;
INSERT INTO metrics_figures (force, dim_kind, scope, area, day, dim,
  w_delivered, w_cancelled, w_pupils, w_parents, w_staff, w_community, w_people,
  w_disclosures, w_responses, w_ratings_count, w_ratings_sum, w_kwtd_before, w_kwtd_after,
  w_kwtt_before, w_kwtt_after, c_impressions, c_reach, c_engagements, c_clicks, c_shares,
  c_attendance, c_copies, c_published)
SELECT force, '', 'T', '', '', '',
  CASE WHEN SUM(w_delivered >> 24) + SUM(w_delivered & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_delivered >> 24) * 16777216 + SUM(w_delivered & 16777215) END,
  CASE WHEN SUM(w_cancelled >> 24) + SUM(w_cancelled & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_cancelled >> 24) * 16777216 + SUM(w_cancelled & 16777215) END,
  CASE WHEN SUM(w_pupils >> 24) + SUM(w_pupils & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_pupils >> 24) * 16777216 + SUM(w_pupils & 16777215) END,
  CASE WHEN SUM(w_parents >> 24) + SUM(w_parents & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_parents >> 24) * 16777216 + SUM(w_parents & 16777215) END,
  CASE WHEN SUM(w_staff >> 24) + SUM(w_staff & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_staff >> 24) * 16777216 + SUM(w_staff & 16777215) END,
  CASE WHEN SUM(w_community >> 24) + SUM(w_community & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_community >> 24) * 16777216 + SUM(w_community & 16777215) END,
  CASE WHEN SUM(w_people >> 24) + SUM(w_people & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_people >> 24) * 16777216 + SUM(w_people & 16777215) END,
  CASE WHEN SUM(w_disclosures >> 24) + SUM(w_disclosures & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_disclosures >> 24) * 16777216 + SUM(w_disclosures & 16777215) END,
  CASE WHEN SUM(w_responses >> 24) + SUM(w_responses & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_responses >> 24) * 16777216 + SUM(w_responses & 16777215) END,
  CASE WHEN SUM(w_ratings_count >> 24) + SUM(w_ratings_count & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_ratings_count >> 24) * 16777216 + SUM(w_ratings_count & 16777215) END,
  CASE WHEN SUM(w_ratings_sum >> 24) + SUM(w_ratings_sum & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_ratings_sum >> 24) * 16777216 + SUM(w_ratings_sum & 16777215) END,
  CASE WHEN SUM(w_kwtd_before >> 24) + SUM(w_kwtd_before & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_kwtd_before >> 24) * 16777216 + SUM(w_kwtd_before & 16777215) END,
  CASE WHEN SUM(w_kwtd_after >> 24) + SUM(w_kwtd_after & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_kwtd_after >> 24) * 16777216 + SUM(w_kwtd_after & 16777215) END,
  CASE WHEN SUM(w_kwtt_before >> 24) + SUM(w_kwtt_before & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_kwtt_before >> 24) * 16777216 + SUM(w_kwtt_before & 16777215) END,
  CASE WHEN SUM(w_kwtt_after >> 24) + SUM(w_kwtt_after & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(w_kwtt_after >> 24) * 16777216 + SUM(w_kwtt_after & 16777215) END,
  CASE WHEN SUM(c_impressions >> 24) + SUM(c_impressions & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(c_impressions >> 24) * 16777216 + SUM(c_impressions & 16777215) END,
  CASE WHEN SUM(c_reach >> 24) + SUM(c_reach & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(c_reach >> 24) * 16777216 + SUM(c_reach & 16777215) END,
  CASE WHEN SUM(c_engagements >> 24) + SUM(c_engagements & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(c_engagements >> 24) * 16777216 + SUM(c_engagements & 16777215) END,
  CASE WHEN SUM(c_clicks >> 24) + SUM(c_clicks & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(c_clicks >> 24) * 16777216 + SUM(c_clicks & 16777215) END,
  CASE WHEN SUM(c_shares >> 24) + SUM(c_shares & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(c_shares >> 24) * 16777216 + SUM(c_shares & 16777215) END,
  CASE WHEN SUM(c_attendance >> 24) + SUM(c_attendance & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(c_attendance >> 24) * 16777216 + SUM(c_attendance & 16777215) END,
  CASE WHEN SUM(c_copies >> 24) + SUM(c_copies & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(c_copies >> 24) * 16777216 + SUM(c_copies & 16777215) END,
  CASE WHEN SUM(c_published >> 24) + SUM(c_published & 16777215) / 16777216 >= 549755813887 THEN
    9223372036854775807 ELSE SUM(c_published >> 24) * 16777216 + SUM(c_published & 16777215) END
FROM metrics_figures WHERE dim_kind = '' AND scope = 'F' GROUP BY force;
DROP TABLE metrics_rollup;
)sql";

}  // namespace

db::MigrationSet MetricsMigrations() {
  return {
      "metrics",
      {{1, "events, rollups, latest-state tables, settings", kSchema},
       {2, "rollups as one row per cell with a column per figure, force totals", kFiguresSchema}}};
}

}  // namespace outreach::metrics
