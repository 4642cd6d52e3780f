#include "common/rules/officer_standing.h"

namespace outreach::rules {

bool IsCurrentAt(const EnrolmentRecord& e, absl::Time at) {
  return e.complete_time.has_value() && *e.complete_time < at &&
         (!e.valid_until.has_value() || *e.valid_until > at);
}

OfficerPosition PositionOf(absl::Span<const EnrolmentRecord> enrolments, EvaluationPoint when,
                           absl::string_view course) {
  OfficerPosition p;
  bool open = false, overdue = false, had_certificate = false;
  for (const EnrolmentRecord& e : enrolments) {
    if (!course.empty() && e.course != course) continue;
    const bool completed = e.complete_time.has_value() && *e.complete_time < when.at;
    // Imported history is created after it was completed: it counts from its completion.
    if (e.create_time >= when.at && !completed) continue;
    const bool withdrawn = e.withdraw_time.has_value() && *e.withdraw_time < when.at;
    if (completed) {
      had_certificate = true;
      if (!e.valid_until.has_value()) {
        p.current_never_expires = true;
      } else if (*e.valid_until > when.at &&
                 (!p.current_until.has_value() || *e.valid_until > *p.current_until)) {
        p.current_until = e.valid_until;
      }
    } else if (!withdrawn) {
      open = true;
      if (e.due_date.has_value() && *e.due_date < when.as_of_day) overdue = true;
    }
  }
  if (p.current_never_expires || p.current_until.has_value()) {
    p.standing = Standing::kCurrent;
  } else if (overdue) {
    p.standing = Standing::kOverdue;
  } else if (open) {
    p.standing = Standing::kInProgress;
  } else if (had_certificate) {
    p.standing = Standing::kExpired;
  }
  return p;
}

}  // namespace outreach::rules
