#pragma once

// Campaign storage. Every change runs one operation of services/campaigns/operations.h (where
// the rules are) inside one db::Database::Write transaction (the writer is serialized),
// together with its request_id ledger entry and its outbox events.
//
// Decisions worth knowing:
// - follow_dates: the transitions the clock made due are applied at the start of every call
//   that touches the force's campaigns (a cheap indexed check on reads; the write only when
//   something is due), in the same transaction as their CampaignStateChanged events. state_time
//   and the events' occurred_time are the date boundary (local midnight), never before the
//   current state began, so metrics books them on the right day however late they are noticed.
//   There is no background timer: a force nobody calls keeps its old state until the next call.
// - Engagement upserts: a report whose numbers differ from the stored ones replaces them with
//   revision + 1 and emits EngagementReported carrying the ABSOLUTE numbers and the revision
//   (metrics keeps the highest revision per (activity, day)); equal numbers are "unchanged"
//   (no write, no event; a different `source` alone is not a change).
// - Campaign and activity rows keep the resource as a serialized proto, etag included (stamped
//   on every write, common/etag.h), plus the columns that lists filter and order on; report
//   rows are plain columns (the summary sums them in SQL). Times are INTEGER microseconds
//   (UTC), dates ISO TEXT.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/db.h"
#include "common/pagination.h"
#include "common/store_support.h"
#include "services/campaigns/domain.h"

namespace outreach::campaigns {

class CampaignsStore {
 public:
  virtual ~CampaignsStore() = default;

  virtual absl::StatusOr<pb::Campaign> GetCampaign(const CampaignKey& key, absl::Time now) = 0;
  virtual absl::StatusOr<ListPage<pb::Campaign>> ListCampaigns(const std::string& force,
                                                               const ListQuery& query,
                                                               absl::Time now) = 0;
  virtual absl::StatusOr<pb::Campaign> CreateCampaign(const CampaignKey& key,
                                                      const pb::Campaign& campaign,
                                                      const RequestKey& request,
                                                      absl::Time now) = 0;
  virtual absl::StatusOr<pb::Campaign> UpdateCampaign(const CampaignKey& key,
                                                      const pb::Campaign& patch,
                                                      const std::set<std::string>& paths,
                                                      absl::Time now) = 0;
  virtual absl::Status DeleteCampaign(const CampaignKey& key, const std::string& etag,
                                      absl::Time now) = 0;
  virtual absl::StatusOr<pb::Campaign> ChangeCampaignState(const CampaignKey& key,
                                                           const std::string& etag,
                                                           CampaignAction action,
                                                           const std::string& reason,
                                                           absl::Time now) = 0;

  virtual absl::StatusOr<pb::Activity> GetActivity(const ActivityKey& key, absl::Time now) = 0;
  virtual absl::StatusOr<ListPage<pb::Activity>> ListActivities(const CampaignKey& parent,
                                                                const ListQuery& query,
                                                                absl::Time now) = 0;
  virtual absl::StatusOr<pb::Activity> CreateActivity(const ActivityKey& key,
                                                      const pb::Activity& activity,
                                                      const RequestKey& request,
                                                      absl::Time now) = 0;
  virtual absl::StatusOr<pb::Activity> UpdateActivity(const ActivityKey& key,
                                                      const pb::Activity& patch,
                                                      const std::set<std::string>& paths,
                                                      absl::Time now) = 0;
  virtual absl::Status DeleteActivity(const ActivityKey& key, const std::string& etag,
                                      absl::Time now) = 0;
  virtual absl::StatusOr<pb::Activity> PublishActivity(const ActivityKey& key,
                                                       const std::string& etag,
                                                       absl::Time publish_time,
                                                       const std::string& external_reference,
                                                       absl::Time now) = 0;
  virtual absl::StatusOr<pb::Activity> WithdrawActivity(const ActivityKey& key,
                                                        const std::string& etag,
                                                        const std::string& reason,
                                                        absl::Time now) = 0;

  virtual absl::StatusOr<pb::ReportEngagementResponse> ReportEngagement(
      const CampaignKey& parent, const std::vector<ReportInput>& reports, absl::Time now) = 0;
  virtual absl::StatusOr<ListPage<pb::EngagementReport>> ListEngagementReports(
      const CampaignKey& parent, const ListQuery& query, absl::Time now) = 0;
  // `range` is inclusive; nullopt = the campaign's dates.
  virtual absl::StatusOr<pb::CampaignSummary> GetCampaignSummary(
      const CampaignKey& key, std::optional<std::pair<absl::CivilDay, absl::CivilDay>> range,
      absl::Time now) = 0;
};

// The campaigns schema (without CommonMigrations()).
db::MigrationSet CampaignsMigrations();

// The SQL implementation over a database opened with CommonMigrations() and
// CampaignsMigrations().
std::unique_ptr<CampaignsStore> NewSqlCampaignsStore(db::Database* db);

}  // namespace outreach::campaigns
