#pragma once

// The decisions of the training store over plain values: what a state change, a module result,
// a completion, an expiry or an imported completion record changes on a resource and which
// events follow. The store loads the rows, calls a rule and writes what the rule returns (it
// stamps update_time and the etag, see common/etag.h); nothing here reads a clock or a
// database. The import rule reads officers, versions and enrolments through ImportReader,
// which the store answers from its transaction and a unit test from maps.

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "outreach/events/v1/events.pb.h"
#include "services/training/domain.h"

namespace outreach::training {

using outreach::events::v1::OutreachEvent;

// One module result as a caller (or an imported record) gives it; `passed` already decided.
struct ModuleResultInput {
  std::string module_id;
  std::optional<int> score;
  bool passed = false;
  absl::Time completed_time;
};

// An enrolment's course version with what its course adds: the certificate validity and the
// course's name.
struct VersionFacts {
  v1::CourseVersion version;
  int validity_months = 0;
  std::string course_name;
};

// An enrolment after a rule, and the events that follow from the change, in outbox order.
struct EnrolmentChange {
  v1::Enrolment enrolment;
  std::vector<OutreachEvent> events;
};

// The certificate's valid_until, when it has one.
std::optional<absl::Time> ValidUntilOf(const v1::Enrolment& enrolment);
// Sets the state a caller sees as of `now` (EffectiveState): every read presents it.
void PresentAsOf(absl::Time now, v1::Enrolment* enrolment);

// --- course versions ---------------------------------------------------------------------
// FAILED_PRECONDITION COURSE_VERSION_NOT_DRAFT (naming the version and its state) unless DRAFT.
absl::Status RequireDraft(const v1::CourseVersion& version, absl::string_view message);
// DRAFT -> PUBLISHED at `now`; needs at least one mandatory module.
absl::Status PublishVersion(absl::Time now, v1::CourseVersion* version);
// PUBLISHED -> RETIRED at `now`.
absl::Status RetireVersion(absl::Time now, v1::CourseVersion* version);

// --- officers ----------------------------------------------------------------------------
OutreachEvent OfficerUpserted(absl::string_view force, const v1::Officer& officer, absl::Time now);
OutreachEvent OfficerDeleted(absl::string_view force, const v1::Officer& officer, absl::Time now);

// --- enrolments --------------------------------------------------------------------------
// Whether `officer` may enrol in `version`: the version is published and not retired, the
// officer is active and has no open enrolment in the course (`open_enrolment` names it, or is
// empty).
absl::Status CheckEnrolment(const v1::Officer& officer, const v1::CourseVersion& version,
                            const std::string& open_enrolment);
// A new ENROLLED enrolment named `name`, with the officer's role and division as of now.
v1::Enrolment NewEnrolment(const std::string& name, const v1::Officer& officer,
                           const std::string& version_name, const std::string& course_name,
                           v1::RecordSource source, absl::Time now);
OutreachEvent EnrolmentCreated(absl::string_view force, const v1::Enrolment& enrolment,
                               absl::Time now);

// FAILED_PRECONDITION unless the enrolment is open (ENROLLED or IN_PROGRESS) as of `now`.
absl::Status RequireOpen(const v1::Enrolment& enrolment, absl::Time now);
// A new (or no) due date on an open enrolment.
absl::StatusOr<EnrolmentChange> ChangeDueDate(absl::string_view force, v1::Enrolment enrolment,
                                              std::optional<absl::CivilDay> due_date,
                                              absl::Time now);
// Withdraws an open enrolment; `officer` is its officer as stored now.
absl::StatusOr<EnrolmentChange> Withdraw(absl::string_view force, v1::Enrolment enrolment,
                                         const v1::Officer& officer, const std::string& reason,
                                         absl::Time now);

// The result to record for RecordModuleResult, or nullopt when the enrolment already holds
// exactly this result (a client retry: succeeds in any state and changes nothing).
absl::StatusOr<std::optional<ModuleResultInput>> CheckModuleResult(const v1::Enrolment& enrolment,
                                                                   const v1::CourseVersion& version,
                                                                   const ModuleResultInput& input,
                                                                   absl::Time now);

// Records `results` (not empty) on an open enrolment: a ModuleCompleted event each, then, when
// every mandatory module is passed, the completion with its certificate and the officer's
// role and division as of now (EnrolmentCompleted). A certificate already past its validity
// (imported history) expires at once (CertificateExpired).
EnrolmentChange ApplyResults(absl::string_view force, const VersionFacts& version,
                             const v1::Officer& officer, v1::Enrolment enrolment,
                             const std::vector<ModuleResultInput>& results, v1::RecordSource source,
                             absl::Time now);

// Materialises the expiry of a COMPLETED enrolment whose certificate has lapsed.
EnrolmentChange ExpireCertificate(absl::string_view force, v1::Enrolment enrolment,
                                  const v1::Officer& officer, absl::Time now);

// --- import ------------------------------------------------------------------------------
// What the import rule reads. Lookups return nullopt / nullptr when there is no such row;
// any error is a storage failure and fails the whole batch.
class ImportReader {
 public:
  virtual ~ImportReader() = default;
  virtual absl::StatusOr<std::optional<v1::Officer>> OfficerById(const std::string& id) = 0;
  virtual absl::StatusOr<std::optional<v1::Officer>> OfficerByStaffNumber(
      const std::string& staff_number) = 0;
  // The version named `version_name` (a valid name of the import's force); the pointer stays
  // valid as long as the reader.
  virtual absl::StatusOr<const VersionFacts*> Version(const std::string& version_name) = 0;
  // The officer's enrolments in the version, oldest first (as written so far in this batch).
  virtual absl::StatusOr<std::vector<v1::Enrolment>> EnrolmentsOf(
      const std::string& officer_name, const std::string& version_name) = 0;
};

// What importing one record decides: rejected (reason and field, as ImportRecordError has
// them), skipped (the results are held already: no change) or a change to write.
struct ImportDecision {
  std::string reason;  // empty: accepted
  std::string field;
  std::optional<EnrolmentChange> change;  // accepted without a change: skipped
  bool created = false;                   // `change` is a new enrolment
};

// Decides one CompletionRecord of `force` (see CompletionRecord in the proto for which
// enrolment takes it). `new_enrolment_id` names an enrolment the record creates.
absl::StatusOr<ImportDecision> DecideImport(absl::string_view force,
                                            const v1::CompletionRecord& record, absl::Time now,
                                            ImportReader& reader,
                                            absl::FunctionRef<std::string()> new_enrolment_id);

}  // namespace outreach::training
