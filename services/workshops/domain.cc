#include "services/workshops/domain.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/calendar.h"
#include "common/status_macros.h"
#include "google/rpc/error_details.pb.h"

namespace outreach::workshops {

const ResourcePattern& VenuePattern() {
  static const ResourcePattern p("forces/{force}/venues/{venue}");
  return p;
}
const ResourcePattern& PresenterPattern() {
  static const ResourcePattern p("forces/{force}/presenters/{presenter}");
  return p;
}
const ResourcePattern& TopicPattern() {
  static const ResourcePattern p("forces/{force}/topics/{topic}");
  return p;
}
const ResourcePattern& WorkshopPattern() {
  static const ResourcePattern p("forces/{force}/workshops/{workshop}");
  return p;
}
const ResourcePattern& CoveragePattern() {
  static const ResourcePattern p("forces/{force}/coverage");
  return p;
}

absl::Status ResourceNotFound(absl::string_view name) {
  return WithMetadata(NotFound(name), {{"resource", std::string(name)}});
}

absl::Status ResourceExists(absl::string_view name, absl::string_view unique_field) {
  absl::Status s = WithMetadata(AlreadyExists(name), {{"resource", std::string(name)}});
  if (!unique_field.empty()) s = WithMetadata(s, {{"field", std::string(unique_field)}});
  return s;
}

absl::Status ResourceInUse(absl::string_view name, absl::string_view why) {
  return WithMetadata(FailedPrecondition("RESOURCE_IN_USE", absl::StrCat(name, " ", why)),
                      {{"resource", std::string(name)}});
}

bool IsValidArea(absl::string_view area) {
  if (area.empty() || area.size() > kMaxArea) return false;
  for (char c : area) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

bool IsSchoolKind(cv1::VenueKind kind) {
  switch (kind) {
    case cv1::VENUE_KIND_PRIMARY:
    case cv1::VENUE_KIND_SECONDARY:
    case cv1::VENUE_KIND_SPECIAL_SCHOOL:
    case cv1::VENUE_KIND_ALTERNATIVE_PROVISION:
    case cv1::VENUE_KIND_COLLEGE:
      return true;
    default:
      return false;
  }
}

namespace {

bool IsDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsPrintableAscii(absl::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

template <typename EnumIsValid>
void ValidateEnum(int value, EnumIsValid is_valid, const std::string& field,
                  std::vector<FieldViolation>* out) {
  if (value == 0) {
    out->push_back({field, "is required"});
  } else if (!is_valid(value)) {
    out->push_back({field, "is not a known value"});
  }
}

void ValidateRefList(const google::protobuf::RepeatedPtrField<std::string>& names,
                     const ResourcePattern& pattern, const std::string& field,
                     std::vector<FieldViolation>* out) {
  if (names.empty()) {
    out->push_back({field, "is required: give 1 to 10 names"});
    return;
  }
  if (names.size() > kMaxListRefs) {
    out->push_back({field, absl::StrCat("must have at most ", kMaxListRefs, " entries")});
    return;
  }
  std::set<std::string> seen;
  for (int i = 0; i < names.size(); ++i) {
    const std::string item = absl::StrCat(field, "[", i, "]");
    if (!pattern.Parse(item, names[i]).ok()) {
      out->push_back({item, absl::StrCat("must look like ", pattern.pattern())});
    } else if (!seen.insert(names[i]).second) {
      out->push_back({item, "is a duplicate"});
    }
  }
}

absl::Time TimeOrZero(const google::protobuf::Timestamp& ts) {
  auto t = FromProtoTime("", ts);
  return t.ok() ? *t : absl::UnixEpoch();
}

}  // namespace

std::string ForceOf(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "forces/")) return "";
  const size_t slash = name.find('/');
  return std::string(name.substr(0, slash));
}

absl::Status CheckSameForce(absl::string_view force, absl::string_view name) {
  if (ForceOf(name) == force) return absl::OkStatus();
  return PermissionDenied("CROSS_FORCE_ACCESS",
                          absl::StrCat("\"", name, "\" is not a resource of forces/", force));
}

void ValidateVenue(const wv1::Venue& venue, const std::string& prefix,
                   std::vector<FieldViolation>* out) {
  // A venue is a place, often a school with its address: not screened for personal data.
  CheckText(venue.display_name(), kMaxTitle, true, prefix + "display_name", out, TextKind::kPlace);
  ValidateEnum(venue.kind(), cv1::VenueKind_IsValid, prefix + "kind", out);
  if (!IsValidArea(venue.area())) {
    out->push_back({prefix + "area", "must be 1-32 characters of [A-Za-z0-9-]"});
  }
  const std::string& urn = venue.school_urn();
  if (!urn.empty() && (urn.size() < 6 || urn.size() > 7 || !IsDigits(urn))) {
    out->push_back({prefix + "school_urn", "must be 6 or 7 digits, or empty"});
  }
  if (venue.pupil_roll() < 0 || venue.pupil_roll() > kMaxPupilRoll) {
    out->push_back({prefix + "pupil_roll", "must be 0-10000 (0 = unknown)"});
  }
  CheckText(venue.postcode(), kMaxPostcode, false, prefix + "postcode", out, TextKind::kPlace);
}

void ValidatePresenter(const wv1::Presenter& presenter, const std::string& prefix,
                       std::vector<FieldViolation>* out) {
  CheckText(presenter.display_name(), kMaxTitle, true, prefix + "display_name", out,
            TextKind::kLine);
  ValidateEnum(presenter.team(), cv1::PresenterTeam_IsValid, prefix + "team", out);
  CheckText(presenter.organisation(), kMaxTitle, presenter.team() == cv1::PRESENTER_TEAM_PARTNER,
            prefix + "organisation", out, TextKind::kLine);
}

void ValidateTopic(const wv1::Topic& topic, const std::string& prefix,
                   std::vector<FieldViolation>* out) {
  CheckText(topic.display_name(), kMaxTitle, true, prefix + "display_name", out, TextKind::kLine);
  CheckText(topic.description(), kMaxFreeText, false, prefix + "description", out);
  ValidateEnum(topic.category(), wv1::TopicCategory_IsValid, prefix + "category", out);
  if (!topic.suitable_for_pupils() && !topic.suitable_for_adults()) {
    out->push_back(
        {prefix + "suitable_for_pupils", "at least one of pupils and adults must be suitable"});
  }
  const auto year_ok = [](int y) { return y >= 0 && y <= kMaxYearGroup; };
  if (!year_ok(topic.min_year_group())) {
    out->push_back({prefix + "min_year_group", "must be 0 (Reception) to 13"});
  }
  if (!year_ok(topic.max_year_group())) {
    out->push_back({prefix + "max_year_group", "must be 0 (Reception) to 13"});
  } else if (topic.suitable_for_pupils() && year_ok(topic.min_year_group()) &&
             topic.max_year_group() < topic.min_year_group()) {
    out->push_back({prefix + "max_year_group", "must not be below min_year_group"});
  }
  CheckText(topic.version(), kMaxVersion, true, prefix + "version", out, TextKind::kLine);
  const std::string& uri = topic.materials_uri();
  if (!uri.empty()) {
    if (uri.size() > kMaxUri) {
      out->push_back({prefix + "materials_uri", "must be at most 2000 characters"});
    } else if (!(absl::StartsWith(uri, "https://") || absl::StartsWith(uri, "http://")) ||
               !IsPrintableAscii(uri) || uri.size() < 9) {
      out->push_back({prefix + "materials_uri", "must be an http(s) URI"});
    }
  }
}

void ValidateTimes(const google::protobuf::Timestamp& start, const google::protobuf::Timestamp& end,
                   const std::string& start_field, const std::string& end_field,
                   std::vector<FieldViolation>* out) {
  const bool has_start = start.seconds() != 0 || start.nanos() != 0;
  const bool has_end = end.seconds() != 0 || end.nanos() != 0;
  auto s = FromProtoTime(start_field, start);
  auto e = FromProtoTime(end_field, end);
  if (!has_start) {
    out->push_back({start_field, "is required"});
  } else if (!s.ok()) {
    out->push_back({start_field, "is not a valid timestamp"});
  }
  if (!has_end) {
    out->push_back({end_field, "is required"});
  } else if (!e.ok()) {
    out->push_back({end_field, "is not a valid timestamp"});
  }
  if (has_start && has_end && s.ok() && e.ok()) {
    if (*e <= *s) {
      out->push_back({end_field, "must be after start_time"});
    } else if (*e - *s > kMaxWorkshopLength) {
      out->push_back({end_field, "must be at most 12 hours after start_time"});
    }
  }
}

void ValidateWorkshop(const wv1::Workshop& w, const std::string& prefix,
                      std::vector<FieldViolation>* out) {
  CheckText(w.title(), kMaxTitle, true, prefix + "title", out, TextKind::kLine);
  CheckText(w.description(), kMaxFreeText, false, prefix + "description", out);
  if (w.venue().empty()) {
    out->push_back({prefix + "venue", "is required"});
  } else if (!VenuePattern().Parse(prefix + "venue", w.venue()).ok()) {
    out->push_back({prefix + "venue", "must look like forces/{force}/venues/{venue}"});
  }
  ValidateTimes(w.start_time(), w.end_time(), prefix + "start_time", prefix + "end_time", out);
  ValidateEnum(w.format(), cv1::WorkshopFormat_IsValid, prefix + "format", out);
  bool pupils = false;
  if (w.audiences().empty()) {
    out->push_back({prefix + "audiences", "is required: give 1 to 4 audiences"});
  } else if (w.audiences().size() > 4) {
    out->push_back({prefix + "audiences", "must have at most 4 entries"});
  } else {
    std::set<int> seen;
    for (int i = 0; i < w.audiences().size(); ++i) {
      const int a = w.audiences(i);
      const std::string item = absl::StrCat(prefix, "audiences[", i, "]");
      if (a == 0 || !cv1::WorkshopAudience_IsValid(a)) {
        out->push_back({item, "must be a known audience"});
      } else if (!seen.insert(a).second) {
        out->push_back({item, "is a duplicate"});
      }
      if (a == cv1::WORKSHOP_AUDIENCE_PUPILS) pupils = true;
    }
  }
  if (w.year_groups().size() > 14) {
    out->push_back({prefix + "year_groups", "must have at most 14 entries"});
  } else if (pupils && w.year_groups().empty()) {
    out->push_back({prefix + "year_groups", "is required when audiences include PUPILS"});
  } else if (!pupils && !w.year_groups().empty()) {
    out->push_back({prefix + "year_groups", "must be empty unless audiences include PUPILS"});
  } else {
    std::set<int> seen;
    for (int i = 0; i < w.year_groups().size(); ++i) {
      const int y = w.year_groups(i);
      const std::string item = absl::StrCat(prefix, "year_groups[", i, "]");
      if (y < 0 || y > kMaxYearGroup) {
        out->push_back({item, "must be 0 (Reception) to 13"});
      } else if (!seen.insert(y).second) {
        out->push_back({item, "is a duplicate"});
      }
    }
  }
  ValidateRefList(w.topics(), TopicPattern(), prefix + "topics", out);
  ValidateRefList(w.presenters(), PresenterPattern(), prefix + "presenters", out);
  CheckText(w.partner_organisation(), kMaxTitle, false, prefix + "partner_organisation", out,
            TextKind::kLine);
}

// A flat list of field checks, one or two lines each, in the order of the message's fields.
// NOLINTNEXTLINE(readability-function-size)
void ValidateDelivery(const wv1::DeliveryRecord& d, absl::Time now, const std::string& prefix,
                      std::vector<FieldViolation>* out) {
  if (d.has_delivered_time()) {
    auto t = FromProtoTime(prefix + "delivered_time", d.delivered_time());
    if (!t.ok()) {
      out->push_back({prefix + "delivered_time", "is not a valid timestamp"});
    } else if (*t > now) {
      out->push_back({prefix + "delivered_time", "must not be in the future"});
    }
  }
  if (d.actual_duration_minutes() < 1 || d.actual_duration_minutes() > kMaxDurationMinutes) {
    out->push_back({prefix + "actual_duration_minutes", "must be 1-600"});
  }
  const std::string hc = prefix + "headcount.";
  const cv1::Headcount& h = d.headcount();
  int64_t total = 0;
  bool counts_ok = true;
  if (h.pupils().size() > 14) {
    out->push_back({hc + "pupils", "must have at most 14 entries"});
    counts_ok = false;
  } else {
    std::set<int> seen;
    for (int i = 0; i < h.pupils().size(); ++i) {
      const auto& yc = h.pupils(i);
      const std::string item = absl::StrCat(hc, "pupils[", i, "]");
      if (yc.year_group() < 0 || yc.year_group() > kMaxYearGroup) {
        out->push_back({item + ".year_group", "must be 0 (Reception) to 13"});
      } else if (!seen.insert(yc.year_group()).second) {
        out->push_back({item + ".year_group", "is a duplicate"});
      }
      if (yc.pupils() < 0 || yc.pupils() > kMaxPupilsPerYear) {
        out->push_back({item + ".pupils", "must be 0-5000"});
        counts_ok = false;
      } else {
        total += yc.pupils();
      }
    }
  }
  const auto adults = [&](int value, const char* name) {
    if (value < 0 || value > kMaxAdults) {
      out->push_back({hc + name, "must be 0-10000"});
      counts_ok = false;
    } else {
      total += value;
    }
  };
  adults(h.parents(), "parents");
  adults(h.staff(), "staff");
  adults(h.community_members(), "community_members");
  if (counts_ok && (total < 1 || total > kMaxHeadcountTotal)) {
    out->push_back({prefix + "headcount", "the total attendance must be 1-20000"});
  }
  if (d.has_feedback()) {
    const std::string fb = prefix + "feedback.";
    const cv1::FeedbackTotals& f = d.feedback();
    if (f.responses() < 0 || (counts_ok && f.responses() > total)) {
      out->push_back({fb + "responses", "must be 0 to the total headcount"});
    }
    if (f.ratings_count() < 0 || f.ratings_count() > f.responses()) {
      out->push_back({fb + "ratings_count", "must be 0 to responses"});
    }
    if (f.ratings_sum() < f.ratings_count() ||
        f.ratings_sum() > int64_t{5} * std::max(0, f.ratings_count())) {
      out->push_back({fb + "ratings_sum", "must be between ratings_count and 5 * ratings_count"});
    }
    const auto confidence = [&](const cv1::ConfidenceCounts& c, const std::string& name) {
      if (c.before() < 0 || c.before() > f.responses()) {
        out->push_back({fb + name + ".before", "must be 0 to responses"});
      }
      if (c.after() < 0 || c.after() > f.responses()) {
        out->push_back({fb + name + ".after", "must be 0 to responses"});
      }
    };
    confidence(f.know_what_to_do(), "know_what_to_do");
    confidence(f.know_who_to_tell(), "know_who_to_tell");
  }
  if (d.safeguarding_disclosures() < 0 || d.safeguarding_disclosures() > kMaxDisclosures) {
    out->push_back({prefix + "safeguarding_disclosures", "must be 0-1000"});
  }
  if (d.referral_references().size() > kMaxReferrals ||
      d.referral_references().size() > std::max(0, d.safeguarding_disclosures())) {
    out->push_back({prefix + "referral_references",
                    "must have at most safeguarding_disclosures (and at most 100) entries"});
  } else {
    for (int i = 0; i < d.referral_references().size(); ++i) {
      const std::string& r = d.referral_references(i);
      if (r.empty() || r.size() > kMaxReferralLength || !IsPrintableAscii(r)) {
        out->push_back({absl::StrCat(prefix, "referral_references[", i, "]"),
                        "must be 1-64 printable ASCII characters without spaces"});
      } else if (auto bad = CheckTextContent(r, TextKind::kLine,
                                             absl::StrCat(prefix, "referral_references[", i, "]"));
                 bad.has_value()) {
        // A safeguarding reference points to the case; the child's details stay in the case.
        out->push_back(*std::move(bad));
      }
    }
  }
}

std::string NormalizeWorkshopFilter(absl::string_view filter) {
  std::string out;
  size_t i = 0;
  const auto is_word = [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  };
  while (i < filter.size()) {
    const char c = filter[i];
    if (c == '"') {  // copy a quoted string as is
      size_t j = i + 1;
      while (j < filter.size() && filter[j] != '"') j += filter[j] == '\\' ? 2 : 1;
      j = std::min(j + 1, filter.size());
      absl::StrAppend(&out, filter.substr(i, j - i));
      i = j;
      continue;
    }
    if (!is_word(c)) {
      out.push_back(c);
      ++i;
      continue;
    }
    size_t j = i;
    while (j < filter.size() && is_word(filter[j])) ++j;
    const absl::string_view word = filter.substr(i, j - i);
    absl::StrAppend(&out, word);
    i = j;
    if (word != "audiences" && word != "year_groups") continue;
    // field [spaces] = [spaces] bare-value  ->  field = "bare-value"
    size_t k = i;
    while (k < filter.size() && filter[k] == ' ') ++k;
    if (k >= filter.size() || filter[k] != '=') continue;
    size_t v = k + 1;
    while (v < filter.size() && filter[v] == ' ') ++v;
    size_t e = v;
    while (e < filter.size() && is_word(filter[e])) ++e;
    if (e == v) continue;  // quoted or missing: leave it to the query layer
    absl::StrAppend(&out, filter.substr(i, v - i));
    absl::StrAppend(&out, "\"", filter.substr(v, e - v), "\"");
    i = e;
  }
  return out;
}

cv1::AccreditationState AccreditationStateAt(const wv1::Accreditation& stored, absl::Time at) {
  switch (stored.state()) {
    case cv1::ACCREDITATION_STATE_ACCREDITED:
      return TimeOrZero(stored.expire_time()) > at ? cv1::ACCREDITATION_STATE_ACCREDITED
                                                   : cv1::ACCREDITATION_STATE_EXPIRED;
    case cv1::ACCREDITATION_STATE_SUSPENDED:
    case cv1::ACCREDITATION_STATE_EXPIRED:
      return stored.state();
    default:
      return cv1::ACCREDITATION_STATE_NOT_ACCREDITED;
  }
}

absl::Status CheckBookable(const wv1::Presenter& stored, absl::Time now, absl::Time start) {
  const cv1::AccreditationState state = AccreditationStateAt(stored.accreditation(), now);
  if (state != cv1::ACCREDITATION_STATE_ACCREDITED) {
    return WithMetadata(FailedPrecondition("ACCREDITATION_NOT_CURRENT",
                                           absl::StrCat("presenter ", stored.name(),
                                                        " cannot be booked: accreditation is ",
                                                        cv1::AccreditationState_Name(state))),
                        {{"presenter", stored.name()},
                         {"accreditation_state", cv1::AccreditationState_Name(state)}});
  }
  if (TimeOrZero(stored.accreditation().expire_time()) <= start) {
    return WithMetadata(
        FailedPrecondition("ACCREDITATION_NOT_CURRENT",
                           absl::StrCat("presenter ", stored.name(),
                                        " is accredited only until before the start time")),
        {{"presenter", stored.name()},
         {"accreditation_state", cv1::AccreditationState_Name(state)}});
  }
  return absl::OkStatus();
}

namespace {
// The same UTC date and time `kMaxAccreditationYears` calendar years after `now`.
absl::Time AccreditationLimit(absl::Time now) {
  const absl::CivilSecond c = absl::ToCivilSecond(now, absl::UTCTimeZone());
  return absl::FromCivil(absl::CivilSecond(c.year() + kMaxAccreditationYears, c.month(), c.day(),
                                           c.hour(), c.minute(), c.second()),
                         absl::UTCTimeZone()) +
         (now - absl::FromCivil(c, absl::UTCTimeZone()));
}
}  // namespace

absl::Status ValidateGrant(const google::protobuf::Timestamp& expire_time, absl::Time now,
                           absl::string_view note) {
  std::vector<FieldViolation> out;
  const bool has = expire_time.seconds() != 0 || expire_time.nanos() != 0;
  auto t = FromProtoTime("expire_time", expire_time);
  if (!has) {
    out.push_back({"expire_time", "is required"});
  } else if (!t.ok()) {
    out.push_back({"expire_time", "is not a valid timestamp"});
  } else if (*t <= now) {
    out.push_back({"expire_time", "must be in the future"});
  } else if (*t > AccreditationLimit(now)) {
    out.push_back({"expire_time", "must be at most 5 years ahead"});
  }
  CheckText(note, kMaxFreeText, false, "note", &out);
  if (!out.empty()) return InvalidArguments(std::move(out));
  return absl::OkStatus();
}

absl::Status GrantTo(wv1::Presenter& presenter, absl::Time now,
                     const google::protobuf::Timestamp& expire_time, absl::string_view note) {
  OUTREACH_RETURN_IF_ERROR(ValidateGrant(expire_time, now, note));
  wv1::Accreditation* acc = presenter.mutable_accreditation();
  acc->Clear();
  acc->set_state(cv1::ACCREDITATION_STATE_ACCREDITED);
  *acc->mutable_grant_time() = ToProtoTime(now);
  *acc->mutable_expire_time() = expire_time;
  acc->set_grant_note(std::string(note));
  return absl::OkStatus();
}

absl::Status SuspendFrom(wv1::Presenter& presenter, absl::Time now, absl::string_view reason) {
  const auto state = AccreditationStateAt(presenter.accreditation(), now);
  if (state != cv1::ACCREDITATION_STATE_ACCREDITED) {
    return WithMetadata(
        FailedPrecondition("ACCREDITATION_NOT_CURRENT",
                           absl::StrCat("presenter ", presenter.name(), " is ",
                                        cv1::AccreditationState_Name(state), ", not accredited")),
        {{"presenter", presenter.name()},
         {"accreditation_state", cv1::AccreditationState_Name(state)}});
  }
  wv1::Accreditation* acc = presenter.mutable_accreditation();
  acc->set_state(cv1::ACCREDITATION_STATE_SUSPENDED);
  *acc->mutable_suspend_time() = ToProtoTime(now);
  acc->set_suspend_reason(std::string(reason));
  return absl::OkStatus();
}

absl::Status CheckTopicActive(const wv1::Topic& topic) {
  if (topic.state() == wv1::TOPIC_STATE_RETIRED) {
    return WithMetadata(
        FailedPrecondition("TOPIC_RETIRED", absl::StrCat("topic ", topic.name(), " is retired")),
        {{"topic", topic.name()}});
  }
  return absl::OkStatus();
}

absl::Status RetireAt(wv1::Topic& topic, absl::Time now) {
  OUTREACH_RETURN_IF_ERROR(CheckTopicActive(topic));
  topic.set_state(wv1::TOPIC_STATE_RETIRED);
  *topic.mutable_retire_time() = ToProtoTime(now);
  return absl::OkStatus();
}

absl::Status CheckAgeBand(const wv1::Topic& topic, const wv1::Workshop& workshop) {
  bool pupils = false;
  for (int a : workshop.audiences()) pupils |= a == cv1::WORKSHOP_AUDIENCE_PUPILS;
  const auto mismatch = [&](const std::string& why) {
    return WithMetadata(
        FailedPrecondition("AGE_BAND_MISMATCH", absl::StrCat("topic ", topic.name(), " ", why)),
        {{"topic", topic.name()}});
  };
  if (pupils) {
    if (!topic.suitable_for_pupils()) return mismatch("is not for pupils");
    for (int y : workshop.year_groups()) {
      if (y < topic.min_year_group() || y > topic.max_year_group()) {
        return WithMetadata(mismatch(absl::StrCat("suits year groups ", topic.min_year_group(), "-",
                                                  topic.max_year_group(), ", not year group ", y)),
                            {{"year_group", absl::StrCat(y)}});
      }
    }
  } else if (!topic.suitable_for_adults()) {
    return mismatch("is not for adults");
  }
  return absl::OkStatus();
}

bool Overlaps(absl::Time a_start, absl::Time a_end, absl::Time b_start, absl::Time b_end) {
  return a_start < b_end && b_start < a_end;
}

absl::Status CheckState(const wv1::Workshop& workshop,
                        std::initializer_list<wv1::WorkshopState> allowed) {
  for (auto s : allowed) {
    if (workshop.state() == s) return absl::OkStatus();
  }
  return WithMetadata(FailedPrecondition("WORKSHOP_NOT_SCHEDULED",
                                         absl::StrCat("workshop ", workshop.name(), " is ",
                                                      wv1::WorkshopState_Name(workshop.state()))),
                      {{"state", wv1::WorkshopState_Name(workshop.state())}});
}

int64_t PupilsIn(const cv1::Headcount& headcount) {
  int64_t n = 0;
  for (const auto& yc : headcount.pupils()) n += yc.pupils();
  return n;
}

absl::Status CheckDelivery(const wv1::Workshop& workshop, const wv1::Venue& venue,
                           const cv1::Headcount& headcount, absl::Time now, absl::Time delivered) {
  const absl::Time start = TimeOrZero(workshop.start_time());
  if (now < start || delivered < start) {
    const std::string when = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", start, absl::UTCTimeZone());
    return WithMetadata(
        FailedPrecondition(
            "DELIVERY_BEFORE_START",
            absl::StrCat("delivery cannot be recorded before the start time ", when)),
        {{"start_time", when}});
  }
  const int64_t pupils = PupilsIn(headcount);
  if (venue.pupil_roll() > 0 && pupils > venue.pupil_roll()) {
    return WithMetadata(
        FailedPrecondition(
            "HEADCOUNT_EXCEEDS_ROLL",
            absl::StrCat(pupils, " pupils exceed the venue's pupil roll of ", venue.pupil_roll())),
        {{"pupil_roll", absl::StrCat(venue.pupil_roll())}, {"pupils", absl::StrCat(pupils)}});
  }
  return absl::OkStatus();
}

void ComputeMeanRating(cv1::FeedbackTotals* feedback) {
  feedback->set_mean_rating(feedback->ratings_count() > 0
                                ? static_cast<double>(feedback->ratings_sum()) /
                                      feedback->ratings_count()
                                : 0.0);
}

wv1::Coverage BuildCoverage(const std::vector<wv1::Venue>& schools,
                            const std::vector<DeliveredAt>& deliveries) {
  struct Acc {
    int delivered = 0;
    int64_t pupils = 0;
    bool reached = false;
    absl::Time last = absl::InfinitePast();
  };
  std::map<std::string, Acc> by_venue;
  for (const auto& d : deliveries) {
    Acc& a = by_venue[d.venue];
    ++a.delivered;
    a.pupils += d.pupils;
    if (d.pupils > 0) a.reached = true;
    a.last = std::max(a.last, d.delivered);
  }
  wv1::Coverage out;
  std::vector<wv1::SchoolCoverage> rows;
  int64_t pupils_total = 0, roll_total = 0, roll_reached = 0;
  int reached = 0;
  for (const auto& v : schools) {
    wv1::SchoolCoverage row;
    row.set_venue(v.name());
    row.set_display_name(v.display_name());
    row.set_kind(v.kind());
    row.set_area(v.area());
    row.set_pupil_roll(v.pupil_roll());
    auto it = by_venue.find(v.name());
    if (it != by_venue.end()) {
      row.set_reached(it->second.reached);
      row.set_workshops_delivered(it->second.delivered);
      row.set_pupils_reached(static_cast<int32_t>(std::min<int64_t>(it->second.pupils, INT32_MAX)));
      *row.mutable_last_delivered_time() = ToProtoTime(it->second.last);
    }
    pupils_total += row.pupils_reached();
    roll_total += v.pupil_roll();
    if (row.reached()) {
      ++reached;
      roll_reached += v.pupil_roll();
    }
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    if (a.reached() != b.reached()) return a.reached();
    if (a.area() != b.area()) return a.area() < b.area();
    if (a.display_name() != b.display_name()) return a.display_name() < b.display_name();
    return a.venue() < b.venue();
  });
  out.set_schools_total(static_cast<int32_t>(schools.size()));
  out.set_schools_reached(reached);
  out.set_schools_reached_percent(
      schools.empty() ? 0.0 : 100.0 * reached / static_cast<double>(schools.size()));
  out.set_pupils_reached(static_cast<int32_t>(std::min<int64_t>(pupils_total, INT32_MAX)));
  out.set_pupil_roll_total(static_cast<int32_t>(roll_total));
  out.set_pupil_roll_reached(static_cast<int32_t>(roll_reached));
  for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(kMaxCoverageSchools); ++i) {
    *out.add_schools() = std::move(rows[i]);
  }
  return out;
}

