// TLS credentials from files (common/security/tls.h) on a real gRPC server on port 0, with real
// certificates from the test PKI: who may connect, mutual TLS, rotation without a restart, the
// lowest TLS version, and the service identity read from a client certificate.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/security/tls.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "tests/support/pki.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace outreach {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using outreach::testing::CertOptions;
using outreach::testing::Pki;
using outreach::testing::ReadFileOrEmpty;
using outreach::testing::WaitFor;
using outreach::testing::WriteFileAtomically;
using security::TlsFiles;
using ::testing::HasSubstr;

constexpr absl::Duration kRefresh = absl::Seconds(1);
// Rotation is polled up to this bound; the assertion is on what is served, never on the time.
constexpr absl::Duration kRotationBound = absl::Seconds(30);

// grpc.health.v1 Check that also says, in trailing metadata, who the server sees calling: the
// service identity (our trust domain and another) and the auth context's URI SANs.
class IdentityEcho final : public Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext* context, const HealthCheckRequest*,
                     HealthCheckResponse* response) override {
    const grpc::AuthContext& auth = *context->auth_context();
    context->AddTrailingMetadata("x-identity", security::ServiceIdentity(auth, "outreach"));
    context->AddTrailingMetadata("x-identity-elsewhere",
                                 security::ServiceIdentity(auth, "elsewhere"));
    std::vector<std::string> uris;
    for (const auto& v : auth.FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
      uris.emplace_back(v.data(), v.size());
    }
    context->AddTrailingMetadata("x-peer-uri", absl::StrJoin(uris, ","));
    response->set_status(HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }
};

// A real gRPC server on 127.0.0.1:0 with the credentials under test.
class TlsServer {
 public:
  explicit TlsServer(std::shared_ptr<grpc::ServerCredentials> credentials) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", std::move(credentials), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~TlsServer() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  int port() const { return port_; }

 private:
  IdentityEcho service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

struct CallResult {
  grpc::Status status;
  std::string identity, identity_elsewhere, peer_uri;
  std::string server_cert_pem;  // the server's leaf as the client saw it
};

std::string Trailer(const grpc::ClientContext& ctx, const std::string& key) {
  auto it = ctx.GetServerTrailingMetadata().find(key);
  return it == ctx.GetServerTrailingMetadata().end()
             ? ""
             : std::string(it->second.data(), it->second.size());
}

// One Check over a new connection (a local subchannel pool: nothing reused from earlier calls).
CallResult Call(int port, std::shared_ptr<grpc::ChannelCredentials> credentials,
                const std::string& host = "127.0.0.1", const std::string& name_override = "") {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!name_override.empty()) args.SetSslTargetNameOverride(name_override);
  auto channel = grpc::CreateCustomChannel(absl::StrCat(host, ":", port), credentials, args);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  HealthCheckResponse response;
  CallResult result;
  result.status = Health::NewStub(channel)->Check(&ctx, HealthCheckRequest(), &response);
  result.identity = Trailer(ctx, "x-identity");
  result.identity_elsewhere = Trailer(ctx, "x-identity-elsewhere");
  result.peer_uri = Trailer(ctx, "x-peer-uri");
  if (auto auth = ctx.auth_context()) {
    for (const auto& v : auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)) {
      result.server_cert_pem.assign(v.data(), v.size());
    }
  }
  return result;
}

std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(const TlsFiles& files) {
  auto credentials = security::ChannelCredentials(files, kRefresh);
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  return credentials.ok() ? *credentials : grpc::InsecureChannelCredentials();
}

CallResult Call(int port, const TlsFiles& client) { return Call(port, ClientCredentials(client)); }

// Only the roots: a client that verifies the server and presents no certificate.
TlsFiles RootsOnly(const std::string& ca_file) {
  TlsFiles files;
  files.ca_file = ca_file;
  return files;
}

class SecurityTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = Pki::Create(dir_.path());
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<Pki>(std::move(*pki));
    auto server = pki_->IssueServer("workshops");
    ASSERT_TRUE(server.ok()) << server.status();
    server_files_ = *server;
  }

  // Starts the server with server_files_ (and `require` for client certificates).
  void StartServer(bool require_client_cert = false) {
    TlsFiles files = server_files_;
    files.require_client_cert = require_client_cert;
    auto credentials = security::ServerCredentials(files, kRefresh);
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    server_ = std::make_unique<TlsServer>(*credentials);
    ASSERT_GT(server_->port(), 0);
  }

  TlsFiles Client(const std::string& name, const CertOptions& options = {}) {
    auto files = pki_->IssueClient(name, options);
    EXPECT_TRUE(files.ok()) << files.status();
    return files.ok() ? *files : TlsFiles{};
  }

  TempDir dir_;
  std::unique_ptr<Pki> pki_;
  TlsFiles server_files_;
  std::unique_ptr<TlsServer> server_;
};

// --- server TLS, the client verifying the server --------------------------------------------

TEST_F(SecurityTlsTest, ClientTrustingTheCaConnects) {
  StartServer();
  CallResult r = Call(server_->port(), RootsOnly(pki_->ca_file()));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.server_cert_pem, ReadFileOrEmpty(server_files_.cert_file));
  EXPECT_EQ(r.identity, "");  // no client certificate: no service identity
}

