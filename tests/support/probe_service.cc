#include "tests/support/probe_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/resource_name.h"
#include "common/store_support.h"

namespace outreach::testing {

std::vector<db::MigrationSet> ProbeSchema() {
  return {
      CommonMigrations(),
      {"probe", {{1, "notes", "CREATE TABLE notes (key TEXT PRIMARY KEY, body TEXT NOT NULL);"}}}};
}

absl::Status PutNote(db::Database& db, const v1::Note& note) {
  if (!IsValidResourceId(note.key())) {
    return InvalidArgument("note.key", "must match [a-z][a-z0-9-]{0,62}");
  }
  if (note.body().size() > (1 << 20)) return InvalidArgument("note.body", "must be at most 1 MiB");
  return db.Write([&](db::Connection& c) -> absl::Status {
    auto q = c.Prepare(
        "INSERT INTO notes (key, body) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET body = excluded.body");
    if (!q.ok()) return q.status();
    q->Bind(1, note.key()).Bind(2, note.body());
    return q->Run();
  });
}

absl::Status GetNote(db::Database& db, const std::string& key, v1::Note* note) {
  if (!IsValidResourceId(key)) return InvalidArgument("key", "must match [a-z][a-z0-9-]{0,62}");
  return db.Read([&](db::Connection& c) -> absl::Status {
    auto q = c.Prepare("SELECT body FROM notes WHERE key = ?");
    if (!q.ok()) return q.status();
    q->Bind(1, key);
    auto row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return NotFound(absl::StrCat("notes/", key));
    note->set_key(key);
    note->set_body(q->Text(0));
    return absl::OkStatus();
  });
}

grpc::Status ProbeServiceImpl::Sleep(grpc::ServerContext* context, const v1::SleepRequest* request,
                                     v1::SleepResponse* response) {
  if (request->millis() < 0 || request->millis() > 30000) {
    return ToGrpcStatus(InvalidArgument("millis", "must be between 0 and 30000"), kProbeDomain);
  }
  {
    absl::MutexLock lock(&mu_);
    ++sleeps_started_;
  }
  // Process tests wait for this line to know the call is in the handler.
  OUTREACH_LOG(kInfo, "probe_sleep_started")
      .Kv("sleep_millis", request->millis())
      .Kv("hold", request->hold() ? "true" : "false");
  bool cancelled = false;
  if (request->hold()) {
    absl::MutexLock lock(&mu_);
    // A sync handler is never told of a cancellation, so it looks at each short timeout; the
    // release itself wakes it at once.
    while (!released_ && !cancelled) {
      mu_.AwaitWithTimeout(absl::Condition(&released_), absl::Milliseconds(20));
      cancelled = context->IsCancelled();
    }
  }
  // The sleep is the point of this RPC: a slow handler for drain and deadline tests. It stops
  // when the call is cancelled, as a well-behaved handler does; otherwise the server would wait
  // it out and a drain deadline could not be seen to cut it short.
  const absl::Time end = absl::Now() + absl::Milliseconds(request->millis());
  for (absl::Duration left = end - absl::Now(); !cancelled && left > absl::ZeroDuration();
       left = end - absl::Now()) {
    absl::SleepFor(std::min(left, absl::Milliseconds(20)));
    cancelled = context->IsCancelled();
  }
  {
    absl::MutexLock lock(&mu_);
    ++sleeps_finished_;
  }
  if (cancelled) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  response->set_slept_millis(request->millis());
  return grpc::Status::OK;
}

bool ProbeServiceImpl::AwaitSleepsStarted(int n, absl::Duration bound) {
  absl::MutexLock lock(&mu_);
  const auto started = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sleeps_started_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&started), bound);
}

int ProbeServiceImpl::sleeps_finished() {
  absl::MutexLock lock(&mu_);
  return sleeps_finished_;
}

void ProbeServiceImpl::ReleaseHeld() {
  absl::MutexLock lock(&mu_);
  released_ = true;
}

grpc::Status ProbeServiceImpl::Fail(grpc::ServerContext*, const v1::FailRequest* request,
                                    v1::FailResponse*) {
  absl::Status status;
  if (request->kind() == "invalid") {
    status = InvalidArguments({{"kind", "is wrong"}, {"other", "is also wrong"}});
  } else if (request->kind() == "not_found") {
    status = NotFound("forces/derbyshire/notes/missing");
  } else if (request->kind() == "precondition") {
    status = FailedPrecondition("WORKSHOP_NOT_SCHEDULED", "the workshop is not scheduled");
  } else if (request->kind() == "unavailable") {
    status = absl::UnavailableError("SQLITE_BUSY: database is locked in /secret/path.db");
  } else {
    status = absl::InternalError("SELECT * FROM secrets failed: no such table");
  }
  return ToGrpcStatus(status, kProbeDomain, "/outreach.testing.v1.ProbeService/Fail");
}

grpc::Status ProbeServiceImpl::PutNote(grpc::ServerContext*, const v1::PutNoteRequest* request,
                                       v1::Note* response) {
  absl::Status s = testing::PutNote(*db_, request->note());
  if (s.ok()) *response = request->note();
  return ToGrpcStatus(s, kProbeDomain);
}

grpc::Status ProbeServiceImpl::GetNote(grpc::ServerContext*, const v1::GetNoteRequest* request,
                                       v1::Note* response) {
  return ToGrpcStatus(testing::GetNote(*db_, request->key(), response), kProbeDomain);
}

}  // namespace outreach::testing
