// The campaigns handlers in-process (tests/fuzz/service_fuzz.h): fuzzed requests of every method of
// CampaignsServiceImpl against a fresh SQLite store.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "services/campaigns/campaigns_service.h"
#include "tests/fuzz/service_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using outreach::campaigns::CampaignsServiceImpl;
  using outreach::fuzz::Call;
  // Append new methods at the end: the method byte of the committed corpus indexes this table.
  static const auto* rpcs = new std::vector<outreach::fuzz::Rpc<CampaignsServiceImpl>>{
      Call(&CampaignsServiceImpl::GetCampaign),
      Call(&CampaignsServiceImpl::ListCampaigns),
      Call(&CampaignsServiceImpl::CreateCampaign),
      Call(&CampaignsServiceImpl::UpdateCampaign),
      Call(&CampaignsServiceImpl::DeleteCampaign),
      Call(&CampaignsServiceImpl::ScheduleCampaign),
      Call(&CampaignsServiceImpl::ActivateCampaign),
      Call(&CampaignsServiceImpl::CompleteCampaign),
      Call(&CampaignsServiceImpl::CancelCampaign),
      Call(&CampaignsServiceImpl::GetActivity),
      Call(&CampaignsServiceImpl::ListActivities),
      Call(&CampaignsServiceImpl::CreateActivity),
      Call(&CampaignsServiceImpl::UpdateActivity),
      Call(&CampaignsServiceImpl::DeleteActivity),
      Call(&CampaignsServiceImpl::PublishActivity),
      Call(&CampaignsServiceImpl::WithdrawActivity),
      Call(&CampaignsServiceImpl::ReportEngagement),
      Call(&CampaignsServiceImpl::ListEngagementReports),
      Call(&CampaignsServiceImpl::GetCampaignSummary),
  };
  static const auto* spec = new outreach::ServiceSpec(outreach::campaigns::CampaignsServiceSpec());
  outreach::fuzz::RunCalls(*spec, *rpcs, data, size);
  return 0;
}
