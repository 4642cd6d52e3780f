// outreachctl's command line: flags, settings from flags/environment/config file, the command
// table's dispatch and suggestions, filters and field values, and how failures are told.
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "outreach/metrics/v1/metrics.pb.h"
#include "outreach/workshops/v1/workshops.pb.h"
#include "tests/support/temp_dir.h"
#include "tools/outreachctl/cli.h"
#include "tools/outreachctl/resources.h"

namespace outreach::ctl {
namespace {

const std::vector<FlagSpec> kSpecs = {{"output", "FORMAT", "", 'o'},
                                      {"filter", "EXPR", ""},
                                      {"plaintext", "", ""},
                                      {"set", "F=V", "", 0, true}};

TEST(OutreachctlArgs, FlagFormsAndPositionals) {
  auto args = ParseArgs({"get", "--filter=a = 1", "-o", "json", "NAME", "--plaintext", "--set",
                         "x=1", "--set=y=2", "--", "--not-a-flag"},
                        kSpecs);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->positional, (std::vector<std::string>{"get", "NAME", "--not-a-flag"}));
  EXPECT_EQ(args->Get("filter"), "a = 1");
  EXPECT_EQ(args->Get("output"), "json");
  EXPECT_TRUE(args->Has("plaintext"));
  EXPECT_EQ(args->All("set"), (std::vector<std::string>{"x=1", "y=2"}));
  auto joined = ParseArgs({"-ojson"}, kSpecs);
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->Get("output"), "json");
}

TEST(OutreachctlArgs, UsageErrorsSayWhatIsWrong) {
  auto unknown = ParseArgs({"--filtr", "x"}, kSpecs);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "unknown flag --filtr; did you mean --filter?");
  auto missing = ParseArgs({"--output"}, kSpecs);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "needs a value")) << missing.status();
  EXPECT_FALSE(ParseArgs({"--plaintext=maybe"}, kSpecs).ok());
  EXPECT_FALSE(ParseArgs({"-o", "json", "-o", "csv"}, kSpecs).ok());
}

TEST(OutreachctlArgs, NearestSuggestsTyposAndUniquePrefixesOnly) {
  const std::vector<std::string> verbs = {"list", "get", "create", "deliver", "delete"};
  EXPECT_EQ(Nearest("lst", verbs).value_or(""), "list");
  EXPECT_EQ(Nearest("delivr", verbs).value_or(""), "deliver");
  EXPECT_EQ(Nearest("cr", verbs).value_or(""), "create");
  EXPECT_FALSE(Nearest("frobnicate", verbs).has_value());
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
}

TEST(OutreachctlSettings, FlagBeatsEnvironmentBeatsConfigFile) {
  TempDir dir;
  const std::string conf = dir.File("outreachctl.conf");
  std::ofstream(conf) << "# test\nforce = from-file\nworkshops-address = 10.0.0.1:50051\n"
                         "token-file = \"/run/token\"\ntimeout = 5s\n";
  std::map<std::string, std::string> env = {{"OUTREACH_CONFIG", conf},
                                            {"OUTREACH_FORCE", "from-env"}};
  EnvLookup lookup = [&](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto args = ParseArgs({}, GlobalFlags());
  ASSERT_TRUE(args.ok());
  auto s = ResolveSettings(*args, lookup);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->force, "from-env");
  EXPECT_EQ(s->address.at("workshops"), "10.0.0.1:50051");
  EXPECT_EQ(s->address.at("metrics"), "127.0.0.1:50054");  // the default
  EXPECT_EQ(s->security.token_file, "/run/token");
  EXPECT_EQ(s->timeout, absl::Seconds(5));
  EXPECT_EQ(s->config_file, conf);

  auto flagged = ParseArgs({"--force", "from-flag"}, GlobalFlags());
  ASSERT_TRUE(flagged.ok());
  EXPECT_EQ(ResolveSettings(*flagged, lookup)->force, "from-flag");
  EXPECT_EQ(EnvName("token-file"), "OUTREACH_TOKEN_FILE");
}

TEST(OutreachctlSettings, ABadConfigFileNamesItsLine) {
  TempDir dir;
  const std::string conf = dir.File("bad.conf");
  std::ofstream(conf) << "force = derbyshire\nforse = oops\n";
  auto args = ParseArgs({"--config", conf}, GlobalFlags());
  ASSERT_TRUE(args.ok());
  auto s = ResolveSettings(*args, [](const std::string&) { return std::nullopt; });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), conf + ":2: unknown setting forse; did you mean force?");
  auto missing = ParseArgs({"--config", dir.File("none.conf")}, GlobalFlags());
  EXPECT_FALSE(ResolveSettings(*missing, [](const std::string&) { return std::nullopt; }).ok());
}

int RunCli(const std::vector<std::string>& words, std::string* out, std::string* err) {
  std::ostringstream o, e;
  const int code = Run(
      words, [](const std::string&) { return std::nullopt; }, o, e, false);
  *out = o.str();
  *err = e.str();
  return code;
}

