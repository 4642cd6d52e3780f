#pragma once

// Training rules that need no network or store: input validation, module results and
// completion, certificate validity and expiry, and the compliance arithmetic. Everything that
// depends on "now" takes the instant as an argument (the service passes its injected clock).

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/resource_name.h"
#include "common/validation.h"
#include "outreach/training/v1/training.pb.h"

namespace outreach::training {

using ::outreach::common::v1::OfficerRole;

inline constexpr char kDomain[] = "outreach.training.v1";
inline constexpr char kSource[] = "training";
inline constexpr int kMaxModules = 50;
inline constexpr int kMaxImportBatch = 1000;
inline constexpr int kMaxStreamRecords = 1000000;
inline constexpr int kMaxImportErrors = 1000;

const ResourcePattern& CoursePattern();
const ResourcePattern& CourseVersionPattern();
const ResourcePattern& OfficerPattern();
const ResourcePattern& EnrolmentPattern();
const ResourcePattern& ComplianceReportPattern();

// The reason name of a TrainingErrorReason, without its prefix (as sent in ErrorInfo).
std::string ReasonName(v1::TrainingErrorReason reason);
// FAILED_PRECONDITION with a training reason.
absl::Status TrainingError(v1::TrainingErrorReason reason, absl::string_view message);

// --- validation (each returns INVALID_ARGUMENT naming fields under `prefix`) ---------------
absl::Status ValidateCourse(const v1::Course& course, absl::string_view prefix);
absl::Status ValidateModules(const google::protobuf::RepeatedPtrField<v1::Module>& modules,
                             absl::string_view prefix);
absl::Status ValidateCourseVersionText(const v1::CourseVersion& version, absl::string_view prefix);
absl::Status ValidateOfficer(const v1::Officer& officer, absl::string_view prefix);
bool IsValidStaffNumber(absl::string_view s);
bool IsValidRole(int role);

// --- completion and expiry -----------------------------------------------------------------
// valid_until = issue + `months` calendar months in local (Europe/London) time, same day of
// month clamped to the month's end; nullopt when months == 0 (never expires).
std::optional<absl::Time> ValidUntil(absl::Time issue, int months);

// The state as of `now`: a COMPLETED enrolment whose valid_until has passed reads as EXPIRED.
// This is the single place where expiry is decided; stores call it on every read.
v1::EnrolmentState EffectiveState(v1::EnrolmentState stored, std::optional<absl::Time> valid_until,
                                  absl::Time now);

// `passed` as the server decides it: score >= pass_mark when a score is given.
bool DecidePassed(const v1::Module& module, std::optional<int> score, bool passed);

const v1::Module* FindModule(const v1::CourseVersion& version, absl::string_view module_id);

// Whether the enrolment already holds exactly this result (same passed, score, completed_time).
bool HoldsIdenticalResult(const v1::Enrolment& enrolment, absl::string_view module_id,
                          std::optional<int> score, bool passed, absl::Time completed);

// Stores the result of one module (replacing an earlier one), keeping the version's module
// order. Does not change the state.
void UpsertModuleResult(const v1::CourseVersion& version, v1::ModuleResult result,
                        v1::Enrolment* enrolment);

// When every mandatory module of `version` has a passed result: the latest completed_time of
// the mandatory modules (the certificate's issue time). nullopt otherwise.
std::optional<absl::Time> CompletionTime(const v1::CourseVersion& version,
                                         const v1::Enrolment& enrolment);

// --- compliance ----------------------------------------------------------------------------
struct OfficerFacts {
  std::string name;
  int role = 0;
  std::string division;
  bool active = false;
};

struct EnrolmentFacts {
  std::string officer;
  int role = 0;  // officer's role at enrolment, refreshed at completion
  std::string division;
  absl::Time create_time;
  std::optional<absl::Time> complete_time;
  std::optional<absl::Time> valid_until;
  std::optional<absl::Time> withdraw_time;
  std::optional<absl::CivilDay> due_date;
};

struct ComplianceScope {
  std::set<int> roles;   // empty: every role
  std::string division;  // empty: every division
  absl::CivilDay as_of_date;
  v1::YearBasis year_basis = v1::YEAR_BASIS_CALENDAR;
  std::optional<int> target_officers;
  std::optional<double> target_percent;
};

// Fills totals, target, expiring windows, breakdown and completions_by_year of `report`, as of
// the end of scope.as_of_date. An enrolment counts as it stood at that instant (created,
// completed or withdrawn before it), so a past date reproduces an earlier position.
void ComputeCompliance(const ComplianceScope& scope, const std::vector<OfficerFacts>& officers,
                       const std::vector<EnrolmentFacts>& enrolments, v1::ComplianceReport* report);

}  // namespace outreach::training
