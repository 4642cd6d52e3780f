// Metrics event validation + projection (services/metrics): the bytes are an
// IngestEventsRequest (its parent and up to 64 OutreachEvents), each event validated and
// applied through the MetricsStore interface to a real SQLite store, fresh for each input so a
// finding replays alone. After every event: the store answered (it is healthy, so no status but
// OK), the outcome agrees with ValidateEvent, the data version moves only when something was
// accepted, and the dashboard is computable with no negative, non-finite or overflowed total.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/civil_time.h"
#include "common/db.h"
#include "common/resource_name.h"
#include "common/store_support.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "services/metrics/domain.h"
#include "services/metrics/schema.h"
#include "services/metrics/store.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/support/temp_dir.h"

namespace outreach::metrics {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Totals are counts: an overflowed or wrapped sum shows as negative or beyond any real count.
constexpr int64_t kMaxTotal = int64_t{1} << 53;

void CheckTotals(const Message& message) {
  const auto* reflection = message.GetReflection();
  const auto* descriptor = message.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* f = descriptor->field(i);
    if (f->is_repeated()) {
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
      for (int j = 0; j < reflection->FieldSize(message, f); ++j) {
        CheckTotals(reflection->GetRepeatedMessage(message, f, j));
      }
      continue;
    }
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        FUZZ_CHECK(reflection->GetInt32(message, f) >= 0);
        break;
      case FieldDescriptor::CPPTYPE_INT64: {
        const int64_t v = reflection->GetInt64(message, f);
        FUZZ_CHECK(v >= 0 && v < kMaxTotal);
        break;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        const double v = reflection->GetDouble(message, f);
        FUZZ_CHECK(std::isfinite(v) && v >= 0);
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (reflection->HasField(message, f)) CheckTotals(reflection->GetMessage(message, f));
        break;
      default:
        break;
    }
  }
}

void CheckDashboard(MetricsStore& store, const std::string& force, DayRange days, absl::Time now) {
  absl::StatusOr<v1::Dashboard> dashboard = store.ComputeDashboard(force, days, "", now);
  FUZZ_CHECK(dashboard.ok());
  CheckTotals(dashboard->workshops());
  CheckTotals(dashboard->training());
  CheckTotals(dashboard->campaigns());
}

}  // namespace
}  // namespace outreach::metrics

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace outreach::metrics;
  v1::IngestEventsRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (request.events_size() > 64) return 0;
  absl::StatusOr<std::string> parsed_force = outreach::ParseForce("parent", request.parent());
  const std::string force = parsed_force.ok() ? *parsed_force : "derbyshire";

  outreach::TempDir dir;
  outreach::db::Options options;
  options.readers = 1;
  options.synchronous_full = false;
  auto db = outreach::db::Database::Open(
      dir.File("metrics.db"), {outreach::CommonMigrations(), MetricsMigrations()}, options);
  FUZZ_CHECK(db.ok());
  std::unique_ptr<MetricsStore> store = NewSqlMetricsStore(db->get());

  const absl::Time now =
      absl::FromCivil(absl::CivilSecond(2025, 6, 1, 12, 0, 0), absl::UTCTimeZone());
  const DayRange year = AcademicYearOfDay(absl::CivilDay(2025, 6, 1));
  const DayRange decade{absl::CivilDay(2015, 6, 2), absl::CivilDay(2025, 6, 1)};
  int64_t version = 0;
  for (const auto& event : request.events()) {
    google::protobuf::RepeatedPtrField<ev::OutreachEvent> one;
    *one.Add() = event;
    absl::StatusOr<MetricsStore::IngestOutput> out = store->Ingest(force, one, now);
    FUZZ_CHECK(out.ok());
    const v1::IngestOutcome outcome = out->response.results(0).outcome();
    const bool valid = !ValidateEvent(event, force, now).has_value();
    FUZZ_CHECK(valid == (outcome != v1::INGEST_OUTCOME_REJECTED));
    FUZZ_CHECK(out->changed == (outcome == v1::INGEST_OUTCOME_ACCEPTED));
    FUZZ_CHECK(out->data_version == (out->changed ? version + 1 : version));
    version = out->data_version;
    CheckDashboard(*store, force, year, now);
    CheckDashboard(*store, force, decade, now);
  }
  return 0;
}
