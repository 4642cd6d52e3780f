// outreachctl end to end: the real suite (metrics + Redis, workshops, training, campaigns, one
// process each on SQLite files, TLS with the test PKI, a force administrator's token), loaded
// with the demo data by the *_demo binaries; then the real outreachctl binary, run through
// /bin/sh like an operator runs it, with its settings from a config file:
// - every `sh outreachctl-example` block of README.md runs and succeeds;
// - the FOI export gives the seed article's 128 frontline investigators trained last year;
// - a list pages through every page (the demo's 198 officers in pages of 50), --limit stops;
// - a bad filter exits with the invalid-argument class and names the field; NOT_FOUND,
//   UNAUTHENTICATED and an unreachable service exit with their classes;
// - a CSV import reports a bad row by line, imports the rest, and a re-run imports nothing twice;
// - nothing is written to stderr when it is not a terminal (no progress lines).
#include <fcntl.h>
#include <httplib.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "outreach/metrics/v1/metrics.pb.h"
#include "outreach/training/v1/training.pb.h"
#include "outreach/workshops/v1/workshops.pb.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/redis_server.h"
#include "tests/support/replica_set.h"
#include "tests/support/suite_processes.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"
#include "tools/outreachctl/csv.h"

extern char** environ;

namespace outreach {
namespace {

using outreach::testing::ChildProcess;
using outreach::testing::RedisServer;
using outreach::testing::ReplicaSet;
using outreach::testing::WaitFor;

constexpr const char* kDomainServices[] = {"workshops", "training", "campaigns"};

std::string Env(const std::string& name, const std::string& fallback = "") {
  const char* v = std::getenv(name.c_str());
  return v != nullptr ? v : fallback;
}
std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Outbox events of a domain service not yet acknowledged by metrics; -1 while it does not answer.
int64_t Backlog(const ReplicaSet& set) { return outreach::testing::OutboxBacklog(set.HttpPort(0)); }

struct ShellResult {
  int code = -1;
  std::string out, err;
};

// The suite with the demo data, shared by every test of this file (started once).
class Suite {
 public:
  Suite() : security_(dir_.File("pki")), redis_(dir_.path()) {}

  void Start() {
    redis_.Start();
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    metrics_ = std::make_unique<ReplicaSet>(
        &security_, "metrics", Env("OUTREACH_METRICS_BIN", "metrics"),
        std::vector<std::string>{redis_.MetricsFlag(), "--db-path=" + dir_.File("metrics.db")}, 1,
        true);
    metrics_->Start(0);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    for (const char* service : kDomainServices) {
      domain_.push_back(std::make_unique<ReplicaSet>(
          &security_, service, Env(absl::StrCat("OUTREACH_", Upper(service), "_BIN"), service),
          std::vector<std::string>{"--metrics-address=" + metrics_->Target(),
                                   "--db-path=" + dir_.File(std::string(service) + ".db")},
          1, true));
      domain_.back()->Start(0);
      ASSERT_FALSE(::testing::Test::HasFatalFailure());
    }
    client_flags_ = security_.ClientFlags();
    for (size_t i = 0; i < std::size(kDomainServices); ++i) {
      std::vector<std::string> args{"--target=127.0.0.1:" + domain_[i]->Port(0),
                                    "--force=derbyshire"};
      args.insert(args.end(), client_flags_.begin(), client_flags_.end());
      ChildProcess demo(Env(absl::StrCat("OUTREACH_", Upper(kDomainServices[i]), "_DEMO")), args);
      ASSERT_TRUE(demo.Start());
      ASSERT_EQ(demo.Wait(absl::Seconds(120)), 0) << kDomainServices[i] << "_demo:\n"
                                                  << demo.Stderr();
    }
    for (auto& set : domain_) {
      ASSERT_TRUE(WaitFor([&] { return Backlog(*set) == 0; }, absl::Seconds(60)));
    }
    // outreachctl's settings, as an operator keeps them: a config file.
    std::ofstream conf(dir_.File("outreachctl.conf"));
    conf << "# written by outreachctl_e2e_test\n";
    for (size_t i = 0; i < std::size(kDomainServices); ++i) {
      conf << kDomainServices[i] << "-address = 127.0.0.1:" << domain_[i]->Port(0) << "\n";
    }
    conf << "metrics-address = 127.0.0.1:" << metrics_->Port(0) << "\n";
    for (const auto& flag : client_flags_) {  // --tls-ca-file=…, --token-file=…
      const auto eq = flag.find('=');
      conf << flag.substr(2, eq - 2) << " = " << flag.substr(eq + 1) << "\n";
    }
    conf << "force = derbyshire\n";
  }

