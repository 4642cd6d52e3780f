// outreachctl's tables and the message rendering behind -o table|csv|json|yaml.
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "outreach/workshops/v1/workshops.pb.h"
#include "tests/support/temp_dir.h"
#include "tools/outreachctl/cli.h"
#include "tools/outreachctl/output.h"
#include "tools/outreachctl/table.h"

namespace outreach::ctl {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

TEST(OutreachctlTable, ColumnsAlignTwoSpacesApart) {
  const std::string t =
      RenderTable({"NAME", "STATE"}, {{"y9-sexting", "DELIVERED"}, {"webinar", "SCHEDULED"}}, 0);
  EXPECT_EQ(t,
            "NAME        STATE\n"
            "y9-sexting  DELIVERED\n"
            "webinar     SCHEDULED\n");
}

TEST(OutreachctlTable, WidthCountsCodePointsNotBytes) {
  EXPECT_EQ(DisplayWidth("Café"), 4u);
  EXPECT_EQ(DisplayWidth("…"), 1u);
  const std::string t = RenderTable({"A", "B"}, {{"Café", "x"}, {"Cafe", "y"}}, 0);
  const auto lines = Lines(t);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(DisplayWidth(lines[1]), DisplayWidth(lines[2]));
}

TEST(OutreachctlTable, WideTablesAreNarrowedToTheTerminal) {
  const std::string long_title(120, 't');
  const std::string t = RenderTable({"WORKSHOP", "TITLE", "STATE"},
                                    {{"y9-sexting-example-academy", long_title, "DELIVERED"}}, 60);
  for (const auto& line : Lines(t)) EXPECT_LE(DisplayWidth(line), 60u) << line;
  // The widest column gave way; the short ones are whole.
  EXPECT_NE(t.find("DELIVERED"), std::string::npos);
  EXPECT_NE(t.find("\xE2\x80\xA6"), std::string::npos);
  EXPECT_EQ(t.find(long_title), std::string::npos);
  // Without a limit nothing is cut.
  EXPECT_NE(RenderTable({"TITLE"}, {{long_title}}, 0).find(long_title), std::string::npos);
}

TEST(OutreachctlTable, TruncateKeepsWholeCodePoints) {
  EXPECT_EQ(Truncate("abcdef", 4), "abc\xE2\x80\xA6");
  EXPECT_EQ(Truncate("ééééé", 3), "éé\xE2\x80\xA6");
  EXPECT_EQ(Truncate("abc", 3), "abc");
}

TEST(OutreachctlTable, CellsWithLineBreaksStayOnOneLine) {
  const std::string t = RenderTable({"A"}, {{"two\nlines"}}, 0);
  EXPECT_EQ(Lines(t).size(), 2u);
}

workshops::v1::Workshop DeliveredWorkshop() {
  workshops::v1::Workshop w;
  w.set_name("forces/derbyshire/workshops/y9-sexting");
  w.set_title("Year 9, sexting");
  w.set_description("Café: \"who to tell\"\n# not a comment");  // quoting and escapes
  w.set_state(workshops::v1::WORKSHOP_STATE_DELIVERED);
  w.mutable_start_time()->set_seconds(1735725600);  // 2025-01-01T10:00:00Z
  auto* h = w.mutable_delivery()->mutable_headcount();
  auto* p = h->add_pupils();
  p->set_year_group(9);
  p->set_pupils(100);
  p = h->add_pupils();
  p->set_year_group(10);
  p->set_pupils(86);
  h->set_staff(7);
  w.add_presenters("forces/derbyshire/presenters/a");
  w.add_presenters("forces/derbyshire/presenters/b");
  return w;
}

TEST(OutreachctlOutput, FieldPathsEnumsTimesSumsAndIds) {
  const auto w = DeliveredWorkshop();
  EXPECT_EQ(FieldText(w, "state", true), "DELIVERED");
  EXPECT_EQ(FieldText(w, "state", false), "WORKSHOP_STATE_DELIVERED");
  EXPECT_EQ(FieldText(w, "start_time", false), "2025-01-01T10:00:00Z");  // CSV: RFC 3339
  EXPECT_EQ(FieldText(w, "start_time", true), "2025-01-01 10:00Z");      // tables: minutes
  EXPECT_EQ(FieldText(w, "sum:delivery.headcount.pupils.pupils", true), "186");
  EXPECT_EQ(FieldText(w, "delivery.headcount.staff", true), "7");
  EXPECT_EQ(FieldText(w, "id:name", true), "y9-sexting");
  EXPECT_EQ(FieldText(w, "id:presenters", true), "a, b");
  EXPECT_EQ(FieldText(w, "end_time", true), "");  // unset message
  EXPECT_EQ(FieldText(w, "no_such_field", true), "");
}

TEST(OutreachctlOutput, CsvRowsAreQuotedAndUseFullEnumNames) {
  const auto w = DeliveredWorkshop();
  const std::string csv =
      RenderRows(Format::kCsv, {{"title", "title"}, {"state", "state"}}, {&w}, 0);
  EXPECT_EQ(csv, "title,state\r\n\"Year 9, sexting\",WORKSHOP_STATE_DELIVERED\r\n");
}

TEST(OutreachctlOutput, JsonIsProtobufsMappingAndYamlTheSameTree) {
  const auto w = DeliveredWorkshop();
  const std::string json = ToJson(w);
  EXPECT_NE(json.find("\"startTime\": \"2025-01-01T10:00:00Z\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"state\": \"WORKSHOP_STATE_DELIVERED\""), std::string::npos) << json;
  const std::string yaml = ToYaml(w);
  EXPECT_NE(yaml.find("state: WORKSHOP_STATE_DELIVERED\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("title: Year 9, sexting\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("startTime: \"2025-01-01T10:00:00Z\"\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("presenters:\n- forces/derbyshire/presenters/a\n- forces/"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("    pupils:\n    - yearGroup: 9\n      pupils: 100\n    - yearGroup: 10\n"),
            std::string::npos)
      << yaml;
  EXPECT_TRUE(absl::StartsWith(yaml, "name: forces/derbyshire/workshops/y9-sexting\ntitle: "))
      << yaml;  // proto order
#ifdef OUTREACHCTL_HAVE_YAML
  // What -o yaml prints, -f reads back as the same message.
  TempDir dir;
  std::ofstream(dir.File("w.yaml")) << yaml;
  workshops::v1::Workshop back;
  std::string contents;
  ASSERT_TRUE(ReadMessageFile(dir.File("w.yaml"), &back, &contents).ok());
  EXPECT_EQ(back.SerializeAsString(), w.SerializeAsString()) << back.DebugString();
#endif
}

TEST(OutreachctlOutput, OneMessageAsFieldValueRows) {
  const auto w = DeliveredWorkshop();
  const std::string t = RenderMessage(Format::kTable, w, 0);
  // FIELD and VALUE columns: a nested path per line, repeated messages indexed, repeated
  // values joined; zero counts are shown, unset messages are not.
  EXPECT_TRUE(absl::StrContains(t, "\ndelivery.headcount.pupils[1].pupils      86\n")) << t;
  EXPECT_TRUE(absl::StrContains(
      t, "\npresenters                               forces/derbyshire/presenters/a, forces/"))
      << t;
  EXPECT_TRUE(absl::StrContains(t, "\ndelivery.headcount.parents               0\n")) << t;
  EXPECT_FALSE(absl::StrContains(t, "end_time")) << t;
}

TEST(OutreachctlOutput, ProgressOnlyOnATerminal) {
  std::ostringstream terminal, piped;
  {
    Progress on(terminal, true);
    on.Update("listing: 50 of 198");
    Progress off(piped, false);
    off.Update("listing: 50 of 198");
  }
  EXPECT_EQ(terminal.str(), "\rlisting: 50 of 198\033[K\r\033[K");  // drawn, then erased
  EXPECT_EQ(piped.str(), "");
}

TEST(OutreachctlOutput, FilesAreProtobufJsonOrYaml) {
  TempDir dir;
  const std::string json = dir.File("venue.json");
  std::ofstream(json)
      << R"({"displayName": "Example School", "kind": "VENUE_KIND_PRIMARY", "pupilRoll": 210})";
  workshops::v1::Venue venue;
  std::string contents;
  ASSERT_TRUE(ReadMessageFile(json, &venue, &contents).ok());
  EXPECT_EQ(venue.kind(), common::v1::VENUE_KIND_PRIMARY);
  EXPECT_EQ(venue.pupil_roll(), 210);
  EXPECT_FALSE(contents.empty());
  const std::string typo = dir.File("typo.json");
  std::ofstream(typo) << R"({"displayNme": "x"})";
  auto refused = ReadMessageFile(typo, &venue, &contents);
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.message(), "typo.json")) << refused;

  const std::string yaml = dir.File("venue.yaml");
  std::ofstream(yaml)
      << "# a school\ndisplayName: \"Example School, Derby\"\nkind: VENUE_KIND_SECONDARY\n"
         "pupilRoll: 900\nschoolUrn: '112233'\n";
  workshops::v1::Venue from_yaml;
  absl::Status s = ReadMessageFile(yaml, &from_yaml, &contents);
#ifdef OUTREACHCTL_HAVE_YAML
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(from_yaml.display_name(), "Example School, Derby");
  EXPECT_EQ(from_yaml.kind(), common::v1::VENUE_KIND_SECONDARY);
  EXPECT_EQ(from_yaml.pupil_roll(), 900);
  EXPECT_EQ(from_yaml.school_urn(), "112233");  // quoted: a string, not a number
#else
  EXPECT_TRUE(absl::StrContains(s.message(), "without YAML")) << s;
#endif
}

}  // namespace
}  // namespace outreach::ctl
