#include "firebreak/alert/limiter.h"

#include <algorithm>

#include "firebreak/base/clock.h"

namespace firebreak::alert {
namespace {

// A window whose admissions never all settle (a record's callback lost) is
// summarised anyway this long after it closed.
constexpr std::int64_t kSettleGraceMicros = 60'000'000;

}  // namespace

std::string_view DispositionName(Disposition d) {
  return d == Disposition::kFolded ? "folded" : "sent";
}

AlertLimiter::AlertLimiter(std::function<std::int64_t()> now_micros)
    : now_micros_(now_micros ? std::move(now_micros) : &base::UnixMicros) {}

std::string AlertLimiter::Key(std::string_view rule, std::string_view target) {
  std::string key;
  key.reserve(rule.size() + target.size() + 1);
  key.append(rule).push_back('\n');  // neither name holds a line break
  key.append(target);
  return key;
}

void AlertLimiter::CloseEnded(std::int64_t now) {
  for (auto it = open_.begin(); it != open_.end();) {
    if (it->second.state.end <= now) {
      closed_.push_back(std::move(it->second));
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
}

Admission AlertLimiter::Admit(std::string_view rule, std::string_view target,
                              const AlertLimit& limit, std::string_view severity,
                              std::string_view summary) {
  Admission a{std::string(rule), std::string(target), Disposition::kSent, 0, 0, 0};
  std::lock_guard lock(mu_);
  if (limit.window_micros <= 0) {
    ++sent_;
    return a;
  }
  const std::int64_t now = now_micros_();
  const std::string key = Key(rule, target);
  auto it = open_.find(key);
  if (it != open_.end() && it->second.state.end <= now) {
    closed_.push_back(std::move(it->second));
    open_.erase(it);
    it = open_.end();
  }
  if (it == open_.end()) {
    Window w;
    w.id = next_id_++;
    w.max_per_window = std::max<std::int64_t>(limit.max_per_window, 1);
    w.state.rule = a.rule;
    w.state.target = a.target;
    w.state.severity = std::string(severity);
    w.state.summary = std::string(summary);
    w.state.start = now;
    w.state.end = now + limit.window_micros;
    w.state.floor_seq = max_seq_;
    it = open_.emplace(key, std::move(w)).first;
  }
  Window& w = it->second;
  ++w.unsettled;
  a.window = w.id;
  a.window_start = w.state.start;
  a.window_end = w.state.end;
  if (static_cast<std::int64_t>(w.state.sent) < w.max_per_window) {
    ++w.state.sent;
    ++sent_;
  } else {
    ++w.state.folded;
    ++folded_;
    a.disposition = Disposition::kFolded;
  }
  return a;
}

AlertLimiter::Window* AlertLimiter::Find(const Admission& admission) {
  if (admission.window == 0) {
    return nullptr;
  }
  if (auto it = open_.find(Key(admission.rule, admission.target));
      it != open_.end() && it->second.id == admission.window) {
    return &it->second;
  }
  for (Window& w : closed_) {
    if (w.id == admission.window) {
      return &w;
    }
  }
  return nullptr;
}

void AlertLimiter::Recorded(const Admission& admission, std::string_view request_id,
                            std::uint64_t seq) {
  std::lock_guard lock(mu_);
  max_seq_ = std::max(max_seq_, seq);
  Window* w = Find(admission);
  if (w == nullptr) {
    return;
  }
  if (w->unsettled > 0) {
    --w->unsettled;
  }
  if (admission.disposition != Disposition::kFolded) {
    return;
  }
  FoldedWindow& s = w->state;
  if (s.first_seq == 0 || seq < s.first_seq) {
    s.first_seq = seq;
    s.first_request_id = std::string(request_id);
  }
  if (seq > s.last_seq) {
    s.last_seq = seq;
    s.last_request_id = std::string(request_id);
  }
}

void AlertLimiter::Abandoned(const Admission& admission) {
  std::lock_guard lock(mu_);
  Window* w = Find(admission);
  if (w == nullptr) {
    return;
  }
  if (w->unsettled > 0) {
    --w->unsettled;
  }
  std::uint64_t& count =
      admission.disposition == Disposition::kFolded ? w->state.folded : w->state.sent;
  if (count > 0) {
    --count;
  }
}

std::vector<FoldedWindow> AlertLimiter::TakeClosed() {
  std::lock_guard lock(mu_);
  const std::int64_t now = now_micros_();
  CloseEnded(now);
  std::vector<FoldedWindow> out;
  auto settled = [&](const Window& w) {
    return w.unsettled == 0 || now - w.state.end >= kSettleGraceMicros;
  };
  for (Window& w : closed_) {
    if (settled(w) && w.state.folded > 0) {
      out.push_back(std::move(w.state));
    }
  }
  std::erase_if(closed_, settled);
  return out;
}

std::vector<FoldedWindow> AlertLimiter::TakeAll() {
  std::lock_guard lock(mu_);
  const std::int64_t now = now_micros_();
  CloseEnded(INT64_MAX);
  std::vector<FoldedWindow> out;
  for (Window& w : closed_) {
    if (w.state.folded > 0) {
      w.state.end = std::min(w.state.end, now);  // cut short
      out.push_back(std::move(w.state));
    }
  }
  closed_.clear();
  return out;
}

std::optional<std::uint64_t> AlertLimiter::Floor() const {
  std::lock_guard lock(mu_);
  std::optional<std::uint64_t> floor;
  auto lower = [&](const Window& w) {
    floor = std::min(floor.value_or(w.state.floor_seq), w.state.floor_seq);
  };
  for (const auto& [key, w] : open_) {
    lower(w);
  }
  std::for_each(closed_.begin(), closed_.end(), lower);
  return floor;
}

void AlertLimiter::Advance(std::uint64_t seq) {
  std::lock_guard lock(mu_);
  max_seq_ = std::max(max_seq_, seq);
}

std::uint64_t AlertLimiter::recorded_seq() const {
  std::lock_guard lock(mu_);
  return max_seq_;
}

std::uint64_t AlertLimiter::sent_total() const {
  std::lock_guard lock(mu_);
  return sent_;
}

std::uint64_t AlertLimiter::folded_total() const {
  std::lock_guard lock(mu_);
  return folded_;
}

}  // namespace firebreak::alert
