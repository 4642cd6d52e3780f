#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/db.h"
#include "common/security/authorizer.h"
#include "google/protobuf/message.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_interceptor.h"

namespace outreach::security {

struct CallState;

// The interceptor every server installs (common/server.cc). For each call it authenticates the
// caller and checks the method against the policy when the initial metadata arrives, then checks
// the request's scope (forces, event kinds) when each message arrives, and leaves the decision
// for the handler's CallGuard. gRPC's server interceptors cannot end a call before its handler
// runs, so the decision is enforced where every handler starts: ServiceHandlers::Run
// (common/grpc_status.h). grpc.health.v1 stays open; reflection is served only when switched on.
// `audit_db` (may be null) is the database audit records are appended to.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeSecurityInterceptor(
    const Authorizer* authorizer, db::Database* audit_db);

// Declares methods ("/package.Service/Method") whose request reaches the handler as bytes (raw
// methods, common/callback_handlers.h). The interceptor cannot read such a request, so it leaves
// the request's scope to the handler: its CallGuard is given the parsed request and checks it,
// and any other guard of such a call refuses it. A service declares its raw methods when it is
// built, before a server serves them; process-wide, as method names are.
void DeclareRawRequestMethods(const std::vector<std::string>& methods);

// A handler's side of the decision. Constructed first thing in a handler (ServiceHandlers::Run):
// status() is the decision (UNAUTHENTICATED / PERMISSION_DENIED, or OK). A call the interceptor
// never saw is refused: default deny. While it lives, a Write transaction on this thread commits
// the call's audit record with it; Finish(outcome) records calls that wrote nothing (reads of
// personal data, refused and failed writes) in a transaction of their own.
class CallGuard {
 public:
  explicit CallGuard(const grpc::ServerContextBase* context);
  // For a raw-request method: `request` is the request its handler parsed from the bytes, whose
  // scope this checks, or null when the bytes did not parse (the decision is then
  // INVALID_ARGUMENT for an admitted caller, the refusal for any other).
  CallGuard(const grpc::ServerContextBase* context, const google::protobuf::Message* request);
  ~CallGuard();
  CallGuard(const CallGuard&) = delete;
  CallGuard& operator=(const CallGuard&) = delete;

  const absl::Status& status() const { return status_; }
  // For client streams: the decision including every message read so far.
  absl::Status Recheck() const;
  void Finish(const absl::Status& outcome);

 private:
  CallGuard(const grpc::ServerContextBase* context, const google::protobuf::Message* request,
            bool request_given);

  std::shared_ptr<CallState> state_;
  absl::Status status_;
  std::optional<db::ScopedCommitHook> commit_hook_;
  const CallGuard* outer_ = nullptr;
  bool finished_ = false;

  friend const Caller* CurrentCaller();
};

// For in-process harnesses that call a handler without a server (the fuzz targets in tests/fuzz):
// while it lives, a call on `context` is admitted as `caller` without a policy check and without
// an audit record, so the handler's own logic runs. No server path creates one.
class InProcessAdmission {
 public:
  InProcessAdmission(const grpc::ServerContextBase* context, Caller caller);
  ~InProcessAdmission();
  InProcessAdmission(const InProcessAdmission&) = delete;
  InProcessAdmission& operator=(const InProcessAdmission&) = delete;

 private:
  const grpc::ServerContextBase* context_;
  std::shared_ptr<CallState> state_;
};

// The caller of the handler running on this thread (inside a CallGuard whose decision is OK), or
// null. For domain checks that need the person, e.g. a presenter recording their own delivery.
const Caller* CurrentCaller();

// The decision of the call running on this thread, including every message of a client stream
// read so far: a handler reading a stream calls it after each Read.
absl::Status RecheckCurrentCall();

// The metadata key a caller may use to say why it makes a call; kept (≤ 256 characters) in the
// call's audit record.
inline constexpr char kJustificationMetadata[] = "x-outreach-justification";

}  // namespace outreach::security