  void Stop() {
    for (auto& set : domain_) set->Terminate();
    for (auto& set : domain_) set->AwaitExit();
    if (metrics_) metrics_->StopAll();
  }

  // Runs `script` with /bin/sh -e in a fresh working directory, outreachctl on PATH and
  // OUTREACH_CONFIG naming the config file; stdout and stderr are files (not terminals).
  ShellResult Sh(const std::string& script) {
    const std::string work = dir_.File(absl::StrCat("run-", ++runs_));
    std::filesystem::create_directories(work);
    const std::string ctl = Env("OUTREACHCTL_BIN");
    const std::string bin_dir = ctl.substr(0, ctl.rfind('/'));
    std::vector<std::string> env = {"PATH=" + bin_dir + ":/usr/bin:/bin", "HOME=" + work,
                                    "OUTREACH_CONFIG=" + dir_.File("outreachctl.conf"),
                                    "LC_ALL=C.UTF-8", "COLUMNS=120"};
    for (const char* keep : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TZ"}) {
      if (const char* v = std::getenv(keep)) env.push_back(absl::StrCat(keep, "=", v));
    }
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_s = {"sh", "-e", "-c", script};
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string out_file = work + "/.stdout", err_file = work + "/.stderr";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addchdir_np(&actions, work.c_str());
    pid_t pid = 0;
    ShellResult result;
    const int spawned = posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      ADD_FAILURE() << "cannot start /bin/sh";
      return result;
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(90);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ADD_FAILURE() << "timed out: " << script;
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));  // the poll interval, not a wait for an effect
    }
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = ReadAll(out_file);
    result.err = ReadAll(err_file);
    return result;
  }

  std::string Problems() {
    std::string out = metrics_ ? metrics_->Problems() : "";
    for (auto& set : domain_) out += set->Problems();
    return out;
  }

 private:
  TempDir dir_;
  outreach::testing::ProcessSecurity security_;
  RedisServer redis_;
  std::unique_ptr<ReplicaSet> metrics_;
  std::vector<std::unique_ptr<ReplicaSet>> domain_;
  std::vector<std::string> client_flags_;
  int runs_ = 0;
};

class OutreachctlE2e : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_ = new Suite();
    suite_->Start();
    started_ = !::testing::Test::HasFatalFailure();
  }
  static void TearDownTestSuite() {
    suite_->Stop();
    delete suite_;
    suite_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(started_) << "the suite did not start"; }

  static ShellResult Ctl(const std::string& args) { return suite_->Sh("outreachctl " + args); }

  static inline Suite* suite_ = nullptr;
  static inline bool started_ = false;
};

// The rows of a CSV output (header first), parsed with outreachctl's own reader.
std::vector<std::vector<std::string>> CsvRows(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  for (auto& r : ctl::ParseCsv(text)) {
    EXPECT_EQ(r.error, "") << "line " << r.line;
    out.push_back(std::move(r.fields));
  }
  return out;
}

// The fenced blocks of README.md whose info string is `sh outreachctl-example`.
std::vector<std::string> ReadmeExamples() {
  std::vector<std::string> blocks;
  std::istringstream in(ReadAll(Env("OUTREACH_README")));
  std::string line, block;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line == "```sh outreachctl-example") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      blocks.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  return blocks;
}

