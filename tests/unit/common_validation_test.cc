#include <algorithm>

#include "common/validation.h"
#include "gtest/gtest.h"

namespace outreach {
namespace {

TEST(Validation, CountsCodePointsNotBytes) {
  EXPECT_EQ(CodePoints(""), 0u);
  EXPECT_EQ(CodePoints("Derby"), 5u);
  EXPECT_EQ(CodePoints("caf\xc3\xa9"), 4u);       // é is two bytes
  EXPECT_EQ(CodePoints("\xf0\x9f\x93\xb1"), 1u);  // one emoji, four bytes
}

TEST(Validation, TextLimitsNameTheField) {
  std::vector<FieldViolation> v;
  CheckText("", 200, /*required=*/true, "venue.display_name", &v);
  CheckText("", 200, /*required=*/false, "venue.postcode", &v);
  CheckText(std::string(201, 'a'), 200, false, "workshop.title", &v);
  CheckText(std::string(200, 'a'), 200, true, "ok", &v);
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xc3\xa9";  // 400 bytes, 200 characters
  CheckText(accents, 200, true, "accents", &v);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].field, "venue.display_name");
  EXPECT_EQ(v[1].field, "workshop.title");
}

TEST(Validation, PathsAndStatus) {
  EXPECT_EQ(FieldPath("", "title"), "title");
  EXPECT_EQ(FieldPath("campaign", "title"), "campaign.title");
  EXPECT_TRUE(ViolationsToStatus({}).ok());
  absl::Status s = ViolationsToStatus({{"a", "bad"}, {"b", "worse"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolations(s).size(), 2u);
}

// The reason of the single violation a text check adds, or "" when it adds none.
std::string Refusal(absl::string_view text, TextKind kind = TextKind::kFreeText) {
  std::vector<FieldViolation> v;
  CheckText(text, 2000, /*required=*/false, "workshop.description", &v, kind);
  if (v.empty()) return "";
  EXPECT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].field, "workshop.description");
  return v[0].reason;
}

TEST(FreeText, RefusesControlCharactersPerKind) {
  EXPECT_EQ(Refusal(std::string("a\0b", 3)), kControlCharacter);
  EXPECT_EQ(Refusal("bell\x07"), kControlCharacter);
  EXPECT_EQ(Refusal("del\x7f"), kControlCharacter);
  EXPECT_EQ(Refusal("c1 \xc2\x85 next line"), kControlCharacter);                 // U+0085
  EXPECT_EQ(Refusal("\xe2\x80\xaegnp.exe", TextKind::kLine), kControlCharacter);  // U+202E
  EXPECT_EQ(Refusal("bad \xff utf-8"), kControlCharacter);
  // Free text keeps its lines and tabs; one-line kinds do not.
  EXPECT_EQ(Refusal("Line one\r\nline two\tindented"), "");
  EXPECT_EQ(Refusal("Title\nsecond line", TextKind::kLine), kControlCharacter);
  EXPECT_EQ(Refusal("Title\twith tab", TextKind::kLine), kControlCharacter);
  EXPECT_EQ(Refusal("Derby Moor\nAcademy", TextKind::kPlace), kControlCharacter);
  EXPECT_EQ(Refusal("para\xe2\x80\xa8sep", TextKind::kLine), kControlCharacter);  // U+2028
}

TEST(FreeText, RefusesWhitespaceOnly) {
  EXPECT_EQ(Refusal("   "), kBlankText);
  EXPECT_EQ(Refusal(" \n\t "), kBlankText);
  EXPECT_EQ(Refusal("\xc2\xa0\xe3\x80\x80", TextKind::kLine), kBlankText);  // NBSP, ideographic
  EXPECT_EQ(Refusal(" ", TextKind::kPlace), kBlankText);
  EXPECT_EQ(Refusal(""), "");  // empty optional text is just unset
  // A required field that is blank is refused as blank, not as missing.
  std::vector<FieldViolation> v;
  CheckText("  ", 200, /*required=*/true, "campaign.title", &v, TextKind::kLine);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].reason, kBlankText);
}

TEST(FreeText, RefusesEmailAddresses) {
  EXPECT_EQ(Refusal("Contact jo.bloggs99@gmail.com after"), kPersonalDataRefused);
  EXPECT_EQ(Refusal("mail: sam+x@school.sch.uk."), kPersonalDataRefused);
  EXPECT_EQ(Refusal("Talk for @DerbysPolice followers", TextKind::kLine), "");
  EXPECT_EQ(Refusal("pupils @ 9am in hall"), "");
}