ev1::OutreachEvent NewEvent(absl::string_view force, absl::string_view subject, absl::Time now) {
  ev1::OutreachEvent e;
  e.set_force(std::string(force));
  e.set_source(kSource);
  *e.mutable_occurred_time() = ToProtoTime(now);
  e.set_subject(std::string(subject));
  return e;
}

ev1::OutreachEvent VenueUpsertedEvent(absl::string_view force, const wv1::Venue& venue,
                                      absl::Time now) {
  ev1::OutreachEvent e = NewEvent(force, venue.name(), now);
  auto* p = e.mutable_venue_upserted();
  p->set_kind(venue.kind());
  p->set_area(venue.area());
  p->set_pupil_roll(venue.pupil_roll());
  return e;
}

ev1::OutreachEvent VenueDeletedEvent(absl::string_view force, const wv1::Venue& venue,
                                     absl::Time now) {
  ev1::OutreachEvent e = NewEvent(force, venue.name(), now);
  auto* p = e.mutable_venue_deleted();
  p->set_kind(venue.kind());
  p->set_area(venue.area());
  return e;
}

ev1::OutreachEvent AccreditationChangedEvent(absl::string_view force,
                                             const wv1::Presenter& presenter, absl::Time now) {
  ev1::OutreachEvent e = NewEvent(force, presenter.name(), now);
  auto* p = e.mutable_presenter_accreditation_changed();
  p->set_team(presenter.team());
  p->set_state(presenter.accreditation().state());
  if (presenter.accreditation().has_expire_time()) {
    *p->mutable_expire_time() = presenter.accreditation().expire_time();
  }
  return e;
}

