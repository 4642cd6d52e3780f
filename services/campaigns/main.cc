// The campaigns binary: the shared service main, publishing its outbox to metrics' ingest client.
#include "services/campaigns/campaigns_service.h"
#include "services/metrics/client/ingest_sink.h"

int main(int argc, char** argv) {
  outreach::ServiceSpec spec = outreach::campaigns::CampaignsServiceSpec();
  spec.make_event_sink = outreach::metrics::client::NewIngestSink;
  return outreach::RunServiceMain(argc, argv, spec);
}
