#include "common/server.h"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/client.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/security/interceptor.h"
#include "common/security/tls.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_interceptor.h"

namespace outreach {
namespace {

constexpr char kCalls[] = "outreach_rpc_calls_total";
constexpr char kLatency[] = "outreach_rpc_duration_seconds";
constexpr char kServing[] = "outreach_serving";

// gRPC and absl share the canonical code numbers, so absl's names serve as metric labels.
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// The ErrorInfo domain of a method: its proto package ("/outreach.workshops.v1.X/Y" →
// "outreach.workshops.v1").
std::string DomainOf(absl::string_view method) {
  absl::string_view service = method.substr(0, method.rfind('/'));
  if (absl::ConsumePrefix(&service, "/")) {
    const size_t dot = service.rfind('.');
    if (dot != absl::string_view::npos) return std::string(service.substr(0, dot));
  }
  return "outreach";
}

// gRPC answers a request that does not parse as its message (invalid UTF-8 in a string field,
// truncated or foreign bytes) with INTERNAL and an empty message before any handler runs. That
// is the caller's fault, not the server's: it becomes INVALID_ARGUMENT with a field violation,
// so it neither pages the operator (server-fault alerts watch INTERNAL) nor hides a real fault.
// Our handlers never answer INTERNAL without a message and ErrorInfo details.
bool IsUnparsedRequest(const grpc::Status& status) {
  return status.error_code() == grpc::INTERNAL && status.error_details().empty() &&
         (status.error_message().empty() || status.error_message() == "No payload");
}

grpc::Status MalformedRequest(absl::string_view method) {
  return ToGrpcStatus(UnreadableRequest(), DomainOf(method), method);
}

// libprotobuf reports a request with invalid UTF-8 as an unstructured "[libprotobuf ERROR]" line
// on stderr. Such lines are about caller input, so they become our key=value lines at debug
// level (fatal ones still abort in libprotobuf after this returns).
void ProtobufLogLine(google::protobuf::LogLevel level, const char* filename, int line,
                     const std::string& message) {
  const LogLevel ours =
      level >= google::protobuf::LOGLEVEL_FATAL ? LogLevel::kError : LogLevel::kDebug;
  if (!LogEnabled(ours)) return;
  LogLine(ours, "protobuf").Kv("file", filename).Kv("line", line).Kv("detail", message);
}

// Counts, times and logs every call. Lives in an interceptor so handlers stay free of it.
class ObservingInterceptor : public grpc::experimental::Interceptor {
 public:
  ObservingInterceptor(grpc::experimental::ServerRpcInfo* info, MetricsRegistry* metrics)
      : method_(info->method() != nullptr ? info->method() : "unknown"),
        metrics_(metrics),
        start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (IsUnparsedRequest(status)) {
        status = MalformedRequest(method_);
        methods->ModifySendStatus(status);
      }
      const absl::Duration latency = absl::Now() - start_;
      const std::string code = CodeName(status.error_code());
      metrics_->Add(kCalls, {{"method", method_}, {"code", code}});
      metrics_->Observe(kLatency, {{"method", method_}}, absl::ToDoubleSeconds(latency));
      const bool server_fault =
          status.error_code() == grpc::INTERNAL || status.error_code() == grpc::UNKNOWN ||
          status.error_code() == grpc::UNAVAILABLE || status.error_code() == grpc::DATA_LOSS;
      const LogLevel level = status.ok()    ? LogLevel::kDebug
                             : server_fault ? LogLevel::kWarn
                                            : LogLevel::kInfo;
      if (LogEnabled(level)) {
        LogLine(level, "rpc").Kv("method", method_).Kv("code", code).Kv("latency", latency);
      }
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  MetricsRegistry* metrics_;
  absl::Time start_;
};

class ObservingInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ObservingInterceptorFactory(MetricsRegistry* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new ObservingInterceptor(info, metrics_);
  }

 private:
  MetricsRegistry* metrics_;
};

// Bounds of the monitor port. Its callers are a Prometheus scrape, the container HEALTHCHECK
// and an operator's curl: small GETs without a body. Debian's cpp-httplib (0.11) times out each
// read on its own, so a caller that trickles a header line every few seconds kept one of its 8
// fixed workers for ever (8 such sockets silenced /healthz), and it took any number of headers.
constexpr size_t kHttpMaxWorkers = 128;  // connections served at once; later ones wait their turn
constexpr absl::Duration kHttpRequestDeadline = absl::Seconds(5);  // request line + headers
constexpr absl::Duration kHttpWriteDeadline = absl::Seconds(10);   // one write of a response
constexpr absl::Duration kHttpKeepAlive = absl::Seconds(5);        // idle wait for the next request
constexpr size_t kHttpKeepAliveRequests = 10;                      // requests per connection
constexpr size_t kHttpMaxRequestBytes = size_t{16} * 1024;  // request line, headers and any body
constexpr int kHttpListenBacklog = 128;  // connections the kernel queues before we accept them
constexpr size_t kHttpMaxHeaders = 100;  // more → 431 (counts httplib's REMOTE_ADDR/PORT too)

int PollMillis(absl::Duration left) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(left), 0, 200));
}

