#include "firebreak/alert/alert.h"

#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <ostream>

#include "firebreak/base/clock.h"

namespace firebreak::alert {
namespace {

namespace json = boost::json;

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

std::optional<TargetType> ParseTargetType(std::string_view name) {
  if (name == "webhook") return TargetType::kWebhook;
  if (name == "slack") return TargetType::kSlack;
  if (name == "pagerduty") return TargetType::kPagerDuty;
  if (name == "log") return TargetType::kLog;
  return std::nullopt;
}

base::StatusOr<http::Request> RenderRequest(const AlertTarget& target, const PendingAlert& alert) {
  boost::system::error_code ec;
  json::value parsed = json::parse(alert.payload, ec);
  if (ec || !parsed.is_object()) {
    return base::InvalidArgument("alert " + alert.idempotency_key +
                                 ": payload is not a JSON object");
  }
  const json::object& p = parsed.get_object();
  http::Request request;
  request.url = target.url;
  request.headers = target.headers;
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("Idempotency-Key", alert.idempotency_key);
  const std::string summary = Str(p, "summary");
  switch (target.type) {
    case TargetType::kWebhook:
      request.body = alert.payload;  // the documented Firebreak alert object
      break;
    case TargetType::kSlack: {
      const std::string request_id = Str(p, "request_id");  // none in a summary
      request.body = json::serialize(json::object{
          {"text", "[Firebreak] " + Str(p, "severity") + ": " + summary + " (" +
                       (request_id.empty() ? "" : "request " + request_id + ", ") + "audit " +
                       alert.idempotency_key + ")"}});
      break;
    }
    case TargetType::kPagerDuty: {
      json::object event{
          {"routing_key", target.routing_key},
          {"event_action", "trigger"},
          {"dedup_key", alert.idempotency_key},
          {"payload",
           json::object{{"summary", summary},
                        {"source", "firebreak/" + Str(p, "instance")},
                        {"severity", Str(p, "severity") == "critical" ? "critical" : "warning"},
                        {"timestamp", Str(p, "time")},
                        {"component", "firebreak"},
                        {"group", Str(p, "policy")},
                        {"custom_details", p}}}};
      request.body = json::serialize(event);
      break;
    }
    case TargetType::kLog:
      return base::InvalidArgument("log targets are not delivered over HTTP");
  }
  return request;
}

Sender::Sender(AlertStore& store, std::map<std::string, AlertTarget, std::less<>> targets,
               SenderOptions options)
    : store_(store),
      targets_(std::move(targets)),
      options_(std::move(options)),
      rng_(options_.seed) {
  if (!options_.now_micros) {
    options_.now_micros = &base::UnixMicros;
  }
}

Sender::~Sender() { Stop(); }

void Sender::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_signal_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Sender::Start() {
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      RunOnce();
      lock.lock();
      stop_signal_.wait_for(lock, options_.poll, [&] { return stopping_; });
    }
  });
}

std::chrono::milliseconds Sender::Backoff(int attempts) {
  // first * 2^(attempts-1), capped, times a jitter in [0.5, 1.5).
  const int shift = std::min(attempts - 1, 30);
  const auto base =
      std::min<std::int64_t>(options_.first_backoff.count() << shift, options_.max_backoff.count());
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(base) * jitter(rng_)));
}

void Sender::Log(const std::string& line) {
  if (options_.log != nullptr) {
    std::lock_guard lock(log_mutex_);
    *options_.log << line << std::endl;
  }
}

std::string Sender::Deliver(const PendingAlert& alert) {
  auto target = targets_.find(alert.target);
  if (target == targets_.end()) {
    return "no alert target named '" + alert.target + "' is configured";
  }
  if (target->second.type == TargetType::kLog) {
    Log("alert " + alert.payload);
    return {};
  }
  base::StatusOr<http::Request> request = RenderRequest(target->second, alert);
  if (!request.ok()) {
    return request.status().message();
  }
  request->timeout = options_.timeout;
  base::StatusOr<http::Response> response = http::Send(*request);
  if (!response.ok()) {
    return response.status().message();
  }
  if (response->status < 200 || response->status >= 300) {
    return "HTTP " + std::to_string(response->status);
  }
  return {};
}

base::Status Sender::SendNow(const PendingAlert& alert) {
  const std::string error = Deliver(alert);
  if (error.empty()) {
    return base::Status::Ok();
  }
  Log("alert " + alert.idempotency_key + " to " + alert.target + " failed: " + error +
      "; payload " + alert.payload);
  return base::Status(base::StatusCode::kUnavailable, error);
}

std::size_t Sender::RunOnce() {
  base::StatusOr<std::vector<PendingAlert>> due = store_.Due(options_.batch);
  if (!due.ok()) {
    Log("alert: cannot read the outbox: " + due.status().message());
    return 0;
  }
  std::size_t delivered = 0;
  for (const PendingAlert& alert : *due) {
    const std::string error = Deliver(alert);
    if (options_.on_attempt) {
      options_.on_attempt(alert, error);
    }
    if (error.empty()) {
      delivered += store_.Delivered(alert.id).ok() ? 1 : 0;
      continue;
    }
    const int attempts = alert.attempts + 1;
    const std::int64_t next =
        options_.now_micros() + std::chrono::microseconds(Backoff(attempts)).count();
    static_cast<void>(store_.Retry(alert.id, attempts, next, error));  // next pass retries
    Log("alert " + alert.idempotency_key + " to " + alert.target + " failed (attempt " +
        std::to_string(attempts) + "): " + error);
  }
  return delivered;
}

}  // namespace firebreak::alert
