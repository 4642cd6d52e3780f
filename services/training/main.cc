// The training binary: the shared service main, publishing its outbox to metrics' ingest client.
#include "services/metrics/client/ingest_sink.h"
#include "services/training/training_service.h"

int main(int argc, char** argv) {
  outreach::ServiceSpec spec = outreach::training::TrainingServiceSpec();
  spec.make_event_sink = outreach::metrics::client::NewIngestSink;
  return outreach::RunServiceMain(argc, argv, spec);
}
