#pragma once

// Calls to the suite by method descriptor, over one channel per service (TLS, token), and the
// way a failed call is told to the operator: the status code, the server's message, the
// google.rpc.ErrorInfo reason and each google.rpc.BadRequest field violation in one or two
// plain lines, and an exit code by class.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"
#include "tools/outreachctl/settings.h"

namespace outreach::ctl {

// Exit codes (README "Operators' CLI").
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,  // anything else (INTERNAL, UNKNOWN, DATA_LOSS, …)
  kExitUsage = 2,  // the command line, a config or input file is wrong
  kExitInvalidArgument =
      3,                 // INVALID_ARGUMENT, OUT_OF_RANGE: the server refused the request's values
  kExitNotFound = 4,     // NOT_FOUND
  kExitRefused = 5,      // PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION
  kExitConflict = 6,     // ALREADY_EXISTS, ABORTED (stale etag)
  kExitUnavailable = 7,  // UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, CANCELLED
  kExitPartial = 8,      // an import or report finished with rows rejected
};
int ExitCodeFor(grpc::StatusCode code);

// What a server attached to a failed status.
struct ErrorDetails {
  std::string reason;
  std::string domain;
  std::map<std::string, std::string> metadata;
  std::vector<std::pair<std::string, std::string>> violations;  // field, description
};
ErrorDetails ParseErrorDetails(const grpc::Status& status);

// "INVALID_ARGUMENT", "NOT_FOUND", …
std::string CodeName(grpc::StatusCode code);

// The lines that tell an operator about a failed call of `what` (e.g. "workshops list") to the
// service at `target`, without the program prefix:
//   workshops list: INVALID_ARGUMENT (FIELD_INVALID): server says: invalid filter
//     field filter: unknown field "colour"
std::string DescribeFailure(const std::string& what, const std::string& target,
                            const grpc::Status& status);

// The result of a call: the server's (or transport's) status, or a local problem found before
// anything was sent (unreadable TLS file, …).
struct Outcome {
  grpc::Status status;
  std::string local_error;
  bool ok() const { return local_error.empty() && status.ok(); }
};

class Connection {
 public:
  explicit Connection(Settings settings) : settings_(std::move(settings)) {}

  // A unary call of `method` (from the generated descriptor pool) with the settings' deadline.
  Outcome Call(const google::protobuf::MethodDescriptor* method,
               const google::protobuf::Message& request, google::protobuf::Message* response);

  // The channel to `service` ("metrics"), opened on first use; for streaming calls.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelFor(const std::string& service);

  // The service a method belongs to: "outreach.workshops.v1.WorkshopsService" -> "workshops".
  static std::string ServiceOf(const google::protobuf::MethodDescriptor* method);
  const std::string& TargetOf(const std::string& service) { return settings_.address[service]; }
  const Settings& settings() const { return settings_; }

 private:
  Settings settings_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

// The method `full_name` ("outreach.workshops.v1.WorkshopsService.ListWorkshops") of the
// generated pool; aborts when missing (a programming error of the command table).
const google::protobuf::MethodDescriptor* Method(const std::string& full_name);

}  // namespace outreach::ctl
