#include "common/calendar.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/log.h"

namespace outreach {

const absl::TimeZone& ForceTimeZone() {
  static const absl::TimeZone* zone = [] {
    auto* tz = new absl::TimeZone();
    if (!absl::LoadTimeZone("Europe/London", tz)) {
      // Without tzdata the fixed UTC offset is wrong for half the year; say so loudly.
      OUTREACH_LOG(kError, "timezone_missing").Kv("zone", "Europe/London").Kv("fallback", "UTC");
      *tz = absl::UTCTimeZone();
    }
    return tz;
  }();
  return *zone;
}

absl::CivilDay LocalDay(absl::Time t) { return absl::ToCivilDay(t, ForceTimeZone()); }

absl::Time StartOfLocalDay(absl::CivilDay day) {
  return absl::FromCivil(absl::CivilSecond(day), ForceTimeZone());
}

int AcademicYearOf(absl::CivilDay day) {
  return static_cast<int>(day.month() >= 9 ? day.year() : day.year() - 1);
}
absl::CivilDay AcademicYearStart(int year) { return absl::CivilDay(year, 9, 1); }
absl::CivilDay AcademicYearEnd(int year) { return absl::CivilDay(year + 1, 8, 31); }
int FinancialYearOf(absl::CivilDay day) {
  return static_cast<int>(day.month() >= 4 ? day.year() : day.year() - 1);
}

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t seconds = micros / 1000000;
  int64_t rem = micros % 1000000;
  if (rem < 0) {
    rem += 1000000;
    --seconds;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(rem * 1000));
  return ts;
}

absl::StatusOr<absl::Time> FromProtoTime(absl::string_view field,
                                         const google::protobuf::Timestamp& ts) {
  // 2000-01-01 .. 2100-01-01: anything else is a caller's mistake in this domain.
  if (ts.seconds() < 946684800 || ts.seconds() >= 4102444800 || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    return InvalidArgument(field, "must be a time between 2000-01-01 and 2100-01-01 (UTC)");
  }
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

absl::Time TimeFromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

int64_t MicrosFromProto(const google::protobuf::Timestamp& ts) {
  return absl::ToUnixMicros(TimeFromProto(ts));
}

outreach::common::v1::Date ToProtoDate(absl::CivilDay day) {
  outreach::common::v1::Date d;
  d.set_year(static_cast<int32_t>(day.year()));
  d.set_month(day.month());
  d.set_day(day.day());
  return d;
}

absl::StatusOr<absl::CivilDay> FromProtoDate(absl::string_view field,
                                             const outreach::common::v1::Date& date) {
  if (date.year() < 2000 || date.year() > 2100) {
    return InvalidArgument(field, "year must be between 2000 and 2100");
  }
  absl::CivilDay day(date.year(), date.month(), date.day());
  if (day.year() != date.year() || day.month() != date.month() || day.day() != date.day()) {
    return InvalidArgument(field, absl::StrCat(date.year(), "-", date.month(), "-", date.day(),
                                               " is not a calendar date"));
  }
  return day;
}

std::string FormatDay(absl::CivilDay day) { return absl::FormatCivilTime(day); }

}  // namespace outreach
