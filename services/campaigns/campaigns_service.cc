#include "services/campaigns/campaigns_service.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/etag.h"
#include "common/field_mask.h"
#include "common/pagination.h"
#include "common/resource_name.h"
#include "common/store_support.h"

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

constexpr size_t kMaxViolations = 20;

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

// Collects field violations of several checks into one INVALID_ARGUMENT.
class Violations {
 public:
  void Add(std::string field, std::string description) {
    list_.push_back({std::move(field), std::move(description)});
  }
  // Keeps the violations of a failed check (statuses from errors.h helpers).
  void Merge(const absl::Status& status) {
    if (status.ok()) return;
    auto fields = FieldViolations(status);
    if (fields.empty()) fields.push_back({"", std::string(status.message())});
    for (auto& f : fields) list_.push_back(std::move(f));
  }
  std::vector<FieldViolation>* list() { return &list_; }
  // Keeps the first `max` violations so that the error stays small enough for the trailers
  // (a batch of 500 bad reports would otherwise exceed the client's metadata limit).
  void Truncate(size_t max) {
    if (list_.size() <= max) return;
    const size_t dropped = list_.size() - max;
    list_.resize(max);
    list_.push_back({"reports", absl::StrCat("and ", dropped, " more problems not listed")});
  }
  absl::Status ToStatus() {
    if (list_.empty()) return absl::OkStatus();
    return InvalidArguments(std::move(list_));
  }

 private:
  std::vector<FieldViolation> list_;
};

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

// Page size and offset of a list call; the token is bound to the query's fingerprint.
absl::StatusOr<ListQuery> MakeListQuery(const PageTokenCodec& codec, const std::string& parent,
                                        const std::string& filter, const std::string& order_by,
                                        int32_t page_size, const std::string& page_token,
                                        std::string* fingerprint) {
  absl::StatusOr<ListPaging> paging =
      DecodeListPaging(codec, page_size, page_token, {parent, filter, order_by});
  if (!paging.ok()) return paging.status();
  *fingerprint = paging->fingerprint;
  ListQuery query;
  query.filter = filter;
  query.order_by = order_by;
  query.page_size = paging->page_size;
  query.offset = paging->offset;
  return query;
}

template <typename T>
std::string NextToken(const PageTokenCodec& codec, const std::string& fingerprint,
                      const ListQuery& query, const Page<T>& page) {
  return NextPageToken(codec, ListPaging{query.page_size, query.offset, fingerprint},
                       static_cast<int64_t>(page.items.size()), page.more);
}

grpc::Status Reply(const absl::Status& status, absl::string_view method) {
  return ToGrpcStatus(status, kDomain,
                      absl::StrCat("/outreach.campaigns.v1.CampaignsService/", method));
}

}  // namespace

CampaignsServiceImpl::CampaignsServiceImpl(const ServiceContext& context)
    : clock_(context.clock),
      page_tokens_(context.page_tokens),
      store_(NewSqlCampaignsStore(context.db)) {}

