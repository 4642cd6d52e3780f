#include "services/training/domain.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/rules/officer_standing.h"
#include "common/validation.h"

namespace outreach::training {

const ResourcePattern& CoursePattern() {
  static const ResourcePattern p("forces/{force}/courses/{course}");
  return p;
}
const ResourcePattern& CourseVersionPattern() {
  static const ResourcePattern p("forces/{force}/courses/{course}/versions/{version}");
  return p;
}
const ResourcePattern& OfficerPattern() {
  static const ResourcePattern p("forces/{force}/officers/{officer}");
  return p;
}
const ResourcePattern& EnrolmentPattern() {
  static const ResourcePattern p("forces/{force}/enrolments/{enrolment}");
  return p;
}
const ResourcePattern& ComplianceReportPattern() {
  static const ResourcePattern p("forces/{force}/complianceReport");
  return p;
}

std::string ReasonName(v1::TrainingErrorReason reason) {
  std::string name = v1::TrainingErrorReason_Name(reason);
  absl::string_view view(name);
  absl::ConsumePrefix(&view, "TRAINING_ERROR_REASON_");
  return std::string(view);
}

absl::Status TrainingError(v1::TrainingErrorReason reason, absl::string_view message) {
  return FailedPrecondition(ReasonName(reason), message);
}

bool IsValidStaffNumber(absl::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
  }
  return true;
}

bool IsValidRole(int role) { return role != 0 && outreach::common::v1::OfficerRole_IsValid(role); }

namespace {}  // namespace

absl::Status ValidateCourse(const v1::Course& course, absl::string_view prefix) {
  std::vector<FieldViolation> v;
  CheckText(course.display_name(), 200, true, FieldPath(prefix, "display_name"), &v,
            TextKind::kLine);
  CheckText(course.description(), 2000, false, FieldPath(prefix, "description"), &v);
  if (course.origin() == v1::COURSE_ORIGIN_UNSPECIFIED ||
      !v1::CourseOrigin_IsValid(course.origin())) {
    v.push_back({FieldPath(prefix, "origin"), "is required: COLLEGE_OF_POLICING or FORCE"});
  }
  if (course.validity_months() < 0 || course.validity_months() > 120) {
    v.push_back({FieldPath(prefix, "validity_months"), "must be 0-120 (0 = never expires)"});
  }
  if (course.target_roles_size() > 20) {
    v.push_back({FieldPath(prefix, "target_roles"), "must have at most 20 values"});
  }
  std::set<int> seen;
  for (int i = 0; i < course.target_roles_size(); ++i) {
    const int role = course.target_roles(i);
    if (!IsValidRole(role) || !seen.insert(role).second) {
      v.push_back({absl::StrCat(FieldPath(prefix, "target_roles"), "[", i, "]"),
                   "must be a distinct, specified role"});
    }
  }
  CheckText(course.external_code(), 64, false, FieldPath(prefix, "external_code"), &v,
            TextKind::kLine);
  return ViolationsToStatus(std::move(v));
}

absl::Status ValidateModules(const google::protobuf::RepeatedPtrField<v1::Module>& modules,
                             absl::string_view prefix) {
  std::vector<FieldViolation> v;
  const std::string base = FieldPath(prefix, "modules");
  if (modules.size() > kMaxModules) {
    v.push_back({base, absl::StrCat("must have at most ", kMaxModules, " modules")});
  }
  std::set<std::string> ids;
  for (int i = 0; i < modules.size(); ++i) {
    const v1::Module& m = modules[i];
    const std::string at = absl::StrCat(base, "[", i, "]");
    if (!IsValidResourceId(m.module_id())) {
      v.push_back({at + ".module_id", "must match [a-z][a-z0-9-]{0,62}"});
    } else if (!ids.insert(m.module_id()).second) {
      v.push_back({at + ".module_id", "is a duplicate module_id in this version"});
    }
    CheckText(m.title(), 200, true, at + ".title", &v, TextKind::kLine);
    CheckText(m.description(), 2000, false, at + ".description", &v);
    if (m.pass_mark() < 0 || m.pass_mark() > 100) {
      v.push_back({at + ".pass_mark", "must be 0-100"});
    }
    if (m.expected_duration_minutes() < 1 || m.expected_duration_minutes() > 6000) {
      v.push_back({at + ".expected_duration_minutes", "must be 1-6000"});
    }
    if (m.origin() == v1::COURSE_ORIGIN_UNSPECIFIED || !v1::CourseOrigin_IsValid(m.origin())) {
      v.push_back({at + ".origin", "is required: COLLEGE_OF_POLICING or FORCE"});
    }
  }
  return ViolationsToStatus(std::move(v));
}

absl::Status ValidateCourseVersionText(const v1::CourseVersion& version, absl::string_view prefix) {
  std::vector<FieldViolation> v;
  CheckText(version.display_name(), 200, true, FieldPath(prefix, "display_name"), &v,
            TextKind::kLine);
  CheckText(version.description(), 2000, false, FieldPath(prefix, "description"), &v);
  return ViolationsToStatus(std::move(v));
}

