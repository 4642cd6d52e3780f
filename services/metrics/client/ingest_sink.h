#pragma once

// Metrics' published client for its ingest API: the EventSink the domain services' outbox
// publishers deliver to. A service may link another service's published client (a folder named
// client/), never its domain, store or service code (docs/architecture.md).

#include <memory>

#include "common/event_sink.h"
#include "grpcpp/channel.h"

namespace outreach::metrics::client {

// Calls outreach.metrics.v1.MetricsService/IngestEvents on `channel`, one call per Deliver,
// with the given timeout as its deadline.
std::unique_ptr<EventSink> NewIngestSink(std::shared_ptr<grpc::Channel> channel);

}  // namespace outreach::metrics::client
