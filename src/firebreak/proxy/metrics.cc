#include "firebreak/proxy/metrics.h"

#include <cstdio>

#include "firebreak/api/provider.h"

namespace firebreak::proxy {
namespace {

constexpr std::string_view kResultNames[kResultCount] = {"ALLOW", "ALLOW_CONSTRAINED", "BLOCK",
                                                         "REFUSED"};
constexpr std::string_view kStageNames[kStageCount] = {"decide", "audit", "upstream", "total"};

std::string Number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6g", v);
  return buffer;
}

// Label values are ids from the config and policy; escape anyway.
std::string Escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c == '\n' ? ' ' : c);
  }
  return out;
}

}  // namespace

std::string_view RouteName(Route route, api::Dialect api) {
  if (route == Route::kModelCall) {
    return api::ProviderFor(api).endpoint();
  }
  static constexpr std::string_view kNames[kRouteCount] = {"",
                                                           "/v1/firebreak/evaluate",
                                                           "/v1/models",
                                                           "/health",
                                                           "/ready",
                                                           "/metrics",
                                                           "/v1/firebreak/reload",
                                                           "/v1/firebreak/events",
                                                           "other"};
  return kNames[static_cast<int>(route)];
}

void Histogram::Observe(double seconds) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) {
    ++i;
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Histogram::Render(std::string& out, std::string_view name, std::string_view labels) const {
  std::uint64_t cumulative = 0;
  const std::string prefix = std::string(name) + "_bucket{" + std::string(labels) + ",le=\"";
  for (std::size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += prefix + (i < kBounds.size() ? Number(kBounds[i]) : "+Inf") + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  out += std::string(name) + "_sum{" + std::string(labels) + "} " +
         Number(static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6) + "\n";
  out += std::string(name) + "_count{" + std::string(labels) + "} " +
         std::to_string(count_.load(std::memory_order_relaxed)) + "\n";
}

void Metrics::CountRequest(Route route, Result result, api::Dialect api) {
  const int row = route == Route::kModelCall ? kRouteCount - 1 + static_cast<int>(api)
                                             : static_cast<int>(route) - 1;
  requests_[row][static_cast<int>(result)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::CountRule(std::string_view rule) {
  std::lock_guard lock(mu_);
  auto it = rules_.find(rule);
  if (it == rules_.end()) {
    it = rules_.emplace(std::string(rule), 0).first;
  }
  ++it->second;
}

void Metrics::CountUpstreamError(std::string_view upstream, std::string_view kind) {
  std::lock_guard lock(mu_);
  ++upstream_errors_["upstream=\"" + Escape(upstream) + "\",kind=\"" + Escape(kind) + "\""];
}

std::string Metrics::Render(std::string_view gauges) const {
  std::string out;
  out += "# HELP firebreak_requests_total Requests by route and outcome.\n";
  out += "# TYPE firebreak_requests_total counter\n";
  for (int r = 0; r < kRows; ++r) {
    const std::string_view route =
        r < kRouteCount - 1 ? RouteName(static_cast<Route>(r + 1))
                            : RouteName(Route::kModelCall,
                                        static_cast<api::Dialect>(r - (kRouteCount - 1)));
    for (int d = 0; d < kResultCount; ++d) {
      if (const std::uint64_t n = requests_[r][d].load(std::memory_order_relaxed); n > 0) {
        out += "firebreak_requests_total{route=\"" + std::string(route) +
               "\",decision=\"" + std::string(kResultNames[d]) + "\"} " + std::to_string(n) + "\n";
      }
    }
  }
  out += "# HELP firebreak_stage_seconds Latency of each stage of an exchange.\n";
  out += "# TYPE firebreak_stage_seconds histogram\n";
  for (int s = 0; s < kStageCount; ++s) {
    stages_[s].Render(out, "firebreak_stage_seconds",
                      "stage=\"" + std::string(kStageNames[s]) + "\"");
  }
  out += "# HELP firebreak_audit_failures_total Audit appends that failed (requests refused).\n";
  out += "# TYPE firebreak_audit_failures_total counter\n";
  out += "firebreak_audit_failures_total " + std::to_string(audit_failures_.load()) + "\n";
  out += "# HELP firebreak_refusals_total Requests refused, by failure kind (README: Failures).\n";
  out += "# TYPE firebreak_refusals_total counter\n";
  for (const exchange::FailureSpec& f : exchange::Failures()) {
    if (f.metric.starts_with("firebreak_refusals_total")) {
      out += "firebreak_refusals_total{kind=\"" + std::string(f.name) + "\"} " +
             std::to_string(failures_[static_cast<int>(f.failure)].load()) + "\n";
    }
  }
  std::lock_guard lock(mu_);
  out += "# HELP firebreak_rule_decisions_total Decisions by the rule that made them.\n";
  out += "# TYPE firebreak_rule_decisions_total counter\n";
  for (const auto& [rule, n] : rules_) {
    out +=
        "firebreak_rule_decisions_total{rule=\"" + Escape(rule) + "\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP firebreak_upstream_errors_total Upstream failures by upstream and kind.\n";
  out += "# TYPE firebreak_upstream_errors_total counter\n";
  for (const auto& [labels, n] : upstream_errors_) {
    out += "firebreak_upstream_errors_total{" + labels + "} " + std::to_string(n) + "\n";
  }
  out += gauges;
  return out;
}

}  // namespace firebreak::proxy
