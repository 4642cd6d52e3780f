// courses, course versions, officers and enrolments (outreach.training.v1), the completions
// import from a learning platform's CSV and the compliance report.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/calendar.h"
#include "outreach/training/v1/training.pb.h"
#include "tools/outreachctl/csv.h"
#include "tools/outreachctl/resources.h"

namespace outreach::ctl {

namespace {

namespace tv1 = outreach::training::v1;
constexpr const char* kService = "outreach.training.v1.TrainingService";
constexpr int kImportBatch = 500;  // the API takes up to 1000 records per call

const std::vector<std::string>& ImportColumns() {
  static const std::vector<std::string> columns = {
      "staff_number", "officer", "course_version", "module_id",
      "score",        "passed",  "completed_time", "external_record_id"};
  return columns;
}

// One CSV row as a CompletionRecord; a problem names the column.
absl::Status RecordFromRow(const Context& ctx, const CsvHeader& header, const CsvRecord& row,
                           tv1::CompletionRecord* record) {
  const std::string staff = header.Get(row, "staff_number").value_or("");
  const std::string officer = header.Get(row, "officer").value_or("");
  if (staff.empty() == officer.empty()) {
    return absl::InvalidArgumentError("give exactly one of staff_number and officer");
  }
  if (!staff.empty()) record->set_staff_number(staff);
  if (!officer.empty()) {
    auto name = ExpandName(ctx, officer, "officers", "", "");
    if (!name.ok())
      return absl::InvalidArgumentError(absl::StrCat("officer: ", name.status().message()));
    record->set_officer(*name);
  }
  const std::string version = header.Get(row, "course_version").value_or("");
  if (version.empty()) return absl::InvalidArgumentError("course_version is empty");
  auto version_name = ExpandName(ctx, version, "versions", "courses", "");
  if (!version_name.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("course_version: ", version_name.status().message()));
  }
  record->set_course_version(*version_name);
  record->set_module_id(header.Get(row, "module_id").value_or(""));
  if (auto score = header.Get(row, "score"); score && !score->empty()) {
    int value = 0;
    if (!absl::SimpleAtoi(*score, &value))
      return absl::InvalidArgumentError("score is not a whole number");
    record->set_score(value);
  }
  if (auto passed = header.Get(row, "passed"); passed && !passed->empty()) {
    bool value = false;
    if (!absl::SimpleAtob(*passed, &value))
      return absl::InvalidArgumentError("passed is not true or false");
    record->set_passed(value);
  }
  const std::string when = header.Get(row, "completed_time").value_or("");
  if (when.empty()) return absl::InvalidArgumentError("completed_time is empty");
  if (auto s = SetField(record, "completed_time", when); !s.ok()) return s;
  // The platform's record id, or one derived from the row: errors echo it, and the import is
  // idempotent by content anyway (a re-run counts rows as skipped).
  record->set_external_record_id(header.Get(row, "external_record_id")
                                     .value_or(RequestIdFor({absl::StrJoin(row.fields, "\x1f")})));
  return absl::OkStatus();
}

int RunImport(Context& ctx) {
  if (ctx.args.positional.size() != 1) return ctx.Usage("training import needs one FILE.csv");
  const std::string path = ctx.args.positional[0];
  auto text = ReadFile(path);
  if (!text.ok()) return ctx.Usage(std::string(text.status().message()));
  auto file = ParseCsvFile(path, *text, ImportColumns());
  if (!file.ok()) return ctx.Usage(std::string(file.status().message()));
  const std::vector<CsvRecord>& rows = file->rows;
  const CsvHeader& header = file->header;
  const auto* method = Method(absl::StrCat(kService, ".ImportCompletions"));
  tv1::ImportCompletionsResponse total;
  int bad_rows = 0;
  std::vector<int> lines;  // line of each record in the batch
  tv1::ImportCompletionsRequest batch;
  batch.set_parent(ctx.ForceParent());
  Progress progress(*ctx.err, ctx.interactive);
  size_t done = 1;
  auto send = [&]() -> int {
    if (batch.records_size() == 0) return kExitOk;
    tv1::ImportCompletionsResponse response;
    Outcome outcome = ctx.connection->Call(method, batch, &response);
    if (!outcome.ok()) {
      progress.Done();
      *ctx.err << "outreachctl: rows before line " << lines.front()
               << " are imported; the import is idempotent, so run it again once this is fixed\n";
      return ctx.Fail(absl::StrCat("training import ", path), method, outcome);
    }
    total.set_applied(total.applied() + response.applied());
    total.set_skipped(total.skipped() + response.skipped());
    total.set_rejected(total.rejected() + response.rejected());
    for (const auto& e : response.errors()) {
      const int line =
          e.index() >= 0 && e.index() < static_cast<int>(lines.size()) ? lines[e.index()] : 0;
      progress.Done();
      *ctx.err << path << ":" << line << ": rejected: " << e.reason()
               << (e.field().empty() ? "" : " (" + e.field() + ")") << "\n";
      auto* kept = total.add_errors();
      *kept = e;
      kept->set_index(line);
    }
    batch.clear_records();
    lines.clear();
    return kExitOk;
  };
  for (size_t i = 1; i < rows.size(); ++i, ++done) {
    const CsvRecord& row = rows[i];
    tv1::CompletionRecord record;
    absl::Status s = row.error.empty() ? RecordFromRow(ctx, header, row, &record)
                                       : absl::InvalidArgumentError(row.error);
    if (!s.ok()) {
      progress.Done();
      *ctx.err << path << ":" << row.line << ": bad row: " << s.message() << "\n";
      ++bad_rows;
      continue;
    }
    *batch.add_records() = std::move(record);
    lines.push_back(row.line);
    if (batch.records_size() >= kImportBatch) {
      if (int code = send(); code != kExitOk) return code;
    }
    progress.Update(absl::StrFormat("training import: %d of %d rows", done, rows.size() - 1));
  }
  if (int code = send(); code != kExitOk) return code;
  progress.Done();
  if (ctx.format == Format::kJson || ctx.format == Format::kYaml) {
    *ctx.out << RenderMessage(ctx.format, total, ctx.width);
  } else {
    *ctx.out << absl::StrFormat(
        "%s: %d rows: %d applied, %d skipped (already there), %d rejected, %d bad\n", path,
        rows.size() - 1, total.applied(), total.skipped(), total.rejected(), bad_rows);
  }
  return total.rejected() > 0 || bad_rows > 0 ? kExitPartial : kExitOk;
}

int RunCompliance(Context& ctx) {
  if (!ctx.args.positional.empty()) return ctx.Usage("compliance takes no arguments");
  tv1::GetComplianceReportRequest request;
  request.set_name(ctx.ForceParent() + "/complianceReport");
  struct {
    const char* flag;
    const char* field;
  } const fields[] = {{"role", "role"},
                      {"division", "division"},
                      {"as-of", "as_of_date"},
                      {"target-officers", "target_officers"},
                      {"target-percent", "target_percent"},
                      {"year-basis", "year_basis"}};
  for (const auto& f : fields) {
    if (!ctx.args.Has(f.flag)) continue;
    if (auto s = SetField(&request, f.field, ctx.args.Get(f.flag)); !s.ok()) {
      return ctx.Usage(absl::StrCat("--", f.flag, ": ", s.message()));
    }
  }
  if (ctx.args.Has("course")) {
    auto course = ExpandName(ctx, ctx.args.Get("course"), "courses", "", "");
    if (!course.ok()) return ctx.Usage(absl::StrCat("--course: ", course.status().message()));
    request.set_course(*course);
  }
  const auto* method = Method(absl::StrCat(kService, ".GetComplianceReport"));
  tv1::ComplianceReport report;
  Outcome outcome = ctx.connection->Call(method, request, &report);
  if (!outcome.ok()) return ctx.Fail("training compliance", method, outcome);
  *ctx.out << RenderMessage(ctx.format, report, ctx.width);
  return kExitOk;
}

}  // namespace

