#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/audit_service.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/pagination.h"
#include "common/server.h"
#include "common/service_main.h"
#include "common/store_support.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/support/pki.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"
#include "tests/support/test_security.h"

namespace outreach::testing {

// A service from its ServiceSpec on a real gRPC server (port 0) over a real store (a SQLite file in
// a temporary directory, or a PostgreSQL database under the `postgres` fixture:
// TestDatabaseLocation), with a FakeClock. Restart() stops the server and opens the same store
// again, for persistence tests. The server runs as in production: TLS with certificates from a
// test PKI, the test JWKS and the shipped policy; channel() verifies the server and carries no
// client certificate (calls send a token: Ctx()), ServiceChannel(name) presents the
// certificate of one of the suite's services (mutual TLS).
class ServiceHarness {
 public:
  ServiceHarness(ServiceSpec spec, absl::Time start)
      : spec_(std::move(spec)), clock_(start), page_tokens_("test-key") {
    auto pki = Pki::Create(dir_.path());
    EXPECT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<Pki>(std::move(*pki));
    auto server = pki_->IssueServer(spec_.name);
    EXPECT_TRUE(server.ok()) << server.status();
    server_files_ = *server;
    Start();
  }
  ~ServiceHarness() { Stop(); }

  void Start() {
    auto db = db::Database::Open(TestDatabaseLocation(dir_, spec_.name), spec_.schema);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    RuntimeConfig config;
    config.service_name = spec_.name;
    config.drain_timeout = absl::Seconds(2);
    config.http_address = "127.0.0.1:0";
    config.security = TestSecuritySettings(server_files_);
    runtime_ = std::make_unique<ServerRuntime>(config);
    runtime_->SetAuditDatabase(db_.get());
    ServiceContext context{db_.get(), &clock_, &page_tokens_, &runtime_->metrics(), runtime_.get()};
    service_ = spec_.make_service(context);
    runtime_->AddService(service_.get(), spec_.health_name, [this] { return db_->Ping(); });
    // As RunServiceMain does: every service serves its store's audit log.
    audit_service_ = std::make_unique<audit::AuditServiceImpl>(context);
    runtime_->AddService(audit_service_.get(), std::string(audit::kHealthName),
                         [this] { return db_->Ping(); });
    absl::Status started = runtime_->Start();
    ASSERT_TRUE(started.ok()) << started;
    channel_ = ChannelWith(security::TlsFiles{"", "", server_files_.ca_file});
  }

  // A mutual-TLS channel presenting the client certificate of service `identity`
  // (spiffe://outreach/<identity>).
  std::shared_ptr<grpc::Channel> ServiceChannel(const std::string& identity) {
    auto files = pki_->IssueClient(identity);
    EXPECT_TRUE(files.ok()) << files.status();
    return ChannelWith(*files);
  }
  // A channel with the given TLS files (cert/key empty: no client certificate).
  std::shared_ptr<grpc::Channel> ChannelWith(const security::TlsFiles& files) {
    auto credentials = security::ChannelCredentials(files);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", runtime_->grpc_port()), *credentials);
  }
  // A channel like channel() on a connection of its own (the server takes at most
  // max_concurrent_streams calls per connection).
  std::shared_ptr<grpc::Channel> SeparateChannel() {
    auto credentials =
        security::ChannelCredentials(security::TlsFiles{"", "", server_files_.ca_file});
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", runtime_->grpc_port()),
                                     *credentials, args);
  }
  // The channel of the service that may send the request's events (IngestEventsRequest): its
  // certificate, as that service's publisher would present it. Calls on it send no token
  // (AnonymousCtx), or the token would be the caller.
  template <typename IngestRequest>
  std::shared_ptr<grpc::Channel> IngestChannel(const IngestRequest& request) {
    std::vector<const outreach::events::v1::OutreachEvent*> events;
    for (const auto& e : request.events()) events.push_back(&e);
    std::string identity = IngestIdentityFor(events);
    EXPECT_FALSE(identity.empty()) << "no one service may send all of these events";
    if (identity.empty()) identity = "workshops";
    std::lock_guard<std::mutex> lock(ingest_mu_);  // tests ingest from several threads
    auto& channel = ingest_channels_[identity];
    if (channel == nullptr) channel = ServiceChannel(identity);
    return channel;
  }
  Pki& pki() { return *pki_; }
  int http_port() const { return runtime_->http_port(); }
  int grpc_port() const { return runtime_->grpc_port(); }

