// The metrics binary: the shared service main with the cache settings (MetricsBinarySpec).
#include "common/service_main.h"
#include "services/metrics/metrics_service.h"

int main(int argc, char** argv) {
  return outreach::RunServiceMain(argc, argv, outreach::metrics::MetricsBinarySpec());
}
