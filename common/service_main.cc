#include "common/service_main.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/audit.h"
#include "common/audit_service.h"
#include "common/client.h"
#include "common/config.h"
#include "common/log.h"
#include "common/publisher.h"
#include "common/store_support.h"
#include "grpcpp/create_channel.h"

namespace outreach {

void RegisterOutboxGauges(MetricsRegistry& metrics, db::Database* db, const Clock* clock) {
  metrics.DefineGauge("outreach_outbox_backlog", "Outbox events not yet delivered to metrics.");
  metrics.DefineGauge("outreach_outbox_oldest_unsent_age_seconds",
                      "Age of the oldest undelivered outbox event (0 when none).");
  metrics.AddRefresher([db, clock](MetricsRegistry& m) {
    OutboxStats stats;
    absl::Status s = db->Read([&](db::Connection& c) -> absl::Status {
      auto got = Outbox::Stats(c);
      if (!got.ok()) return got.status();
      stats = *got;
      return absl::OkStatus();
    });
    if (!s.ok()) return;  // keep the last values; the health check reports the store
    m.Set("outreach_outbox_backlog", {}, static_cast<double>(stats.backlog));
    m.Set("outreach_outbox_oldest_unsent_age_seconds", {},
          stats.oldest_unsent ? absl::ToDoubleSeconds(clock->Now() - *stats.oldest_unsent) : 0);
  });
}

namespace {

// The settings every service binary has, parsed (exits 2 with one line on a bad value).
struct MainSettings {
  RuntimeConfig runtime;
  std::string db_path;
  std::string db_url;
  std::string db_password;
  std::string page_token_key;
  std::string metrics_address = "off";
  bool outbox_wakeup = true;
  absl::Duration audit_retention;
};

// DPA 2018 s62 sets no period. 400 days keeps a full year of records for the annual audit and
// the complaints and subject-access requests that arrive after it, with a month to spare; a
// force with another policy sets its own (0 keeps records for ever).
constexpr absl::Duration kDefaultAuditRetention = absl::Hours(24 * 400);

MainSettings ParseMainSettings(int argc, char** argv, const ServiceSpec& spec) {
  MainSettings out;
  out.runtime.service_name = spec.name;
  std::string page_token_key_file;
  ConfigParser parser(spec.name);
  RegisterRuntimeSettings(parser, &out.runtime, spec.default_grpc_address,
                          spec.default_http_address);
  parser.String("db-path", &out.db_path, absl::StrCat(spec.name, ".db"),
                "SQLite file of this service's store (created and migrated at start-up)",
                ValidateNotEmpty);
  parser.String("db-url", &out.db_url, std::string(""),
                "PostgreSQL URL of this service's store (postgresql://user@host:port/db?"
                "sslmode=verify-full); when set it wins over --db-path, and several replicas may "
                "share it",
                [](const std::string& v) -> absl::Status {
                  return v.empty() || db::IsPostgresUrl(v)
                             ? absl::OkStatus()
                             : absl::InvalidArgumentError("must start with postgresql://");
                });
  parser.SecretFile("db-password-file", &out.db_password,
                    "file holding the PostgreSQL password (keep it out of --db-url)");
  parser.String("page-token-key", &out.page_token_key, std::string(""),
                "secret that signs page tokens; replicas must share it (random when empty)");
  parser.SecretFile("page-token-key-file", &page_token_key_file,
                    "file holding the page-token secret (wins over --page-token-key)");
  parser.Duration("audit-retention", &out.audit_retention, kDefaultAuditRetention,
                  absl::ZeroDuration(), absl::Hours(24 * 366 * 100),
                  "how long audit records are kept before the hourly prune deletes them "
                  "(0 keeps them for ever)");
  if (spec.register_settings) spec.register_settings(parser);
  if (spec.make_event_sink) {
    parser.String("metrics-address", &out.metrics_address, std::string("off"),
                  "host:port of the metrics service that receives this service's outbox events "
                  "(ipv4:h1:p1,h2:p2 balances over replicas), or \"off\" (events wait in the "
                  "outbox until a publisher delivers them)",
                  [](const std::string& v) -> absl::Status {
                    return v == "off" ? absl::OkStatus() : ValidateServiceTarget(v);
                  });
    parser.Bool("outbox-wakeup", &out.outbox_wakeup, true,
                "wake the outbox publisher as soon as a write that stored an event commits "
                "(false: it only polls the outbox every 100 ms, adding up to that to how fresh "
                "the dashboard is)");
  }
  ParseConfigOrExit(parser, argc, argv);
  if (!page_token_key_file.empty()) out.page_token_key = page_token_key_file;
  if (out.page_token_key.empty()) {
    OUTREACH_LOG(kInfo, "page_token_key_generated")
        .Kv("note", "tokens are valid only on this process; set --page-token-key for replicas");
  }
  return out;
}

// Retention, hourly and at start, until stopped: the API promises request_id replays for at
// least 7 days, so the ledger forgets them after 8; audit records go after `audit_retention`
// (never when zero).
class RetentionPruner {
 public:
  RetentionPruner(db::Database* db, std::string service, absl::Duration audit_retention)
      : thread_([this, db, service = std::move(service), audit_retention] {
          do {
            const absl::Time now = SystemClock::Get()->Now();
            absl::Status s = db->Write([&](db::Connection& c) {
              return RequestLedger::Forget(c, now - absl::Hours(24 * 8));
            });
            if (!s.ok()) {
              OUTREACH_LOG(kWarn, "request_ledger_prune_failed")
                  .Kv("service", service)
                  .Kv("detail", s.message());
            }
            if (audit_retention > absl::ZeroDuration())
              PruneAudit(db, service, now - audit_retention);
          } while (!stop_.WaitForNotificationWithTimeout(absl::Hours(1)));
        }) {}
  void Stop() {
    stop_.Notify();
    thread_.join();
  }