TEST(OutreachctlDispatch, UnknownCommandsGetTheNearestOneAndUsageExit) {
  std::string out, err;
  EXPECT_EQ(RunCli({"workshops", "lst"}, &out, &err), kExitUsage);
  EXPECT_TRUE(absl::StrContains(err, "did you mean \"workshops list\"?")) << err;
  EXPECT_EQ(RunCli({"worksops", "list"}, &out, &err), kExitUsage);
  EXPECT_TRUE(absl::StrContains(err, "did you mean \"workshops\"?")) << err;
  EXPECT_EQ(RunCli({"workshops", "list", "--fitler", "x"}, &out, &err), kExitUsage);
  EXPECT_TRUE(absl::StrContains(err, "did you mean --filter?")) << err;
  // A command that needs a force says how to give one, before any call.
  EXPECT_EQ(RunCli({"workshops", "list"}, &out, &err), kExitUsage);
  EXPECT_TRUE(absl::StrContains(err, "OUTREACH_FORCE")) << err;
  EXPECT_EQ(RunCli({"workshops", "list", "--force", "derbyshire", "-o", "xml"}, &out, &err),
            kExitUsage);
  EXPECT_TRUE(absl::StrContains(err, "table, json, yaml, csv")) << err;
}

TEST(OutreachctlDispatch, EveryCommandHasHelp) {
  for (const auto& c : Commands().commands()) {
    std::vector<std::string> words = c.path;
    words.push_back("--help");
    std::string out, err;
    ASSERT_EQ(RunCli(words, &out, &err), kExitOk) << absl::StrJoin(c.path, " ") << err;
    EXPECT_TRUE(absl::StartsWith(out, "Usage: outreachctl " + absl::StrJoin(c.path, " "))) << out;
    EXPECT_TRUE(absl::StrContains(out, "--token-file")) << out;
  }
  std::string out, err;
  EXPECT_EQ(RunCli({"--help"}, &out, &err), kExitOk);
  EXPECT_TRUE(absl::StrContains(out, "export officers-trained")) << out;
  EXPECT_EQ(RunCli({"workshops", "--help"}, &out, &err), kExitOk);
  EXPECT_TRUE(absl::StrContains(out, "workshops deliver")) << out;
  EXPECT_EQ(RunCli({}, &out, &err), kExitUsage);
}

TEST(OutreachctlDispatch, BashCompletionKnowsCommandsAndFlags) {
  std::string out, err;
  ASSERT_EQ(RunCli({"completion", "bash"}, &out, &err), kExitOk);
  EXPECT_TRUE(absl::StrContains(out, "complete -o default -F _outreachctl outreachctl")) << out;
  EXPECT_TRUE(absl::StrContains(out, "\"workshops\") words=\"")) << out;
  EXPECT_TRUE(absl::StrContains(out, "|workshops deliver|")) << out;
  EXPECT_TRUE(absl::StrContains(out, "--order-by")) << out;
}

TEST(OutreachctlFields, FiltersTakeEnumValuesAsOperatorsWriteThem) {
  const auto* workshop = workshops::v1::Workshop::descriptor();
  EXPECT_EQ(NormalizeFilter(workshop, "state = \"DELIVERED\""), "state = WORKSHOP_STATE_DELIVERED");
  EXPECT_EQ(NormalizeFilter(workshop, "state=delivered AND area = \"north\""),
            "state=WORKSHOP_STATE_DELIVERED AND area = \"north\"");
  EXPECT_EQ(NormalizeFilter(workshop, "venue_kind != \"primary\""),
            "venue_kind != VENUE_KIND_PRIMARY");
  // Not an enum field, not a value of it, or not = / !=: left for the server to judge.
  EXPECT_EQ(NormalizeFilter(workshop, "title = \"DELIVERED\""), "title = \"DELIVERED\"");
  EXPECT_EQ(NormalizeFilter(workshop, "state = \"BOGUS\""), "state = \"BOGUS\"");
  EXPECT_EQ(NormalizeFilter(workshop, "colour = \"red\""), "colour = \"red\"");
  EXPECT_EQ(NormalizeFilter(workshop, ""), "");
}

TEST(OutreachctlFields, CommandLineValuesSetTypedFields) {
  metrics::v1::GetDashboardRequest dashboard;
  ASSERT_TRUE(SetField(&dashboard, "period.kind", "academic-year").ok());
  EXPECT_EQ(dashboard.period().kind(), metrics::v1::PERIOD_KIND_ACADEMIC_YEAR);
  ASSERT_TRUE(SetField(&dashboard, "period.anchor_date", "2025-06-01").ok());
  EXPECT_EQ(dashboard.period().anchor_date().month(), 6);
  auto bad = SetField(&dashboard, "period.kind", "fortnight");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.message(), "academic-year")) << bad;
  EXPECT_FALSE(SetField(&dashboard, "period.anchor_date", "2025-13-01").ok());
  EXPECT_FALSE(SetField(&dashboard, "colour", "red").ok());

  workshops::v1::RescheduleWorkshopRequest reschedule;
  ASSERT_TRUE(SetField(&reschedule, "start_time", "2025-06-01T09:30:00Z").ok());
  EXPECT_EQ(reschedule.start_time().seconds(), 1748770200);
  workshops::v1::GetCoverageRequest coverage;
  ASSERT_TRUE(SetField(&coverage, "venue_kinds", "primary, secondary").ok());
  EXPECT_EQ(coverage.venue_kinds_size(), 2);
  EXPECT_FALSE(SetField(&coverage, "academic_year", "twenty").ok());
}

