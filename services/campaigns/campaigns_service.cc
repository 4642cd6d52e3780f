#include "services/campaigns/campaigns_service.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/etag.h"
#include "common/field_mask.h"
#include "common/grpc_status.h"
#include "common/pagination.h"
#include "common/resource_name.h"
#include "common/status_macros.h"
#include "common/store_support.h"
#include "common/validation.h"

namespace outreach::campaigns {
namespace {

const ResourcePattern& CampaignPattern() {
  static const ResourcePattern* p = new ResourcePattern("forces/{force}/campaigns/{campaign}");
  return *p;
}
const ResourcePattern& ActivityPattern() {
  static const ResourcePattern* p =
      new ResourcePattern("forces/{force}/campaigns/{campaign}/activities/{activity}");
  return *p;
}
const ResourcePattern& SummaryPattern() {
  static const ResourcePattern* p =
      new ResourcePattern("forces/{force}/campaigns/{campaign}/summary");
  return *p;
}

const std::vector<std::string>& CampaignUpdatable() {
  static const auto* v = new std::vector<std::string>{
      "title",      "description", "key_messages", "audiences",        "areas",
      "start_date", "end_date",    "reach_target", "landing_page_uri", "follow_dates"};
  return *v;
}
const std::vector<std::string>& ActivityUpdatable() {
  static const auto* v = new std::vector<std::string>{
      "title",          "message_text", "link_uri",          "utm_medium",
      "scheduled_time", "audiences",    "external_reference"};
  return *v;
}

absl::StatusOr<CampaignKey> ParseCampaign(absl::string_view field, absl::string_view name) {
  auto ids = CampaignPattern().Parse(field, name);
  if (!ids.ok()) return ids.status();
  return CampaignKey{(*ids)[0], (*ids)[1]};
}

absl::StatusOr<ActivityKey> ParseActivity(absl::string_view field, absl::string_view name) {
  auto ids = ActivityPattern().Parse(field, name);
  if (!ids.ok()) return ids.status();
  return ActivityKey{(*ids)[0], (*ids)[1], (*ids)[2]};
}

void CheckReason(absl::string_view reason, Violations* v) {
  const size_t n = CodePoints(reason);
  if (n < 1 || n > 2000) v->Add("reason", "is required: 1-2000 characters");
}

const ServiceHandlers kHandlers{kDomain, "/outreach.campaigns.v1.CampaignsService/"};

// The reports of a ReportEngagement call, validated against its parent: every bad field of
// every report at once (at most 20 listed), then PERMISSION_DENIED when a report names an
// activity of another force.
absl::StatusOr<std::vector<ReportInput>> ParseReports(const pb::ReportEngagementRequest& request,
                                                      absl::Time now) {
  const absl::CivilDay today = LocalDay(now);
  Violations v;
  auto parent = ParseCampaign("parent", request.parent());
  v.Merge(parent.status());
  if (request.reports_size() < 1 || request.reports_size() > kMaxReportsPerCall) {
    v.Add("reports", absl::StrCat("must hold 1-", kMaxReportsPerCall, " reports"));
    return v.ToStatus("reports");
  }
  std::vector<ReportInput> inputs;
  bool cross_force = false;
  std::set<std::pair<std::string, std::string>> seen;
  for (int i = 0; i < request.reports_size(); ++i) {
    const auto& r = request.reports(i);
    const std::string prefix = absl::StrCat("reports[", i, "]");
    ReportInput in;
    in.numbers = r;
    auto activity = ParseActivity(prefix + ".activity", r.activity());
    if (!activity.ok()) {
      v.Merge(activity.status());
    } else if (parent.ok() && activity->force != parent->force) {
      cross_force = true;
    } else if (parent.ok() && activity->campaign != parent->campaign) {
      v.Add(prefix + ".activity", absl::StrCat("must be an activity of ", request.parent()));
    } else {
      in.activity_id = activity->activity;
    }
    if (!r.has_day()) {
      v.Add(prefix + ".day", "is required");
    } else if (auto day = FromProtoDate(prefix + ".day", r.day()); !day.ok()) {
      v.Merge(day.status());
    } else if (*day > today) {
      v.Add(prefix + ".day", "must not be after today");
    } else {
      in.day = *day;
      if (!in.activity_id.empty() && !seen.insert({in.activity_id, FormatDay(*day)}).second) {
        v.Add(prefix, "repeats an (activity, day) of this request");
      }
    }
    ValidateReportNumbers(r, prefix, v.list());
    inputs.push_back(std::move(in));
  }
  OUTREACH_RETURN_IF_ERROR(v.ToStatus("reports"));
  if (cross_force) {
    return PermissionDenied("CROSS_FORCE_ACCESS",
                            "every report must name an activity of the parent's force");
  }
  return inputs;
}

// One required date of a summary's date_range.
std::optional<absl::CivilDay> RangeDay(bool has, const cpb::Date& date, const std::string& field,
                                       Violations* v) {
  if (!has) {
    v->Add(field, "is required");
    return std::nullopt;
  }
  absl::StatusOr<absl::CivilDay> day = FromProtoDate(field, date);
  if (!day.ok()) {
    v->Merge(day.status());
    return std::nullopt;
  }
  return *day;
}

}  // namespace

CampaignsServiceImpl::CampaignsServiceImpl(const ServiceContext& context)
    : clock_(context.clock),
      page_tokens_(context.page_tokens),
      store_(NewSqlCampaignsStore(context.db)) {}

grpc::Status CampaignsServiceImpl::GetCampaign(grpc::ServerContext* ctx,
                                               const pb::GetCampaignRequest* request,
                                               pb::Campaign* response) {
  return kHandlers.Run(ctx, "GetCampaign", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(CampaignKey key, ParseCampaign("name", request->name()));
    OUTREACH_ASSIGN_OR_RETURN(*response, store_->GetCampaign(key, clock_->Now()));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::ListCampaigns(grpc::ServerContext* ctx,
                                                 const pb::ListCampaignsRequest* request,
                                                 pb::ListCampaignsResponse* response) {
  return kHandlers.Run(ctx, "ListCampaigns", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(std::string force, ParseForce("parent", request->parent()));
    OUTREACH_ASSIGN_OR_RETURN(ListQuery query, ListQueryFor(*request, *page_tokens_));
    OUTREACH_ASSIGN_OR_RETURN(ListPage<pb::Campaign> page,
                              store_->ListCampaigns(force, query, clock_->Now()));
    for (auto& c : page.items) *response->add_campaigns() = std::move(c);
    response->set_total_size(page.total_size);
    response->set_next_page_token(NextPageTokenFor(*request, *page_tokens_, page));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::CreateCampaign(grpc::ServerContext* ctx,
                                                  const pb::CreateCampaignRequest* request,
                                                  pb::Campaign* response) {
  return kHandlers.Run(ctx, "CreateCampaign", [&]() -> absl::Status {
    Violations v;
    auto force = ParseForce("parent", request->parent());
    v.Merge(force.status());
    if (!request->campaign_id().empty() && !IsValidResourceId(request->campaign_id())) {
      v.Add("campaign_id", "must match [a-z][a-z0-9-]{0,62}");
    }
    v.Merge(ValidateRequestId(request->request_id()));
    if (!request->has_campaign()) {
      v.Add("campaign", "is required");
    } else {
      ValidateCampaign(request->campaign(), "campaign", nullptr, v.list());
    }
    OUTREACH_RETURN_IF_ERROR(v.ToStatus());
    const std::string id =
        request->campaign_id().empty() ? GenerateResourceId("campaign") : request->campaign_id();
    OUTREACH_ASSIGN_OR_RETURN(
        *response, store_->CreateCampaign({*force, id}, request->campaign(), RequestKeyOf(*request),
                                          clock_->Now()));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::UpdateCampaign(grpc::ServerContext* ctx,
                                                  const pb::UpdateCampaignRequest* request,
                                                  pb::Campaign* response) {
  return kHandlers.Run(ctx, "UpdateCampaign", [&]() -> absl::Status {
    Violations v;
    auto key = ParseCampaign("campaign.name", request->campaign().name());
    v.Merge(key.status());
    auto paths = ValidateUpdateMask(request->update_mask(), CampaignUpdatable());
    v.Merge(paths.status());
    v.Merge(RequireEtag("campaign.etag", request->campaign().etag()));
    if (paths.ok()) ValidateCampaign(request->campaign(), "campaign", &*paths, v.list());
    OUTREACH_RETURN_IF_ERROR(v.ToStatus());
    OUTREACH_ASSIGN_OR_RETURN(
        *response, store_->UpdateCampaign(*key, request->campaign(), *paths, clock_->Now()));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::DeleteCampaign(grpc::ServerContext* ctx,
                                                  const pb::DeleteCampaignRequest* request,
                                                  google::protobuf::Empty*) {
  return kHandlers.Run(ctx, "DeleteCampaign", [&]() -> absl::Status {
    Violations v;
    auto key = ParseCampaign("name", request->name());
    v.Merge(key.status());
    v.Merge(RequireEtag("etag", request->etag()));
    OUTREACH_RETURN_IF_ERROR(v.ToStatus());
    return store_->DeleteCampaign(*key, request->etag(), clock_->Now());
  });
}

absl::StatusOr<pb::Campaign> CampaignsServiceImpl::ChangeState(const std::string& name,
                                                               const std::string& etag,
                                                               CampaignAction action,
                                                               const std::string& reason) {
  Violations v;
  auto key = ParseCampaign("name", name);
  v.Merge(key.status());
  v.Merge(RequireEtag("etag", etag));
  if (action == CampaignAction::kCancel) CheckReason(reason, &v);
  OUTREACH_RETURN_IF_ERROR(v.ToStatus());
  return store_->ChangeCampaignState(*key, etag, action, reason, clock_->Now());
}

grpc::Status CampaignsServiceImpl::ScheduleCampaign(grpc::ServerContext* ctx,
                                                    const pb::ScheduleCampaignRequest* request,
                                                    pb::Campaign* response) {
  return kHandlers.Run(ctx, "ScheduleCampaign", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(
        *response, ChangeState(request->name(), request->etag(), CampaignAction::kSchedule, ""));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::ActivateCampaign(grpc::ServerContext* ctx,
                                                    const pb::ActivateCampaignRequest* request,
                                                    pb::Campaign* response) {
  return kHandlers.Run(ctx, "ActivateCampaign", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(
        *response, ChangeState(request->name(), request->etag(), CampaignAction::kActivate, ""));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::CompleteCampaign(grpc::ServerContext* ctx,
                                                    const pb::CompleteCampaignRequest* request,
                                                    pb::Campaign* response) {
  return kHandlers.Run(ctx, "CompleteCampaign", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(
        *response, ChangeState(request->name(), request->etag(), CampaignAction::kComplete, ""));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::CancelCampaign(grpc::ServerContext* ctx,
                                                  const pb::CancelCampaignRequest* request,
                                                  pb::Campaign* response) {
  return kHandlers.Run(ctx, "CancelCampaign", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(*response, ChangeState(request->name(), request->etag(),
                                                     CampaignAction::kCancel, request->reason()));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::GetActivity(grpc::ServerContext* ctx,
                                               const pb::GetActivityRequest* request,
                                               pb::Activity* response) {
  return kHandlers.Run(ctx, "GetActivity", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(ActivityKey key, ParseActivity("name", request->name()));
    OUTREACH_ASSIGN_OR_RETURN(*response, store_->GetActivity(key, clock_->Now()));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::ListActivities(grpc::ServerContext* ctx,
                                                  const pb::ListActivitiesRequest* request,
                                                  pb::ListActivitiesResponse* response) {
  return kHandlers.Run(ctx, "ListActivities", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(CampaignKey parent, ParseCampaign("parent", request->parent()));
    OUTREACH_ASSIGN_OR_RETURN(ListQuery query, ListQueryFor(*request, *page_tokens_));
    OUTREACH_ASSIGN_OR_RETURN(ListPage<pb::Activity> page,
                              store_->ListActivities(parent, query, clock_->Now()));
    for (auto& a : page.items) *response->add_activities() = std::move(a);
    response->set_total_size(page.total_size);
    response->set_next_page_token(NextPageTokenFor(*request, *page_tokens_, page));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::CreateActivity(grpc::ServerContext* ctx,
                                                  const pb::CreateActivityRequest* request,
                                                  pb::Activity* response) {
  return kHandlers.Run(ctx, "CreateActivity", [&]() -> absl::Status {
    Violations v;
    auto parent = ParseCampaign("parent", request->parent());
    v.Merge(parent.status());
    if (!request->activity_id().empty() && !IsValidResourceId(request->activity_id())) {
      v.Add("activity_id", "must match [a-z][a-z0-9-]{0,62}");
    }
    v.Merge(ValidateRequestId(request->request_id()));
    if (!request->has_activity()) {
      v.Add("activity", "is required");
    } else {
      ValidateActivity(request->activity(), "activity", nullptr, v.list());
    }
    OUTREACH_RETURN_IF_ERROR(v.ToStatus());
    const std::string id =
        request->activity_id().empty() ? GenerateResourceId("activity") : request->activity_id();
    OUTREACH_ASSIGN_OR_RETURN(
        *response,
        store_->CreateActivity({parent->force, parent->campaign, id}, request->activity(),
                               RequestKeyOf(*request), clock_->Now()));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::UpdateActivity(grpc::ServerContext* ctx,
                                                  const pb::UpdateActivityRequest* request,
                                                  pb::Activity* response) {
  return kHandlers.Run(ctx, "UpdateActivity", [&]() -> absl::Status {
    Violations v;
    auto key = ParseActivity("activity.name", request->activity().name());
    v.Merge(key.status());
    auto paths = ValidateUpdateMask(request->update_mask(), ActivityUpdatable());
    v.Merge(paths.status());
    v.Merge(RequireEtag("activity.etag", request->activity().etag()));
    if (paths.ok()) ValidateActivity(request->activity(), "activity", &*paths, v.list());
    OUTREACH_RETURN_IF_ERROR(v.ToStatus());
    OUTREACH_ASSIGN_OR_RETURN(
        *response, store_->UpdateActivity(*key, request->activity(), *paths, clock_->Now()));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::DeleteActivity(grpc::ServerContext* ctx,
                                                  const pb::DeleteActivityRequest* request,
                                                  google::protobuf::Empty*) {
  return kHandlers.Run(ctx, "DeleteActivity", [&]() -> absl::Status {
    Violations v;
    auto key = ParseActivity("name", request->name());
    v.Merge(key.status());
    v.Merge(RequireEtag("etag", request->etag()));
    OUTREACH_RETURN_IF_ERROR(v.ToStatus());
    return store_->DeleteActivity(*key, request->etag(), clock_->Now());
  });
}

grpc::Status CampaignsServiceImpl::PublishActivity(grpc::ServerContext* ctx,
                                                   const pb::PublishActivityRequest* request,
                                                   pb::Activity* response) {
  return kHandlers.Run(ctx, "PublishActivity", [&]() -> absl::Status {
    const absl::Time now = clock_->Now();
    Violations v;
    auto key = ParseActivity("name", request->name());
    v.Merge(key.status());
    v.Merge(RequireEtag("etag", request->etag()));
    absl::Time publish_time = now;
    if (request->has_publish_time()) {
      auto t = FromProtoTime("publish_time", request->publish_time());
      if (!t.ok()) {
        v.Merge(t.status());
      } else if (*t > now) {
        v.Add("publish_time", "must not be in the future");
      } else {
        publish_time = *t;
      }
    }
    if (CodePoints(request->external_reference()) > 200) {
      v.Add("external_reference", "must be at most 200 characters");
    }
    OUTREACH_RETURN_IF_ERROR(v.ToStatus());
    OUTREACH_ASSIGN_OR_RETURN(*response,
                              store_->PublishActivity(*key, request->etag(), publish_time,
                                                      request->external_reference(), now));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::WithdrawActivity(grpc::ServerContext* ctx,
                                                    const pb::WithdrawActivityRequest* request,
                                                    pb::Activity* response) {
  return kHandlers.Run(ctx, "WithdrawActivity", [&]() -> absl::Status {
    Violations v;
    auto key = ParseActivity("name", request->name());
    v.Merge(key.status());
    v.Merge(RequireEtag("etag", request->etag()));
    CheckReason(request->reason(), &v);
    OUTREACH_RETURN_IF_ERROR(v.ToStatus());
    OUTREACH_ASSIGN_OR_RETURN(
        *response,
        store_->WithdrawActivity(*key, request->etag(), request->reason(), clock_->Now()));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::ReportEngagement(grpc::ServerContext* ctx,
                                                    const pb::ReportEngagementRequest* request,
                                                    pb::ReportEngagementResponse* response) {
  return kHandlers.Run(ctx, "ReportEngagement", [&]() -> absl::Status {
    const absl::Time now = clock_->Now();
    OUTREACH_ASSIGN_OR_RETURN(std::vector<ReportInput> inputs, ParseReports(*request, now));
    OUTREACH_ASSIGN_OR_RETURN(CampaignKey parent, ParseCampaign("parent", request->parent()));
    OUTREACH_ASSIGN_OR_RETURN(*response, store_->ReportEngagement(parent, inputs, now));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::ListEngagementReports(
    grpc::ServerContext* ctx, const pb::ListEngagementReportsRequest* request,
    pb::ListEngagementReportsResponse* response) {
  return kHandlers.Run(ctx, "ListEngagementReports", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(CampaignKey parent, ParseCampaign("parent", request->parent()));
    OUTREACH_ASSIGN_OR_RETURN(ListQuery query, ListQueryFor(*request, *page_tokens_));
    OUTREACH_ASSIGN_OR_RETURN(ListPage<pb::EngagementReport> page,
                              store_->ListEngagementReports(parent, query, clock_->Now()));
    for (auto& r : page.items) *response->add_engagement_reports() = std::move(r);
    response->set_total_size(page.total_size);
    response->set_next_page_token(NextPageTokenFor(*request, *page_tokens_, page));
    return absl::OkStatus();
  });
}

grpc::Status CampaignsServiceImpl::GetCampaignSummary(grpc::ServerContext* ctx,
                                                      const pb::GetCampaignSummaryRequest* request,
                                                      pb::CampaignSummary* response) {
  return kHandlers.Run(ctx, "GetCampaignSummary", [&]() -> absl::Status {
    Violations v;
    auto ids = SummaryPattern().Parse("name", request->name());
    v.Merge(ids.status());
    std::optional<std::pair<absl::CivilDay, absl::CivilDay>> range;
    if (request->has_date_range()) {
      const auto& dr = request->date_range();
      const auto start =
          RangeDay(dr.has_start_date(), dr.start_date(), "date_range.start_date", &v);
      const auto end = RangeDay(dr.has_end_date(), dr.end_date(), "date_range.end_date", &v);
      if (start && end) {
        if (*end < *start) {
          v.Add("date_range.end_date", "must be on or after start_date");
        } else {
          range = std::make_pair(*start, *end);
        }
      }
    }
    OUTREACH_RETURN_IF_ERROR(v.ToStatus());
    OUTREACH_ASSIGN_OR_RETURN(
        *response, store_->GetCampaignSummary({(*ids)[0], (*ids)[1]}, range, clock_->Now()));
    return absl::OkStatus();
  });
}

ServiceSpec CampaignsServiceSpec() {
  ServiceSpec spec;
  spec.name = "campaigns";
  spec.health_name = "outreach.campaigns.v1.CampaignsService";
  spec.default_grpc_address = "127.0.0.1:50053";
  spec.default_http_address = "127.0.0.1:9103";
  spec.schema = {CommonMigrations(), CampaignsMigrations()};
  spec.make_service = [](const ServiceContext& context) -> std::unique_ptr<grpc::Service> {
    return std::make_unique<CampaignsServiceImpl>(context);
  };
  return spec;
}

}  // namespace outreach::campaigns
