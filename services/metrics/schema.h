#pragma once

#include "common/db.h"

namespace outreach::metrics {

// The metrics tables (services/metrics/README.md describes them); pass with CommonMigrations()
// to db::Database::Open.
db::MigrationSet MetricsMigrations();

}  // namespace outreach::metrics
