#include "common/security/interceptor.h"

#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/audit.h"
#include "common/errors.h"
#include "common/log.h"
#include "google/protobuf/message.h"

namespace outreach::security {

// One call's decision, shared by its interceptor (writer) and its handler's CallGuard (reader).
struct CallState {
  const Authorizer* authorizer = nullptr;
  db::Database* audit_db = nullptr;
  std::string method;
  std::string justification;
  absl::Mutex mu;
  absl::Status decision ABSL_GUARDED_BY(mu);
  Caller caller ABSL_GUARDED_BY(mu);
  MethodRule rule ABSL_GUARDED_BY(mu);
  RequestScope scope ABSL_GUARDED_BY(mu);
  // A method whose request reaches the handler as bytes (a raw method, DeclareRawRequestMethods):
  // the interceptor cannot read its scope, so the handler's CallGuard checks the parsed request.
  // Until it has, every guard refuses the call.
  bool scope_pending ABSL_GUARDED_BY(mu) = false;
};

namespace {

constexpr size_t kMaxJustification = 256;

// Calls in flight, by their server context. The interceptor adds a call when its metadata
// arrives and removes it when the call ends; a handler finds its call here.
class CallTable {
 public:
  static CallTable& Get() {
    static auto* table = new CallTable();
    return *table;
  }
  void Put(const grpc::ServerContextBase* context, std::shared_ptr<CallState> state) {
    absl::MutexLock lock(&mu_);
    calls_[context] = std::move(state);
  }
  std::shared_ptr<CallState> Find(const grpc::ServerContextBase* context) {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(context);
    return it == calls_.end() ? nullptr : it->second;
  }
  void Erase(const grpc::ServerContextBase* context, const CallState* state) {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(context);
    if (it != calls_.end() && it->second.get() == state) calls_.erase(it);
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<const grpc::ServerContextBase*, std::shared_ptr<CallState>> calls_
      ABSL_GUARDED_BY(mu_);
};

// The methods DeclareRawRequestMethods named.
struct RawRequestMethods {
  static RawRequestMethods& Get() {
    static auto* methods = new RawRequestMethods();
    return *methods;
  }
  absl::Mutex mu;
  absl::flat_hash_set<std::string> names ABSL_GUARDED_BY(mu);
};

bool IsRawRequest(const char* method) {
  if (method == nullptr) return false;
  RawRequestMethods& raw = RawRequestMethods::Get();
  absl::ReaderMutexLock lock(&raw.mu);
  return raw.names.contains(method);
}

// Keeps what a caller wrote as printable text of bounded length.
std::string CleanJustification(absl::string_view value) {
  std::string out;
  for (char c : value.substr(0, kMaxJustification)) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
  }
  return out;
}

bool IsOpenMethod(absl::string_view method) {
  return absl::StartsWith(method, "/grpc.health.v1.Health/");
}

bool IsReflection(absl::string_view method) {
  return absl::StartsWith(method, "/grpc.reflection.");
}

// Narrows `state`'s decision to the scope (forces, resources) `request` names.
void ApplyScope(CallState& state, const google::protobuf::Message& request) {
  RequestScope scope = ScopeOf(request);
  absl::MutexLock lock(&state.mu);
  if (state.decision.ok()) state.decision = state.authorizer->CheckScope(state.caller, scope);
  for (auto& force : scope.forces) state.scope.forces.push_back(std::move(force));
  for (auto& name : scope.resources) state.scope.resources.push_back(std::move(name));
  for (auto& path : scope.field_paths) state.scope.field_paths.push_back(std::move(path));
}

class SecurityInterceptor : public grpc::experimental::Interceptor {
 public:
  SecurityInterceptor(grpc::experimental::ServerRpcInfo* info, const Authorizer* authorizer,
                      db::Database* audit_db, bool raw_request)
      : context_(info->server_context()), raw_request_(raw_request) {
    const char* method = info->method();
    state_ = std::make_shared<CallState>();
    state_->authorizer = authorizer;
    state_->audit_db = audit_db;
    state_->method = method != nullptr ? method : "";
  }

