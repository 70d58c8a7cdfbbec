// Prometheus metrics of the proxy: requests by route and outcome, decisions
// by rule, latency histograms per stage, upstream errors. Lock-free counters
// on the request path; rendered in the text exposition format on /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "firebreak/api/request.h"
#include "firebreak/exchange/failure.h"

namespace firebreak::proxy {

// A model call is one route per API (api::Provider::endpoint()).
enum class Route {
  kModelCall,
  kEvaluate,
  kModels,
  kHealth,
  kReady,
  kMetrics,
  kReload,
  kEvents,
  kNotFound
};
inline constexpr int kRouteCount = 9;
// The route as metrics and records name it; a model call by its API's endpoint.
std::string_view RouteName(Route route, api::Dialect api = api::Dialect::kOpenAI);

// ALLOW, ALLOW_CONSTRAINED, BLOCK, or refused before a decision (bad input,
// unauthenticated, audit failure).
enum class Result { kAllow, kAllowConstrained, kBlock, kRefused };
inline constexpr int kResultCount = 4;

enum class Stage { kDecide, kAudit, kUpstream, kTotal };
inline constexpr int kStageCount = 4;

class Histogram {
 public:
  static constexpr std::array<double, 17> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
  void Observe(double seconds);
  void Render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

class Metrics {
 public:
  void CountRequest(Route route, Result result, api::Dialect api = api::Dialect::kOpenAI);
  void CountRule(std::string_view rule);
  void Observe(Stage stage, double seconds) { stages_[static_cast<int>(stage)].Observe(seconds); }
  void CountUpstreamError(std::string_view upstream, std::string_view kind);
  void CountAuditFailure() { audit_failures_.fetch_add(1, std::memory_order_relaxed); }
  // A refusal (firebreak_refusals_total{kind}); the upstream's failures are
  // CountUpstreamError's.
  void CountFailure(exchange::Failure failure) {
    failures_[static_cast<int>(failure)].fetch_add(1, std::memory_order_relaxed);
  }

  // `gauges` are appended as they are (name value lines with HELP/TYPE).
  std::string Render(std::string_view gauges) const;

 private:
  // By route, a model call's by API after the others (Row()).
  static constexpr int kRows = kRouteCount - 1 + api::kDialectCount;
  std::array<std::array<std::atomic<std::uint64_t>, kResultCount>, kRows> requests_{};
  std::array<Histogram, kStageCount> stages_;
  std::atomic<std::uint64_t> audit_failures_{0};
  std::array<std::atomic<std::uint64_t>, exchange::kFailureCount> failures_{};
  mutable std::mutex mu_;  // the labelled maps below
  std::map<std::string, std::uint64_t, std::less<>> rules_;
  std::map<std::string, std::uint64_t, std::less<>> upstream_errors_;
};

}  // namespace firebreak::proxy