TEST_F(SecurityTlsTest, ClientTrustingAnotherCaIsRefused) {
  StartServer();
  CallResult r = Call(server_->port(), RootsOnly(pki_->other_ca_file()));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTlsTest, PlaintextClientIsRefused) {
  StartServer();
  CallResult r = Call(server_->port(), grpc::InsecureChannelCredentials());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTlsTest, ServerNameIsCheckedAndCanBeOverriddenForAnIp) {
  StartServer();
  auto roots = ClientCredentials(RootsOnly(pki_->ca_file()));
  // The certificate names DNS:workshops, DNS:localhost and IP:127.0.0.1.
  EXPECT_TRUE(Call(server_->port(), roots, "127.0.0.1").status.ok());
  EXPECT_TRUE(Call(server_->port(), roots, "127.0.0.1", "workshops").status.ok());
  EXPECT_EQ(Call(server_->port(), roots, "127.0.0.1", "metrics").status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

// --- mutual TLS ------------------------------------------------------------------------------

TEST_F(SecurityTlsTest, RequireRefusesACallerWithoutACertificate) {
  StartServer(/*require_client_cert=*/true);
  EXPECT_EQ(Call(server_->port(), RootsOnly(pki_->ca_file())).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTlsTest, RequireRefusesACertificateFromAnotherCa) {
  StartServer(/*require_client_cert=*/true);
  TlsFiles client = Client("workshops", {.other_ca = true});
  client.ca_file = pki_->ca_file();  // it trusts the server; the server does not trust it
  EXPECT_EQ(Call(server_->port(), client).status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTlsTest, RequireRefusesAnExpiredOrNotYetValidCertificate) {
  StartServer(/*require_client_cert=*/true);
  TlsFiles expired = Client("expired", {.validity = CertOptions::Validity::kExpired});
  EXPECT_EQ(Call(server_->port(), expired).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  TlsFiles early = Client("early", {.validity = CertOptions::Validity::kNotYetValid});
  EXPECT_EQ(Call(server_->port(), early).status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTlsTest, ValidClientCertificateGivesItsServiceIdentity) {
  StartServer(/*require_client_cert=*/true);
  CallResult r = Call(server_->port(), Client("workshops"));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.identity, "workshops");
  EXPECT_EQ(r.identity_elsewhere, "");  // another trust domain names nobody
  // What ServiceIdentity reads: gRPC 1.51 lists the URI SANs as "peer_uri".
  EXPECT_EQ(r.peer_uri, "spiffe://outreach/workshops");
}

TEST_F(SecurityTlsTest, AnotherTrustDomainIsNoServiceIdentity) {
  StartServer(/*require_client_cert=*/true);
  CallResult r = Call(server_->port(), Client("workshops", {.trust_domain = "elsewhere"}));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.identity, "");
  EXPECT_EQ(r.identity_elsewhere, "workshops");
}

TEST_F(SecurityTlsTest, RequestAcceptsNoCertificateButVerifiesOnePresented) {
  StartServer(/*require_client_cert=*/false);
  CallResult anonymous = Call(server_->port(), RootsOnly(pki_->ca_file()));
  ASSERT_TRUE(anonymous.status.ok()) << anonymous.status.error_message();
  EXPECT_EQ(anonymous.identity, "");
  TlsFiles untrusted = Client("workshops", {.other_ca = true});
  untrusted.ca_file = pki_->ca_file();
  EXPECT_EQ(Call(server_->port(), untrusted).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  CallResult known = Call(server_->port(), Client("training"));
  ASSERT_TRUE(known.status.ok()) << known.status.error_message();
  EXPECT_EQ(known.identity, "training");
}

// --- rotation without a restart --------------------------------------------------------------

TEST_F(SecurityTlsTest, RotatedServerCertificateIsServedWithoutRestart) {
  StartServer();
  const TlsFiles roots = RootsOnly(pki_->ca_file());
  const std::string before = ReadFileOrEmpty(server_files_.cert_file);
  ASSERT_EQ(Call(server_->port(), roots).server_cert_pem, before);

  ASSERT_TRUE(pki_->IssueServer("workshops").ok());  // same files, new key and serial
  const std::string after = ReadFileOrEmpty(server_files_.cert_file);
  ASSERT_NE(after, before);
  EXPECT_TRUE(WaitFor(
      [&] {
        CallResult r = Call(server_->port(), roots);
        return r.status.ok() && r.server_cert_pem == after;
      },
      kRotationBound));
}

TEST_F(SecurityTlsTest, RotatedServerCaBundleIsUsedWithoutRestart) {
  // The server trusts a bundle of its own; the operator adds a second CA to it.
  const std::string bundle = dir_.File("server-roots.pem");
  ASSERT_TRUE(WriteFileAtomically(bundle, ReadFileOrEmpty(pki_->ca_file())).ok());
  server_files_.ca_file = bundle;
  StartServer(/*require_client_cert=*/true);
  TlsFiles newcomer = Client("campaigns", {.other_ca = true});
  newcomer.ca_file = pki_->ca_file();
  ASSERT_EQ(Call(server_->port(), newcomer).status.error_code(), grpc::StatusCode::UNAVAILABLE);

  ASSERT_TRUE(WriteFileAtomically(
                  bundle, ReadFileOrEmpty(pki_->ca_file()) + ReadFileOrEmpty(pki_->other_ca_file()))
                  .ok());
  EXPECT_TRUE(WaitFor([&] { return Call(server_->port(), newcomer).status.ok(); }, kRotationBound));
  CallResult r = Call(server_->port(), newcomer);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.identity, "campaigns");
  EXPECT_TRUE(Call(server_->port(), Client("workshops")).status.ok());  // the first CA still
}

TEST_F(SecurityTlsTest, RotatedClientCaBundleIsUsedWithoutNewCredentials) {
  StartServer();
  // One credentials object, as a long-lived client holds; its roots file changes under it.
  const std::string bundle = dir_.File("client-roots.pem");
  ASSERT_TRUE(WriteFileAtomically(bundle, ReadFileOrEmpty(pki_->other_ca_file())).ok());
  auto credentials = ClientCredentials(RootsOnly(bundle));
  ASSERT_EQ(Call(server_->port(), credentials).status.error_code(), grpc::StatusCode::UNAVAILABLE);

  ASSERT_TRUE(WriteFileAtomically(bundle, ReadFileOrEmpty(pki_->ca_file())).ok());
  EXPECT_TRUE(
      WaitFor([&] { return Call(server_->port(), credentials).status.ok(); }, kRotationBound));
}

// --- TLS versions ----------------------------------------------------------------------------

struct Handshake {
  bool done = false;  // SSL_connect completed
  int version = 0;    // the version agreed when done
  int reason = 0;     // OpenSSL's reason when not
};

// A raw OpenSSL client offering exactly `version` to 127.0.0.1:port. It does not check the
// server's certificate: what is under test is which versions the server accepts.
Handshake RawHandshake(int port, int version) {
  Handshake out;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        &SSL_CTX_free);
  // OpenSSL 3 refuses TLS 1.0/1.1 at its default security level: level 0 lets this client
  // offer them, so a refusal can only come from the server.
  SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0");
  SSL_CTX_set_min_proto_version(ctx.get(), version);
  SSL_CTX_set_max_proto_version(ctx.get(), version);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));

  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval bound{10, 0};  // a server that never answers fails the test rather than hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  SSL_set_fd(ssl.get(), fd);
  SSL_set_tlsext_host_name(ssl.get(), "localhost");
  ERR_clear_error();
  out.done = SSL_connect(ssl.get()) == 1;
  if (out.done) {
    out.version = SSL_version(ssl.get());
    SSL_shutdown(ssl.get());
  } else {
    out.reason = ERR_GET_REASON(ERR_peek_last_error());
  }
  ERR_clear_error();
  close(fd);
  return out;
}

TEST_F(SecurityTlsTest, Tls10And11AreRefusedAndTls12Accepted) {
  StartServer();
  for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
    Handshake h = RawHandshake(server_->port(), version);
    EXPECT_FALSE(h.done) << "version " << std::hex << version;
    // The client did offer it (else NO_PROTOCOLS_AVAILABLE) and the server ended the handshake:
    // gRPC closes the connection on "unsupported protocol", usually before its alert is sent.
    EXPECT_THAT(h.reason, ::testing::AnyOf(SSL_R_UNEXPECTED_EOF_WHILE_READING,
                                           SSL_R_TLSV1_ALERT_PROTOCOL_VERSION))
        << "version " << std::hex << version;
  }
  // The same client offering TLS 1.2 completes its handshake: the refusals above are the
  // version's, not the harness's.
  Handshake tls12 = RawHandshake(server_->port(), TLS1_2_VERSION);
  EXPECT_TRUE(tls12.done) << "reason " << tls12.reason;
  EXPECT_EQ(tls12.version, TLS1_2_VERSION);
}

