// GET /v1/firebreak/events: the event hub as server-sent events.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "firebreak/base/event.h"
#include "firebreak/http/server.h"

namespace firebreak::proxy {

// GET /v1/firebreak/events: the event hub as server-sent events, one
// `event: <kind>` / `data: <json>` pair each, a comment every 15 s so that
// idle consoles and proxies keep the stream open, and a status event when
// this console was too slow and lost events (drop-oldest, never blocking
// the proxy).
class EventStream : public http::StreamSource {
 public:
  explicit EventStream(std::shared_ptr<base::EventHub> hub) : hub_(std::move(hub)) {}

  void Attach(std::function<void()> wake) override;
  std::string Take(bool& finished) override;
  void Detach() override;

 private:
  static constexpr std::size_t kCapacity = 1000;
  std::shared_ptr<base::EventHub> hub_;
  std::shared_ptr<base::EventHub::Subscription> subscription_;
  std::uint64_t reported_ = 0;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace firebreak::proxy
