#pragma once

// Where an outbox publisher delivers events. common/ knows only this interface; the gRPC
// implementation that calls metrics.IngestEvents is metrics' published client
// (services/metrics/client/ingest_sink.h), linked by the domain services' binaries. Tests can
// deliver to any other sink (a real metrics server through that client, or an in-process one).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "outreach/events/v1/events.pb.h"

namespace outreach {

// What the receiver said about one event.
struct DeliveryResult {
  enum class Outcome { kUnknown, kAccepted, kDuplicate, kRejected };
  Outcome outcome = Outcome::kUnknown;
  std::string event_id;
  std::string reason;  // for kRejected: the receiver's reason and the field at fault
  std::string field;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Delivers the events of one force, in order, within `timeout`. On OK, one result per event
  // in the same order. Any error means "not delivered; retry later" (the receiver dedupes).
  virtual absl::StatusOr<std::vector<DeliveryResult>> Deliver(
      absl::string_view force, const std::vector<outreach::events::v1::OutreachEvent>& events,
      absl::Duration timeout) = 0;
};

}  // namespace outreach
