// The CSV reader of outreachctl's imports: what spreadsheets and learning platforms write.
#include "gtest/gtest.h"
#include "tools/outreachctl/csv.h"

namespace outreach::ctl {
namespace {

using Fields = std::vector<std::string>;

TEST(OutreachctlCsv, QuotedFieldsKeepCommasQuotesAndLineBreaks) {
  const auto records = ParseCsv(
      "id,title,notes\n"
      "1,\"Year 9, sexting\",plain\n"
      "2,\"She said \"\"tell someone\"\"\",\"two\nlines\"\n"
      "3,last,\n");
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[1].fields, (Fields{"1", "Year 9, sexting", "plain"}));
  EXPECT_EQ(records[2].fields, (Fields{"2", "She said \"tell someone\"", "two\nlines"}));
  EXPECT_EQ(records[3].fields, (Fields{"3", "last", ""}));
  // Line numbers are where each record starts, counting the line break inside record 2.
  EXPECT_EQ(records[1].line, 2);
  EXPECT_EQ(records[2].line, 3);
  EXPECT_EQ(records[3].line, 5);
  for (const auto& r : records) EXPECT_EQ(r.error, "");
}

TEST(OutreachctlCsv, ByteOrderMarkAndCrlfAreHandled) {
  const auto records =
      ParseCsv("\xEF\xBB\xBFstaff_number,score\r\nPSN-100001,80\r\n\"PSN-100002\",\"9\r\n0\"\r\n");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].fields, (Fields{"staff_number", "score"}));  // no BOM in the first name
  EXPECT_EQ(records[1].fields, (Fields{"PSN-100001", "80"}));
  EXPECT_EQ(records[2].fields, (Fields{"PSN-100002", "9\r\n0"}));  // quoted CRLF kept
  EXPECT_EQ(records[2].line, 3);
}

TEST(OutreachctlCsv, ABadRecordIsReportedByLineAndTheNextOnesStillRead) {
  const auto records = ParseCsv(
      "a,b\n"
      "1,x\"y\n"        // quote inside an unquoted field
      "2,\"ok\"tail\n"  // text after a closing quote
      "3,fine\n"
      "\n"  // blank lines are skipped
      "4,\"never closed\n");
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[1].line, 2);
  EXPECT_NE(records[1].error, "");
  EXPECT_EQ(records[2].line, 3);
  EXPECT_NE(records[2].error, "");
  EXPECT_EQ(records[3].fields, (Fields{"3", "fine"}));
  EXPECT_EQ(records[3].error, "");
  EXPECT_EQ(records[3].line, 4);
  EXPECT_EQ(records[4].line, 6);
  EXPECT_EQ(records[4].error, "a quoted field is never closed");
}

TEST(OutreachctlCsv, LastLineWithoutBreakAndEmptyInput) {
  EXPECT_TRUE(ParseCsv("").empty());
  EXPECT_TRUE(ParseCsv("\xEF\xBB\xBF").empty());
  const auto records = ParseCsv("a,b\n1,2");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].fields, (Fields{"1", "2"}));
}

TEST(OutreachctlCsv, WriterQuotesWhatNeedsItAndReadsBack) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField(" padded"), "\" padded\"");
  const Fields row = {"Example Academy, Derby", "line\nbreak", "\"quoted\"", "", "Café"};
  const auto back = ParseCsv(CsvLine(row));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].fields, row);
  EXPECT_EQ(CsvLine({"a", "b"}), "a,b\r\n");
}

TEST(OutreachctlCsv, HeaderFindsColumnsByTrimmedLowerCaseName) {
  const auto records = ParseCsv(" Staff_Number ,Score,colour\nPSN-1,  80 ,red\nPSN-2\n");
  CsvHeader header(records[0].fields);
  EXPECT_EQ(header.Get(records[1], "staff_number").value_or("?"), "PSN-1");
  EXPECT_EQ(header.Get(records[1], "score").value_or("?"), "80");
  EXPECT_FALSE(header.Get(records[2], "score").has_value());  // short record
  EXPECT_FALSE(header.Get(records[1], "passed").has_value());
  EXPECT_EQ(header.Unknown({"staff_number", "score"}), (Fields{"colour"}));
}

}  // namespace
}  // namespace outreach::ctl