// Starts a worker when a connection finds none idle, up to a cap, and keeps it for the next;
// cpp-httplib's ThreadPool has a fixed max(8, cores − 1) that a few slow callers can fill.
class GrowingPool : public httplib::TaskQueue {
 public:
  explicit GrowingPool(size_t max_workers) : max_workers_(max_workers) {}

  // enqueue and shutdown both run on httplib's accepting thread, the only one touching workers_.
  void enqueue(std::function<void()> fn) override {
    absl::MutexLock lock(&mu_);
    jobs_.push_back(std::move(fn));
    if (jobs_.size() > idle_ && workers_.size() < max_workers_) {
      workers_.emplace_back([this] { Work(); });
    }
  }

  void shutdown() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    for (auto& worker : workers_) worker.join();
  }

 private:
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !jobs_.empty(); }

  void Work() {
    for (;;) {
      std::function<void()> job;
      {
        absl::MutexLock lock(&mu_);
        ++idle_;
        mu_.Await(absl::Condition(this, &GrowingPool::Ready));
        --idle_;
        if (jobs_.empty()) return;  // stopping, and every accepted connection was served
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  const size_t max_workers_;
  std::vector<std::thread> workers_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  size_t idle_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

// A connection's socket for httplib's request parser, with what its own stream lacks: a
// deadline for the whole request and a byte budget. Past either, reads fail and httplib
// answers 400 and closes, so a slow or endless header block costs a bounded time and memory.
class BoundedStream : public httplib::Stream {
 public:
  explicit BoundedStream(int fd) : fd_(fd) {}

  void BeginRequest() {
    deadline_ = absl::Now() + kHttpRequestDeadline;
    budget_ = kHttpMaxRequestBytes;
  }
  bool HasBuffered() const { return begin_ < end_; }
  // A read failed (deadline, budget, peer gone): the request was cut short, so whatever follows
  // on the connection is not a request boundary and it must close.
  bool broken() const { return broken_; }

  bool is_readable() const override { return HasBuffered() || WaitFor(POLLIN, deadline_); }
  bool is_writable() const override { return WaitFor(POLLOUT, absl::Now() + kHttpWriteDeadline); }

  ssize_t read(char* ptr, size_t size) override {
    if (budget_ == 0) return Broken();
    if (!HasBuffered()) {
      if (!WaitFor(POLLIN, deadline_)) return Broken();
      const ssize_t n = recv(fd_, buffer_, sizeof(buffer_), MSG_DONTWAIT);
      if (n <= 0) return Broken();
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    const size_t n = std::min({size, end_ - begin_, budget_});
    std::copy_n(buffer_ + begin_, n, ptr);
    begin_ += n;
    budget_ -= n;
    return static_cast<ssize_t>(n);
  }

  // Writes all of it or fails: httplib treats a short write of a body as success.
  ssize_t write(const char* ptr, size_t size) override {
    const absl::Time deadline = absl::Now() + kHttpWriteDeadline;
    size_t sent = 0;
    while (sent < size) {
      if (!WaitFor(POLLOUT, deadline)) return -1;
      const ssize_t n = send(fd_, ptr + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
      if (n > 0) sent += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    Address(&getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    Address(&getsockname, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  ssize_t Broken() {
    broken_ = true;
    return -1;
  }

  // True once `events` are ready on the socket; false at the deadline or on a socket error.
  bool WaitFor(short events, absl::Time deadline) const {
    for (;;) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd p{fd_, events, 0};
      const int ready = poll(&p, 1, std::max(1, PollMillis(left)));
      if (ready < 0 && errno != EINTR) return false;
      if (ready > 0) return (p.revents & events) != 0;
    }
  }

  void Address(int (*query)(int, sockaddr*, socklen_t*), std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (query(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];
    if (getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
      ip = host;
      port = std::atoi(serv);
    }
  }

  const int fd_;
  char buffer_[4096];
  size_t begin_ = 0;
  size_t end_ = 0;
  absl::Time deadline_ = absl::InfinitePast();
  size_t budget_ = 0;
  bool broken_ = false;
};

// httplib::Server whose connections run on BoundedStream. process_and_close_socket is the
// library's per-connection hook (a private virtual: overriding it is allowed, calling the
// base is not), so the keep-alive loop is ours; parsing and routing stay httplib's.
class MonitorHttpServer : public httplib::Server {
 public:
  MonitorHttpServer() {
    new_task_queue = [] { return new GrowingPool(kHttpMaxWorkers); };
    set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      if (req.headers.size() <= kHttpMaxHeaders) return HandlerResponse::Unhandled;
      res.status = 431;
      res.set_content("too many header fields\n", "text/plain");
      return HandlerResponse::Handled;
    });
  }

  // Binds (port 0 picks one) and returns the port, or -1. httplib listens with a backlog of 5,
  // so a burst of connections (a scrape, probes, a slow caller's sockets) had SYNs dropped and
  // retried a second or more later; listen() again on the bound socket widens the queue.
  int Bind(const std::string& host, int port) {
    const int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
    if (bound > 0 && ::listen(svr_sock_, kHttpListenBacklog) != 0) return -1;
    return bound;
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    BoundedStream stream(sock);
    bool ok = false;
    for (size_t served = 0; served < kHttpKeepAliveRequests && NextRequestArrives(stream);
         ++served) {
      stream.BeginRequest();
      bool closed = false;
      ok = process_request(stream, served + 1 == kHttpKeepAliveRequests, closed, nullptr);
      if (!ok || closed || stream.broken()) break;
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  // Waits for the next request's first byte for up to kHttpKeepAlive, in short polls so that
  // stop() ends idle connections promptly.
  bool NextRequestArrives(const BoundedStream& stream) const {
    if (stream.HasBuffered()) return true;
    const absl::Time deadline = absl::Now() + kHttpKeepAlive;
    while (svr_sock_ != INVALID_SOCKET) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd p{stream.socket(), POLLIN, 0};
      const int ready = poll(&p, 1, std::max(1, PollMillis(left)));
      if (ready < 0 && errno != EINTR) return false;
      if (ready > 0) return true;
    }
    return false;
  }
};

// The gRPC listener's credentials: TLS from files, or plaintext on a loopback address only.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ListenCredentials(
    const RuntimeConfig& config) {
  const security::SecuritySettings& s = config.security;
  if (s.plaintext) {
    if (!security::IsLoopbackAddress(config.grpc_address)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--plaintext is for development on this host only, and ",
                       config.grpc_address, " is not a loopback address: give TLS files"));
    }
    return grpc::InsecureServerCredentials();
  }
  return security::ServerCredentials(security::TlsFiles{
      s.tls_cert_file, s.tls_key_file, s.tls_ca_file, s.tls_client_auth == "require"});
}

}  // namespace

void RegisterRuntimeSettings(ConfigParser& parser, RuntimeConfig* config,
                             const std::string& default_grpc_address,
                             const std::string& default_http_address) {
  parser.String("grpc-address", &config->grpc_address, default_grpc_address,
                "host:port the gRPC server listens on (port 0 picks a free port)",
                ValidateHostPort);
  parser.String("http-address", &config->http_address, default_http_address,
                "host:port for /metrics and /healthz, or \"off\"",
                [](const std::string& v) -> absl::Status {
                  return v == "off" ? absl::OkStatus() : ValidateHostPort(v);
                });
  parser.Duration("drain-timeout", &config->drain_timeout, absl::Seconds(10), absl::ZeroDuration(),
                  absl::Minutes(10),
                  "after SIGTERM, how long in-flight calls may run before they are cancelled");
  parser.Duration("health-interval", &config->health_interval, absl::Seconds(2),
                  absl::Milliseconds(100), absl::Minutes(5),
                  "how often the store is checked for grpc.health.v1");
  parser.Int("max-threads", &config->max_threads, 32, 4, 1024,
             "handler threads; calls beyond them are refused with RESOURCE_EXHAUSTED");
  parser.Int("memory-quota-mib", &config->memory_quota_mib, 96, 16, 65536,
             "memory gRPC may hold for call buffers (MiB), kept below the container limit");
  parser.Int("max-concurrent-streams", &config->max_concurrent_streams, 64, 1, 10000,
             "concurrent calls per client connection");
  security::RegisterSecuritySettings(parser, &config->security, kDefaultPolicyFile);
  parser.String("log-level", &config->log_level, std::string("info"), "debug, info, warn or error",
                [](const std::string& v) -> absl::Status {
                  LogLevel level;
                  if (!ParseLogLevel(v, &level)) {
                    return absl::InvalidArgumentError(
                        absl::StrCat("\"", v, "\" is not one of debug, info, warn, error"));
                  }
                  return absl::OkStatus();
                });
}

ServerRuntime::ServerRuntime(RuntimeConfig config)
    : config_(std::move(config)), metrics_(std::make_unique<MetricsRegistry>()) {
  LogLevel level;
  if (ParseLogLevel(config_.log_level, &level)) SetLogLevel(level);
  metrics_->DefineCounter(kCalls, "gRPC calls handled, by method and status code.");
  metrics_->DefineHistogram(
      kLatency, "gRPC call latency in seconds, by method.",
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  metrics_->DefineGauge(kServing, "1 while the named service reports SERVING, else 0.");
}

ServerRuntime::~ServerRuntime() { Shutdown(); }

void ServerRuntime::AddHttpRoute(std::string path, HttpHandler handler, HttpAccess access) {
  routes_.push_back({std::move(path), std::move(handler), std::move(access)});
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ServerRuntime::ChannelCredentialsFor(
    const std::string& target) const {
  const security::SecuritySettings& s = config_.security;
  return ClientCredentials(
      target, ClientSecurity{s.plaintext, s.tls_ca_file, s.tls_cert_file, s.tls_key_file, "", ""});
}

// The caller of a guarded HTTP route: a bearer token allowed to call the route's method for the
// force in its `force` parameter. Returns the response to send instead, or nullopt to serve.
std::optional<HttpResponse> ServerRuntime::RefuseHttp(const httplib::Request& req,
                                                      const HttpAccess& access) const {
  if (access.method.empty()) return std::nullopt;
  auto refuse = [](int status, absl::string_view reason, absl::string_view message) {
    HttpResponse out;
    out.status = status;
    out.content_type = "application/json";
    out.body = absl::StrCat("{\"error\":{\"code\":", status, ",\"reason\":\"", reason,
                            "\",\"message\":\"", message, "\"}}\n");
    return out;
  };
  const std::string authorization = req.get_header_value("Authorization");
  absl::string_view header = authorization;
  if (!absl::ConsumePrefix(&header, "Bearer ")) {
    return refuse(401, "CREDENTIALS_MISSING", "send Authorization: Bearer <token>");
  }
  auto caller = authorizer_->AuthenticateToken(header, req.remote_addr);
  if (!caller.ok()) return refuse(401, ErrorReason(caller.status()), "the token was refused");
  absl::Status allowed = authorizer_->CheckMethod(*caller, access.method, nullptr);
  if (allowed.ok()) {
    security::RequestScope scope;
    if (req.has_param("force")) scope.forces.push_back(req.get_param_value("force"));
    allowed = authorizer_->CheckScope(*caller, scope);
  }
  if (!allowed.ok()) return refuse(403, ErrorReason(allowed), "the caller may not read this");
  return std::nullopt;
}

void ServerRuntime::AddService(grpc::Service* service, std::string health_name, HealthCheck check) {
  services_.push_back({service, std::move(health_name), std::move(check)});
}

void ServerRuntime::OnDrain(std::function<void()> hook) { drain_hooks_.push_back(std::move(hook)); }

void ServerRuntime::OnShutdown(std::function<void()> hook) {
  shutdown_hooks_.push_back(std::move(hook));
}

// The monitor port: /metrics, /healthz and the routes services added (after the gRPC server).
absl::Status ServerRuntime::StartHttp() {
  if (config_.http_address == "off") return absl::OkStatus();
  std::string host;
  int port = 0;
  if (!SplitHostPort(config_.http_address, &host, &port)) {
    return absl::InvalidArgumentError("bad http address");
  }
  http_ = std::make_unique<MonitorHttpServer>();
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const bool ok = serving_.load() && !draining_.load();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "SERVING\n" : "NOT_SERVING\n", "text/plain");
  });
  for (const auto& route : routes_) {
    http_->Get(route.path, [this, route](const httplib::Request& req, httplib::Response& res) {
      std::optional<HttpResponse> refused = RefuseHttp(req, route.access);
      HttpResponse out = refused.has_value() ? *std::move(refused) : route.handler(req.params);
      res.status = out.status;
      for (const auto& [name, value] : out.headers) res.set_header(name, value);
      res.set_content(out.body, out.content_type.c_str());
    });
  }
  http_port_ = static_cast<MonitorHttpServer&>(*http_).Bind(host, port);
  if (http_port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ", config_.http_address));
  }
  http_thread_ = std::thread([this] { http_->listen_after_bind(); });
  return absl::OkStatus();
}

absl::Status ServerRuntime::Start() {
  if (started_) return absl::FailedPreconditionError("already started");
  started_ = true;
  // Once per process, before the first server of it runs (SetLogHandler is not thread-safe).
  static const bool protobuf_logs_routed =
      (google::protobuf::SetLogHandler(&ProtobufLogLine), true);
  (void)protobuf_logs_routed;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  // Who may call what (tokens, certificates, the policy): refuse to start without it.
  static const SystemClock system_clock;
  auto authorizer = security::Authorizer::Create(config_.security, &system_clock);
  if (!authorizer.ok()) return authorizer.status();
  authorizer_ = std::move(*authorizer);
  auto credentials = ListenCredentials(config_);
  if (!credentials.ok()) return credentials.status();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.grpc_address, *credentials, &grpc_port_);
  for (const auto& s : services_) builder.RegisterService(s.service);
  // Keepalive: find dead peers within ~40 s, tolerate clients that ping every 10 s or slower.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 3);
  builder.SetMaxReceiveMessageSize(8 * 1024 * 1024);
  grpc::ResourceQuota quota("outreach-" + config_.service_name);
  quota.Resize(static_cast<size_t>(config_.memory_quota_mib) * 1024 * 1024);
  quota.SetMaxThreads(static_cast<int>(config_.max_threads));
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(config_.max_concurrent_streams));
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<ObservingInterceptorFactory>(metrics_.get()));
  factories.push_back(security::MakeSecurityInterceptor(authorizer_.get(), audit_db_));
  builder.experimental().SetInterceptorCreators(std::move(factories));

  server_ = builder.BuildAndStart();
  if (server_ == nullptr || grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", config_.grpc_address));
  }
  RunChecks();

  if (absl::Status http = StartHttp(); !http.ok()) {
    server_->Shutdown(std::chrono::system_clock::now());
    return http;
  }
  health_thread_ = std::thread([this] { HealthLoop(); });

  OUTREACH_LOG(kInfo, "server_started")
      .Kv("service", config_.service_name)
      .Kv("grpc_address", config_.grpc_address)
      .Kv("grpc_port", grpc_port_)
      .Kv("http_port", http_port_)
      .Kv("serving", serving_.load() ? "true" : "false");
  return absl::OkStatus();
}

