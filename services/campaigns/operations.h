#pragma once

// The campaign operations that change data, written once over CampaignRecords: what storage
// must do inside one transaction, as plain values. The SQL store runs them in its write
// transaction (with the request_id envelope around creates); the unit tests run them against
// an in-memory fake with fixed times, so every rule here is tested without a database.
//
// follow_dates: every operation first applies the transitions the clock made due to the
// force's campaigns, with their CampaignStateChanged events, dated at the date boundary (see
// DueTransitions). Every write stamps the resource (update_time, etag: common/etag.h), so the
// etag returned is the one stored.

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/campaigns/domain.h"

namespace outreach::campaigns {

// Rows mapped to values, inside one transaction. Finds return nullopt for a missing row and an
// error for a row that cannot be read (never "absent").
class CampaignRecords {
 public:
  virtual ~CampaignRecords() = default;

  virtual absl::StatusOr<std::optional<pb::Campaign>> FindCampaign(const CampaignKey& key) = 0;
  virtual absl::Status PutCampaign(const CampaignKey& key, const pb::Campaign& campaign) = 0;
  // The campaign with its activities and reports.
  virtual absl::Status DeleteCampaign(const CampaignKey& key) = 0;
  // Ids of the force's follow_dates campaigns that may have a transition due on `today` (a
  // superset is fine: DueTransitions decides).
  virtual absl::StatusOr<std::vector<std::string>> MaybeDueCampaigns(const std::string& force,
                                                                     absl::CivilDay today) = 0;

  virtual absl::StatusOr<std::optional<pb::Activity>> FindActivity(const ActivityKey& key) = 0;
  virtual absl::StatusOr<std::vector<pb::Activity>> ActivitiesOf(const CampaignKey& key) = 0;
  virtual absl::Status PutActivity(const ActivityKey& key, const pb::Activity& activity) = 0;
  virtual absl::Status DeleteActivity(const ActivityKey& key) = 0;

  virtual absl::StatusOr<std::optional<pb::EngagementReport>> FindReport(const ActivityKey& key,
                                                                         absl::CivilDay day) = 0;
  virtual absl::Status PutReport(const ActivityKey& key, absl::CivilDay day,
                                 const pb::EngagementReport& report) = 0;

  // Appends an event to the outbox of this transaction.
  virtual absl::Status Emit(epb::OutreachEvent event, absl::Time now) = 0;
};

// NOT_FOUND (with the name) when absent.
absl::StatusOr<pb::Campaign> MustFindCampaign(CampaignRecords& records, const CampaignKey& key);
absl::StatusOr<pb::Activity> MustFindActivity(CampaignRecords& records, const ActivityKey& key);

// Applies the transitions follow_dates made due at `now` to the force's campaigns.
absl::Status ApplyDue(CampaignRecords& records, const std::string& force, absl::Time now);

absl::StatusOr<pb::Campaign> CreateCampaign(CampaignRecords& records, const CampaignKey& key,
                                            const pb::Campaign& input, absl::Time now);
absl::StatusOr<pb::Campaign> UpdateCampaign(CampaignRecords& records, const CampaignKey& key,
                                            const pb::Campaign& patch,
                                            const std::set<std::string>& paths, absl::Time now);
absl::Status DeleteCampaign(CampaignRecords& records, const CampaignKey& key,
                            const std::string& etag, absl::Time now);
absl::StatusOr<pb::Campaign> ChangeCampaignState(CampaignRecords& records, const CampaignKey& key,
                                                 const std::string& etag, CampaignAction action,
                                                 const std::string& reason, absl::Time now);

absl::StatusOr<pb::Activity> CreateActivity(CampaignRecords& records, const ActivityKey& key,
                                            const pb::Activity& input, absl::Time now);
absl::StatusOr<pb::Activity> UpdateActivity(CampaignRecords& records, const ActivityKey& key,
                                            const pb::Activity& patch,
                                            const std::set<std::string>& paths, absl::Time now);
absl::Status DeleteActivity(CampaignRecords& records, const ActivityKey& key,
                            const std::string& etag, absl::Time now);
absl::StatusOr<pb::Activity> PublishActivity(CampaignRecords& records, const ActivityKey& key,
                                             const std::string& etag, absl::Time publish_time,
                                             const std::string& external_reference, absl::Time now);
absl::StatusOr<pb::Activity> WithdrawActivity(CampaignRecords& records, const ActivityKey& key,
                                              const std::string& etag, const std::string& reason,
                                              absl::Time now);

// Stores each report whose numbers changed (revision + 1, with an EngagementReported event of
// the absolute numbers) and counts the unchanged ones. All or nothing: the first refused
// report fails the call, with its `index` in the metadata.
absl::StatusOr<pb::ReportEngagementResponse> ReportEngagement(
    CampaignRecords& records, const CampaignKey& parent, const std::vector<ReportInput>& reports,
    absl::Time now);

}  // namespace outreach::campaigns
