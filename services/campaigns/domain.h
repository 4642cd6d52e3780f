#pragma once

// Campaign rules without network or storage: validation, the lifecycle state machine, activity
// and engagement rules, tracking links, events and the summary maths. Pure functions over the
// proto messages and a passed-in `now`, unit-tested with fixed times.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/bounds.h"
#include "common/errors.h"
#include "common/validation.h"
#include "outreach/campaigns/v1/campaigns.pb.h"
#include "outreach/common/v1/common.pb.h"
#include "outreach/events/v1/events.pb.h"

namespace outreach::campaigns {

namespace pb = ::outreach::campaigns::v1;
namespace cpb = ::outreach::common::v1;
namespace epb = ::outreach::events::v1;

inline constexpr char kDomain[] = "outreach.campaigns.v1";
inline constexpr int kMaxReportsPerCall = 500;
inline constexpr int64_t kMaxReachTarget = bounds::kMaxReachTarget;    // common/bounds.h
inline constexpr int64_t kMaxReportNumber = bounds::kMaxReportNumber;  // common/bounds.h

// Reason names (CampaignsErrorReason without its prefix).
inline constexpr char kCampaignNotDraft[] = "CAMPAIGN_NOT_DRAFT";
inline constexpr char kCampaignNotScheduled[] = "CAMPAIGN_NOT_SCHEDULED";
inline constexpr char kCampaignNotActive[] = "CAMPAIGN_NOT_ACTIVE";
inline constexpr char kCampaignClosed[] = "CAMPAIGN_CLOSED";
inline constexpr char kCampaignNotLive[] = "CAMPAIGN_NOT_LIVE";
inline constexpr char kCampaignEnded[] = "CAMPAIGN_ENDED";
inline constexpr char kActivityOutsideDates[] = "ACTIVITY_OUTSIDE_CAMPAIGN_DATES";
inline constexpr char kActivityNotPlanned[] = "ACTIVITY_NOT_PLANNED";
inline constexpr char kActivityNotPublished[] = "ACTIVITY_NOT_PUBLISHED";
inline constexpr char kActivityWithdrawn[] = "ACTIVITY_WITHDRAWN";
inline constexpr char kReportBeforePublication[] = "REPORT_BEFORE_PUBLICATION";
inline constexpr char kReportAfterWithdrawal[] = "REPORT_AFTER_WITHDRAWAL";

struct CampaignKey {
  std::string force;
  std::string campaign;
};
struct ActivityKey {
  std::string force;
  std::string campaign;
  std::string activity;
};

// Resource names.
std::string CampaignName(const std::string& force, const std::string& campaign);
std::string ActivityName(const std::string& force, const std::string& campaign,
                         const std::string& activity);

enum class CampaignAction { kSchedule, kActivate, kComplete, kCancel };

// A validated report of a ReportEngagement call.
struct ReportInput {
  std::string activity_id;  // of the call's campaign
  absl::CivilDay day;
  pb::EngagementReport numbers;
};

// Checks the fields of `campaign` named in `fields` (all updatable fields when null).
void ValidateCampaign(const pb::Campaign& campaign, absl::string_view prefix,
                      const std::set<std::string>* fields, std::vector<FieldViolation>* out);
void ValidateActivity(const pb::Activity& activity, absl::string_view prefix,
                      const std::set<std::string>* fields, std::vector<FieldViolation>* out);
// An absolute URI: https only when `https_only`, else http or https; a host; no spaces or
// control characters; at most 2000 characters. Empty is valid (optional).
bool IsValidLink(absl::string_view uri, bool https_only);

// --- lifecycle --------------------------------------------------------------------------------
bool IsClosed(cpb::CampaignState state);
absl::Status CheckCanSchedule(const pb::Campaign& campaign, absl::CivilDay today);
absl::Status CheckCanActivate(const pb::Campaign& campaign, absl::CivilDay today);
absl::Status CheckCanComplete(const pb::Campaign& campaign);
absl::Status CheckCanCancel(const pb::Campaign& campaign);
absl::Status CheckCanDelete(const pb::Campaign& campaign);
// Updates, new activities and activity changes need a campaign that is not closed.
absl::Status CheckOpen(const pb::Campaign& campaign);
// Publication needs a SCHEDULED or ACTIVE campaign.
absl::Status CheckLive(const pb::Campaign& campaign);

struct Transition {
  cpb::CampaignState from;
  cpb::CampaignState to;
  absl::Time at;  // the instant the dates made it due (start of the local day)
};
// The transitions follow_dates makes due at `now`: SCHEDULED -> ACTIVE from the start of
// start_date, ACTIVE -> COMPLETED from the start of the day after end_date (both when a
// SCHEDULED campaign's end has passed), each dated at that boundary but never before the
// current state_time. Empty when follow_dates is off or nothing is due.
std::vector<Transition> DueTransitions(const pb::Campaign& campaign, absl::Time now);

// The state machine DRAFT -> SCHEDULED -> ACTIVE -> COMPLETED, any open state -> CANCELLED:
// checks that `action` is allowed now, then moves `campaign` (state, state_time and, on cancel,
// cancel_reason). Returns the state it left.
absl::StatusOr<cpb::CampaignState> ApplyAction(pb::Campaign* campaign, CampaignAction action,
                                               absl::string_view reason, absl::Time now);
// A new campaign as Create stores it: DRAFT since `now`, named, without output-only fields.
pb::Campaign NewCampaign(const pb::Campaign& input, const std::string& name, absl::Time now);
// Copies the masked fields of `patch` into `campaign` when the campaign may change that way
// (not closed; an ACTIVE campaign keeps its start_date) and re-validates the merged whole.
absl::Status MergeCampaignPatch(const pb::Campaign& patch, const std::set<std::string>& paths,
                                pb::Campaign* campaign);

// Dates of a stored campaign (already validated).
absl::CivilDay StartDay(const pb::Campaign& campaign);
absl::CivilDay EndDay(const pb::Campaign& campaign);
// ACTIVITY_OUTSIDE_CAMPAIGN_DATES unless `day` lies in the campaign's dates.
absl::Status CheckInsideCampaign(const pb::Campaign& campaign, absl::CivilDay day,
                                 absl::string_view activity_name);
// The local day an activity is dated by: publish_time when published, else scheduled_time.
absl::CivilDay ActivityDay(const pb::Activity& activity);

// --- activities -------------------------------------------------------------------------------
// The tracking URL of `activity` in `campaign`: its own link, else the campaign's landing page.
std::string TrackingUrl(const pb::Activity& activity, const pb::Campaign& campaign,
                        absl::string_view campaign_id, absl::string_view activity_id);
// A new PLANNED activity of an open `campaign`, dated inside the campaign's dates.
absl::StatusOr<pb::Activity> NewActivity(const pb::Campaign& campaign, const pb::Activity& input,
                                         const ActivityKey& key);
// Copies the masked fields of `patch` into `activity` when it may change (PLANNED; a PUBLISHED
// one only its external_reference), re-validates it and refreshes its tracking URL.
absl::Status MergeActivityPatch(const pb::Campaign& campaign, const pb::Activity& patch,
                                const std::set<std::string>& paths, const ActivityKey& key,
                                pb::Activity* activity);
absl::Status CheckCanDeleteActivity(const pb::Activity& activity);
// PLANNED -> PUBLISHED at `publish_time`, which must fall in the dates of a live campaign.
absl::Status Publish(const pb::Campaign& campaign, absl::Time publish_time,
                     absl::string_view external_reference, pb::Activity* activity);
// Any state but WITHDRAWN -> WITHDRAWN at `now`. Returns whether it had been published.
absl::StatusOr<bool> Withdraw(absl::string_view reason, absl::Time now, pb::Activity* activity);
// What a change of the campaign's dates or landing page means for its activities: an error
// when a dated activity no longer fits the dates; else the PLANNED activities that follow the
// landing page, with their new tracking URL.
// Whether a change from `before` to `after` can matter to the activities (dates or landing page).
bool AffectsActivities(const pb::Campaign& before, const pb::Campaign& after);
absl::StatusOr<std::vector<pb::Activity>> FollowCampaignChange(
    const pb::Campaign& before, const pb::Campaign& after, const std::string& campaign_id,
    const std::vector<pb::Activity>& activities);

// --- tracking links ---------------------------------------------------------------------------
// utm_source of a channel: the value name without CHANNEL_, lower case ("press_release").
std::string ChannelSource(cpb::Channel channel);
// The channel's default utm_medium (see outreach.common.v1.Channel).
std::string DefaultMedium(cpb::Channel channel);
// Percent-encodes everything but the RFC 3986 unreserved characters.
std::string PercentEncode(absl::string_view text);
// `link` with utm_source/medium/campaign/content set (existing ones replaced, other query
// parameters and the fragment kept). Empty when `link` is empty.
std::string BuildTrackingUrl(absl::string_view link, absl::string_view source,
                             absl::string_view medium, absl::string_view campaign_id,
                             absl::string_view activity_id);

// --- engagement -------------------------------------------------------------------------------
// True when the numbers of two reports are equal (the fields a re-send replaces).
bool SameNumbers(const pb::EngagementReport& a, const pb::EngagementReport& b);
// Per-report validation: numbers in range, reach <= impressions, source length.
void ValidateReportNumbers(const pb::EngagementReport& report, absl::string_view prefix,
                           std::vector<FieldViolation>* out);
// A report may be stored for `day` only when the activity is published and `day` lies between
// its publication day and (when withdrawn) its withdrawal day. `index` is the report's position.
absl::Status CheckReportable(const pb::Activity& activity, absl::CivilDay day, int index);

enum class ReportOutcome { kUnchanged, kCreated, kUpdated };
struct ReportDecision {
  ReportOutcome outcome = ReportOutcome::kUnchanged;
  pb::EngagementReport report;  // the stored one when unchanged, else the one to store
};
// A re-sent report with the same numbers is unchanged (a different `source` alone is not a
// change); otherwise it replaces the stored one with revision + 1, keeping its create_time.
ReportDecision DecideReport(const std::optional<pb::EngagementReport>& stored,
                            const ReportInput& input, const pb::Activity& activity, absl::Time now);

// --- events -----------------------------------------------------------------------------------
// Audiences of an activity for events: its own, else the campaign's.
google::protobuf::RepeatedField<int> EffectiveAudiences(const pb::Activity& activity,
                                                        const pb::Campaign& campaign);
epb::OutreachEvent StateChangedEvent(const std::string& force, const pb::Campaign& campaign,
                                     cpb::CampaignState previous, absl::Time occurred);
epb::OutreachEvent PublishedEvent(const std::string& force, const pb::Campaign& campaign,
                                  const pb::Activity& activity, absl::Time now);
epb::OutreachEvent WithdrawnEvent(const std::string& force, const std::string& campaign_name,
                                  const pb::Activity& activity, absl::Time now);
epb::OutreachEvent ReportedEvent(const std::string& force, const pb::Campaign& campaign,
                                 const pb::Activity& activity, const pb::EngagementReport& report,
                                 absl::Time now);

// --- summary maths ----------------------------------------------------------------------------
struct Counts {
  int64_t impressions = 0;
  int64_t reach = 0;
  int64_t engagements = 0;
  int64_t clicks = 0;
  int64_t shares = 0;
  int64_t attendance = 0;
  int64_t copies_distributed = 0;
};
struct ChannelFigures {
  cpb::Channel channel = cpb::CHANNEL_UNSPECIFIED;
  int32_t activities = 0;
  int32_t activities_published = 0;
  Counts counts;
};
// Sums with derived rates; rates are 0 without impressions.
pb::EngagementTotals MakeTotals(const Counts& counts);
// Fills totals, reach_target_progress_percent, channels (ordered by engagement_rate desc, then
// channel), best_channel and worst_channel (only channels with impressions; ties go to the
// lower channel number) of `summary`. `reach_target` 0 means no target (progress 0).
void FillSummary(const std::vector<ChannelFigures>& channels, int64_t reach_target,
                 pb::CampaignSummary* summary);

}  // namespace outreach::campaigns