  ~SecurityInterceptor() override { CallTable::Get().Erase(context_, state_.get()); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      Admit(*methods->GetRecvInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      Scope(methods->GetRecvMessage());
    }
    methods->Proceed();
  }

 private:
  void Admit(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
    if (IsOpenMethod(state_->method)) return;
    auto why = metadata.find(kJustificationMetadata);
    if (why != metadata.end()) {
      state_->justification =
          CleanJustification(absl::string_view(why->second.data(), why->second.size()));
    }
    auto auth = context_->auth_context();
    auto caller = state_->authorizer->Authenticate(metadata, auth.get(), context_->peer());
    absl::MutexLock lock(&state_->mu);
    state_->scope_pending = raw_request_;
    if (!caller.ok()) {
      state_->decision = caller.status();
    } else if (IsReflection(state_->method)) {
      state_->caller = std::move(*caller);
      state_->decision = state_->authorizer->reflection()
                             ? absl::OkStatus()
                             : PermissionDenied("REFLECTION_OFF", "reflection is switched off");
    } else {
      state_->caller = std::move(*caller);
      state_->decision =
          state_->authorizer->CheckMethod(state_->caller, state_->method, &state_->rule);
    }
    CallTable::Get().Put(context_, state_);
  }

  void Scope(void* message) {
    // A raw-request method's message is the request's bytes (grpc::ByteBuffer), not a Message.
    if (message == nullptr || raw_request_ || IsOpenMethod(state_->method)) return;
    if (IsReflection(state_->method)) {
      // The reflection service is gRPC's, not ours, and an interceptor cannot end a call: a
      // request from a caller who may not reflect is emptied before the service reads it, and the
      // service answers an empty request with an UNIMPLEMENTED error response.
      absl::MutexLock lock(&state_->mu);
      if (!state_->decision.ok()) static_cast<google::protobuf::Message*>(message)->Clear();
      return;
    }
    // Every method the policy can list is a protobuf method of ours; its request is a Message.
    ApplyScope(*state_, *static_cast<const google::protobuf::Message*>(message));
  }

  const grpc::ServerContextBase* context_;
  const bool raw_request_;
  std::shared_ptr<CallState> state_;
};

class SecurityInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  SecurityInterceptorFactory(const Authorizer* authorizer, db::Database* audit_db)
      : authorizer_(authorizer), audit_db_(audit_db) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new SecurityInterceptor(info, authorizer_, audit_db_, IsRawRequest(info->method()));
  }

 private:
  const Authorizer* authorizer_;
  db::Database* audit_db_;
};

audit::Record RecordOf(const CallState& state, int code) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state.mu) {
  audit::Record record;
  record.subject = state.caller.subject;
  record.roles = state.caller.roles;
  record.peer = state.caller.peer;
  record.method = state.method;
  record.force = state.scope.forces.empty() ? "" : state.scope.forces.front();
  record.resources = state.scope.resources;
  record.field_paths = state.scope.field_paths;
  record.justification = state.justification;
  record.time = absl::Now();
  record.code = code;
  return record;
}

thread_local const CallGuard* current_guard = nullptr;
thread_local const Caller* current_caller = nullptr;

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeSecurityInterceptor(
    const Authorizer* authorizer, db::Database* audit_db) {
  return std::make_unique<SecurityInterceptorFactory>(authorizer, audit_db);
}

void DeclareRawRequestMethods(const std::vector<std::string>& methods) {
  RawRequestMethods& raw = RawRequestMethods::Get();
  absl::MutexLock lock(&raw.mu);
  for (const auto& method : methods) raw.names.insert(method);
}

CallGuard::CallGuard(const grpc::ServerContextBase* context)
    : CallGuard(context, nullptr, /*request_given=*/false) {}