ev1::OutreachEvent WorkshopScheduledEvent(absl::string_view force, const wv1::Workshop& w,
                                          bool rescheduled, absl::Time now) {
  ev1::OutreachEvent e = NewEvent(force, w.name(), now);
  auto* p = e.mutable_workshop_scheduled();
  p->set_venue(w.venue());
  p->set_venue_kind(w.venue_kind());
  p->set_area(w.area());
  p->set_format(w.format());
  for (int a : w.audiences()) p->add_audiences(static_cast<cv1::WorkshopAudience>(a));
  *p->mutable_year_groups() = w.year_groups();
  *p->mutable_topics() = w.topics();
  *p->mutable_presenters() = w.presenters();
  *p->mutable_start_time() = w.start_time();
  *p->mutable_end_time() = w.end_time();
  p->set_rescheduled(rescheduled);
  return e;
}

ev1::OutreachEvent WorkshopPostponedEvent(absl::string_view force, const wv1::Workshop& w,
                                          absl::Time now) {
  ev1::OutreachEvent e = NewEvent(force, w.name(), now);
  auto* p = e.mutable_workshop_postponed();
  p->set_venue(w.venue());
  p->set_area(w.area());
  *p->mutable_start_time() = w.start_time();
  return e;
}

ev1::OutreachEvent WorkshopCancelledEvent(absl::string_view force, const wv1::Workshop& w,
                                          bool deleted, absl::Time now) {
  ev1::OutreachEvent e = NewEvent(force, w.name(), now);
  auto* p = e.mutable_workshop_cancelled();
  p->set_venue(w.venue());
  p->set_area(w.area());
  *p->mutable_start_time() = w.start_time();
  p->set_deleted(deleted);
  return e;
}

