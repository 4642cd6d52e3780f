// A real server process on the common runtime, for the runtime's e2e tests and for checking
// health and reflection with clients that are not ours.
#include <cstdio>

#include "common/config.h"
#include "common/db.h"
#include "common/log.h"
#include "common/server.h"
#include "tests/support/probe_service.h"

int main(int argc, char** argv) {
  outreach::BlockTerminationSignals();
  outreach::RuntimeConfig runtime;
  runtime.service_name = "probe";
  std::string db_path;
  outreach::ConfigParser parser("outreach_probe_server");
  outreach::RegisterRuntimeSettings(parser, &runtime, "127.0.0.1:0", "127.0.0.1:0");
  parser.String("db-path", &db_path, std::nullopt, "SQLite file of the probe's store",
                outreach::ValidateNotEmpty);
  outreach::ParseConfigOrExit(parser, argc, argv);

  auto db = outreach::db::Database::Open(db_path, outreach::testing::ProbeSchema());
  if (!db.ok()) {
    OUTREACH_LOG(kError, "store_open_failed")
        .Kv("path", db_path)
        .Kv("detail", db.status().message());
    return 1;
  }
  outreach::testing::ProbeServiceImpl service(db->get());
  outreach::ServerRuntime server(runtime);
  server.AddService(&service, "outreach.testing.v1.ProbeService", [&] { return (*db)->Ping(); });
  // Held Sleep calls go on once the drain has begun, so they are in flight during it.
  server.OnDrain([&] { service.ReleaseHeld(); });
  server.OnShutdown([&] { db->reset(); });
  if (absl::Status s = server.Start(); !s.ok()) {
    OUTREACH_LOG(kError, "start_failed").Kv("detail", s.message());
    return 1;
  }
  return server.RunUntilSignal();
}