CallGuard::CallGuard(const grpc::ServerContextBase* context,
                     const google::protobuf::Message* request)
    : CallGuard(context, request, /*request_given=*/true) {}

CallGuard::CallGuard(const grpc::ServerContextBase* context,
                     const google::protobuf::Message* request, bool request_given)
    : state_(context == nullptr ? nullptr : CallTable::Get().Find(context)) {
  if (state_ == nullptr) {
    status_ = PermissionDenied("NO_AUTHORIZATION_DECISION",
                               "the call was not authorized by the server's security layer");
    return;
  }
  bool pending = false;
  {
    absl::MutexLock lock(&state_->mu);
    pending = state_->scope_pending;
    if (pending && request != nullptr) state_->scope_pending = false;
  }
  if (pending && request != nullptr) ApplyScope(*state_, *request);
  absl::MutexLock lock(&state_->mu);
  status_ = state_->decision;
  if (status_.ok() && state_->scope_pending) {
    // The caller may call the method, but the request's scope was never checked: the request
    // did not parse (its handler passes none), or a handler forgot to pass it.
    status_ = request_given ? UnreadableRequest()
                            : PermissionDenied("NO_AUTHORIZATION_DECISION",
                                               "the request's scope was not checked");
  }
  if (!status_.ok()) return;
  outer_ = current_guard;
  current_guard = this;
  current_caller = &state_->caller;
  if (state_->rule.audited() && state_->audit_db != nullptr) {
    // The record of a write commits in the write's transaction: both or neither.
    commit_hook_.emplace(
        [record = RecordOf(*state_, 0)](db::Connection& c) { return audit::Append(c, record); });
  }
}

CallGuard::~CallGuard() {
  if (state_ != nullptr && status_.ok()) {
    current_guard = outer_;
    current_caller = outer_ == nullptr ? nullptr : &outer_->state_->caller;
  }
}

absl::Status CallGuard::Recheck() const {
  if (state_ == nullptr) return status_;
  absl::MutexLock lock(&state_->mu);
  return state_->decision;
}

void CallGuard::Finish(const absl::Status& outcome) {
  if (finished_ || state_ == nullptr) return;
  finished_ = true;
  if (commit_hook_.has_value()) {
    if (commit_hook_->fired()) return;
    commit_hook_.reset();  // else it would fire in the transaction below as well
  }
  audit::Record record;
  {
    absl::MutexLock lock(&state_->mu);
    // Refusals of anonymous callers are not audit records (a flood of them would be a way to
    // fill the log); the rpc log line counts them.
    if (!state_->caller.authenticated()) return;
    // A refused call is recorded whatever the method: refusals of known callers are what an
    // auditor looks for.
    const bool audited = state_->rule.audited() || !status_.ok();
    if (!audited || state_->audit_db == nullptr) return;
    record = RecordOf(*state_, static_cast<int>(outcome.code()));
  }
  absl::Status written = state_->audit_db->Write(
      [&](db::Connection& c) -> absl::Status { return audit::Append(c, record); });
  if (!written.ok()) {
    OUTREACH_LOG(kError, "audit_append_failed")
        .Kv("method", record.method)
        .Kv("detail", written.message());
  }
}

const Caller* CurrentCaller() { return current_caller; }

InProcessAdmission::InProcessAdmission(const grpc::ServerContextBase* context, Caller caller)
    : context_(context), state_(std::make_shared<CallState>()) {
  {
    absl::MutexLock lock(&state_->mu);
    state_->caller = std::move(caller);
  }
  CallTable::Get().Put(context_, state_);
}

InProcessAdmission::~InProcessAdmission() { CallTable::Get().Erase(context_, state_.get()); }

absl::Status RecheckCurrentCall() {
  if (current_guard == nullptr) {
    return PermissionDenied("NO_AUTHORIZATION_DECISION",
                            "the call was not authorized by the server's security layer");
  }
  return current_guard->Recheck();
}

}  // namespace outreach::security
