#pragma once

#include <memory>

#include "common/service_main.h"
#include "outreach/campaigns/v1/campaigns.grpc.pb.h"
#include "services/campaigns/store.h"

namespace outreach::campaigns {

// The gRPC surface: parses and validates requests, calls the store, maps errors with
// ToGrpcStatus. Sync API: handlers block on SQLite (see the brief's measurements).
class CampaignsServiceImpl final : public pb::CampaignsService::Service {
 public:
  explicit CampaignsServiceImpl(const ServiceContext& context);

  grpc::Status GetCampaign(grpc::ServerContext*, const pb::GetCampaignRequest*,
                           pb::Campaign*) override;
  grpc::Status ListCampaigns(grpc::ServerContext*, const pb::ListCampaignsRequest*,
                             pb::ListCampaignsResponse*) override;
  grpc::Status CreateCampaign(grpc::ServerContext*, const pb::CreateCampaignRequest*,
                              pb::Campaign*) override;
  grpc::Status UpdateCampaign(grpc::ServerContext*, const pb::UpdateCampaignRequest*,
                              pb::Campaign*) override;
  grpc::Status DeleteCampaign(grpc::ServerContext*, const pb::DeleteCampaignRequest*,
                              google::protobuf::Empty*) override;
  grpc::Status ScheduleCampaign(grpc::ServerContext*, const pb::ScheduleCampaignRequest*,
                                pb::Campaign*) override;
  grpc::Status ActivateCampaign(grpc::ServerContext*, const pb::ActivateCampaignRequest*,
                                pb::Campaign*) override;
  grpc::Status CompleteCampaign(grpc::ServerContext*, const pb::CompleteCampaignRequest*,
                                pb::Campaign*) override;
  grpc::Status CancelCampaign(grpc::ServerContext*, const pb::CancelCampaignRequest*,
                              pb::Campaign*) override;
  grpc::Status GetActivity(grpc::ServerContext*, const pb::GetActivityRequest*,
                           pb::Activity*) override;
  grpc::Status ListActivities(grpc::ServerContext*, const pb::ListActivitiesRequest*,
                              pb::ListActivitiesResponse*) override;
  grpc::Status CreateActivity(grpc::ServerContext*, const pb::CreateActivityRequest*,
                              pb::Activity*) override;
  grpc::Status UpdateActivity(grpc::ServerContext*, const pb::UpdateActivityRequest*,
                              pb::Activity*) override;
  grpc::Status DeleteActivity(grpc::ServerContext*, const pb::DeleteActivityRequest*,
                              google::protobuf::Empty*) override;
  grpc::Status PublishActivity(grpc::ServerContext*, const pb::PublishActivityRequest*,
                               pb::Activity*) override;
  grpc::Status WithdrawActivity(grpc::ServerContext*, const pb::WithdrawActivityRequest*,
                                pb::Activity*) override;
  grpc::Status ReportEngagement(grpc::ServerContext*, const pb::ReportEngagementRequest*,
                                pb::ReportEngagementResponse*) override;
  grpc::Status ListEngagementReports(grpc::ServerContext*, const pb::ListEngagementReportsRequest*,
                                     pb::ListEngagementReportsResponse*) override;
  grpc::Status GetCampaignSummary(grpc::ServerContext*, const pb::GetCampaignSummaryRequest*,
                                  pb::CampaignSummary*) override;

 private:
  absl::StatusOr<pb::Campaign> ChangeState(const std::string& name, const std::string& etag,
                                           CampaignAction action, const std::string& reason);

  const Clock* clock_;
  const PageTokenCodec* page_tokens_;
  std::unique_ptr<CampaignsStore> store_;
};

// Name, health name, default ports, schema and factory of the campaigns binary.
ServiceSpec CampaignsServiceSpec();

}  // namespace outreach::campaigns
