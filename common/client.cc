#include "common/client.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/security/tls.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/client_interceptor.h"

namespace outreach {
namespace {

// How often a token file is looked at again: short-lived tokens are replaced in place.
constexpr absl::Duration kTokenReread = absl::Seconds(10);

// The bearer token of a channel: fixed, or read from a file and re-read now and then.
class TokenSource {
 public:
  TokenSource(std::string token, std::string file)
      : file_(std::move(file)), token_(std::move(token)) {}
  std::string Get() {
    if (file_.empty()) return token_;
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now >= next_read_) {
      next_read_ = now + kTokenReread;
      std::ifstream in(file_);
      std::stringstream text;
      text << in.rdbuf();
      if (in) token_ = std::string(absl::StripAsciiWhitespace(text.str()));
    }
    return token_;
  }

 private:
  const std::string file_;
  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time next_read_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

class BearerInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(TokenSource* tokens) : tokens_(tokens) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      const std::string token = tokens_->Get();
      if (!token.empty()) {
        methods->GetSendInitialMetadata()->emplace("authorization", absl::StrCat("Bearer ", token));
      }
    }
    methods->Proceed();
  }

 private:
  TokenSource* tokens_;
};

class BearerInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(std::shared_ptr<TokenSource> tokens)
      : tokens_(std::move(tokens)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new BearerInterceptor(tokens_.get());
  }

 private:
  std::shared_ptr<TokenSource> tokens_;
};

// The addresses of an address-list target ("ipv4:a:p,b:p"); empty for any other target.
std::vector<std::string> ListedAddresses(absl::string_view target) {
  if (!absl::ConsumePrefix(&target, "ipv4:") && !absl::ConsumePrefix(&target, "ipv6:")) return {};
  return absl::StrSplit(target, ',');
}

}  // namespace

absl::Status ValidateServiceTarget(const std::string& value) {
  const std::vector<std::string> listed = ListedAddresses(value);
  if (listed.empty()) return ValidateHostPort(value);
  for (const std::string& address : listed) {
    if (absl::Status s = ValidateHostPort(address); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", value, "\" lists \"", address, "\", which is not host:port"));
    }
  }
  return absl::OkStatus();
}

grpc::ChannelArguments ChannelArgumentsFor(const std::string& target) {
  grpc::ChannelArguments args;
  const std::vector<std::string> listed = ListedAddresses(target);
  if (listed.empty()) return args;
  args.SetServiceConfigJSON(R"({"loadBalancingConfig":[{"round_robin":{}}]})");
  args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, listed.front());
  return args;
}

void RegisterClientSecuritySettings(ConfigParser& parser, ClientSecurity* s) {
  parser.Bool("plaintext", &s->plaintext, false,
              "connect without TLS (development only; loopback targets only)");
  parser.String("tls-ca-file", &s->tls_ca_file, std::string(),
                "CA bundle (PEM) that signs the servers' certificates");
  parser.String("tls-cert-file", &s->tls_cert_file, std::string(),
                "client certificate (PEM) for mutual TLS, optional");
  parser.String("tls-key-file", &s->tls_key_file, std::string(),
                "client certificate's key (PEM), optional");
  parser.String("token-file", &s->token_file, std::string(),
                "file holding the bearer token sent with every call");
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const std::string& target, const ClientSecurity& settings) {
  if (settings.plaintext) {
    if (!security::IsLoopbackAddress(target)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--plaintext: ", target, " is not a loopback address; plaintext stays on this host"));
    }
    return grpc::InsecureChannelCredentials();
  }
  return security::ChannelCredentials(security::TlsFiles{
      settings.tls_cert_file, settings.tls_key_file, settings.tls_ca_file, false});
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const std::string& target,
                                                           const ClientSecurity& settings) {
  auto credentials = ClientCredentials(target, settings);
  if (!credentials.ok()) return credentials.status();
  if (!settings.token_file.empty()) {
    std::ifstream probe(settings.token_file);
    if (!probe) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file: cannot read ", settings.token_file));
    }
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<BearerInterceptorFactory>(
      std::make_shared<TokenSource>(settings.token, settings.token_file)));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      target, *credentials, ChannelArgumentsFor(target), std::move(creators));
}

}  // namespace outreach
