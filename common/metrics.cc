#include "common/metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace outreach {
namespace {

std::string Escape(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatNumber(double v) { return absl::StrCat(v); }

}  // namespace

std::string MetricsRegistry::RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", labels[i].first, "=\"", Escape(labels[i].second), "\"");
  }
  out.push_back('}');
  return out;
}

void MetricsRegistry::DefineCounter(std::string name, std::string help) {
  absl::MutexLock lock(&mu_);
  families_.try_emplace(std::move(name), Family{Type::kCounter, std::move(help), {}, {}});
}

void MetricsRegistry::DefineGauge(std::string name, std::string help) {
  absl::MutexLock lock(&mu_);
  families_.try_emplace(std::move(name), Family{Type::kGauge, std::move(help), {}, {}});
}

void MetricsRegistry::DefineHistogram(std::string name, std::string help,
                                      std::vector<double> buckets) {
  std::sort(buckets.begin(), buckets.end());
  absl::MutexLock lock(&mu_);
  families_.try_emplace(std::move(name),
                        Family{Type::kHistogram, std::move(help), std::move(buckets), {}});
}

void MetricsRegistry::Add(absl::string_view name, const Labels& labels, double delta) {
  const std::string key = RenderLabels(labels);
  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return;
  it->second.series[key].value += delta;
}

void MetricsRegistry::Set(absl::string_view name, const Labels& labels, double value) {
  const std::string key = RenderLabels(labels);
  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return;
  it->second.series[key].value = value;
}

void MetricsRegistry::Remove(absl::string_view name, const Labels& labels) {
  const std::string key = RenderLabels(labels);
  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return;
  it->second.series.erase(key);
}

void MetricsRegistry::Observe(absl::string_view name, const Labels& labels, double value) {
  const std::string key = RenderLabels(labels);
  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type != Type::kHistogram) return;
  Family& family = it->second;
  Series& s = family.series[key];
  if (s.bucket_counts.empty()) s.bucket_counts.assign(family.buckets.size(), 0);
  for (size_t i = 0; i < family.buckets.size(); ++i) {
    if (value <= family.buckets[i]) ++s.bucket_counts[i];
  }
  s.sum += value;
  ++s.count;
}

void MetricsRegistry::AddRefresher(std::function<void(MetricsRegistry&)> refresh) {
  absl::MutexLock lock(&mu_);
  refreshers_.push_back(std::move(refresh));
}

double MetricsRegistry::Value(absl::string_view name, const Labels& labels) {
  const std::string key = RenderLabels(labels);
  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto s = it->second.series.find(key);
  return s == it->second.series.end() ? 0 : s->second.value;
}

std::string MetricsRegistry::Render() {
  std::vector<std::function<void(MetricsRegistry&)>> refreshers;
  {
    absl::MutexLock lock(&mu_);
    refreshers = refreshers_;
  }
  for (auto& refresh : refreshers) refresh(*this);

  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    const char* type = family.type == Type::kCounter ? "counter"
                       : family.type == Type::kGauge ? "gauge"
                                                     : "histogram";
    absl::StrAppend(&out, "# HELP ", name, " ", family.help, "\n# TYPE ", name, " ", type, "\n");
    for (const auto& [labels, s] : family.series) {
      if (family.type != Type::kHistogram) {
        absl::StrAppend(&out, name, labels, " ", FormatNumber(s.value), "\n");
        continue;
      }
      // Bucket label sets extend the series' own labels with le="...".
      const std::string prefix =
          labels.empty() ? "{" : absl::StrCat(labels.substr(0, labels.size() - 1), ",");
      for (size_t i = 0; i < family.buckets.size(); ++i) {
        absl::StrAppend(&out, name, "_bucket", prefix, "le=\"", FormatNumber(family.buckets[i]),
                        "\"} ", s.bucket_counts[i], "\n");
      }
      absl::StrAppend(&out, name, "_bucket", prefix, "le=\"+Inf\"} ", s.count, "\n");
      absl::StrAppend(&out, name, "_sum", labels, " ", FormatNumber(s.sum), "\n");
      absl::StrAppend(&out, name, "_count", labels, " ", s.count, "\n");
    }
  }
  return out;
}

}  // namespace outreach
