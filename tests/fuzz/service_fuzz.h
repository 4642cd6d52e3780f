#pragma once

// In-process handler fuzzing shared by the <service>_fuzz_handlers targets. An input is a
// sequence of calls, each framed as [method byte][length: 2 bytes, little endian][request
// bytes]; the method byte picks a handler from the target's table (modulo its size) and the
// bytes are parsed as that handler's request type. Every input gets a fresh SQLite store, so a
// finding replays alone, and the calls run in order on it, so later calls see what earlier ones
// created. Any status is fine except one that only a failing store may give (INTERNAL, UNKNOWN,
// DATA_LOSS, UNAVAILABLE) while the store is healthy, or one whose message leaks SQL.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pagination.h"
#include "common/security/interceptor.h"
#include "common/service_main.h"
#include "grpcpp/server_context.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/support/temp_dir.h"

namespace outreach::fuzz {

// One handler of `Impl`, taking its request as serialized bytes. False when the bytes are not a
// request of its type (gRPC would have refused them before any handler ran).
template <typename Impl>
using Rpc = std::function<bool(Impl&, const std::string&, grpc::Status*)>;

template <typename Impl, typename Request, typename Response>
Rpc<Impl> Call(grpc::Status (Impl::*method)(grpc::ServerContext*, const Request*, Response*)) {
  return [method](Impl& impl, const std::string& bytes, grpc::Status* status) {
    Request request;
    if (!request.ParseFromString(bytes)) return false;
    Response response;
    grpc::ServerContext context;
    // The handlers' logic is what is fuzzed here; the security layer has its own tests.
    security::InProcessAdmission admitted(&context, security::Caller{"fuzz", "", {}, {}, ""});
    *status = (impl.*method)(&context, &request, &response);
    return true;
  };
}

// True when `message` holds `word` (internal text: SQL, SQLite's errors) that the caller did not
// send itself: an error may quote the caller's own value back ("divisionsqlite_sequence" as a bad
// filter field), which is not a leak. Both texts are lower case.
inline bool Leaks(const std::string& message, const std::string& request, absl::string_view word) {
  return absl::StrContains(message, word) && !absl::StrContains(request, word);
}

inline void CheckStatus(const grpc::Status& status, db::Database& db, size_t method,
                        const std::string& request) {
  const grpc::StatusCode code = status.error_code();
  const bool store_failure_code =
      code == grpc::StatusCode::INTERNAL || code == grpc::StatusCode::UNKNOWN ||
      code == grpc::StatusCode::DATA_LOSS || code == grpc::StatusCode::UNAVAILABLE;
  if (store_failure_code && db.Ping().ok()) {
    std::fprintf(stderr, "method #%zu answered code %d (%s) over a healthy store\n", method,
                 static_cast<int>(code), status.error_message().c_str());
    FUZZ_CHECK(!store_failure_code);
  }
  const std::string message = absl::AsciiStrToLower(status.error_message());
  const std::string sent = absl::AsciiStrToLower(request);
  FUZZ_CHECK(!Leaks(message, sent, "sqlite") && !Leaks(message, sent, "sql "));
  FUZZ_CHECK(!Leaks(message, sent, "constraint"));
}

// Runs the calls framed in `data` against a fresh service built from `spec`.
template <typename Impl>
void RunCalls(const ServiceSpec& spec, const std::vector<Rpc<Impl>>& rpcs, const uint8_t* data,
              size_t size) {
  SetLogLevel(LogLevel::kError);
  TempDir dir;
  db::Options options;
  options.readers = 1;
  options.synchronous_full = false;
  auto db = db::Database::Open(dir.File(spec.name + ".db"), spec.schema, options);
  FUZZ_CHECK(db.ok());
  FakeClock clock(absl::FromCivil(absl::CivilSecond(2025, 1, 15, 9, 0, 0), absl::UTCTimeZone()));
  PageTokenCodec page_tokens("fuzz-key");
  MetricsRegistry metrics;
  ServiceContext context{db->get(), &clock, &page_tokens, &metrics, nullptr};
  std::unique_ptr<grpc::Service> service = spec.make_service(context);
  auto* impl = dynamic_cast<Impl*>(service.get());
  FUZZ_CHECK(impl != nullptr);

  constexpr int kMaxCalls = 32;
  size_t at = 0;
  for (int calls = 0; calls < kMaxCalls && size - at >= 3; ++calls) {
    const size_t method = data[at] % rpcs.size();
    const size_t length = std::min<size_t>(data[at + 1] | (data[at + 2] << 8), size - at - 3);
    const std::string bytes(reinterpret_cast<const char*>(data + at + 3), length);
    at += 3 + length;
    grpc::Status status;
    if (!rpcs[method](*impl, bytes, &status)) continue;
    CheckStatus(status, **db, method, bytes);
    clock.Advance(absl::Hours(1));  // time-dependent rules see time pass between calls
  }
}

}  // namespace outreach::fuzz
