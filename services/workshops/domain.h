#pragma once

// Rules of the workshops domain as pure functions over the proto messages: validation of
// input, accreditation as of an instant, age bands, double-booking overlap, delivery checks,
// coverage aggregation and the outbox events. No network, no store, no clock: "now" is passed
// in, so every rule is unit-testable with a FakeClock.

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/bounds.h"
#include "common/errors.h"
#include "common/resource_name.h"
#include "common/validation.h"
#include "outreach/common/v1/common.pb.h"
#include "outreach/events/v1/events.pb.h"
#include "outreach/workshops/v1/workshops.pb.h"

namespace outreach::workshops {

namespace wv1 = ::outreach::workshops::v1;
namespace cv1 = ::outreach::common::v1;
namespace ev1 = ::outreach::events::v1;

inline constexpr char kDomain[] = "outreach.workshops.v1";
inline constexpr char kSource[] = "workshops";

// Limits from the proto comments (those of numbers published in events: common/bounds.h).
inline constexpr int kMaxTitle = 200;
inline constexpr int kMaxFreeText = 2000;
inline constexpr int kMaxArea = 32;
inline constexpr int kMaxPupilRoll = bounds::kMaxPupilRoll;
inline constexpr int kMaxPostcode = 10;
inline constexpr int kMaxVersion = 32;
inline constexpr int kMaxUri = 2000;
inline constexpr int kMaxListRefs = 10;
inline constexpr int kMaxYearGroup = bounds::kMaxYearGroup;
inline constexpr absl::Duration kMaxWorkshopLength = absl::Hours(12);
inline constexpr int kMaxAccreditationYears = 5;
inline constexpr int kMaxDurationMinutes = 600;
inline constexpr int kMaxHeadcountTotal = bounds::kMaxHeadcountTotal;
inline constexpr int kMaxPupilsPerYear = bounds::kMaxPupilsPerYear;
inline constexpr int kMaxAdults = bounds::kMaxAdults;
inline constexpr int kMaxDisclosures = bounds::kMaxDisclosures;
inline constexpr int kMaxReferrals = 100;
inline constexpr int kMaxReferralLength = 64;
inline constexpr int kMaxCoverageSchools = 5000;

// Resource name patterns.
const ResourcePattern& VenuePattern();      // forces/{force}/venues/{venue}
const ResourcePattern& PresenterPattern();  // forces/{force}/presenters/{presenter}
const ResourcePattern& TopicPattern();      // forces/{force}/topics/{topic}
const ResourcePattern& WorkshopPattern();   // forces/{force}/workshops/{workshop}
const ResourcePattern& CoveragePattern();   // forces/{force}/coverage

// NOT_FOUND / ALREADY_EXISTS / RESOURCE_IN_USE with the `resource` metadata the API documents.
absl::Status ResourceNotFound(absl::string_view name);
absl::Status ResourceExists(absl::string_view name, absl::string_view unique_field = "");
absl::Status ResourceInUse(absl::string_view name, absl::string_view why);

// Area code: 1-32 of [A-Za-z0-9-].
bool IsValidArea(absl::string_view area);
// A school kind for coverage (PRIMARY, SECONDARY, SPECIAL_SCHOOL, ALTERNATIVE_PROVISION,
// COLLEGE).
bool IsSchoolKind(cv1::VenueKind kind);

// --- Validation (INVALID_ARGUMENT violations, field paths under `prefix`) -----------------
// Each appends one violation per bad field; an empty result means valid.
void ValidateVenue(const wv1::Venue& venue, const std::string& prefix,
                   std::vector<FieldViolation>* out);
void ValidatePresenter(const wv1::Presenter& presenter, const std::string& prefix,
                       std::vector<FieldViolation>* out);
void ValidateTopic(const wv1::Topic& topic, const std::string& prefix,
                   std::vector<FieldViolation>* out);
// Checks the caller-set fields of a workshop (not venue/topic/presenter existence). Names are
// parsed for shape only; CheckSameForce decides cross-force access.
void ValidateWorkshop(const wv1::Workshop& workshop, const std::string& prefix,
                      std::vector<FieldViolation>* out);
// start/end: both set, end after start, at most 12 hours later.
void ValidateTimes(const google::protobuf::Timestamp& start, const google::protobuf::Timestamp& end,
                   const std::string& start_field, const std::string& end_field,
                   std::vector<FieldViolation>* out);
// The delivery record of DeliverWorkshop as sent (`now` bounds delivered_time).
void ValidateDelivery(const wv1::DeliveryRecord& delivery, absl::Time now,
                      const std::string& prefix, std::vector<FieldViolation>* out);
// Free text that is required (1..max) or optional (0..max).
// Returns the force id of a `forces/{force}/...` name, "" if malformed.
std::string ForceOf(absl::string_view name);
// PERMISSION_DENIED (CROSS_FORCE_ACCESS) when `name` is of another force than `force`.
absl::Status CheckSameForce(absl::string_view force, absl::string_view name);

// ListWorkshops filters may compare the repeated enum/int fields unquoted, as the API's filter
// rules say (`audiences = WORKSHOP_AUDIENCE_PUPILS`, `year_groups = 9`); the shared query
// layer stores them as string lists, so such values are quoted here. Text inside quoted strings
// is left alone.
std::string NormalizeWorkshopFilter(absl::string_view filter);

// --- Accreditation ------------------------------------------------------------------------
// The state as of `at`: a stored ACCREDITED whose expire_time is not after `at` is EXPIRED.
cv1::AccreditationState AccreditationStateAt(const wv1::Accreditation& stored, absl::Time at);
// FAILED_PRECONDITION ACCREDITATION_NOT_CURRENT unless the presenter is accredited now and
// the accreditation lasts beyond `start`.
absl::Status CheckBookable(const wv1::Presenter& stored, absl::Time now, absl::Time start);
// Validates GrantAccreditation's expire_time: in the future, at most 5 years ahead.
absl::Status ValidateGrant(const google::protobuf::Timestamp& expire_time, absl::Time now,
                           absl::string_view note);
// GrantAccreditation: validates the grant, then the presenter is accredited from `now` until
// `expire_time` (any earlier grant or suspension is replaced).
absl::Status GrantTo(wv1::Presenter& presenter, absl::Time now,
                     const google::protobuf::Timestamp& expire_time, absl::string_view note);
// SuspendAccreditation: only a presenter accredited as of `now` can be suspended
// (FAILED_PRECONDITION ACCREDITATION_NOT_CURRENT with the presenter and state otherwise).
absl::Status SuspendFrom(wv1::Presenter& presenter, absl::Time now, absl::string_view reason);

// --- Topics and age bands -----------------------------------------------------------------
// TOPIC_RETIRED for a retired topic.
absl::Status CheckTopicActive(const wv1::Topic& topic);
// RetireTopic: an active topic becomes RETIRED at `now` (TOPIC_RETIRED if it already is).
absl::Status RetireAt(wv1::Topic& topic, absl::Time now);
// AGE_BAND_MISMATCH when the topic does not fit the audiences and year groups.
absl::Status CheckAgeBand(const wv1::Topic& topic, const wv1::Workshop& workshop);

// --- Workshops ----------------------------------------------------------------------------
// What the staffing rules read of the stored data. The store implements it inside its write
// transaction (so two racing bookings cannot both pass); unit tests implement it with maps.
class StaffingLookup {
 public:
  virtual ~StaffingLookup() = default;
  // The stored topic / presenter of that name; NOT_FOUND naming it when there is none.
  virtual absl::StatusOr<wv1::Topic> Topic(const std::string& name) = 0;
  virtual absl::StatusOr<wv1::Presenter> Presenter(const std::string& name) = 0;
  // The name of a workshop other than `self` that is SCHEDULED or DELIVERED with `presenter`
  // and overlaps [start, end) (the earliest such), or "" when there is none.
  virtual absl::StatusOr<std::string> ClashingWorkshop(const std::string& presenter,
                                                       const std::string& self, absl::Time start,
                                                       absl::Time end) = 0;
};

// The workshop's topics exist (NOT_FOUND); those not in `known` (or all, with `all`) are ACTIVE
// (TOPIC_RETIRED); with `age_band`, each fits the audiences and year groups
// (AGE_BAND_MISMATCH).
absl::Status CheckTopics(StaffingLookup& lookup, const wv1::Workshop& workshop,
                         const std::set<std::string>& known, bool all, bool age_band);
// The workshop's presenters exist (NOT_FOUND); those not in `known` (or all) are accredited
// beyond the start (ACCREDITATION_NOT_CURRENT) and, with `check_overlap`, not booked into
// another workshop at overlapping times (PRESENTER_DOUBLE_BOOKED, with the presenter and the
// conflicting workshop in the metadata).
absl::Status CheckPresenters(StaffingLookup& lookup, const wv1::Workshop& workshop,
                             const std::set<std::string>& known, bool all, absl::Time now,
                             bool check_overlap = true);

// Half-open [start, end) intervals overlap.
bool Overlaps(absl::Time a_start, absl::Time a_end, absl::Time b_start, absl::Time b_end);
// WORKSHOP_NOT_SCHEDULED unless the state is one of `allowed`.
absl::Status CheckState(const wv1::Workshop& workshop,
                        std::initializer_list<wv1::WorkshopState> allowed);
// Total pupils in a headcount.
int64_t PupilsIn(const cv1::Headcount& headcount);
// Delivery preconditions for a SCHEDULED workshop at `venue`: DELIVERY_BEFORE_START,
// HEADCOUNT_EXCEEDS_ROLL. `delivered` is the effective delivered_time.
absl::Status CheckDelivery(const wv1::Workshop& workshop, const wv1::Venue& venue,
                           const cv1::Headcount& headcount, absl::Time now, absl::Time delivered);
// DeliverWorkshop's rules and effect: the workshop must be SCHEDULED and the record valid for
// it (CheckDelivery, with delivered_time defaulting to `now`); then the record is kept (mean
// rating computed), the venue's area and kind copied and the state becomes DELIVERED.
absl::Status RecordDelivery(wv1::Workshop& workshop, const wv1::Venue& venue,
                            const wv1::DeliveryRecord& delivery, absl::Time now);
// Fills FeedbackTotals.mean_rating.
void ComputeMeanRating(cv1::FeedbackTotals* feedback);

// --- Coverage -----------------------------------------------------------------------------
struct DeliveredAt {
  std::string venue;  // venue resource name
  int64_t pupils = 0;
  absl::Time delivered;
};
// Builds the coverage report of `schools` (venues of school kinds in scope) from the delivered
// workshops of the academic year.
wv1::Coverage BuildCoverage(const std::vector<wv1::Venue>& schools,
                            const std::vector<DeliveredAt>& deliveries);

// --- Events -------------------------------------------------------------------------------
ev1::OutreachEvent NewEvent(absl::string_view force, absl::string_view subject, absl::Time now);
ev1::OutreachEvent VenueUpsertedEvent(absl::string_view force, const wv1::Venue& venue,
                                      absl::Time now);
ev1::OutreachEvent VenueDeletedEvent(absl::string_view force, const wv1::Venue& venue,
                                     absl::Time now);
ev1::OutreachEvent AccreditationChangedEvent(absl::string_view force,
                                             const wv1::Presenter& presenter, absl::Time now);
ev1::OutreachEvent WorkshopScheduledEvent(absl::string_view force, const wv1::Workshop& workshop,
                                          bool rescheduled, absl::Time now);
ev1::OutreachEvent WorkshopPostponedEvent(absl::string_view force, const wv1::Workshop& workshop,
                                          absl::Time now);
ev1::OutreachEvent WorkshopCancelledEvent(absl::string_view force, const wv1::Workshop& workshop,
                                          bool deleted, absl::Time now);
ev1::OutreachEvent WorkshopDeliveredEvent(absl::string_view force, const wv1::Workshop& workshop,
                                          absl::Time now);

}  // namespace outreach::workshops