TEST(OutreachctlFailures, ExitCodesByClass) {
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::OK), 0);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::INVALID_ARGUMENT), kExitInvalidArgument);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::NOT_FOUND), kExitNotFound);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::PERMISSION_DENIED), kExitRefused);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::UNAUTHENTICATED), kExitRefused);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::FAILED_PRECONDITION), kExitRefused);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::ABORTED), kExitConflict);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::UNAVAILABLE), kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::INTERNAL), kExitError);
  // Distinct classes, distinct codes.
  std::set<int> codes = {kExitOk,       kExitError,   kExitUsage,    kExitInvalidArgument,
                         kExitNotFound, kExitRefused, kExitConflict, kExitUnavailable,
                         kExitPartial};
  EXPECT_EQ(codes.size(), 9u);
}

TEST(OutreachctlFailures, ReasonAndEveryFieldViolationInTwoLines) {
  google::rpc::Status details;
  details.set_code(3);
  google::rpc::ErrorInfo info;
  info.set_reason("FIELD_INVALID");
  info.set_domain("outreach.workshops.v1");
  details.add_details()->PackFrom(info);
  google::rpc::BadRequest bad;
  auto* v = bad.add_field_violations();
  v->set_field("filter");
  v->set_description("unknown field colour");
  v = bad.add_field_violations();
  v->set_field("page_size");
  v->set_description("must not be negative");
  details.add_details()->PackFrom(bad);
  const grpc::Status status(grpc::StatusCode::INVALID_ARGUMENT, "invalid request",
                            details.SerializeAsString());
  EXPECT_EQ(DescribeFailure("workshops list", "127.0.0.1:50051", status),
            "workshops list: INVALID_ARGUMENT (FIELD_INVALID): server says: invalid request\n"
            "  field filter: unknown field colour; field page_size: must not be negative");
  // Without details the text may be the transport's: not presented as the server's, and a hint.
  const grpc::Status down(grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses");
  const std::string text = DescribeFailure("dashboard", "127.0.0.1:50054", down);
  EXPECT_TRUE(absl::StartsWith(text, "dashboard: UNAVAILABLE: failed to connect")) << text;
  EXPECT_TRUE(absl::StrContains(text, "is the service running at 127.0.0.1:50054?")) << text;
}

TEST(OutreachctlResources, RequestIdsAreStableAndDistinct) {
  EXPECT_EQ(RequestIdFor({"m", "file"}), RequestIdFor({"m", "file"}));
  EXPECT_NE(RequestIdFor({"m", "file"}), RequestIdFor({"m", "file2"}));
  EXPECT_NE(RequestIdFor({"ab", "c"}), RequestIdFor({"a", "bc"}));
  EXPECT_LE(RequestIdFor({"x"}).size(), 64u);  // the API's limit
  EXPECT_TRUE(absl::StartsWith(RequestIdFor({"x"}), "ctl-"));
}

TEST(OutreachctlResources, NamesFromIdsParentsAndFullNames) {
  Settings settings;
  settings.force = "derbyshire";
  Connection connection(settings);
  Context ctx;
  ctx.connection = &connection;
  auto name = [&](const std::string& arg, const std::string& collection,
                  const std::string& parent_collection, const std::string& parent) {
    auto n = ExpandName(ctx, arg, collection, parent_collection, parent);
    return n.ok() ? *n : "error: " + std::string(n.status().message());
  };
  EXPECT_EQ(name("y9-sexting", "workshops", "", ""), "forces/derbyshire/workshops/y9-sexting");
  EXPECT_EQ(name("forces/other/workshops/x", "workshops", "", ""), "forces/other/workshops/x");
  EXPECT_EQ(name("cybercrime/v2", "versions", "courses", ""),
            "forces/derbyshire/courses/cybercrime/versions/v2");
  EXPECT_EQ(name("v2", "versions", "courses", "cybercrime"),
            "forces/derbyshire/courses/cybercrime/versions/v2");
  EXPECT_TRUE(absl::StartsWith(name("v2", "versions", "courses", ""), "error: "));
  EXPECT_TRUE(absl::StartsWith(name("a/b", "workshops", "", ""), "error: "));
  EXPECT_TRUE(absl::StartsWith(name("", "workshops", "", ""), "error: "));
}

}  // namespace
}  // namespace outreach::ctl
