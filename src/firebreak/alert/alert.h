// Alert targets and delivery. A decision's alerts go to a durable outbox in
// the same transaction as its audit record (audit_log.h); a Sender delivers
// them at least once, with exponential backoff and jitter, each carrying an
// idempotency key ("<instance>:<audit seq>:<target>") so receivers can
// deduplicate. Targets are named by policies and defined in the server config.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "firebreak/base/status.h"
#include "firebreak/http/client.h"

namespace firebreak::alert {

enum class TargetType { kWebhook, kSlack, kPagerDuty, kLog };

std::optional<TargetType> ParseTargetType(std::string_view name);

struct AlertTarget {
  std::string name;
  TargetType type = TargetType::kLog;
  std::string url;  // webhook, slack, pagerduty
  std::vector<std::pair<std::string, std::string>> headers;
  std::string routing_key;  // pagerduty integration key
};

// One alert to deliver: the outbox row.
struct PendingAlert {
  std::int64_t id = 0;
  std::string target;
  std::string idempotency_key;
  std::string payload;  // canonical JSON (see README, "Alert bodies")
  int attempts = 0;
};

// Where pending alerts live. Implemented over the audit database by the
// composition root.
class AlertStore {
 public:
  virtual ~AlertStore() = default;
  virtual base::StatusOr<std::vector<PendingAlert>> Due(std::size_t limit) = 0;
  virtual base::Status Delivered(std::int64_t id) = 0;
  virtual base::Status Retry(std::int64_t id, int attempts, std::int64_t next_attempt_micros,
                             std::string_view error) = 0;
};

// The HTTP request that delivers `alert` to `target` (not for kLog).
// InvalidArgument when the payload is not the JSON object the outbox stores.
base::StatusOr<http::Request> RenderRequest(const AlertTarget& target, const PendingAlert& alert);

struct SenderOptions {
  std::chrono::milliseconds poll{200};
  std::chrono::milliseconds first_backoff{500};
  std::chrono::milliseconds max_backoff{300'000};
  std::chrono::milliseconds timeout{5000};
  std::size_t batch = 100;
  std::uint32_t seed = 1;                    // jitter
  std::function<std::int64_t()> now_micros;  // injected clock; default: system clock
  std::ostream* log = nullptr;               // kLog target and delivery failures
  // After each delivery attempt, on the sender's thread: `error` is empty
  // when the alert was delivered (dashboards show the state).
  std::function<void(const PendingAlert& alert, const std::string& error)> on_attempt;
};

class Sender {
 public:
  Sender(AlertStore& store, std::map<std::string, AlertTarget, std::less<>> targets,
         SenderOptions options);
  ~Sender();

  // Delivers every due alert once; returns how many were delivered.
  std::size_t RunOnce();
  // Delivers one alert now, outside the outbox: for events the outbox cannot
  // hold (the audit store itself failing). One attempt; the error says why.
  base::Status SendNow(const PendingAlert& alert);
  // RunOnce every `poll` on a background thread until Stop (or destruction).
  void Start();
  void Stop();

 private:
  std::chrono::milliseconds Backoff(int attempts);
  void Log(const std::string& line);
  // Empty when delivered, else why not.
  std::string Deliver(const PendingAlert& alert);

  AlertStore& store_;
  std::map<std::string, AlertTarget, std::less<>> targets_;
  SenderOptions options_;
  std::mt19937 rng_;
  std::thread thread_;
  std::mutex mutex_;
  std::mutex log_mutex_;  // RunOnce (background) and SendNow (caller) both log
  std::condition_variable stop_signal_;
  bool stopping_ = false;
};

}  // namespace firebreak::alert
