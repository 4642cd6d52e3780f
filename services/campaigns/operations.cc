#include "services/campaigns/operations.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/etag.h"
#include "common/status_macros.h"

namespace outreach::campaigns {
namespace {

// Applies the transitions follow_dates made due to `campaign` (as stored), with their events.
absl::Status ApplyDueTo(CampaignRecords& records, const CampaignKey& key, absl::Time now,
                        pb::Campaign* campaign) {
  const std::vector<Transition> due = DueTransitions(*campaign, now);
  if (due.empty()) return absl::OkStatus();
  for (const Transition& t : due) {
    campaign->set_state(t.to);
    *campaign->mutable_state_time() = ToProtoTime(t.at);
    OUTREACH_RETURN_IF_ERROR(
        records.Emit(StateChangedEvent(key.force, *campaign, t.from, t.at), now));
  }
  StampResource(campaign, now, /*created=*/false);
  return records.PutCampaign(key, *campaign);
}

CampaignKey ParentOf(const ActivityKey& key) { return {key.force, key.campaign}; }

}  // namespace

absl::StatusOr<pb::Campaign> MustFindCampaign(CampaignRecords& records, const CampaignKey& key) {
  OUTREACH_ASSIGN_OR_RETURN(std::optional<pb::Campaign> found, records.FindCampaign(key));
  if (!found) return NotFound(CampaignName(key.force, key.campaign));
  return std::move(*found);
}

absl::StatusOr<pb::Activity> MustFindActivity(CampaignRecords& records, const ActivityKey& key) {
  OUTREACH_ASSIGN_OR_RETURN(std::optional<pb::Activity> found, records.FindActivity(key));
  if (!found) return NotFound(ActivityName(key.force, key.campaign, key.activity));
  return std::move(*found);
}

absl::Status ApplyDue(CampaignRecords& records, const std::string& force, absl::Time now) {
  OUTREACH_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                            records.MaybeDueCampaigns(force, LocalDay(now)));
  for (const std::string& id : ids) {
    const CampaignKey key{force, id};
    OUTREACH_ASSIGN_OR_RETURN(pb::Campaign campaign, MustFindCampaign(records, key));
    OUTREACH_RETURN_IF_ERROR(ApplyDueTo(records, key, now, &campaign));
  }
  return absl::OkStatus();
}

absl::StatusOr<pb::Campaign> CreateCampaign(CampaignRecords& records, const CampaignKey& key,
                                            const pb::Campaign& input, absl::Time now) {
  const std::string name = CampaignName(key.force, key.campaign);
  OUTREACH_ASSIGN_OR_RETURN(std::optional<pb::Campaign> existing, records.FindCampaign(key));
  if (existing) return AlreadyExists(name);
  pb::Campaign campaign = NewCampaign(input, name, now);
  StampResource(&campaign, now, /*created=*/true);
  OUTREACH_RETURN_IF_ERROR(records.PutCampaign(key, campaign));
  return campaign;
}

absl::StatusOr<pb::Campaign> UpdateCampaign(CampaignRecords& records, const CampaignKey& key,
                                            const pb::Campaign& patch,
                                            const std::set<std::string>& paths, absl::Time now) {
  OUTREACH_RETURN_IF_ERROR(ApplyDue(records, key.force, now));
  OUTREACH_ASSIGN_OR_RETURN(pb::Campaign campaign, MustFindCampaign(records, key));
  OUTREACH_RETURN_IF_ERROR(
      CheckEtag("campaign.etag", campaign.name(), patch.etag(), campaign.etag()));
  const pb::Campaign before = campaign;
  OUTREACH_RETURN_IF_ERROR(MergeCampaignPatch(patch, paths, &campaign));
  if (AffectsActivities(before, campaign)) {
    OUTREACH_ASSIGN_OR_RETURN(std::vector<pb::Activity> activities, records.ActivitiesOf(key));
    OUTREACH_ASSIGN_OR_RETURN(std::vector<pb::Activity> retracked,
                              FollowCampaignChange(before, campaign, key.campaign, activities));
    for (pb::Activity& a : retracked) {
      StampResource(&a, now, /*created=*/false);
      const std::string activity_id = a.name().substr(a.name().rfind('/') + 1);
      OUTREACH_RETURN_IF_ERROR(records.PutActivity({key.force, key.campaign, activity_id}, a));
    }
  }
  StampResource(&campaign, now, /*created=*/false);
  OUTREACH_RETURN_IF_ERROR(records.PutCampaign(key, campaign));
  // Metrics keeps the audiences, areas and dates of live campaigns from these events.
  if (campaign.state() != cpb::CAMPAIGN_STATE_DRAFT) {
    OUTREACH_RETURN_IF_ERROR(
        records.Emit(StateChangedEvent(key.force, campaign, campaign.state(), now), now));
  }
  // New dates may make a transition due at once.
  OUTREACH_RETURN_IF_ERROR(ApplyDueTo(records, key, now, &campaign));
  return campaign;
}

