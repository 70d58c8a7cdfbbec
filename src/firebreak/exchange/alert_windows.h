// Decision alerts rate-limited per (rule, target) (alert/limiter.h) and tied
// to the audit trail: a decision's alerts are admitted, sent or folded,
// before its record is written, and the record lists each with its
// disposition; once a window closes, an `alert.summary` record is appended
// whose alert goes through the outbox like any other (durable, delivered at
// least once). A small file beside the audit database says from which
// record on a run's open windows can be rebuilt: after a crash, the next run
// summarises what the crashed one folded, from the decision records.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "firebreak/alert/limiter.h"
#include "firebreak/audit/audit_log.h"
#include "firebreak/base/status.h"
#include "firebreak/policy/policy_set.h"

namespace firebreak::exchange {

struct AlertWindowsOptions {
  audit::AuditLog* log = nullptr;  // required; outlives the AlertWindows
  // Where recovery starts; default: beside the database, DB.alert-windows.
  std::filesystem::path state_file;
  std::function<std::int64_t()> now_micros;  // injected clock; default: the system clock
  // How often closed windows are summarised; 0: no thread (WriteDue by hand).
  std::chrono::milliseconds tick{1000};
  std::ostream* errors = nullptr;  // what the thread cannot return: a summary not written
};

class AlertWindows {
 public:
  // Summarises what a run that did not close left folded (from the records
  // after the point its state file names), then starts the thread.
  static base::StatusOr<std::unique_ptr<AlertWindows>> Open(AlertWindowsOptions options);
  // Stops the thread; windows still open are not summarised (Close does).
  ~AlertWindows();
  AlertWindows(const AlertWindows&) = delete;
  AlertWindows& operator=(const AlertWindows&) = delete;

  // Any thread: sends or folds one alert of `rule` to `target`, described
  // by `severity` and `summary` ("BLOCK by rule: description").
  alert::Admission Admit(std::string_view rule, std::string_view target,
                         const policy::AlertRate& rate, std::string_view severity,
                         std::string_view summary);
  // Any thread, once the decision's record is appended (or failed to be):
  // every admission of the decision, its request id and the append's result.
  void Settle(const std::vector<alert::Admission>& admissions, std::string_view request_id,
              const base::StatusOr<audit::Appended>& appended);

  // Appends the summaries of the windows closed by now (a summary that
  // cannot be appended is kept for the next call, which the thread makes
  // every tick) and updates the state file. The first error, if any.
  base::Status WriteDue();
  // Shutdown: stops the thread, closes every window and appends its summary.
  // The state file is removed when nothing is left to recover.
  base::Status Close();

  // Prometheus text: alerts sent and folded, summaries written.
  std::string MetricsText() const;

 private:
  explicit AlertWindows(AlertWindowsOptions options);
  base::Status Recover();
  // Appends the summary of every window in `pending_`; those that fail stay.
  base::Status AppendPending();
  base::Status WriteState();

  AlertWindowsOptions options_;
  alert::AlertLimiter limiter_;
  std::mutex write_mu_;  // WriteDue and Close: one writer of summaries and state
  struct PendingSummary {
    alert::FoldedWindow window;
    bool recovered = false;  // rebuilt from the records of a run that did not close
  };
  std::vector<PendingSummary> pending_;            // closed, summary not yet appended
  std::uint64_t written_scan_after_ = UINT64_MAX;  // what the state file says
  std::atomic<std::uint64_t> summaries_{0};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// The audit record and outbox alert that summarise a closed window.
// `recovered`: rebuilt from the records of a run that did not close.
audit::AuditRecord SummaryRecord(const alert::FoldedWindow& window, bool recovered);
audit::OutboxAlert SummaryAlert(const alert::FoldedWindow& window, bool recovered);

}  // namespace firebreak::exchange
