#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "outreach/common/v1/common.pb.h"

namespace outreach {

// The force's local calendar (docs/architecture.md "Storage"): days, academic years (1 Sep – 31
// Aug) and financial years (1 Apr – 31 Mar) are Europe/London dates, summer time included; instants
// are stored in UTC.
const absl::TimeZone& ForceTimeZone();

// The local calendar day of an instant.
absl::CivilDay LocalDay(absl::Time t);
// The first instant of a local day (00:00 Europe/London).
absl::Time StartOfLocalDay(absl::CivilDay day);

// Academic year named by the calendar year it starts in: 2024 = 1 Sep 2024 – 31 Aug 2025.
int AcademicYearOf(absl::CivilDay day);
absl::CivilDay AcademicYearStart(int year);
absl::CivilDay AcademicYearEnd(int year);  // inclusive
// Financial year named by the calendar year it starts in: 2024 = 1 Apr 2024 – 31 Mar 2025.
int FinancialYearOf(absl::CivilDay day);

// google.protobuf.Timestamp <-> absl::Time. FromProtoTime refuses out-of-range values with
// INVALID_ARGUMENT naming `field`.
google::protobuf::Timestamp ToProtoTime(absl::Time t);
absl::StatusOr<absl::Time> FromProtoTime(absl::string_view field,
                                         const google::protobuf::Timestamp& ts);

// For values that were validated on the way in or stored by us: no range check.
absl::Time TimeFromProto(const google::protobuf::Timestamp& ts);
// The same as stored in the database: microseconds since the Unix epoch, UTC.
int64_t MicrosFromProto(const google::protobuf::Timestamp& ts);

// outreach.common.v1.Date <-> absl::CivilDay. FromProtoDate refuses impossible dates (2024-02-30)
// and years outside 2000..2100 with INVALID_ARGUMENT naming `field`.
outreach::common::v1::Date ToProtoDate(absl::CivilDay day);
absl::StatusOr<absl::CivilDay> FromProtoDate(absl::string_view field,
                                             const outreach::common::v1::Date& date);
// "2024-09-01".
std::string FormatDay(absl::CivilDay day);

}  // namespace outreach
