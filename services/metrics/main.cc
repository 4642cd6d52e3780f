// The metrics binary: RunServiceMain's wiring plus the Redis cache settings, the /dashboard
// JSON route and KPI gauges on the monitor port, and an early end of WatchDashboard streams on
// drain.
#include <csignal>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/log.h"
#include "common/pagination.h"
#include "common/server.h"
#include "common/service_main.h"
#include "services/metrics/metrics_service.h"

int main(int argc, char** argv) {
  using namespace outreach;  // NOLINT
  BlockTerminationSignals();
  const ServiceSpec spec = metrics::MetricsServiceSpec();
  RuntimeConfig runtime;
  runtime.service_name = spec.name;
  std::string db_path;
  std::string page_token_key;
  std::string page_token_key_file;
  metrics::CacheOptions cache;
  int64_t near_capacity = 4096;
  bool near_cache = true;
  ConfigParser parser(spec.name);
  RegisterRuntimeSettings(parser, &runtime, spec.default_grpc_address, spec.default_http_address);
  parser.String("db-path", &db_path, absl::StrCat(spec.name, ".db"),
                "SQLite file of this service's store (created and migrated at start-up)",
                ValidateNotEmpty);
  parser.String("page-token-key", &page_token_key, std::string(""),
                "secret that signs page tokens; replicas must share it (random when empty)");
  parser.String("page-token-key-file", &page_token_key_file, std::string(""),
                "file holding the page-token secret (wins over --page-token-key)");
  parser.String(
      "redis-address", &cache.redis_address, std::string("off"),
      "host:port of the Redis that caches dashboards and series, or \"off\"",
      [](const std::string& v) { return v == "off" ? absl::OkStatus() : ValidateHostPort(v); });
  parser.Duration("cache-ttl", &cache.ttl, absl::Seconds(60), absl::Milliseconds(100),
                  absl::Hours(24), "lifetime of every cached reply (Redis and near-cache)");
  parser.Duration("redis-timeout", &cache.command_timeout, absl::Milliseconds(100),
                  absl::Milliseconds(5), absl::Seconds(5),
                  "connect and command timeout of Redis calls (then the store answers)");
  parser.Bool("near-cache", &near_cache, true,
              "keep ready replies in process, invalidated by Redis pub/sub");
  parser.Int("near-cache-entries", &near_capacity, 4096, 16, 1000000,
             "cached replies kept in process per force");
  ParseConfigOrExit(parser, argc, argv);
  if (!page_token_key_file.empty()) page_token_key = page_token_key_file;
  cache.connect_timeout = cache.command_timeout;
  cache.near_cache = near_cache;
  cache.near_capacity = static_cast<size_t>(near_capacity);

  auto db = db::Database::Open(db_path, spec.schema);
  if (!db.ok()) {
    OUTREACH_LOG(kError, "store_open_failed")
        .Kv("service", spec.name)
        .Kv("path", db_path)
        .Kv("detail", db.status().message());
    return 1;
  }
  PageTokenCodec page_tokens(page_token_key);
  ServerRuntime server(runtime);
  ServiceContext context{db->get(), SystemClock::Get(), &page_tokens, &server.metrics()};
  std::unique_ptr<metrics::MetricsServiceImpl> service =
      metrics::MakeMetricsService(context, cache);
  OUTREACH_LOG(kInfo, "cache_config")
      .Kv("redis", cache.redis_address)
      .Kv("ttl", cache.ttl)
      .Kv("near_cache", near_cache ? "on" : "off");
  service->RegisterHttp(server);
  server.AddService(service.get(), spec.health_name, [&db] { return (*db)->Ping(); });
  server.OnShutdown([&db] { db->reset(); });
  if (absl::Status s = server.Start(); !s.ok()) {
    OUTREACH_LOG(kError, "start_failed").Kv("service", spec.name).Kv("detail", s.message());
    return 1;
  }
  // As ServerRuntime::RunUntilSignal, but streams are told to end before the drain starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal_number = 0;
  sigwait(&set, &signal_number);
  OUTREACH_LOG(kInfo, "signal").Kv("signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  service->BeginDrain();
  server.Shutdown();
  service.reset();
  return 0;
}