absl::Status ValidateOfficer(const v1::Officer& officer, absl::string_view prefix) {
  std::vector<FieldViolation> v;
  if (!IsValidStaffNumber(officer.staff_number())) {
    v.push_back(
        {FieldPath(prefix, "staff_number"), "is required, 1-32 characters of [A-Za-z0-9-]"});
  }
  if (!IsValidRole(officer.role())) v.push_back({FieldPath(prefix, "role"), "is required"});
  if (!IsValidStaffNumber(officer.division())) {
    v.push_back({FieldPath(prefix, "division"), "is required, 1-32 characters of [A-Za-z0-9-]"});
  }
  return ViolationsToStatus(std::move(v));
}

std::optional<absl::Time> ValidUntil(absl::Time issue, int months) {
  if (months <= 0) return std::nullopt;
  const absl::TimeZone& tz = ForceTimeZone();
  const absl::CivilSecond local = absl::ToCivilSecond(issue, tz);
  const absl::CivilMonth target = absl::CivilMonth(local) + months;
  const absl::CivilDay first_of_next = absl::CivilDay(target + 1);
  const int last_day = (first_of_next - 1).day();
  const int day = std::min(local.day(), last_day);
  const absl::CivilSecond shifted(target.year(), target.month(), day, local.hour(), local.minute(),
                                  local.second());
  return absl::FromCivil(shifted, tz) + (issue - absl::FromCivil(local, tz));
}

v1::EnrolmentState EffectiveState(v1::EnrolmentState stored, std::optional<absl::Time> valid_until,
                                  absl::Time now) {
  if (stored == v1::ENROLMENT_STATE_COMPLETED && valid_until.has_value() && *valid_until <= now) {
    return v1::ENROLMENT_STATE_EXPIRED;
  }
  return stored;
}

bool DecidePassed(const v1::Module& module, std::optional<int> score, bool passed) {
  if (score.has_value()) return *score >= module.pass_mark();
  return passed;
}

const v1::Module* FindModule(const v1::CourseVersion& version, absl::string_view module_id) {
  for (const auto& m : version.modules()) {
    if (m.module_id() == module_id) return &m;
  }
  return nullptr;
}

bool HoldsIdenticalResult(const v1::Enrolment& enrolment, absl::string_view module_id,
                          std::optional<int> score, bool passed, absl::Time completed) {
  for (const auto& r : enrolment.module_results()) {
    if (r.module_id() != module_id) continue;
    const std::optional<int> stored_score =
        r.has_score() ? std::optional<int>(r.score()) : std::nullopt;
    return r.passed() == passed && stored_score == score &&
           absl::FromUnixSeconds(r.completed_time().seconds()) +
                   absl::Nanoseconds(r.completed_time().nanos()) ==
               completed;
  }
  return false;
}

void UpsertModuleResult(const v1::CourseVersion& version, v1::ModuleResult result,
                        v1::Enrolment* enrolment) {
  std::map<std::string, v1::ModuleResult> by_id;
  for (const auto& r : enrolment->module_results()) by_id[r.module_id()] = r;
  by_id[result.module_id()] = std::move(result);
  enrolment->clear_module_results();
  for (const auto& m : version.modules()) {
    auto it = by_id.find(m.module_id());
    if (it != by_id.end()) *enrolment->add_module_results() = it->second;
  }
}

std::optional<absl::Time> CompletionTime(const v1::CourseVersion& version,
                                         const v1::Enrolment& enrolment) {
  std::optional<absl::Time> latest;
  bool any_mandatory = false;
  for (const auto& m : version.modules()) {
    if (!m.mandatory()) continue;
    any_mandatory = true;
    const v1::ModuleResult* found = nullptr;
    for (const auto& r : enrolment.module_results()) {
      if (r.module_id() == m.module_id()) found = &r;
    }
    if (found == nullptr || !found->passed()) return std::nullopt;
    const absl::Time t = absl::FromUnixSeconds(found->completed_time().seconds()) +
                         absl::Nanoseconds(found->completed_time().nanos());
    if (!latest.has_value() || t > *latest) latest = t;
  }
  if (!any_mandatory) return std::nullopt;
  return latest;
}

// --- compliance ----------------------------------------------------------------------------
namespace {

using rules::Standing;

void Count(Standing s, v1::ComplianceCounts* c) {
  c->set_officers_in_scope(c->officers_in_scope() + 1);
  switch (s) {
    case Standing::kCurrent:
      c->set_current(c->current() + 1);
      break;
    case Standing::kOverdue:
      c->set_overdue(c->overdue() + 1);
      break;
    case Standing::kInProgress:
      c->set_in_progress(c->in_progress() + 1);
      break;
    case Standing::kExpired:
      c->set_expired(c->expired() + 1);
      break;
    case Standing::kNeverTrained:
      c->set_never_trained(c->never_trained() + 1);
      break;
  }
}

void Finish(v1::ComplianceCounts* c) {
  c->set_compliance_percent(
      c->officers_in_scope() == 0 ? 0.0 : 100.0 * c->current() / c->officers_in_scope());
}

struct YearRange {
  int year;
  absl::CivilDay start;
  absl::CivilDay end;
};

YearRange YearOf(absl::CivilDay day, v1::YearBasis basis) {
  switch (basis) {
    case v1::YEAR_BASIS_FINANCIAL: {
      const int y = FinancialYearOf(day);
      return {y, absl::CivilDay(y, 4, 1), absl::CivilDay(y + 1, 3, 31)};
    }
    case v1::YEAR_BASIS_ACADEMIC: {
      const int y = AcademicYearOf(day);
      return {y, AcademicYearStart(y), AcademicYearEnd(y)};
    }
    default:
      return {static_cast<int>(day.year()), absl::CivilDay(day.year(), 1, 1),
              absl::CivilDay(day.year(), 12, 31)};
  }
}

}  // namespace