TEST(FreeText, RefusesUkPhoneNumbers) {
  for (const char* text :
       {"call 07700 900123", "07700900123", "mobile 07700-900-123", "+44 7700 900123",
        "+447700900123", "0044 7700 900 123", "+44 (0)1332 123456", "tel 01332 123456",
        "(01332) 123 456", "020 7946 0018", "0300 123 2040", "01632 96012"}) {
    EXPECT_EQ(Refusal(text), kPersonalDataRefused) << text;
  }
  for (const char* text :
       {"Year 6 assembly 2026-03-12", "09:00-10:30 in hall 2", "0 1 2 3 4 5 6 7 8 9",
        "30 pupils, 2 staff", "room 0123", "ratings 0-5", "call 101 or 999", "ref 20260312-0001"}) {
    EXPECT_EQ(Refusal(text), "") << text;
  }
}

TEST(FreeText, RefusesUkPostcodes) {
  for (const char* text : {"lives at DE1 3AB", "NG5 1PB", "SW1A 1AA", "M1 1AE", "ng5 1pb",
                           "postcode DE13AB", "B33 8TH"}) {
    EXPECT_EQ(Refusal(text), kPersonalDataRefused) << text;
  }
  for (const char* text : {"KS2 2nd half of term", "ks1 3rd lesson", "Y6 4th visit",
                           "Year 6 at 2pm", "COVID19 scams", "Module 3: 4G networks"}) {
    EXPECT_EQ(Refusal(text), "") << text;
  }
}

TEST(FreeText, RefusesDatesOfBirth) {
  for (const char* text :
       {"born 12/03/2012", "DOB: 2012-03-12", "d.o.b. 12.03.12", "12 March 2012 (born)",
        "date of birth 3rd of Mar 2013", "Birthday March 12, 2012", "dob 1/2/2014"}) {
    EXPECT_EQ(Refusal(text), kPersonalDataRefused) << text;
  }
  // A date alone is a date: sessions, deadlines and years are ordinary text.
  for (const char* text :
       {"Year 6 assembly 2026-03-12", "Delivered 12 March 2026 to Year 6", "born digital: 2024",
        "Osborne Primary visit 12/03/2026", "Dobson Hall, 1 May 2026"}) {
    EXPECT_EQ(Refusal(text), "") << text;
  }
}

TEST(FreeText, PlacesHoldSchoolAddresses) {
  // A school's address and postcode belong in a venue's fields; elsewhere they are refused
  // because a postcode in free text cannot be told apart from a child's home.
  EXPECT_EQ(Refusal("Derby Moor Academy, Moorway Lane, Derby DE23 2FS", TextKind::kPlace), "");
  EXPECT_EQ(Refusal("DE23 2FS", TextKind::kPlace), "");
  EXPECT_EQ(Refusal("Derby Moor Academy, Derby DE23 2FS", TextKind::kLine), kPersonalDataRefused);
  EXPECT_EQ(Refusal("Online safety: spotting scams & <phishing>", TextKind::kLine), "");
}

TEST(FreeText, ReasonAndFieldReachTheStatus) {
  std::vector<FieldViolation> v;
  CheckText(std::string(201, 'a'), 200, true, "workshop.title", &v, TextKind::kLine);
  CheckText("ring 07700 900123", 2000, false, "workshop.description", &v);
  absl::Status s = ViolationsToStatus(v);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(s), kPersonalDataRefused);
  PublicError e = PublicView(s);
  ASSERT_EQ(e.violations.size(), 2u);
  EXPECT_EQ(e.violations[1].field, "workshop.description");
  EXPECT_EQ(e.message.find("07700"), std::string::npos);  // the value is never echoed
  EXPECT_NE(std::find(e.metadata.begin(), e.metadata.end(),
                      std::pair<std::string, std::string>{"field", "workshop.description"}),
            e.metadata.end());
  // Merged into a larger list, the violation keeps its reason.
  std::vector<FieldViolation> merged{{"name", "must look like forces/{force}"}};
  AppendViolations(s, &merged);
  EXPECT_EQ(ErrorReason(ViolationsToStatus(merged)), kPersonalDataRefused);
  EXPECT_EQ(ErrorReason(ViolationsToStatus({{"a", "bad"}})), "INVALID_ARGUMENT");
}

}  // namespace
}  // namespace outreach