TEST_F(OutreachctlE2e, ReadmeExamplesRun) {
  const auto blocks = ReadmeExamples();
  ASSERT_GE(blocks.size(), 5u) << "README.md lost its outreachctl examples";
  for (const auto& block : blocks) {
    ShellResult r = suite_->Sh(block);
    if (!Env("OUTREACHCTL_E2E_SHOW").empty()) {  // to read what the examples print
      std::cout << "$ " << block << r.out << r.err << "(exit " << r.code << ")\n\n";
    }
    EXPECT_EQ(r.code, 0) << block << "\nstdout:\n"
                         << r.out << "\nstderr:\n"
                         << r.err << suite_->Problems();
    EXPECT_FALSE(r.out.empty()) << block;
    // What README says the examples show.
    if (absl::StrContains(block, "export officers-trained")) {
      EXPECT_TRUE(absl::StrContains(r.out, ",FRONTLINE_INVESTIGATOR,all,128,128\r\n")) << r.out;
    }
    if (absl::StrContains(block, "workshops deliver")) {
      EXPECT_TRUE(absl::StrContains(r.out, "\"state\": \"WORKSHOP_STATE_DELIVERED\"")) << r.out;
    }
    if (absl::StrContains(block, "training import")) {
      EXPECT_TRUE(absl::StrContains(
          r.out,
          "4 rows: 2 applied, 0 skipped (already there), 1 rejected, 1 bad\nexit 8\n"
          "completions.csv: 4 rows: 0 applied, 2 skipped"))
          << r.out;
      EXPECT_TRUE(absl::StrContains(
          r.err, "completions.csv:4: rejected: RESOURCE_NOT_FOUND (staff_number)"))
          << r.err;
      EXPECT_TRUE(absl::StrContains(r.err, "engagement.csv:3: rejected: INVALID_ARGUMENT; reach:"))
          << r.err;
    }
    if (absl::StrContains(block, "colour")) {
      EXPECT_EQ(r.out, "exit 3\nexit 4\nexit 2\n");
      EXPECT_TRUE(absl::StrContains(r.err, "field filter: cannot filter on \"colour\"")) << r.err;
      EXPECT_TRUE(absl::StrContains(r.err, "did you mean \"workshops list\"?")) << r.err;
    }
  }
}

TEST_F(OutreachctlE2e, FoiExportGivesTheArticlesNumbers) {
  const std::string last_year = absl::StrCat(LocalDay(absl::Now()).year() - 1);
  // year,from,to,role,division,officers_trained,completions
  ShellResult all = Ctl("export officers-trained --all-divisions --year " + last_year);
  ASSERT_EQ(all.code, 0) << all.err;
  EXPECT_EQ(all.err, "");
  auto rows = CsvRows(all.out);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0], (std::vector<std::string>{"year", "from", "to", "role", "division",
                                               "officers_trained", "completions"}));
  int frontline = -1, dmi = -1;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 7u);
    if (row[3] == "FRONTLINE_INVESTIGATOR") frontline = std::stoi(row[5]);
    if (row[3] == "DIGITAL_MEDIA_INVESTIGATOR") dmi = std::stoi(row[5]);
  }
  EXPECT_EQ(frontline, 128) << all.out;
  EXPECT_EQ(dmi, 10) << all.out;

  // By division: the three divisions add up to the same 128.
  ShellResult split = Ctl("export officers-trained --year " + last_year);
  ASSERT_EQ(split.code, 0) << split.err;
  int sum = 0;
  std::set<std::string> divisions;
  for (const auto& row : CsvRows(split.out)) {
    if (row.size() == 7 && row[3] == "FRONTLINE_INVESTIGATOR") {
      sum += std::stoi(row[5]);
      divisions.insert(row[4]);
    }
  }
  EXPECT_EQ(sum, 128) << split.out;
  EXPECT_EQ(divisions, (std::set<std::string>{"derby-city", "north", "south"})) << split.out;
}

TEST_F(OutreachctlE2e, ListsPageThroughEverything) {
  // 150 + 12 + 30 + 6 officers in the demo, 50 to a page by default.
  ShellResult csv = Ctl("training officers list -o csv");
  ASSERT_EQ(csv.code, 0) << csv.err;
  EXPECT_EQ(csv.err, "");  // no progress line when stderr is not a terminal
  auto rows = CsvRows(csv.out);
  ASSERT_EQ(rows.size(), 1u + 198u);
  std::set<std::string> staff;
  for (size_t i = 1; i < rows.size(); ++i) staff.insert(rows[i][1]);
  EXPECT_EQ(staff.size(), 198u);  // every officer once

  ShellResult json = Ctl("training officers list -o json --page-size 17");
  ASSERT_EQ(json.code, 0) << json.err;
  training::v1::ListOfficersResponse list;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &list).ok()) << json.out;
  EXPECT_EQ(list.officers_size(), 198);
  EXPECT_EQ(list.total_size(), 198);
  EXPECT_EQ(list.next_page_token(), "");

  ShellResult limited =
      Ctl("training officers list -o csv --limit 7 --filter 'role = \"call-handler\"'");
  ASSERT_EQ(limited.code, 0) << limited.err;
  rows = CsvRows(limited.out);
  ASSERT_EQ(rows.size(), 1u + 6u);  // only 6 call handlers: the limit is not reached
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_EQ(rows[i][2], "OFFICER_ROLE_CALL_HANDLER");
  limited = Ctl("training officers list -o csv --limit 7");
  ASSERT_EQ(limited.code, 0) << limited.err;
  EXPECT_EQ(CsvRows(limited.out).size(), 1u + 7u);

  ShellResult delivered =
      Ctl("workshops list -o json --filter 'state = \"DELIVERED\"' --order-by start_time");
  ASSERT_EQ(delivered.code, 0) << delivered.err;
  workshops::v1::ListWorkshopsResponse workshops;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(delivered.out, &workshops).ok())
      << delivered.out;
  ASSERT_GT(workshops.workshops_size(), 0);
  for (const auto& w : workshops.workshops())
    EXPECT_EQ(w.state(), workshops::v1::WORKSHOP_STATE_DELIVERED);
}

