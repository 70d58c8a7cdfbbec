#include "firebreak/exchange/alert_windows.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <ostream>
#include <set>
#include <tuple>

#include "firebreak/audit/verify.h"
#include "firebreak/base/clock.h"
#include "firebreak/base/digest.h"

namespace firebreak::exchange {
namespace {

namespace json = boost::json;

// A window as the records name it: rule, target, start (micros).
using WindowKey = std::tuple<std::string, std::string, std::int64_t>;

base::Status Unavailable(std::string message) {
  return {base::StatusCode::kUnavailable, std::move(message)};
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->get_int64() : 0;
}

std::string SummaryText(const alert::FoldedWindow& w, bool recovered) {
  std::string text = std::to_string(w.folded) + " more alert" + (w.folded == 1 ? "" : "s") +
                     " of rule " + w.rule + " to " + w.target + " folded between " +
                     audit::FormatTime(w.start) + " and " + audit::FormatTime(w.end);
  if (w.first_seq == w.last_seq && w.first_seq != 0) {
    text += " (request " + w.first_request_id + ", audit seq " + std::to_string(w.first_seq) + ")";
  } else if (w.first_seq != 0) {
    text += " (requests " + w.first_request_id + " to " + w.last_request_id + ", audit seq " +
            std::to_string(w.first_seq) + " to " + std::to_string(w.last_seq) + ")";
  }
  if (recovered) {
    text += ", counted from the audit trail after a restart";
  }
  if (!w.summary.empty()) {
    text += ": " + w.summary;
  }
  return text;
}

base::Status WriteFileDurably(const std::filesystem::path& path, std::string_view text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Unavailable("cannot write " + tmp.string() + ": " + std::strerror(errno));
  }
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fdatasync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Unavailable("cannot write " + path.string() + ": " +
                       std::strerror(written ? errno : error));
  }
  return base::Status::Ok();
}

}  // namespace

audit::AuditRecord SummaryRecord(const alert::FoldedWindow& w, bool recovered) {
  return {"alert.summary",
          {{"rule", w.rule},
           {"target", w.target},
           {"window", w.start},
           {"window_start", audit::FormatTime(w.start)},
           {"window_end", audit::FormatTime(w.end)},
           {"sent", w.sent},
           {"folded", w.folded},
           {"first_request_id", w.first_request_id},
           {"last_request_id", w.last_request_id},
           {"first_audit_seq", w.first_seq},
           {"last_audit_seq", w.last_seq},
           {"recovered", recovered}}};
}

audit::OutboxAlert SummaryAlert(const alert::FoldedWindow& w, bool recovered) {
  return {w.target,
          {{"kind", "alert_summary"},
           {"severity", w.severity.empty() ? "warning" : w.severity},
           {"summary", SummaryText(w, recovered)},
           {"rule", w.rule},
           {"folded", w.folded},
           {"window_start", audit::FormatTime(w.start)},
           {"window_end", audit::FormatTime(w.end)},
           {"first_request_id", w.first_request_id},
           {"last_request_id", w.last_request_id},
           {"first_audit_seq", w.first_seq},
           {"last_audit_seq", w.last_seq},
           {"recovered", recovered}}};
}

AlertWindows::AlertWindows(AlertWindowsOptions options)
    : options_(std::move(options)), limiter_(options_.now_micros) {
  if (!options_.now_micros) {
    options_.now_micros = &base::UnixMicros;
  }
  if (options_.state_file.empty()) {
    options_.state_file = options_.log->options().db.string() + ".alert-windows";
  }
}