absl::Status DeleteCampaign(CampaignRecords& records, const CampaignKey& key,
                            const std::string& etag, absl::Time now) {
  OUTREACH_RETURN_IF_ERROR(ApplyDue(records, key.force, now));
  OUTREACH_ASSIGN_OR_RETURN(pb::Campaign campaign, MustFindCampaign(records, key));
  OUTREACH_RETURN_IF_ERROR(CheckEtag("etag", campaign.name(), etag, campaign.etag()));
  OUTREACH_RETURN_IF_ERROR(CheckCanDelete(campaign));
  return records.DeleteCampaign(key);
}

absl::StatusOr<pb::Campaign> ChangeCampaignState(CampaignRecords& records, const CampaignKey& key,
                                                 const std::string& etag, CampaignAction action,
                                                 const std::string& reason, absl::Time now) {
  OUTREACH_RETURN_IF_ERROR(ApplyDue(records, key.force, now));
  OUTREACH_ASSIGN_OR_RETURN(pb::Campaign campaign, MustFindCampaign(records, key));
  OUTREACH_RETURN_IF_ERROR(CheckEtag("etag", campaign.name(), etag, campaign.etag()));
  OUTREACH_ASSIGN_OR_RETURN(cpb::CampaignState from, ApplyAction(&campaign, action, reason, now));
  StampResource(&campaign, now, /*created=*/false);
  OUTREACH_RETURN_IF_ERROR(records.PutCampaign(key, campaign));
  OUTREACH_RETURN_IF_ERROR(records.Emit(StateChangedEvent(key.force, campaign, from, now), now));
  // Scheduling a follow_dates campaign whose start has come activates it at once.
  OUTREACH_RETURN_IF_ERROR(ApplyDueTo(records, key, now, &campaign));
  return campaign;
}

absl::StatusOr<pb::Activity> CreateActivity(CampaignRecords& records, const ActivityKey& key,
                                            const pb::Activity& input, absl::Time now) {
  OUTREACH_RETURN_IF_ERROR(ApplyDue(records, key.force, now));
  OUTREACH_ASSIGN_OR_RETURN(pb::Campaign campaign, MustFindCampaign(records, ParentOf(key)));
  OUTREACH_ASSIGN_OR_RETURN(std::optional<pb::Activity> existing, records.FindActivity(key));
  if (existing) return AlreadyExists(ActivityName(key.force, key.campaign, key.activity));
  OUTREACH_ASSIGN_OR_RETURN(pb::Activity activity, NewActivity(campaign, input, key));
  StampResource(&activity, now, /*created=*/true);
  OUTREACH_RETURN_IF_ERROR(records.PutActivity(key, activity));
  return activity;
}

absl::StatusOr<pb::Activity> UpdateActivity(CampaignRecords& records, const ActivityKey& key,
                                            const pb::Activity& patch,
                                            const std::set<std::string>& paths, absl::Time now) {
  OUTREACH_RETURN_IF_ERROR(ApplyDue(records, key.force, now));
  OUTREACH_ASSIGN_OR_RETURN(pb::Activity activity, MustFindActivity(records, key));
  OUTREACH_RETURN_IF_ERROR(
      CheckEtag("activity.etag", activity.name(), patch.etag(), activity.etag()));
  OUTREACH_ASSIGN_OR_RETURN(pb::Campaign campaign, MustFindCampaign(records, ParentOf(key)));
  OUTREACH_RETURN_IF_ERROR(MergeActivityPatch(campaign, patch, paths, key, &activity));
  StampResource(&activity, now, /*created=*/false);
  OUTREACH_RETURN_IF_ERROR(records.PutActivity(key, activity));
  return activity;
}

absl::Status DeleteActivity(CampaignRecords& records, const ActivityKey& key,
                            const std::string& etag, absl::Time now) {
  OUTREACH_RETURN_IF_ERROR(ApplyDue(records, key.force, now));
  OUTREACH_ASSIGN_OR_RETURN(pb::Activity activity, MustFindActivity(records, key));
  OUTREACH_RETURN_IF_ERROR(CheckEtag("etag", activity.name(), etag, activity.etag()));
  OUTREACH_RETURN_IF_ERROR(CheckCanDeleteActivity(activity));
  return records.DeleteActivity(key);
}

