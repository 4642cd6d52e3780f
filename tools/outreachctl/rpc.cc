#include "tools/outreachctl/rpc.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/impl/codegen/proto_utils.h"  // SerializationTraits of protobuf messages
// The generated messages register their files (services included) in the generated pool.
#include "outreach/campaigns/v1/campaigns.pb.h"
#include "outreach/metrics/v1/metrics.pb.h"
#include "outreach/training/v1/training.pb.h"
#include "outreach/workshops/v1/workshops.pb.h"

namespace outreach::ctl {

int ExitCodeFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return kExitInvalidArgument;
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return kExitRefused;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return kExitConflict;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::CANCELLED:
      return kExitUnavailable;
    default:
      return kExitError;
  }
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

ErrorDetails ParseErrorDetails(const grpc::Status& status) {
  ErrorDetails out;
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    return out;
  }
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad_request;
    if (any.Is<google::rpc::ErrorInfo>() && any.UnpackTo(&info)) {
      out.reason = info.reason();
      out.domain = info.domain();
      out.metadata.insert(info.metadata().begin(), info.metadata().end());
    } else if (any.Is<google::rpc::BadRequest>() && any.UnpackTo(&bad_request)) {
      for (const auto& v : bad_request.field_violations()) {
        out.violations.emplace_back(v.field(), v.description());
      }
    }
  }
  return out;
}

std::string DescribeFailure(const std::string& what, const std::string& target,
                            const grpc::Status& status) {
  const ErrorDetails details = ParseErrorDetails(status);
  std::string line = absl::StrCat(what, ": ", CodeName(status.error_code()));
  if (!details.reason.empty() && details.reason != CodeName(status.error_code())) {
    absl::StrAppend(&line, " (", details.reason, ")");
  }
  // Details mean a server of the suite answered; without them the text may come from the
  // transport (e.g. "failed to connect to all addresses"), so it is not presented as the server's.
  const bool from_server = !details.reason.empty() || !details.violations.empty();
  if (!status.error_message().empty()) {
    absl::StrAppend(&line, from_server ? ": server says: " : ": ", status.error_message());
  }
  std::vector<std::string> extras;
  for (const auto& [field, description] : details.violations) {
    extras.push_back(absl::StrCat("field ", field, ": ", description));
  }
  for (const auto& [key, value] : details.metadata) {
    if (key == "field") continue;
    extras.push_back(absl::StrCat(key, "=", value));
  }
  std::string out = line;
  if (!extras.empty()) absl::StrAppend(&out, "\n  ", absl::StrJoin(extras, "; "));
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && !from_server) {
    absl::StrAppend(&out, "\n  is the service running at ", target,
                    "? (set its address with --<service>-address or in the config file)");
  } else if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    absl::StrAppend(
        &out, "\n  check --token-file (OUTREACH_TOKEN_FILE): the token may be missing or expired");
  }
  return out;
}

std::string Connection::ServiceOf(const google::protobuf::MethodDescriptor* method) {
  // outreach.<service>.v1.<Name>Service
  std::vector<std::string> parts = absl::StrSplit(method->service()->full_name(), '.');
  return parts.size() > 1 ? parts[1] : method->service()->full_name();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connection::ChannelFor(const std::string& service) {
  auto it = channels_.find(service);
  if (it == channels_.end()) {
    auto channel = OpenChannel(settings_.address[service], settings_.security);
    if (!channel.ok()) return channel.status();
    it = channels_.emplace(service, *channel).first;
  }
  return it->second;
}

Outcome Connection::Call(const google::protobuf::MethodDescriptor* method,
                         const google::protobuf::Message& request,
                         google::protobuf::Message* response) {
  auto channel = ChannelFor(ServiceOf(method));
  if (!channel.ok()) return Outcome{grpc::Status::OK, std::string(channel.status().message())};
  grpc::TemplatedGenericStub<google::protobuf::Message, google::protobuf::Message> stub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(settings_.timeout));
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, absl::StrCat("/", method->service()->full_name(), "/", method->name()),
                 grpc::StubOptions(), &request, response, [&](const grpc::Status& s) {
                   status = s;
                   done.Notify();
                 });
  done.WaitForNotification();
  return Outcome{status, ""};
}

const google::protobuf::MethodDescriptor* Method(const std::string& full_name) {
  // Referencing one message per package keeps its generated file linked in.
  static const bool linked = workshops::v1::Workshop::descriptor() != nullptr &&
                             training::v1::Officer::descriptor() != nullptr &&
                             campaigns::v1::Campaign::descriptor() != nullptr &&
                             metrics::v1::Dashboard::descriptor() != nullptr;
  const auto* method =
      linked ? google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full_name)
             : nullptr;
  if (method == nullptr) {
    std::fprintf(stderr, "outreachctl: internal error: no method %s\n", full_name.c_str());
    std::abort();
  }
  return method;
}

}  // namespace outreach::ctl