ev1::OutreachEvent WorkshopDeliveredEvent(absl::string_view force, const wv1::Workshop& w,
                                          absl::Time now) {
  ev1::OutreachEvent e = NewEvent(force, w.name(), now);
  auto* p = e.mutable_workshop_delivered();
  p->set_venue(w.venue());
  p->set_venue_kind(w.venue_kind());
  p->set_area(w.area());
  p->set_format(w.format());
  for (int a : w.audiences()) p->add_audiences(static_cast<cv1::WorkshopAudience>(a));
  *p->mutable_topics() = w.topics();
  *p->mutable_presenters() = w.presenters();
  p->set_partner_organisation(w.partner_organisation());
  *p->mutable_start_time() = w.start_time();
  *p->mutable_delivered_time() = w.delivery().delivered_time();
  p->set_actual_duration_minutes(w.delivery().actual_duration_minutes());
  *p->mutable_headcount() = w.delivery().headcount();
  if (w.delivery().has_feedback()) *p->mutable_feedback() = w.delivery().feedback();
  p->set_safeguarding_disclosures(w.delivery().safeguarding_disclosures());
  // referral_references are never sent in events.
  return e;
}

absl::Status RecordDelivery(wv1::Workshop& workshop, const wv1::Venue& venue,
                            const wv1::DeliveryRecord& delivery, absl::Time now) {
  OUTREACH_RETURN_IF_ERROR(CheckState(workshop, {wv1::WORKSHOP_STATE_SCHEDULED}));
  const absl::Time delivered =
      delivery.has_delivered_time() ? TimeFromProto(delivery.delivered_time()) : now;
  OUTREACH_RETURN_IF_ERROR(CheckDelivery(workshop, venue, delivery.headcount(), now, delivered));
  wv1::DeliveryRecord* record = workshop.mutable_delivery();
  *record = delivery;
  *record->mutable_delivered_time() = ToProtoTime(delivered);
  if (record->has_feedback()) ComputeMeanRating(record->mutable_feedback());
  workshop.set_area(venue.area());
  workshop.set_venue_kind(venue.kind());
  workshop.set_state(wv1::WORKSHOP_STATE_DELIVERED);
  *workshop.mutable_state_time() = ToProtoTime(now);
  return absl::OkStatus();
}

