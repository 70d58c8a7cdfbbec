// The events the pipeline publishes and dashboards consume (DESIGN.md §1):
// the policy in force, each decision, each alert's delivery. A dashboard is
// fed by events only, never by the pipeline's internals, so the same one
// runs in-process (`demo`) or attached to a remote proxy over server-sent
// events (`dashboard --connect`), where each event travels as JSON.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "firebreak/base/status.h"

namespace firebreak::base {

// The version of the events' JSON ("v"): a reader refuses a newer one.
inline constexpr int kEventVersion = 1;

// What a decision event says was decided (policy::Verdict, for dashboards).
enum class EventVerdict : std::uint8_t { kAllow, kAllowConstrained, kBlock };
std::string_view EventVerdictName(EventVerdict verdict);  // ALLOW, ALLOW_CONSTRAINED, BLOCK

// Where an alert's delivery to one target stands.
enum class AlertDelivery : std::uint8_t { kQueued, kDelivered, kRetrying };
std::string_view AlertDeliveryName(AlertDelivery delivery);  // queued, delivered, retrying

struct Signatory {
  std::string role;   // the policy's signatories key (the trust file's party name)
  std::string party;  // who that is
  bool verified = false;
  std::string state;  // valid, missing, invalid, unknown key, no trust file
};

struct PolicyEvent {
  std::int64_t time_micros = 0;
  std::string name;
  std::string version;
  std::string effective;
  std::string digest;
  bool verified = false;  // false: enforced unsigned (--allow-unsigned)
  std::vector<Signatory> signatories;
  std::size_t rules = 0;
  std::string source;  // "serve", "demo", a reload trigger
};

struct CategoryScore {
  std::string id;
  double score = 0;
};

struct DecisionEvent {
  std::int64_t time_micros = 0;
  std::string request_id;
  std::string principal;
  std::string endpoint;
  std::string prompt;                     // the last user message, shortened
  std::vector<CategoryScore> categories;  // detected ones, highest first
  EventVerdict decision = EventVerdict::kBlock;
  std::vector<std::string> rules;
  std::string intent;  // the first detected category, or "unknown"
  std::string audit_level;
  std::uint64_t seq = 0;
  std::vector<std::string> constraints;
  std::string note;     // the rule's note, else its description
  std::string outcome;  // what happened to the request (forwarded, blocked, offline)
  std::string judge;    // what a judge said, when one was asked; else empty
};

struct AlertEvent {
  std::int64_t time_micros = 0;
  std::uint64_t seq = 0;  // of the record that raised it
  std::string severity;
  std::string rule;
  std::string target;
  AlertDelivery state = AlertDelivery::kQueued;
  std::string detail;
};

// A note of the publisher about itself (connected, dropped events, ...).
struct StatusEvent {
  std::int64_t time_micros = 0;
  std::string text;
};

using Event = std::variant<PolicyEvent, DecisionEvent, AlertEvent, StatusEvent>;

// {"v": 1, "kind": "policy"|"decision"|"alert"|"status", ...fields}. An
// event without "v" is read as version 1 (proxies before it was written);
// a newer version, or a decision or delivery state this version does not
// know, is InvalidArgument.
std::string EventJson(const Event& event);
StatusOr<Event> ParseEvent(std::string_view json);
std::string_view EventKind(const Event& event);

// Fan-out of events to subscribers, each with a bounded queue: a slow
// subscriber loses its oldest events (counted), and never slows Publish.
class EventHub {
 public:
  class Subscription {
   public:
    // Everything queued since the last call.
    std::vector<Event> Take();
    std::uint64_t dropped() const;

   private:
    friend class EventHub;
    mutable std::mutex mu_;
    std::deque<Event> queue_;
    std::size_t capacity_ = 0;
    std::uint64_t dropped_ = 0;
    std::function<void()> notify_;
  };

  // `notify` (optional) is called, from the publishing thread, after each
  // event is queued; it must not block. The last policy and status events
  // are queued first, so a late subscriber knows what is enforced and where.
  std::shared_ptr<Subscription> Subscribe(std::size_t capacity, std::function<void()> notify = {});

  // Thread-safe.
  void Publish(Event event);
  // Cheap: publishers may skip building decision and alert events nobody
  // reads (policy and status events are always published: they are kept).
  bool HasSubscribers() const { return subscribers_count_.load(std::memory_order_relaxed) > 0; }

 private:
  std::atomic<std::size_t> subscribers_count_{0};
  mutable std::mutex mu_;
  std::vector<std::weak_ptr<Subscription>> subscribers_;
  std::optional<Event> policy_;
  std::optional<Event> status_;
};

}  // namespace firebreak::base