base::StatusOr<std::unique_ptr<AlertWindows>> AlertWindows::Open(AlertWindowsOptions options) {
  if (options.log == nullptr) {
    return base::InvalidArgument("alert windows need the audit log");
  }
  std::unique_ptr<AlertWindows> windows(new AlertWindows(std::move(options)));
  FB_RETURN_IF_ERROR(windows->Recover());
  if (windows->options_.tick.count() > 0) {
    AlertWindows* self = windows.get();
    windows->thread_ = std::thread([self] {
      std::string last_error;
      std::unique_lock lock(self->stop_mu_);
      while (
          !self->stop_cv_.wait_for(lock, self->options_.tick, [self] { return self->stopping_; })) {
        lock.unlock();
        const base::Status s = self->WriteDue();
        if (!s.ok() && s.message() != last_error && self->options_.errors != nullptr) {
          *self->options_.errors << "alerts: " << s.message() << '\n';
        }
        last_error = s.ok() ? std::string() : s.message();
        lock.lock();
      }
    });
  }
  return windows;
}

AlertWindows::~AlertWindows() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

alert::Admission AlertWindows::Admit(std::string_view rule, std::string_view target,
                                     const policy::AlertRate& rate, std::string_view severity,
                                     std::string_view summary) {
  return limiter_.Admit(rule, target, {rate.window_seconds * 1'000'000, rate.max_per_window},
                        severity, summary);
}

void AlertWindows::Settle(const std::vector<alert::Admission>& admissions,
                          std::string_view request_id,
                          const base::StatusOr<audit::Appended>& appended) {
  for (const alert::Admission& a : admissions) {
    if (appended.ok()) {
      limiter_.Recorded(a, request_id, appended->seq);
    } else {
      limiter_.Abandoned(a);
    }
  }
}

base::Status AlertWindows::Recover() {
  std::lock_guard lock(write_mu_);
  base::StatusOr<std::string> state = base::ReadFile(options_.state_file);
  base::StatusOr<std::unique_ptr<audit::RecordReader>> reader =
      audit::RecordReader::Open(options_.log->options().db);
  FB_RETURN_IF_ERROR(reader.status());
  if (state.ok()) {
    // The last run did not close: summarise what it folded and did not
    // summarise, from the records after the point the file names.
    std::uint64_t scan_after = 0;  // unreadable: every record
    constexpr std::string_view kPrefix = "scan_after ";
    if (state->starts_with(kPrefix)) {
      std::from_chars(state->data() + kPrefix.size(), state->data() + state->size(), scan_after);
    }
    std::map<WindowKey, alert::FoldedWindow> windows;
    std::set<WindowKey> summarised;
    (*reader)->ReadAfter(scan_after, [&](std::uint64_t seq, std::string_view body) {
      const bool summary = body.find(R"("kind":"alert.summary")") != std::string_view::npos;
      if (!summary && body.find(R"("alert_delivery":[{)") == std::string_view::npos) {
        return;
      }
      boost::system::error_code ec;
      const json::value parsed = json::parse(body, ec);
      const json::object* record = ec ? nullptr : parsed.if_object();
      if (record == nullptr) {
        return;
      }
      const std::string kind = Str(*record, "kind");
      if (kind == "alert.summary") {
        summarised.insert({Str(*record, "rule"), Str(*record, "target"), Int(*record, "window")});
        return;
      }
      const json::value* delivery = record->if_contains("alert_delivery");
      if (kind != "decision" || delivery == nullptr || !delivery->is_array()) {
        return;
      }
      for (const json::value& v : delivery->get_array()) {
        const json::object* a = v.if_object();
        if (a == nullptr || !a->contains("window")) {
          continue;  // not rate-limited
        }
        alert::FoldedWindow& w = windows[{Str(*a, "rule"), Str(*a, "target"), Int(*a, "window")}];
        if (w.rule.empty()) {
          const std::string decision = Str(*record, "decision");
          w.rule = Str(*a, "rule");
          w.target = Str(*a, "target");
          w.start = Int(*a, "window");
          w.severity = decision == "BLOCK" ? "critical" : "warning";
          w.summary = decision + " by " + w.rule;
          w.floor_seq = scan_after;
        }
        if (Str(*a, "status") != "folded") {
          ++w.sent;
          continue;
        }
        if (w.folded++ == 0) {
          w.first_seq = seq;
          w.first_request_id = Str(*record, "request_id");
        }
        w.last_seq = seq;
        w.last_request_id = Str(*record, "request_id");
      }
    });
    const std::int64_t now = options_.now_micros();
    for (auto& [key, window] : windows) {
      if (window.folded > 0 && !summarised.contains(key)) {
        window.end = now;  // cut short by the restart
        pending_.push_back({std::move(window), true});
      }
    }
  }
  limiter_.Advance((*reader)->LastSeq());
  base::Status appended = AppendPending();
  base::Status written = WriteState();
  return appended.ok() ? written : appended;
}