void ServerRuntime::RunChecks() {
  if (draining_.load() || server_ == nullptr) return;
  bool all = true;
  for (const auto& s : services_) {
    absl::Status status = s.check ? s.check() : absl::OkStatus();
    const bool ok = status.ok();
    if (!ok) {
      OUTREACH_LOG(kWarn, "health_check_failed")
          .Kv("service", s.health_name)
          .Kv("detail", status.message());
    }
    all = all && ok;
    if (draining_.load()) return;
    server_->GetHealthCheckService()->SetServingStatus(s.health_name, ok);
    metrics_->Set(kServing, {{"service", s.health_name}}, ok ? 1 : 0);
  }
  if (draining_.load()) return;
  server_->GetHealthCheckService()->SetServingStatus("", all);
  serving_.store(all);
}

void ServerRuntime::HealthLoop() {
  while (!stop_health_.WaitForNotificationWithTimeout(config_.health_interval)) RunChecks();
}

void ServerRuntime::Shutdown() {
  absl::MutexLock lock(&shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ != nullptr) {
    const absl::Time begin = absl::Now();
    draining_.store(true);
    // Tell load balancers first, then refuse new calls and let in-flight ones finish.
    server_->GetHealthCheckService()->SetServingStatus(false);
    serving_.store(false);
    OUTREACH_LOG(kInfo, "draining")
        .Kv("service", config_.service_name)
        .Kv("deadline", config_.drain_timeout);
    stop_health_.Notify();
    if (health_thread_.joinable()) health_thread_.join();
    for (auto& hook : drain_hooks_) hook();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + config_.drain_timeout));
    server_->Wait();
    if (http_ != nullptr) {
      http_->stop();
      if (http_thread_.joinable()) http_thread_.join();
    }
    for (auto it = shutdown_hooks_.rbegin(); it != shutdown_hooks_.rend(); ++it) (*it)();
    OUTREACH_LOG(kInfo, "stopped")
        .Kv("service", config_.service_name)
        .Kv("drain", absl::Now() - begin);
  } else if (!stop_health_.HasBeenNotified()) {
    stop_health_.Notify();
  }
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer that vanishes mid-write must not kill the process.
  signal(SIGPIPE, SIG_IGN);
}

int ServerRuntime::RunUntilSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal_number = 0;
  sigwait(&set, &signal_number);
  OUTREACH_LOG(kInfo, "signal").Kv("signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  Shutdown();
  return 0;
}

}  // namespace outreach