 private:
  static void PruneAudit(db::Database* db, const std::string& service, absl::Time before) {
    int64_t pruned = 0;
    absl::Status s = db->Write([&](db::Connection& c) -> absl::Status {
      absl::StatusOr<int64_t> n = audit::Prune(c, before);
      if (!n.ok()) return n.status();
      pruned = *n;
      return absl::OkStatus();
    });
    if (!s.ok()) {
      // DATA_LOSS here means the old records do not verify: kept as evidence, said loudly.
      OUTREACH_LOG(kError, "audit_prune_failed").Kv("service", service).Kv("detail", s.message());
    } else if (pruned > 0) {
      OUTREACH_LOG(kInfo, "audit_pruned").Kv("service", service).Kv("records", pruned);
    }
  }

  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace

int RunServiceMain(int argc, char** argv, const ServiceSpec& spec) {
  BlockTerminationSignals();
#ifdef NDEBUG
  // Debian's Abseil is built with its mutex deadlock detector on, which records every lock
  // order in a global graph: 3-5 % of a cached read's CPU (bench/README.md "read_bench"). The
  // sanitizer and debug builds (no NDEBUG) keep it, so the tests still catch lock-order cycles.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  MainSettings settings = ParseMainSettings(argc, argv, spec);
  db::Options db_options;
  db_options.password = settings.db_password;
  const std::string& location = settings.db_url.empty() ? settings.db_path : settings.db_url;
  auto db = db::Database::Open(location, spec.schema, db_options);
  if (!db.ok()) {
    OUTREACH_LOG(kError, "store_open_failed")
        .Kv("service", spec.name)
        .Kv("backend", settings.db_url.empty() ? "sqlite" : "postgresql")
        .Kv("detail", db.status().message());
    return 1;
  }
  PageTokenCodec page_tokens(settings.page_token_key);
  ServerRuntime server(settings.runtime);
  // Registered first so it runs last: hooks the service adds (background work) stop before the
  // store closes.
  server.OnShutdown([&db] { db->reset(); });
  ServiceContext context{db->get(), SystemClock::Get(), &page_tokens, &server.metrics(), &server};
  std::unique_ptr<grpc::Service> service = spec.make_service(context);
  if (spec.make_event_sink) RegisterOutboxGauges(server.metrics(), db->get(), SystemClock::Get());
  server.AddService(service.get(), spec.health_name, [&db] { return (*db)->Ping(); });
  // Every service serves the audit log of its own store.
  audit::AuditServiceImpl audit_service(context);
  server.AddService(&audit_service, std::string(audit::kHealthName),
                    [&db] { return (*db)->Ping(); });
  server.SetAuditDatabase(db->get());
  std::unique_ptr<OutboxPublisher> publisher;
  if (settings.metrics_address != "off") {
    // Mutual TLS: metrics knows this service by the certificate it presents.
    auto credentials = server.ChannelCredentialsFor(settings.metrics_address);
    if (!credentials.ok()) {
      OUTREACH_LOG(kError, "config")
          .Kv("setting", "metrics-address")
          .Kv("detail", credentials.status().message());
      return 2;
    }
    PublisherOptions options;
    options.source = spec.name;
    options.wake_on_commit = settings.outbox_wakeup;
    publisher = std::make_unique<OutboxPublisher>(
        db->get(), SystemClock::Get(), &server.metrics(),
        spec.make_event_sink(grpc::CreateCustomChannel(
            settings.metrics_address, *credentials, ChannelArgumentsFor(settings.metrics_address))),
        options);
    // Hooks run in reverse: the publisher stops before the store closes.
    server.OnShutdown([&publisher] { publisher->Stop(); });
  }
  if (absl::Status s = server.Start(); !s.ok()) {
    OUTREACH_LOG(kError, "start_failed").Kv("service", spec.name).Kv("detail", s.message());
    // A setting that cannot work (plaintext off loopback, a missing certificate or policy) is a
    // usage error, like a bad flag: exit 2. Anything else (a port in use) is 1.
    return absl::IsInvalidArgument(s) ? 2 : 1;
  }
  RetentionPruner pruner(db->get(), spec.name, settings.audit_retention);
  server.OnShutdown([&pruner] { pruner.Stop(); });
  if (publisher != nullptr) {
    publisher->Start();
    OUTREACH_LOG(kInfo, "outbox_publisher_started").Kv("metrics_address", settings.metrics_address);
  }
  return server.RunUntilSignal();
}

}  // namespace outreach