grpc::Status CampaignsServiceImpl::GetCampaign(grpc::ServerContext*,
                                               const pb::GetCampaignRequest* request,
                                               pb::Campaign* response) {
  auto key = ParseCampaign("name", request->name());
  if (!key.ok()) return Reply(key.status(), "GetCampaign");
  auto campaign = store_->GetCampaign(*key, clock_->Now());
  if (!campaign.ok()) return Reply(campaign.status(), "GetCampaign");
  *response = std::move(*campaign);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::ListCampaigns(grpc::ServerContext*,
                                                 const pb::ListCampaignsRequest* request,
                                                 pb::ListCampaignsResponse* response) {
  auto force = ParseForce("parent", request->parent());
  if (!force.ok()) return Reply(force.status(), "ListCampaigns");
  std::string fingerprint;
  auto query =
      MakeListQuery(*page_tokens_, request->parent(), request->filter(), request->order_by(),
                    request->page_size(), request->page_token(), &fingerprint);
  if (!query.ok()) return Reply(query.status(), "ListCampaigns");
  auto page = store_->ListCampaigns(*force, *query, clock_->Now());
  if (!page.ok()) return Reply(page.status(), "ListCampaigns");
  for (auto& c : page->items) *response->add_campaigns() = std::move(c);
  response->set_total_size(page->total_size);
  response->set_next_page_token(NextToken(*page_tokens_, fingerprint, *query, *page));
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::CreateCampaign(grpc::ServerContext*,
                                                  const pb::CreateCampaignRequest* request,
                                                  pb::Campaign* response) {
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
  if (auto s = v.ToStatus(); !s.ok()) return Reply(s, "CreateCampaign");
  const std::string id =
      request->campaign_id().empty() ? GenerateResourceId("campaign") : request->campaign_id();
  auto campaign =
      store_->CreateCampaign({*force, id}, request->campaign(),
                             {request->request_id(), RequestHash(*request)}, clock_->Now());
  if (!campaign.ok()) return Reply(campaign.status(), "CreateCampaign");
  *response = std::move(*campaign);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::UpdateCampaign(grpc::ServerContext*,
                                                  const pb::UpdateCampaignRequest* request,
                                                  pb::Campaign* response) {
  Violations v;
  auto key = ParseCampaign("campaign.name", request->campaign().name());
  v.Merge(key.status());
  auto paths = ValidateUpdateMask(request->update_mask(), CampaignUpdatable());
  v.Merge(paths.status());
  if (request->campaign().etag().empty()) {
    v.Add("campaign.etag", "is required: pass the etag of the version you read");
  }
  if (paths.ok()) ValidateCampaign(request->campaign(), "campaign", &*paths, v.list());
  if (auto s = v.ToStatus(); !s.ok()) return Reply(s, "UpdateCampaign");
  auto campaign = store_->UpdateCampaign(*key, request->campaign(), *paths, clock_->Now());
  if (!campaign.ok()) return Reply(campaign.status(), "UpdateCampaign");
  *response = std::move(*campaign);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::DeleteCampaign(grpc::ServerContext*,
                                                  const pb::DeleteCampaignRequest* request,
                                                  google::protobuf::Empty*) {
  Violations v;
  auto key = ParseCampaign("name", request->name());
  v.Merge(key.status());
  v.Merge(RequireEtag("etag", request->etag()));
  if (auto s = v.ToStatus(); !s.ok()) return Reply(s, "DeleteCampaign");
  return Reply(store_->DeleteCampaign(*key, request->etag(), clock_->Now()), "DeleteCampaign");
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
  if (auto s = v.ToStatus(); !s.ok()) return s;
  return store_->ChangeCampaignState(*key, etag, action, reason, clock_->Now());
}

grpc::Status CampaignsServiceImpl::ScheduleCampaign(grpc::ServerContext*,
                                                    const pb::ScheduleCampaignRequest* request,
                                                    pb::Campaign* response) {
  auto c = ChangeState(request->name(), request->etag(), CampaignAction::kSchedule, "");
  if (!c.ok()) return Reply(c.status(), "ScheduleCampaign");
  *response = std::move(*c);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::ActivateCampaign(grpc::ServerContext*,
                                                    const pb::ActivateCampaignRequest* request,
                                                    pb::Campaign* response) {
  auto c = ChangeState(request->name(), request->etag(), CampaignAction::kActivate, "");
  if (!c.ok()) return Reply(c.status(), "ActivateCampaign");
  *response = std::move(*c);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::CompleteCampaign(grpc::ServerContext*,
                                                    const pb::CompleteCampaignRequest* request,
                                                    pb::Campaign* response) {
  auto c = ChangeState(request->name(), request->etag(), CampaignAction::kComplete, "");
  if (!c.ok()) return Reply(c.status(), "CompleteCampaign");
  *response = std::move(*c);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::CancelCampaign(grpc::ServerContext*,
                                                  const pb::CancelCampaignRequest* request,
                                                  pb::Campaign* response) {
  auto c =
      ChangeState(request->name(), request->etag(), CampaignAction::kCancel, request->reason());
  if (!c.ok()) return Reply(c.status(), "CancelCampaign");
  *response = std::move(*c);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::GetActivity(grpc::ServerContext*,
                                               const pb::GetActivityRequest* request,
                                               pb::Activity* response) {
  auto key = ParseActivity("name", request->name());
  if (!key.ok()) return Reply(key.status(), "GetActivity");
  auto activity = store_->GetActivity(*key, clock_->Now());
  if (!activity.ok()) return Reply(activity.status(), "GetActivity");
  *response = std::move(*activity);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::ListActivities(grpc::ServerContext*,
                                                  const pb::ListActivitiesRequest* request,
                                                  pb::ListActivitiesResponse* response) {
  auto parent = ParseCampaign("parent", request->parent());
  if (!parent.ok()) return Reply(parent.status(), "ListActivities");
  std::string fingerprint;
  auto query =
      MakeListQuery(*page_tokens_, request->parent(), request->filter(), request->order_by(),
                    request->page_size(), request->page_token(), &fingerprint);
  if (!query.ok()) return Reply(query.status(), "ListActivities");
  auto page = store_->ListActivities(*parent, *query, clock_->Now());
  if (!page.ok()) return Reply(page.status(), "ListActivities");
  for (auto& a : page->items) *response->add_activities() = std::move(a);
  response->set_total_size(page->total_size);
  response->set_next_page_token(NextToken(*page_tokens_, fingerprint, *query, *page));
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::CreateActivity(grpc::ServerContext*,
                                                  const pb::CreateActivityRequest* request,
                                                  pb::Activity* response) {
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
  if (auto s = v.ToStatus(); !s.ok()) return Reply(s, "CreateActivity");
  const std::string id =
      request->activity_id().empty() ? GenerateResourceId("activity") : request->activity_id();
  auto activity =
      store_->CreateActivity({parent->force, parent->campaign, id}, request->activity(),
                             {request->request_id(), RequestHash(*request)}, clock_->Now());
  if (!activity.ok()) return Reply(activity.status(), "CreateActivity");
  *response = std::move(*activity);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::UpdateActivity(grpc::ServerContext*,
                                                  const pb::UpdateActivityRequest* request,
                                                  pb::Activity* response) {
  Violations v;
  auto key = ParseActivity("activity.name", request->activity().name());
  v.Merge(key.status());
  auto paths = ValidateUpdateMask(request->update_mask(), ActivityUpdatable());
  v.Merge(paths.status());
  if (request->activity().etag().empty()) {
    v.Add("activity.etag", "is required: pass the etag of the version you read");
  }
  if (paths.ok()) ValidateActivity(request->activity(), "activity", &*paths, v.list());
  if (auto s = v.ToStatus(); !s.ok()) return Reply(s, "UpdateActivity");
  auto activity = store_->UpdateActivity(*key, request->activity(), *paths, clock_->Now());
  if (!activity.ok()) return Reply(activity.status(), "UpdateActivity");
  *response = std::move(*activity);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::DeleteActivity(grpc::ServerContext*,
                                                  const pb::DeleteActivityRequest* request,
                                                  google::protobuf::Empty*) {
  Violations v;
  auto key = ParseActivity("name", request->name());
  v.Merge(key.status());
  v.Merge(RequireEtag("etag", request->etag()));
  if (auto s = v.ToStatus(); !s.ok()) return Reply(s, "DeleteActivity");
  return Reply(store_->DeleteActivity(*key, request->etag(), clock_->Now()), "DeleteActivity");
}

grpc::Status CampaignsServiceImpl::PublishActivity(grpc::ServerContext*,
                                                   const pb::PublishActivityRequest* request,
                                                   pb::Activity* response) {
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
  if (auto s = v.ToStatus(); !s.ok()) return Reply(s, "PublishActivity");
  auto activity = store_->PublishActivity(*key, request->etag(), publish_time,
                                          request->external_reference(), now);
  if (!activity.ok()) return Reply(activity.status(), "PublishActivity");
  *response = std::move(*activity);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::WithdrawActivity(grpc::ServerContext*,
                                                    const pb::WithdrawActivityRequest* request,
                                                    pb::Activity* response) {
  Violations v;
  auto key = ParseActivity("name", request->name());
  v.Merge(key.status());
  v.Merge(RequireEtag("etag", request->etag()));
  CheckReason(request->reason(), &v);
  if (auto s = v.ToStatus(); !s.ok()) return Reply(s, "WithdrawActivity");
  auto activity = store_->WithdrawActivity(*key, request->etag(), request->reason(), clock_->Now());
  if (!activity.ok()) return Reply(activity.status(), "WithdrawActivity");
  *response = std::move(*activity);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::ReportEngagement(grpc::ServerContext*,
                                                    const pb::ReportEngagementRequest* request,
                                                    pb::ReportEngagementResponse* response) {
  const absl::Time now = clock_->Now();
  const absl::CivilDay today = LocalDay(now);
  Violations v;
  auto parent = ParseCampaign("parent", request->parent());
  v.Merge(parent.status());
  if (request->reports_size() < 1 || request->reports_size() > kMaxReportsPerCall) {
    v.Add("reports", absl::StrCat("must hold 1-", kMaxReportsPerCall, " reports"));
    return Reply(v.ToStatus(), "ReportEngagement");
  }
  std::vector<ReportInput> inputs;
  bool cross_force = false;
  std::set<std::pair<std::string, std::string>> seen;
  for (int i = 0; i < request->reports_size() && i < kMaxReportsPerCall; ++i) {
    const auto& r = request->reports(i);
    const std::string prefix = absl::StrCat("reports[", i, "]");
    ReportInput in;
    in.numbers = r;
    auto activity = ParseActivity(prefix + ".activity", r.activity());
    if (!activity.ok()) {
      v.Merge(activity.status());
    } else if (parent.ok() && activity->force != parent->force) {
      cross_force = true;
    } else if (parent.ok() && activity->campaign != parent->campaign) {
      v.Add(prefix + ".activity", absl::StrCat("must be an activity of ", request->parent()));
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
  v.Truncate(kMaxViolations);
  if (auto s = v.ToStatus(); !s.ok()) return Reply(s, "ReportEngagement");
  if (cross_force) {
    return Reply(PermissionDenied("CROSS_FORCE_ACCESS",
                                  "every report must name an activity of the parent's force"),
                 "ReportEngagement");
  }
  auto result = store_->ReportEngagement(*parent, inputs, now);
  if (!result.ok()) return Reply(result.status(), "ReportEngagement");
  *response = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::ListEngagementReports(
    grpc::ServerContext*, const pb::ListEngagementReportsRequest* request,
    pb::ListEngagementReportsResponse* response) {
  auto parent = ParseCampaign("parent", request->parent());
  if (!parent.ok()) return Reply(parent.status(), "ListEngagementReports");
  std::string fingerprint;
  auto query =
      MakeListQuery(*page_tokens_, request->parent(), request->filter(), request->order_by(),
                    request->page_size(), request->page_token(), &fingerprint);
  if (!query.ok()) return Reply(query.status(), "ListEngagementReports");
  auto page = store_->ListEngagementReports(*parent, *query, clock_->Now());
  if (!page.ok()) return Reply(page.status(), "ListEngagementReports");
  for (auto& r : page->items) *response->add_engagement_reports() = std::move(r);
  response->set_total_size(page->total_size);
  response->set_next_page_token(NextToken(*page_tokens_, fingerprint, *query, *page));
  return grpc::Status::OK;
}

grpc::Status CampaignsServiceImpl::GetCampaignSummary(grpc::ServerContext*,
                                                      const pb::GetCampaignSummaryRequest* request,
                                                      pb::CampaignSummary* response) {
  Violations v;
  auto ids = SummaryPattern().Parse("name", request->name());
  v.Merge(ids.status());
  std::optional<std::pair<absl::CivilDay, absl::CivilDay>> range;
  if (request->has_date_range()) {
    const auto& dr = request->date_range();
    std::optional<absl::CivilDay> start, end;
    if (!dr.has_start_date()) {
      v.Add("date_range.start_date", "is required");
    } else if (auto d = FromProtoDate("date_range.start_date", dr.start_date()); d.ok()) {
      start = *d;
    } else {
      v.Merge(d.status());
    }
    if (!dr.has_end_date()) {
      v.Add("date_range.end_date", "is required");
    } else if (auto d = FromProtoDate("date_range.end_date", dr.end_date()); d.ok()) {
      end = *d;
    } else {
      v.Merge(d.status());
    }
    if (start && end) {
      if (*end < *start) {
        v.Add("date_range.end_date", "must be on or after start_date");
      } else {
        range = std::make_pair(*start, *end);
      }
    }
  }
  if (auto s = v.ToStatus(); !s.ok()) return Reply(s, "GetCampaignSummary");
  auto summary = store_->GetCampaignSummary({(*ids)[0], (*ids)[1]}, range, clock_->Now());
  if (!summary.ok()) return Reply(summary.status(), "GetCampaignSummary");
  *response = std::move(*summary);
  return grpc::Status::OK;
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