// One pass over the officers and one over their enrolments, filling every bucket of the report
// as it goes; split, the buckets' shared counters would have to travel between the parts.
// NOLINTNEXTLINE(readability-function-size)
void ComputeCompliance(const ComplianceScope& scope, const std::vector<OfficerFacts>& officers,
                       const std::vector<EnrolmentFacts>& enrolments,
                       v1::ComplianceReport* report) {
  // The report is as of the end of the local day: the first instant of the next day.
  const absl::Time at = StartOfLocalDay(scope.as_of_date + 1);
  auto role_in_scope = [&](int role) { return scope.roles.empty() || scope.roles.count(role); };
  auto division_in_scope = [&](const std::string& d) {
    return scope.division.empty() || scope.division == d;
  };

  std::map<std::string, const OfficerFacts*> in_scope;
  for (const auto& o : officers) {
    if (o.active && role_in_scope(o.role) && division_in_scope(o.division)) in_scope[o.name] = &o;
  }

  // Each officer's enrolments as the shared standing rules read them.
  std::map<std::string, std::vector<rules::EnrolmentRecord>> records;
  for (const auto& e : enrolments) {
    if (!in_scope.count(e.officer)) continue;
    records[e.officer].push_back(
        {"", e.create_time, e.complete_time, e.valid_until, e.withdraw_time, e.due_date});
  }
  const rules::EvaluationPoint when{at, scope.as_of_date};

  v1::ComplianceCounts* totals = report->mutable_totals();
  std::map<std::pair<int, std::string>, v1::ComplianceCounts> breakdown;
  int expiring[3] = {0, 0, 0};
  const int windows[3] = {30, 60, 90};
  for (const auto& [name, officer] : in_scope) {
    const rules::OfficerPosition p = rules::PositionOf(records[name], when);
    const Standing s = p.standing;
    const bool current = s == Standing::kCurrent;
    Count(s, totals);
    Count(s, &breakdown[{officer->role, officer->division}]);
    if (current && !p.current_never_expires) {
      for (int w = 0; w < 3; ++w) {
        if (*p.current_until <= at + absl::Hours(24 * windows[w])) ++expiring[w];
      }
    }
  }
  Finish(totals);

  int required = 0;
  if (scope.target_officers.has_value()) {
    report->set_target_officers(*scope.target_officers);
    required = *scope.target_officers;
  } else if (scope.target_percent.has_value()) {
    report->set_target_percent(*scope.target_percent);
    required = static_cast<int>(
        std::ceil(*scope.target_percent * totals->officers_in_scope() / 100.0 - 1e-9));
  }
  const bool has_target = scope.target_officers.has_value() || scope.target_percent.has_value();
  report->set_target_officers_required(required);
  report->set_target_met(has_target && totals->current() >= required);
  report->set_shortfall(std::max(0, required - totals->current()));

  for (int w = 0; w < 3; ++w) {
    auto* x = report->add_expiring();
    x->set_within_days(windows[w]);
    x->set_officers(expiring[w]);
  }
  for (auto& [key, counts] : breakdown) {
    Finish(&counts);
    auto* b = report->add_breakdown();
    b->set_role(static_cast<OfficerRole>(key.first));
    b->set_division(key.second);
    *b->mutable_counts() = counts;
  }

  // Completions per year and role: every officer (active or not) by the role and division at
  // completion.
  struct YearAgg {
    YearRange range;
    std::set<std::string> officers;
    int completions = 0;
  };
  std::map<std::pair<int, int>, YearAgg> years;
  for (const auto& e : enrolments) {
    if (!e.complete_time.has_value() || *e.complete_time >= at) continue;
    if (!role_in_scope(e.role) || !division_in_scope(e.division)) continue;
    const YearRange range = YearOf(LocalDay(*e.complete_time), scope.year_basis);
    YearAgg& agg = years[{range.year, e.role}];
    agg.range = range;
    agg.officers.insert(e.officer);
    ++agg.completions;
  }
  for (const auto& [key, agg] : years) {
    auto* y = report->add_completions_by_year();
    y->set_year(key.first);
    *y->mutable_date_range()->mutable_start_date() = ToProtoDate(agg.range.start);
    *y->mutable_date_range()->mutable_end_date() = ToProtoDate(agg.range.end);
    y->set_role(static_cast<OfficerRole>(key.second));
    y->set_officers(static_cast<int>(agg.officers.size()));
    y->set_completions(agg.completions);
  }
}

}  // namespace outreach::training
