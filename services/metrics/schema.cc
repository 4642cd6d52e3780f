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

}  // namespace

db::MigrationSet MetricsMigrations() {
  return {"metrics", {{1, "events, rollups, latest-state tables, settings", kSchema}}};
}

}  // namespace outreach::metrics
