#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace outreach {

using Labels = std::vector<std::pair<std::string, std::string>>;

// A small Prometheus registry (Debian 12 has no prometheus-cpp): counters, gauges and
// histograms with labels, rendered in the text exposition format 0.0.4. Thread-safe.
class MetricsRegistry {
 public:
  void DefineCounter(std::string name, std::string help);
  void DefineGauge(std::string name, std::string help);
  // `buckets` are upper bounds in ascending order; +Inf is implied.
  void DefineHistogram(std::string name, std::string help, std::vector<double> buckets);

  void Add(absl::string_view name, const Labels& labels, double delta = 1);
  void Set(absl::string_view name, const Labels& labels, double value);
  void Observe(absl::string_view name, const Labels& labels, double value);
  // Drops one series, so a gauge whose subject disappeared is no longer exported.
  void Remove(absl::string_view name, const Labels& labels);

  // Runs before each render, so gauges that are read from elsewhere (outbox backlog, cache
  // size) are fresh when scraped.
  void AddRefresher(std::function<void(MetricsRegistry&)> refresh);

  std::string Render();
  // The current value of a counter or gauge series (0 when absent). For tests and /healthz.
  double Value(absl::string_view name, const Labels& labels);

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    double value = 0;
    std::vector<uint64_t> bucket_counts;
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, Series> series;  // key: rendered label set
  };
  static std::string RenderLabels(const Labels& labels);

  absl::Mutex mu_;
  std::map<std::string, Family, std::less<>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(MetricsRegistry&)>> refreshers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace outreach