// The command table as data, one resource after another.
// NOLINTNEXTLINE(readability-function-size)
void RegisterTrainingCommands(Registry& registry) {
  AddResource(registry, ResourceSpec{{"training", "courses"},
                                     kService,
                                     "Course",
                                     "Courses",
                                     "courses",
                                     "",
                                     "",
                                     "CreateCourse",
                                     true,
                                     true,
                                     {{"COURSE", "id:name"},
                                      {"NAME", "display_name"},
                                      {"ORIGIN", "origin"},
                                      {"VALID_MONTHS", "validity_months"},
                                      {"ROLES", "target_roles"}},
                                     "",
                                     {}});
  AddResource(
      registry,
      ResourceSpec{{"training", "versions"},
                   kService,
                   "CourseVersion",
                   "CourseVersions",
                   "versions",
                   "courses",
                   "course",
                   "CreateCourseVersion",
                   true,
                   true,
                   {{"VERSION", "id:name"},
                    {"NAME", "display_name"},
                    {"STATE", "state"},
                    {"MODULES", "id:modules.module_id"},
                    {"PUBLISHED", "publish_time"}},
                   "NAME is COURSE/VERSION (e.g. cyber/v2), or VERSION with --course.",
                   {VerbSpec{"publish", "PublishCourseVersion", "publish a draft version"},
                    VerbSpec{"retire", "RetireCourseVersion", "retire a published version"}}});
  AddResource(registry,
              ResourceSpec{{"training", "officers"},
                           kService,
                           "Officer",
                           "Officers",
                           "officers",
                           "",
                           "",
                           "CreateOfficer",
                           true,
                           true,
                           {{"OFFICER", "id:name"},
                            {"STAFF_NUMBER", "staff_number"},
                            {"ROLE", "role"},
                            {"DIVISION", "division"},
                            {"ACTIVE", "active"}},
                           "Filter fields: staff_number, role, division, active, create_time.",
                           {}});
  AddResource(
      registry,
      ResourceSpec{{"training", "enrolments"},
                   kService,
                   "Enrolment",
                   "Enrolments",
                   "enrolments",
                   "",
                   "",
                   "EnrolOfficer",
                   true,
                   false,
                   {{"ENROLMENT", "id:name"},
                    {"OFFICER", "id:officer"},
                    {"VERSION", "course_version"},
                    {"STATE", "state"},
                    {"ROLE", "officer_role"},
                    {"DIVISION", "officer_division"},
                    {"COMPLETED", "complete_time"}},
                   "Filter fields: officer, course, course_version, state, officer_role, "
                   "officer_division, source, due_date, complete_time, certificate.valid_until.",
                   {VerbSpec{"withdraw",
                             "WithdrawEnrolment",
                             "withdraw an open enrolment",
                             {{"reason", "reason", "TEXT", "why (required)"}}},
                    VerbSpec{"record-result",
                             "RecordModuleResult",
                             "record one module's result",
                             {{"module", "module_id", "ID", "the module id"},
                              {"score", "score", "PERCENT", "score 0-100"},
                              {"passed", "passed", "BOOL", "passed (when no score)"},
                              {"completed-time", "completed_time", "TIME", "when (RFC 3339)"}}}}});
  registry.Add(Command{
      {"training", "import"},
      "FILE.csv",
      "import completions from a learning platform's CSV",
      "Columns (header row, any order): staff_number or officer, course_version (COURSE/VERSION),\n"
      "module_id (empty: the whole version), score or passed, completed_time (RFC 3339 or a "
      "date),\n"
      "external_record_id (optional). A bad row is reported with its line and the others are\n"
      "imported; a re-run imports nothing twice (rows already there count as skipped).\n"
      "Exit 8 when rows were rejected.",
      {},
      true,
      "",
      RunImport});
  registry.Add(Command{{"training", "compliance"},
                       "",
                       "training compliance: current, in progress, overdue, expired, never trained",
                       "",
                       {{"course", "COURSE", "only this course"},
                        {"role", "ROLE", "only this role, e.g. frontline-investigator"},
                        {"division", "DIVISION", "only this division"},
                        {"as-of", "DATE", "as of this local date (default today)"},
                        {"target-officers", "N", "target as a number of officers"},
                        {"target-percent", "P", "target as a percentage"},
                        {"year-basis", "BASIS", "calendar, financial or academic"}},
                       true,
                       "",
                       RunCompliance});
}

}  // namespace outreach::ctl
