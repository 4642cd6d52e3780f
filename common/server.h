#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/db.h"
#include "common/metrics.h"
#include "common/security/authorizer.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server.h"

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace outreach {

// Settings every server shares. RegisterRuntimeSettings declares them on a ConfigParser:
//   --grpc-address    host:port for gRPC (port 0 picks a free port; the chosen one is logged)
//   --http-address    host:port for /metrics and /healthz ("off" disables)
//   --drain-timeout   how long in-flight calls may run after SIGTERM
//   --health-interval how often the store check behind grpc.health.v1 runs
//   --log-level       debug|info|warn|error
// plus the security settings of common/security/authorizer.h (TLS files, tokens, policy).
struct RuntimeConfig {
  std::string service_name;  // e.g. "workshops": labels logs and metrics
  std::string grpc_address = "127.0.0.1:0";
  std::string http_address = "off";
  absl::Duration drain_timeout = absl::Seconds(10);
  absl::Duration health_interval = absl::Seconds(2);
  std::string log_level = "info";
  // What one process can be made to hold (reliability: no OOM kill under a burst of large
  // calls). Calls beyond the thread bound wait briefly and are then refused with
  // RESOURCE_EXHAUSTED; gRPC's buffers are held within the memory quota.
  int64_t max_threads = 32;             // sync handler threads (each holds at most one call)
  int64_t memory_quota_mib = 96;        // gRPC's ResourceQuota for buffers
  int64_t max_concurrent_streams = 64;  // per connection
  // TLS, tokens and the policy (common/security/authorizer.h). The default listens with TLS and
  // allows nothing until a policy file is given.
  security::SecuritySettings security;
};
void RegisterRuntimeSettings(ConfigParser& parser, RuntimeConfig* config,
                             const std::string& default_grpc_address,
                             const std::string& default_http_address);

// The policy file the images ship (deploy/security/policy.json is copied there).
inline constexpr char kDefaultPolicyFile[] = "/etc/outreach/policy.json";

// A plain HTTP response for monitor routes.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; version=0.0.4";
  std::string body;
  // Extra response headers (name, value), e.g. Content-Security-Policy or Cache-Control; sent
  // as given, so values must not hold CR or LF. Content-Type and Content-Length are set from
  // the fields above.
  std::vector<std::pair<std::string, std::string>> headers;
};
using HttpHandler =
    std::function<HttpResponse(const std::multimap<std::string, std::string>& query)>;
// Who may use an HTTP route. kOpen: anyone who reaches the port (/healthz, /metrics: keep the
// port internal). kAsMethod: a bearer token whose roles may call `method` (a gRPC method in the
// policy) and whose forces include the route's `force` query parameter.
struct HttpAccess {
  std::string method;  // empty: open
};

// Reports whether a dependency answers (e.g. db::Database::Ping). Runs on the health thread.
using HealthCheck = std::function<absl::Status()>;

// The start-up, health, monitoring and shutdown every service binary shares:
//  - gRPC server with keepalive settings, grpc.health.v1 (one status per registered service
//    name plus "" for the whole server, driven by real checks), server reflection, and an
//    interceptor that counts calls by method and code, times them and logs them;
//  - an HTTP port (cpp-httplib) with /metrics (Prometheus text) and /healthz, with deadlines
//    and size limits per request so slow or flooding callers cannot starve it (server.cc);
//  - drain: health NOT_SERVING → Shutdown(now + drain_timeout) → on-shutdown hooks (close
//    stores) → return.
class ServerRuntime {
 public:
  explicit ServerRuntime(RuntimeConfig config);
  ~ServerRuntime();

  MetricsRegistry& metrics() { return *metrics_; }
  // Adds a GET route to the monitor port (before Start).
  void AddHttpRoute(std::string path, HttpHandler handler, HttpAccess access = {});
  // The database audit records are appended to (before Start); none: refusals and reads are
  // only logged.
  void SetAuditDatabase(db::Database* db) { audit_db_ = db; }
  // Credentials for this process's outgoing channels (publisher → metrics): TLS with its own
  // certificate as the client certificate, or plaintext when --plaintext (loopback targets only).
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
      const std::string& target) const;
  // Registers a service (before Start). `health_name` is its full proto name, e.g.
  // "outreach.workshops.v1.WorkshopsService"; `check` decides SERVING vs NOT_SERVING.
  void AddService(grpc::Service* service, std::string health_name, HealthCheck check);
  // Runs when a drain begins (health already NOT_SERVING, before Shutdown(deadline)), so a
  // service can end long-lived streams instead of waiting for the deadline to cancel them.
  void OnDrain(std::function<void()> hook);
  // Runs after the gRPC server has drained, in reverse order of registration.
  void OnShutdown(std::function<void()> hook);

  absl::Status Start();
  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }
  // True while every check passes (the "" health status).
  bool serving() const { return serving_.load(); }

  // Drains and stops; idempotent and safe to call from any thread but a gRPC handler.
  void Shutdown();
  // Blocks until SIGTERM or SIGINT, then Shutdown(). Returns the process exit code (0).
  // BlockTerminationSignals() must have run first, before any thread was started.
  int RunUntilSignal();

 private:
  absl::Status StartHttp();
  void HealthLoop();
  void RunChecks();
  std::optional<HttpResponse> RefuseHttp(const httplib::Request& req,
                                         const HttpAccess& access) const;

  RuntimeConfig config_;
  std::unique_ptr<MetricsRegistry> metrics_;
  std::unique_ptr<security::Authorizer> authorizer_;
  db::Database* audit_db_ = nullptr;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<httplib::Server> http_;
  std::thread http_thread_;
  std::thread health_thread_;
  absl::Notification stop_health_;
  struct Registered {
    grpc::Service* service;
    std::string health_name;
    HealthCheck check;
  };
  std::vector<Registered> services_;
  struct Route {
    std::string path;
    HttpHandler handler;
    HttpAccess access;
  };
  std::vector<Route> routes_;
  std::vector<std::function<void()>> drain_hooks_;
  std::vector<std::function<void()>> shutdown_hooks_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  std::atomic<bool> serving_{false};
  std::atomic<bool> draining_{false};
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  bool started_ = false;
};

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts later, so that
// RunUntilSignal can wait for them synchronously. Call first thing in main().
void BlockTerminationSignals();

}  // namespace outreach