// --- bad files at start ----------------------------------------------------------------------

TEST_F(SecurityTlsTest, BadFilesAtStartNameTheSetting) {
  const std::string garbage = dir_.File("garbage.pem");
  ASSERT_TRUE(WriteFileAtomically(garbage, "not a certificate\n").ok());
  auto expect_invalid = [](absl::Status status, const std::string& setting) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(setting));
  };
  TlsFiles missing_cert = server_files_;
  missing_cert.cert_file = dir_.File("absent.pem");
  expect_invalid(security::ServerCredentials(missing_cert).status(), "--tls-cert-file");
  TlsFiles bad_key = server_files_;
  bad_key.key_file = garbage;
  expect_invalid(security::ServerCredentials(bad_key).status(), "--tls-key-file");
  TlsFiles other_key = server_files_;
  auto training = pki_->IssueServer("training");
  ASSERT_TRUE(training.ok());
  other_key.key_file = training->key_file;  // a real key, not this certificate's
  expect_invalid(security::ServerCredentials(other_key).status(), "--tls-key-file");
  TlsFiles bad_ca = server_files_;
  bad_ca.ca_file = garbage;
  expect_invalid(security::ServerCredentials(bad_ca).status(), "--tls-ca-file");
  TlsFiles require_without_ca = server_files_;
  require_without_ca.ca_file = "";
  require_without_ca.require_client_cert = true;
  expect_invalid(security::ServerCredentials(require_without_ca).status(), "--tls-ca-file");
  TlsFiles no_cert = server_files_;
  no_cert.cert_file = "";
  expect_invalid(security::ServerCredentials(no_cert).status(), "--tls-cert-file");

  expect_invalid(security::ChannelCredentials(RootsOnly(garbage)).status(), "--tls-ca-file");
  expect_invalid(security::ChannelCredentials(RootsOnly("")).status(), "--tls-ca-file");
  TlsFiles client_without_key = server_files_;
  client_without_key.key_file = "";
  expect_invalid(security::ChannelCredentials(client_without_key).status(), "--tls-key-file");
  EXPECT_TRUE(security::ChannelCredentials(server_files_).ok());
}

