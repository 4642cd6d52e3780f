#pragma once

#include <memory>

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

 private:
  db::Database* db_;
};

// Shared by the sync service above and the callback variant in bench/.
absl::Status PutNote(db::Database& db, const v1::Note& note);
absl::Status GetNote(db::Database& db, const std::string& key, v1::Note* note);

inline constexpr char kProbeDomain[] = "outreach.testing.v1";

}  // namespace outreach::testing
