#include "services/metrics/client/ingest_sink.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"

namespace outreach::metrics::client {
namespace {

namespace v1 = outreach::metrics::v1;

DeliveryResult::Outcome OutcomeOf(v1::IngestOutcome outcome) {
  switch (outcome) {
    case v1::INGEST_OUTCOME_ACCEPTED:
      return DeliveryResult::Outcome::kAccepted;
    case v1::INGEST_OUTCOME_DUPLICATE:
      return DeliveryResult::Outcome::kDuplicate;
    case v1::INGEST_OUTCOME_REJECTED:
      return DeliveryResult::Outcome::kRejected;
    default:
      return DeliveryResult::Outcome::kUnknown;
  }
}

class IngestSink final : public EventSink {
 public:
  explicit IngestSink(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::MetricsService::NewStub(std::move(channel))) {}

  absl::StatusOr<std::vector<DeliveryResult>> Deliver(
      absl::string_view force, const std::vector<outreach::events::v1::OutreachEvent>& events,
      absl::Duration timeout) override {
    v1::IngestEventsRequest request;
    request.set_parent(absl::StrCat("forces/", force));
    for (const auto& e : events) *request.add_events() = e;
    v1::IngestEventsResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    const grpc::Status status = stub_->IngestEvents(&ctx, request, &response);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("IngestEvents: ", status.error_message(), " (",
                                                 static_cast<int>(status.error_code()), ")"));
    }
    std::vector<DeliveryResult> out;
    out.reserve(response.results_size());
    for (const auto& r : response.results()) {
      out.push_back({OutcomeOf(r.outcome()), r.event_id(), r.reason(), r.field()});
    }
    return out;
  }

 private:
  std::unique_ptr<v1::MetricsService::Stub> stub_;
};

}  // namespace

std::unique_ptr<EventSink> NewIngestSink(std::shared_ptr<grpc::Channel> channel) {
  return std::make_unique<IngestSink>(std::move(channel));
}

}  // namespace outreach::metrics::client