absl::Status CheckTopics(StaffingLookup& lookup, const wv1::Workshop& workshop,
                         const std::set<std::string>& known, bool all, bool age_band) {
  for (const auto& ref : workshop.topics()) {
    OUTREACH_ASSIGN_OR_RETURN(wv1::Topic topic, lookup.Topic(ref));
    if (all || !known.count(ref)) OUTREACH_RETURN_IF_ERROR(CheckTopicActive(topic));
    if (age_band) OUTREACH_RETURN_IF_ERROR(CheckAgeBand(topic, workshop));
  }
  return absl::OkStatus();
}

absl::Status CheckPresenters(StaffingLookup& lookup, const wv1::Workshop& workshop,
                             const std::set<std::string>& known, bool all, absl::Time now,
                             bool check_overlap) {
  const absl::Time start = TimeFromProto(workshop.start_time());
  const absl::Time end = TimeFromProto(workshop.end_time());
  for (const auto& ref : workshop.presenters()) {
    OUTREACH_ASSIGN_OR_RETURN(wv1::Presenter presenter, lookup.Presenter(ref));
    if (!all && known.count(ref)) continue;
    OUTREACH_RETURN_IF_ERROR(CheckBookable(presenter, now, start));
    if (!check_overlap) continue;
    OUTREACH_ASSIGN_OR_RETURN(std::string conflict,
                              lookup.ClashingWorkshop(ref, workshop.name(), start, end));
    if (!conflict.empty()) {
      return WithMetadata(
          FailedPrecondition("PRESENTER_DOUBLE_BOOKED",
                             absl::StrCat("presenter ", ref, " is already booked into ", conflict,
                                          " at overlapping times")),
          {{"presenter", ref}, {"conflicting_workshop", conflict}});
    }
  }
  return absl::OkStatus();
}

}  // namespace outreach::workshops