// --- the development PKI (scripts/dev-pki.sh) -------------------------------------------------

// Runs scripts/dev-pki.sh DIR; its exit code.
int RunDevPki(const std::string& dir) {
  const char* script = std::getenv("OUTREACH_DEV_PKI");
  EXPECT_NE(script, nullptr) << "tests/security.cmake sets OUTREACH_DEV_PKI";
  if (script == nullptr) return -1;
  outreach::testing::ChildProcess run(script, {dir});
  if (!run.Start()) return -1;
  const int code = run.Wait(absl::Seconds(60));
  EXPECT_EQ(code, 0) << run.Stderr();
  return code;
}

TEST_F(SecurityTlsTest, DevPkiServesMutualTlsWithServiceIdentities) {
  const std::string pki = dir_.File("dev-pki");
  ASSERT_EQ(RunDevPki(pki), 0);
  auto files = [&](const std::string& name) {
    TlsFiles f;
    f.cert_file = absl::StrCat(pki, "/", name, ".pem");
    f.key_file = absl::StrCat(pki, "/", name, ".key");
    f.ca_file = absl::StrCat(pki, "/ca.pem");
    return f;
  };
  for (const char* key :
       {"ca.key", "workshops.key", "metrics.key", "operator.key", "signing.pem"}) {
    struct stat st {};
    ASSERT_EQ(stat(absl::StrCat(pki, "/", key).c_str(), &st), 0) << key;
    EXPECT_EQ(st.st_mode & 0777, 0600) << key;
  }
  // Idempotent: a second run keeps every file as it was.
  const std::string before = ReadFileOrEmpty(files("metrics").cert_file);
  ASSERT_EQ(RunDevPki(pki), 0);
  EXPECT_EQ(ReadFileOrEmpty(files("metrics").cert_file), before);

  // metrics requires client certificates; workshops calls it as the publisher does.
  server_files_ = files("metrics");
  StartServer(/*require_client_cert=*/true);
  CallResult r =
      Call(server_->port(), ClientCredentials(files("workshops")), "127.0.0.1", "metrics");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.identity, "workshops");
  CallResult op = Call(server_->port(), files("operator"));
  ASSERT_TRUE(op.status.ok()) << op.status.error_message();
  EXPECT_EQ(op.identity, "operator");
  // The test PKI's CA is not the development one.
  TlsFiles stranger = Client("workshops");
  stranger.ca_file = files("metrics").ca_file;
  EXPECT_EQ(Call(server_->port(), stranger).status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

// --- loopback --------------------------------------------------------------------------------

TEST(IsLoopbackAddressTest, OnlyLoopbackHosts) {
  for (const char* yes : {"127.0.0.1:50051", "127.1.2.3:1", "localhost:50051", "LOCALHOST:1",
                          "[::1]:50051", "::1", "[::ffff:127.0.0.1]:8", "localhost", "127.0.0.1"}) {
    EXPECT_TRUE(security::IsLoopbackAddress(yes)) << yes;
  }
  for (const char* no : {"0.0.0.0:50051", "[::]:50051", ":50051", "", "10.0.0.1:50051",
                         "128.0.0.1:1", "localhost.example.com:1", "workshops:50051",
                         "[::ffff:10.0.0.1]:8", "unix:/tmp/socket", "127.0.0.1.evil.com:1"}) {
    EXPECT_FALSE(security::IsLoopbackAddress(no)) << no;
  }
}

}  // namespace
}  // namespace outreach