  void Stop() {
    if (runtime_) runtime_->Shutdown();
    runtime_.reset();
    audit_service_.reset();
    service_.reset();
    db_.reset();
  }

  void Restart() {
    Stop();
    ingest_channels_.clear();  // the restarted server listens on another port
    Start();
  }

  // Every event in the outbox (sent or not), in commit order.
  std::vector<outreach::events::v1::OutreachEvent> OutboxEvents() {
    std::vector<outreach::events::v1::OutreachEvent> out;
    absl::Status s = db_->Read([&](db::Connection& c) -> absl::Status {
      auto pending = Outbox::Pending(c, 100000);
      if (!pending.ok()) return pending.status();
      for (auto& p : *pending) out.push_back(p.event);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
  // The outbox events carrying one kind of payload.
  std::vector<outreach::events::v1::OutreachEvent> OutboxEventsOf(
      outreach::events::v1::OutreachEvent::PayloadCase kind) {
    std::vector<outreach::events::v1::OutreachEvent> out;
    for (auto& e : OutboxEvents()) {
      if (e.payload_case() == kind) out.push_back(e);
    }
    return out;
  }

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  FakeClock& clock() { return clock_; }
  MetricsRegistry& metrics() { return runtime_->metrics(); }
  db::Database& db() { return *db_; }
  const std::string& dir() const { return dir_.path(); }

 private:
  ServiceSpec spec_;
  TempDir dir_;
  std::unique_ptr<Pki> pki_;
  security::TlsFiles server_files_;
  FakeClock clock_;
  PageTokenCodec page_tokens_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<ServerRuntime> runtime_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<audit::AuditServiceImpl> audit_service_;
  std::shared_ptr<grpc::Channel> channel_;
  std::mutex ingest_mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> ingest_channels_;
};

// A client context with a 10 s deadline (every outgoing call has one) and the default test
// caller's token (a force administrator of the test forces: test_security.h).
inline std::unique_ptr<grpc::ClientContext> Ctx() {
  static const std::string* token = new std::string(TestToken());
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ctx->AddMetadata("authorization", "Bearer " + *token);
  return ctx;
}
// A context with no credentials at all.
inline std::unique_ptr<grpc::ClientContext> AnonymousCtx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

// The google.rpc.ErrorInfo reason of a failed call ("" when absent).
inline std::string ReasonOf(const grpc::Status& status) {
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details())) return "";
  for (const auto& d : rich.details()) {
    google::rpc::ErrorInfo info;
    if (d.UnpackTo(&info)) return info.reason();
  }
  return "";
}

// One google.rpc.ErrorInfo metadata value of a failed call ("" when absent).
inline std::string ErrorMetadataOf(const grpc::Status& status, const std::string& key) {
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details())) return "";
  for (const auto& d : rich.details()) {
    google::rpc::ErrorInfo info;
    if (d.UnpackTo(&info)) {
      auto it = info.metadata().find(key);
      return it == info.metadata().end() ? "" : it->second;
    }
  }
  return "";
}

// The fields named by BadRequest violations of a failed call.
inline std::vector<std::string> ViolatedFields(const grpc::Status& status) {
  std::vector<std::string> out;
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details())) return out;
  for (const auto& d : rich.details()) {
    google::rpc::BadRequest bad;
    if (d.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) out.push_back(v.field());
    }
  }
  return out;
}

}  // namespace outreach::testing