TEST_F(OutreachctlE2e, FailuresExitByClassAndNameTheField) {
  ShellResult bad = Ctl("workshops list --filter 'colour = \"red\"'");
  EXPECT_EQ(bad.code, 3) << bad.err;
  EXPECT_TRUE(absl::StrContains(bad.err, "INVALID_ARGUMENT")) << bad.err;
  EXPECT_TRUE(absl::StrContains(bad.err, "field filter")) << bad.err;
  EXPECT_TRUE(absl::StrContains(bad.err, "colour")) << bad.err;
  EXPECT_EQ(bad.out, "");

  ShellResult missing = Ctl("workshops get no-such-workshop");
  EXPECT_EQ(missing.code, 4) << missing.err;
  EXPECT_TRUE(absl::StrContains(missing.err, "NOT_FOUND")) << missing.err;

  ShellResult anonymous = Ctl("venues list --token-file=");
  EXPECT_EQ(anonymous.code, 5) << anonymous.err;
  EXPECT_TRUE(absl::StrContains(anonymous.err, "UNAUTHENTICATED")) << anonymous.err;

  ShellResult down = Ctl("dashboard --metrics-address 127.0.0.1:1 --timeout 3s");
  EXPECT_EQ(down.code, 7) << down.err;
  EXPECT_TRUE(absl::StrContains(down.err, "UNAVAILABLE")) << down.err;

  ShellResult typo = Ctl("workshops delivr x");
  EXPECT_EQ(typo.code, 2);
  EXPECT_TRUE(absl::StrContains(typo.err, "did you mean \"workshops deliver\"")) << typo.err;
}

TEST_F(OutreachctlE2e, ImportReportsBadRowsByLineAndNeverImportsTwice) {
  const std::string day = FormatDay(LocalDay(absl::Now()) - 1);
  // BOM, CRLF, a quoted field with a comma; line 4 names no officer, line 5 has no valid time.
  const std::string script = absl::StrCat(
      "printf "
      "'\\357\\273\\277staff_number,course_version,module_id,passed,completed_time,external_record_"
      "id\\r\\n"
      "PSN-400004,cybercrime/v2,partner-workshops,true,",
      day, ",\"X-1, first\"\\r\\nPSN-400005,cybercrime/v2,partner-workshops,true,", day,
      ",X-2\\r\\nPSN-999998,cybercrime/v2,partner-workshops,true,", day,
      ",X-3\\r\\nPSN-400006,cybercrime/v2,partner-workshops,true,soon,X-4\\r\\n' > c.csv\n"
      "outreachctl training import c.csv\n");
  ShellResult first = suite_->Sh(script);
  EXPECT_EQ(first.code, 8) << first.out << first.err;
  EXPECT_TRUE(absl::StrContains(first.out,
                                "4 rows: 2 applied, 0 skipped (already there), 1 rejected, 1 bad"))
      << first.out;
  EXPECT_TRUE(absl::StrContains(first.err, "c.csv:4: rejected: RESOURCE_NOT_FOUND (staff_number)"))
      << first.err;
  EXPECT_TRUE(absl::StrContains(first.err, "c.csv:5: bad row: completed_time")) << first.err;

  ShellResult again = suite_->Sh(script);
  EXPECT_EQ(again.code, 8) << again.err;
  EXPECT_TRUE(absl::StrContains(again.out,
                                "4 rows: 0 applied, 2 skipped (already there), 1 rejected, 1 bad"))
      << again.out;

  ShellResult enrolments =
      Ctl("training enrolments list -o csv --filter 'source = \"import\"' --limit 1000");
  ASSERT_EQ(enrolments.code, 0) << enrolments.err;
  int imported_for_these = 0;
  for (const auto& row : CsvRows(enrolments.out)) {
    if (row.size() > 1 && (row[1] == "ch-004" || row[1] == "ch-005")) ++imported_for_these;
  }
  EXPECT_EQ(imported_for_these, 2) << enrolments.out;  // one enrolment each, not two
}