base::Status AlertWindows::AppendPending() {
  base::Status first = base::Status::Ok();
  std::vector<PendingSummary> left;
  for (PendingSummary& p : pending_) {
    const alert::FoldedWindow& w = p.window;
    base::StatusOr<audit::Appended> a =
        options_.log->Append(SummaryRecord(w, p.recovered), {SummaryAlert(w, p.recovered)});
    if (a.ok()) {
      ++summaries_;
      limiter_.Advance(a->seq);
      continue;
    }
    if (first.ok()) {
      first = Unavailable("the summary of " + std::to_string(w.folded) + " folded alerts of rule " +
                          w.rule + " to " + w.target +
                          " is not recorded yet (retried): " + a.status().message());
    }
    left.push_back(std::move(p));
  }
  pending_ = std::move(left);
  return first;
}

base::Status AlertWindows::WriteState() {
  // Every record appended from now on is above `head`; every record of a
  // window still open or not yet summarised is above its floor.
  const std::uint64_t head = std::max(limiter_.recorded_seq(), options_.log->durable().seq);
  std::uint64_t scan_after = std::min(head, limiter_.Floor().value_or(head));
  for (const PendingSummary& p : pending_) {
    scan_after = std::min(scan_after, p.window.floor_seq);
  }
  if (scan_after == written_scan_after_) {
    return base::Status::Ok();
  }
  FB_RETURN_IF_ERROR(
      WriteFileDurably(options_.state_file, "scan_after " + std::to_string(scan_after) + "\n"));
  written_scan_after_ = scan_after;
  return base::Status::Ok();
}

base::Status AlertWindows::WriteDue() {
  std::lock_guard lock(write_mu_);
  limiter_.Advance(options_.log->durable().seq);
  for (alert::FoldedWindow& w : limiter_.TakeClosed()) {
    pending_.push_back({std::move(w), false});
  }
  base::Status appended = AppendPending();
  base::Status written = WriteState();
  return appended.ok() ? written : appended;
}

base::Status AlertWindows::Close() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  std::lock_guard lock(write_mu_);
  for (alert::FoldedWindow& w : limiter_.TakeAll()) {
    pending_.push_back({std::move(w), false});
  }
  base::Status appended = AppendPending();
  if (!appended.ok()) {
    base::Status written = WriteState();  // the next run recovers them
    return written.ok() ? appended : written;
  }
  std::error_code ec;
  std::filesystem::remove(options_.state_file, ec);
  return base::Status::Ok();
}

std::string AlertWindows::MetricsText() const {
  return "# HELP firebreak_alerts_total Decision alerts, by disposition: sent, or folded into "
         "the summary of their rule and target's window.\n"
         "# TYPE firebreak_alerts_total counter\n"
         "firebreak_alerts_total{disposition=\"sent\"} " +
         std::to_string(limiter_.sent_total()) +
         "\nfirebreak_alerts_total{disposition=\"folded\"} " +
         std::to_string(limiter_.folded_total()) +
         "\n# HELP firebreak_alert_summaries_total Summary alerts recorded for windows that "
         "folded alerts.\n"
         "# TYPE firebreak_alert_summaries_total counter\n"
         "firebreak_alert_summaries_total " +
         std::to_string(summaries_.load()) + "\n";
}

}  // namespace firebreak::exchange
