#include "firebreak/proxy/event_stream.h"

namespace firebreak::proxy {

void EventStream::Attach(std::function<void()> wake) {
  subscription_ = hub_->Subscribe(kCapacity, std::move(wake));
}

std::string EventStream::Take(bool& finished) {
  finished = false;
  std::string out;
  if (subscription_ == nullptr) {
    return out;
  }
  for (const base::Event& e : subscription_->Take()) {
    out += "event: ";
    out += base::EventKind(e);
    out += "\ndata: " + base::EventJson(e) + "\n\n";
  }
  if (const std::uint64_t dropped = subscription_->dropped(); dropped != reported_) {
    reported_ = dropped;
    out += "event: status\ndata: " +
           base::EventJson(base::StatusEvent{
               0, std::to_string(dropped) + " events dropped: this console reads too slowly"}) +
           "\n\n";
  }
  const auto now = std::chrono::steady_clock::now();
  if (out.empty() && now - last_ >= std::chrono::seconds(15)) {
    out = ": keepalive\n\n";
  }
  if (!out.empty()) {
    last_ = now;
  }
  return out;
}

void EventStream::Detach() { subscription_.reset(); }

}  // namespace firebreak::proxy
