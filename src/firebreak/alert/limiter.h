// Deduplication and rate limiting of decision alerts, per (rule, target)
// pair: the first alert of a pair opens a window; within it the first
// max_per_window alerts are sent and the rest folded; once the window has
// closed, and every alert admitted in it is recorded or abandoned, a window
// that folded any is handed out for its summary alert. Pure state: the
// caller records the alerts and writes the summaries (proxy/alert_windows.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace firebreak::alert {

// The limit of one rule's alerts to one target.
struct AlertLimit {
  std::int64_t window_micros = 300'000'000;  // 0: every alert is sent
  std::int64_t max_per_window = 1;           // sent per window; the rest are folded
};

enum class Disposition : std::uint8_t { kSent, kFolded };
std::string_view DispositionName(Disposition d);  // "sent", "folded"

// What the limiter made of one alert; Recorded or Abandoned must follow
// (the window's summary waits for it).
struct Admission {
  std::string rule;
  std::string target;
  Disposition disposition = Disposition::kSent;
  std::uint64_t window = 0;        // the window's id; 0 when not limited
  std::int64_t window_start = 0;   // micros
  std::int64_t window_end = 0;     // micros
};

// A closed window that folded alerts: what its summary says. Request ids
// and sequence numbers are those of the folded alerts' records.
struct FoldedWindow {
  std::string rule;
  std::string target;
  // Of the alert that opened the window: "critical", and "BLOCK by rule: ...".
  std::string severity;
  std::string summary;
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::uint64_t sent = 0;
  std::uint64_t folded = 0;
  std::string first_request_id;
  std::string last_request_id;
  std::uint64_t first_seq = 0;  // 0: none recorded yet
  std::uint64_t last_seq = 0;
  // Every record of the window has a sequence number above this one.
  std::uint64_t floor_seq = 0;
};

// Thread-safe: one mutex, held for a map lookup per admitted alert.
class AlertLimiter {
 public:
  // `now_micros`: the injected clock (default: the system clock).
  explicit AlertLimiter(std::function<std::int64_t()> now_micros = {});

  // Sends or folds one alert of `rule` to `target`. `severity` and
  // `summary` describe it; a window it opens keeps them for its summary.
  Admission Admit(std::string_view rule, std::string_view target, const AlertLimit& limit,
                  std::string_view severity = {}, std::string_view summary = {});
  // The alert's record is in the audit trail as `seq`.
  void Recorded(const Admission& admission, std::string_view request_id, std::uint64_t seq);
  // The alert's record could not be written: as if it had not been admitted.
  void Abandoned(const Admission& admission);

  // The windows closed by now whose admissions are all settled (or that
  // closed over a minute ago), and that folded alerts; removed from the
  // limiter. Windows that folded none are forgotten.
  std::vector<FoldedWindow> TakeClosed();
  // Closes every window now (shutdown; `end` becomes now): those that
  // folded alerts.
  std::vector<FoldedWindow> TakeAll();
  // The lowest floor_seq of the windows still held; nullopt when none is.
  std::optional<std::uint64_t> Floor() const;
  // Every record appended from now on has a sequence number above `seq`
  // (the log's head at start): the floor of the windows opened next.
  void Advance(std::uint64_t seq);

  // The highest sequence number recorded or advanced to so far.
  std::uint64_t recorded_seq() const;
  // Alerts admitted so far, by disposition (metrics: never decrease).
  std::uint64_t sent_total() const;
  std::uint64_t folded_total() const;

 private:
  struct Window {
    FoldedWindow state;
    std::uint64_t id = 0;
    std::int64_t max_per_window = 1;
    std::uint64_t unsettled = 0;  // admitted, neither recorded nor abandoned
  };
  // The window an admission belongs to, open or closed; null when taken.
  Window* Find(const Admission& admission);
  static std::string Key(std::string_view rule, std::string_view target);
  // Moves the windows that ended by `now` out of open_.
  void CloseEnded(std::int64_t now);

  std::function<std::int64_t()> now_micros_;
  mutable std::mutex mu_;
  std::map<std::string, Window, std::less<>> open_;  // by Key(rule, target)
  std::vector<Window> closed_;                       // ended, not yet taken
  std::uint64_t next_id_ = 1;
  std::uint64_t max_seq_ = 0;  // the highest sequence number recorded so far
  std::uint64_t sent_ = 0;
  std::uint64_t folded_ = 0;
};

}  // namespace firebreak::alert
