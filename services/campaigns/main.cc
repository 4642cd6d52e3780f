#include "common/service_main.h"
#include "services/campaigns/campaigns_service.h"

int main(int argc, char** argv) {
  return outreach::RunServiceMain(argc, argv, outreach::campaigns::CampaignsServiceSpec());
}
