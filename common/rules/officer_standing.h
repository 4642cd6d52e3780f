#pragma once

// An officer's training standing at an instant: the one definition that training's compliance
// report and metrics' training KPIs both use (services/training/domain.cc,
// services/metrics/read_model.cc feed it their own rows).

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace outreach::rules {

// In the order they are decided: the first that applies wins.
enum class Standing { kCurrent, kOverdue, kInProgress, kExpired, kNeverTrained };

// One enrolment of an officer as the caller knows it.
struct EnrolmentRecord {
  std::string course;  // only compared when a course filter is given
  // A record whose creation is unknown counts from the beginning of time; one created after
  // the evaluation instant and not completed before it does not count at all.
  absl::Time create_time = absl::InfinitePast();
  std::optional<absl::Time> complete_time;
  std::optional<absl::Time> valid_until;  // with complete_time; nullopt = never expires
  std::optional<absl::Time> withdraw_time;
  std::optional<absl::CivilDay> due_date;  // local day
};

// When the standing is evaluated: the instant `at` (exclusive: a completion at `at` has not
// happened yet) and the local day that instant closes, against which due dates are compared
// (an enrolment due on that day is not yet overdue).
struct EvaluationPoint {
  absl::Time at;
  absl::CivilDay as_of_day;
};

struct OfficerPosition {
  Standing standing = Standing::kNeverTrained;
  // The latest valid_until of a current certificate that expires (unset when none).
  std::optional<absl::Time> current_until;
  bool current_never_expires = false;  // a current certificate without valid_until
};

// The position of one officer given all their enrolments. `course` empty = any course.
OfficerPosition PositionOf(absl::Span<const EnrolmentRecord> enrolments, EvaluationPoint when,
                           absl::string_view course = "");

// Whether a completed record is a current certificate at `at`.
bool IsCurrentAt(const EnrolmentRecord& enrolment, absl::Time at);

}  // namespace outreach::rules
