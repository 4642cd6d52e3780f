#pragma once

#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/db.h"
#include "outreach/testing/v1/probe.grpc.pb.h"

namespace outreach::testing {

// Schema of the probe's store: the common tables plus one table of notes.
std::vector<db::MigrationSet> ProbeSchema();

// The probe service in the sync API (what the domain services use; see README).
class ProbeServiceImpl final : public outreach::testing::v1::ProbeService::Service {
 public:
  explicit ProbeServiceImpl(db::Database* db) : db_(db) {}

  grpc::Status Sleep(grpc::ServerContext* context, const v1::SleepRequest* request,
                     v1::SleepResponse* response) override;
  grpc::Status Fail(grpc::ServerContext* context, const v1::FailRequest* request,
                    v1::FailResponse* response) override;
  grpc::Status PutNote(grpc::ServerContext* context, const v1::PutNoteRequest* request,
                       v1::Note* response) override;
  grpc::Status GetNote(grpc::ServerContext* context, const v1::GetNoteRequest* request,
                       v1::Note* response) override;

  // Hooks for tests that need a call in flight at a known moment, so that they synchronise on
  // the handler rather than sleep and hope it has started.
  // Waits until `n` Sleep calls have entered the handler; false if `bound` passes first.
  bool AwaitSleepsStarted(int n, absl::Duration bound);
  // How many Sleep calls have left the handler.
  int sleeps_finished();
  // Lets every held Sleep call (SleepRequest.hold) go on, and every later one not wait at all.
  void ReleaseHeld();

 private:
  db::Database* db_;
  absl::Mutex mu_;
  int sleeps_started_ ABSL_GUARDED_BY(mu_) = 0;
  int sleeps_finished_ ABSL_GUARDED_BY(mu_) = 0;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

// Shared by the sync service above and the callback variant in bench/.
absl::Status PutNote(db::Database& db, const v1::Note& note);
absl::Status GetNote(db::Database& db, const std::string& key, v1::Note* note);

inline constexpr char kProbeDomain[] = "outreach.testing.v1";

}  // namespace outreach::testing