TEST_F(OutreachctlE2e, UpdatesChangeTheFileFieldsAndRefuseAStaleEtag) {
  ShellResult updated = suite_->Sh(
      "echo '{\"pupilRoll\": 252}' > roll.json\n"
      "outreachctl venues update dales-special-school -f roll.json -o json\n");
  ASSERT_EQ(updated.code, 0) << updated.err;
  workshops::v1::Venue venue;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(updated.out, &venue).ok()) << updated.out;
  EXPECT_EQ(venue.pupil_roll(), 252);
  EXPECT_EQ(venue.display_name(), "Example Special School, Matlock");  // not in the mask: kept

  ShellResult stale = suite_->Sh(
      "echo '{\"pupilRoll\": 253}' > roll.json\n"
      "outreachctl venues update dales-special-school -f roll.json --etag stale-etag\n");
  EXPECT_EQ(stale.code, 6) << stale.err;
  EXPECT_TRUE(absl::StrContains(stale.err, "ABORTED")) << stale.err;
}

TEST_F(OutreachctlE2e, BashCompletionCompletesCommandsAndFlags) {
  ShellResult r = suite_->Sh(
      "outreachctl completion bash > c.bash\n"
      "bash -c '. ./c.bash; COMP_WORDS=(outreachctl work); COMP_CWORD=1; _outreachctl; echo "
      "\"${COMPREPLY[*]}\";"
      " COMP_WORDS=(outreachctl workshops de); COMP_CWORD=2; _outreachctl; echo "
      "\"${COMPREPLY[*]}\";"
      " COMP_WORDS=(outreachctl workshops list --ord); COMP_CWORD=3; _outreachctl; echo "
      "\"${COMPREPLY[*]}\";"
      " COMP_WORDS=(outreachctl venues list -o y); COMP_CWORD=4; _outreachctl; echo "
      "\"${COMPREPLY[*]}\"'\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "workshops\ndelete deliver\n--order-by\nyaml\n");
}

TEST_F(OutreachctlE2e, DashboardWatchShowsALiveUpdate) {
  // The watch prints the dashboard at once and again after an ingest changes it; the script
  // polls the output file for each (no sleeps that the result depends on).
  const std::string day = FormatDay(LocalDay(absl::Now()) - 2);
  ShellResult r = suite_->Sh(absl::StrCat(
      "outreachctl dashboard --watch -o json > w.jsonl &\n"
      "pid=$!\n"
      "lines() { wc -l < w.jsonl; }\n"
      "i=0; while [ \"$(lines)\" -lt 1 ]; do i=$((i+1)); [ $i -lt 3000 ] || { kill $pid; exit 9; "
      "}; sleep 0.02; done\n"
      "printf 'activity,day,impressions,reach\\nprotect-yourself-online/instagram-story,",
      day,
      ",91234,60000\\n' > e.csv\n"
      "outreachctl campaigns report e.csv >&2\n"
      "i=0; while [ \"$(lines)\" -lt 2 ]; do i=$((i+1)); [ $i -lt 3000 ] || { kill $pid; exit 10; "
      "}; sleep 0.02; done\n"
      "kill $pid; wait $pid || true\n"
      "cat w.jsonl\n"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u) << r.out;
  metrics::v1::Dashboard before, after;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[0], &before).ok()) << lines[0];
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines.back(), &after).ok())
      << lines.back();
  EXPECT_GT(after.data_version(), before.data_version());
  EXPECT_NE(after.campaigns().impressions(), before.campaigns().impressions());
}

}  // namespace
}  // namespace outreach
