#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/db.h"
#include "common/event_sink.h"
#include "common/metrics.h"
#include "common/pagination.h"
#include "common/server.h"
#include "grpcpp/channel.h"
#include "grpcpp/impl/service_type.h"

namespace outreach {

// What a service's store and handlers are built from. Owned by the caller of make_service and
// alive until after the gRPC server has drained.
struct ServiceContext {
  db::Database* db = nullptr;
  const Clock* clock = nullptr;
  const PageTokenCodec* page_tokens = nullptr;
  MetricsRegistry* metrics = nullptr;
  // For background work and extra monitor routes: hooks added with runtime->OnShutdown run after
  // the gRPC server drained and before the store closes. Null in tests that build no runtime.
  ServerRuntime* runtime = nullptr;
};

// Everything that differs between the service binaries; RunServiceMain does the rest.
struct ServiceSpec {
  std::string name;         // "workshops": logs, metrics, default file names
  std::string health_name;  // "outreach.workshops.v1.WorkshopsService"
  std::string default_grpc_address;
  std::string default_http_address;
  std::vector<db::MigrationSet> schema;  // include CommonMigrations() for the outbox/ledger
  std::function<std::unique_ptr<grpc::Service>(const ServiceContext&)> make_service;
  // Optional: declares the service's own settings on the parser (before parsing); make_service
  // then reads the values it captured.
  std::function<void(ConfigParser&)> register_settings;
  // Domain services publish their outbox (--metrics-address, outbox gauges) to the sink this
  // builds on a channel to that address: metrics' client (services/metrics/client/). Metrics
  // itself leaves it empty and publishes nothing.
  std::function<std::unique_ptr<EventSink>(std::shared_ptr<grpc::Channel>)> make_event_sink;
};

// main() of every service: declares the runtime settings plus --db-path, the page-token key and
// --audit-retention, parses flags/env (one clear line and exit 2 on a bad value), opens and
// migrates the store, serves the audit log (common/audit_service.h) beside the service, prunes
// the request ledger and old audit records hourly,
// publishes outbox backlog gauges on /metrics, serves until SIGTERM/SIGINT, drains, closes the
// store and returns 0.
int RunServiceMain(int argc, char** argv, const ServiceSpec& spec);

// Exposes outbox backlog and the age of the oldest unsent event as gauges:
//   outreach_outbox_backlog, outreach_outbox_oldest_unsent_age_seconds
void RegisterOutboxGauges(MetricsRegistry& metrics, db::Database* db, const Clock* clock);

}  // namespace outreach