absl::StatusOr<pb::Activity> PublishActivity(CampaignRecords& records, const ActivityKey& key,
                                             const std::string& etag, absl::Time publish_time,
                                             const std::string& external_reference,
                                             absl::Time now) {
  OUTREACH_RETURN_IF_ERROR(ApplyDue(records, key.force, now));
  OUTREACH_ASSIGN_OR_RETURN(pb::Activity activity, MustFindActivity(records, key));
  OUTREACH_RETURN_IF_ERROR(CheckEtag("etag", activity.name(), etag, activity.etag()));
  OUTREACH_ASSIGN_OR_RETURN(pb::Campaign campaign, MustFindCampaign(records, ParentOf(key)));
  OUTREACH_RETURN_IF_ERROR(Publish(campaign, publish_time, external_reference, &activity));
  StampResource(&activity, now, /*created=*/false);
  OUTREACH_RETURN_IF_ERROR(records.PutActivity(key, activity));
  OUTREACH_RETURN_IF_ERROR(records.Emit(PublishedEvent(key.force, campaign, activity, now), now));
  return activity;
}

absl::StatusOr<pb::Activity> WithdrawActivity(CampaignRecords& records, const ActivityKey& key,
                                              const std::string& etag, const std::string& reason,
                                              absl::Time now) {
  OUTREACH_RETURN_IF_ERROR(ApplyDue(records, key.force, now));
  OUTREACH_ASSIGN_OR_RETURN(pb::Activity activity, MustFindActivity(records, key));
  OUTREACH_RETURN_IF_ERROR(CheckEtag("etag", activity.name(), etag, activity.etag()));
  OUTREACH_ASSIGN_OR_RETURN(bool was_published, Withdraw(reason, now, &activity));
  StampResource(&activity, now, /*created=*/false);
  OUTREACH_RETURN_IF_ERROR(records.PutActivity(key, activity));
  // Metrics only counted published activities; a PLANNED one leaves nothing to take back.
  if (was_published) {
    OUTREACH_RETURN_IF_ERROR(records.Emit(
        WithdrawnEvent(key.force, CampaignName(key.force, key.campaign), activity, now), now));
  }
  return activity;
}

absl::StatusOr<pb::ReportEngagementResponse> ReportEngagement(
    CampaignRecords& records, const CampaignKey& parent, const std::vector<ReportInput>& reports,
    absl::Time now) {
  OUTREACH_RETURN_IF_ERROR(ApplyDue(records, parent.force, now));
  OUTREACH_ASSIGN_OR_RETURN(pb::Campaign campaign, MustFindCampaign(records, parent));
  pb::ReportEngagementResponse out;
  std::map<std::string, pb::Activity> activities;  // a batch names few activities, many days
  for (size_t i = 0; i < reports.size(); ++i) {
    const ReportInput& in = reports[i];
    const ActivityKey key{parent.force, parent.campaign, in.activity_id};
    auto it = activities.find(in.activity_id);
    if (it == activities.end()) {
      absl::StatusOr<pb::Activity> activity = MustFindActivity(records, key);
      if (!activity.ok()) return WithMetadata(activity.status(), {{"index", absl::StrCat(i)}});
      it = activities.emplace(in.activity_id, std::move(*activity)).first;
    }
    const pb::Activity& activity = it->second;
    OUTREACH_RETURN_IF_ERROR(CheckReportable(activity, in.day, static_cast<int>(i)));
    OUTREACH_ASSIGN_OR_RETURN(std::optional<pb::EngagementReport> stored,
                              records.FindReport(key, in.day));
    ReportDecision decision = DecideReport(stored, in, activity, now);
    if (decision.outcome != ReportOutcome::kUnchanged) {
      OUTREACH_RETURN_IF_ERROR(records.PutReport(key, in.day, decision.report));
      OUTREACH_RETURN_IF_ERROR(
          records.Emit(ReportedEvent(parent.force, campaign, activity, decision.report, now), now));
    }
    switch (decision.outcome) {
      case ReportOutcome::kUnchanged:
        out.set_unchanged(out.unchanged() + 1);
        break;
      case ReportOutcome::kCreated:
        out.set_created(out.created() + 1);
        break;
      case ReportOutcome::kUpdated:
        out.set_updated(out.updated() + 1);
        break;
    }
    *out.add_reports() = std::move(decision.report);
  }
  return out;
}

}  // namespace outreach::campaigns
