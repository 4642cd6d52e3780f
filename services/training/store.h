#pragma once

// The training store: an interface the gRPC service talks to, and its SQL implementation.
// Inputs arrive validated and parsed (ids, not names); every method works inside one force and
// every write (with its outbox events and request ledger entry) is one db.Write transaction.
// What a write changes and which events follow is decided in services/training/rules.h; the
// SQL store loads the rows, calls the rule and writes its result.
//
// Certificate expiry: the stored state of a completed enrolment stays COMPLETED until a sweep
// materialises it; every read presents the state as of the clock (EffectiveState), so callers
// never see a stale COMPLETED. SweepExpired moves COMPLETED rows whose valid_until has passed to
// EXPIRED and appends one CertificateExpired event each, in one transaction. It runs at the
// start of every write of the force (so any write sees, and emits, due expiries first) and
// periodically from the service (TrainingService's sweeper thread, using the same clock).

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/pagination.h"
#include "common/store_support.h"
#include "services/training/domain.h"
#include "services/training/rules.h"

namespace outreach::training {

struct ImportSummary {
  int applied = 0;
  int skipped = 0;
  int rejected = 0;
  std::vector<v1::ImportRecordError> errors;  // at most kMaxImportErrors
};

struct ComplianceFacts {
  std::vector<OfficerFacts> officers;
  std::vector<EnrolmentFacts> enrolments;
  std::optional<v1::Course> course;
};

// The update methods take the caller's resource as `patch`: its masked fields and its etag.
class TrainingStore {
 public:
  virtual ~TrainingStore() = default;

  virtual absl::StatusOr<v1::Course> GetCourse(const std::string& force,
                                               const std::string& course) = 0;
  virtual absl::StatusOr<ListPage<v1::Course>> ListCourses(const std::string& force,
                                                           const ListQuery& query) = 0;
  virtual absl::StatusOr<v1::Course> CreateCourse(const std::string& force, std::string id,
                                                  const v1::Course& course,
                                                  const RequestKey& key) = 0;
  virtual absl::StatusOr<v1::Course> UpdateCourse(const std::string& force,
                                                  const std::string& course,
                                                  const v1::Course& patch,
                                                  const std::set<std::string>& paths) = 0;
  virtual absl::Status DeleteCourse(const std::string& force, const std::string& course,
                                    const std::string& etag) = 0;

  virtual absl::StatusOr<v1::CourseVersion> GetCourseVersion(const std::string& force,
                                                             const std::string& course,
                                                             const std::string& version) = 0;
  virtual absl::StatusOr<ListPage<v1::CourseVersion>> ListCourseVersions(
      const std::string& force, const std::string& course, const ListQuery& query) = 0;
  virtual absl::StatusOr<v1::CourseVersion> CreateCourseVersion(const std::string& force,
                                                                const std::string& course,
                                                                std::string id,
                                                                const v1::CourseVersion& version,
                                                                const RequestKey& key) = 0;
  virtual absl::StatusOr<v1::CourseVersion> UpdateCourseVersion(
      const std::string& force, const std::string& course, const std::string& version,
      const v1::CourseVersion& patch, const std::set<std::string>& paths) = 0;
  virtual absl::Status DeleteCourseVersion(const std::string& force, const std::string& course,
                                           const std::string& version, const std::string& etag) = 0;
  virtual absl::StatusOr<v1::CourseVersion> PublishCourseVersion(const std::string& force,
                                                                 const std::string& course,
                                                                 const std::string& version,
                                                                 const std::string& etag) = 0;
  virtual absl::StatusOr<v1::CourseVersion> RetireCourseVersion(const std::string& force,
                                                                const std::string& course,
                                                                const std::string& version,
                                                                const std::string& etag) = 0;

  virtual absl::StatusOr<v1::Officer> GetOfficer(const std::string& force,
                                                 const std::string& officer) = 0;
  virtual absl::StatusOr<ListPage<v1::Officer>> ListOfficers(const std::string& force,
                                                             const ListQuery& query) = 0;
  virtual absl::StatusOr<v1::Officer> CreateOfficer(const std::string& force, std::string id,
                                                    const v1::Officer& officer,
                                                    const RequestKey& key) = 0;
  virtual absl::StatusOr<v1::Officer> UpdateOfficer(const std::string& force,
                                                    const std::string& officer,
                                                    const v1::Officer& patch,
                                                    const std::set<std::string>& paths) = 0;
  virtual absl::Status DeleteOfficer(const std::string& force, const std::string& officer,
                                     const std::string& etag) = 0;

  virtual absl::StatusOr<v1::Enrolment> GetEnrolment(const std::string& force,
                                                     const std::string& enrolment) = 0;
  virtual absl::StatusOr<ListPage<v1::Enrolment>> ListEnrolments(const std::string& force,
                                                                 const ListQuery& query) = 0;
  // `officer` and `version` are ids; `due_date` optional.
  virtual absl::StatusOr<v1::Enrolment> EnrolOfficer(const std::string& force, std::string id,
                                                     const std::string& officer,
                                                     const std::string& course,
                                                     const std::string& version,
                                                     std::optional<absl::CivilDay> due_date,
                                                     const RequestKey& key) = 0;
  virtual absl::StatusOr<v1::Enrolment> UpdateEnrolmentDueDate(
      const std::string& force, const std::string& enrolment,
      std::optional<absl::CivilDay> due_date, const std::string& etag) = 0;
  virtual absl::StatusOr<v1::Enrolment> RecordModuleResult(const std::string& force,
                                                           const std::string& enrolment,
                                                           const ModuleResultInput& result) = 0;
  virtual absl::StatusOr<v1::Enrolment> WithdrawEnrolment(const std::string& force,
                                                          const std::string& enrolment,
                                                          const std::string& etag,
                                                          const std::string& reason) = 0;

  // Applies up to kMaxImportBatch records in one transaction; `first_index` numbers them in
  // errors. Adds to `summary`. A store failure applies nothing of this batch.
  virtual absl::Status ImportCompletions(const std::string& force,
                                         const std::vector<v1::CompletionRecord>& records,
                                         int first_index, ImportSummary* summary) = 0;

  // Materialises expiry (see the file comment). `force` empty: every force (maintenance).
  // Returns the number of enrolments moved to EXPIRED.
  virtual absl::StatusOr<int> SweepExpired(const std::string& force) = 0;

  // Officers and enrolments (of `course`, when not empty) for a compliance report.
  virtual absl::StatusOr<ComplianceFacts> LoadComplianceFacts(const std::string& force,
                                                              const std::string& course) = 0;
};

db::MigrationSet TrainingMigrations();

std::unique_ptr<TrainingStore> NewSqlTrainingStore(db::Database* db, const Clock* clock);

}  // namespace outreach::training
