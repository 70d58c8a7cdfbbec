// Reloads the enforced policy, one reload at a time, on the daemon's main
// thread: the candidate is loaded and verified beside the policy in force; a
// refused candidate leaves it in force and is recorded (policy.refused,
// alerting the system targets); an accepted one is recorded
// (policy.reloaded, old and new digest and signers) and only then swapped in.
// File changes are settled first (an editor or `firebreak sign` writes in
// steps): a reload follows once the watched files have been quiet for
// kSettle. The file watch and the clock are injected.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>

#include "firebreak/instance/instance.h"
#include "firebreak/instance/policy_loader.h"
#include "firebreak/proxy/proxy.h"

namespace firebreak::daemon {

// Tells when files change. Watches the files' directories: editors replace
// files by renaming, so the files themselves cannot be watched.
class FileWatch {
 public:
  virtual ~FileWatch() = default;
  // Readable (poll) when a change may have happened; -1: never.
  virtual int fd() const = 0;
  // Watches these files (instead of those before).
  virtual void Watch(const std::set<std::filesystem::path>& files) = 0;
  // Drains what happened; true when it concerns a watched file.
  virtual bool Changed() = 0;
};

// The inotify watch; null (after printing why to `err`) if inotify fails.
std::unique_ptr<FileWatch> InotifyWatch(std::ostream& err);

class Reloader {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kSettle{300};

  struct Options {
    instance::Instance* instance =
        nullptr;  // its log records, its events publish, its config checks
    // Puts the new policy in force (the proxy's SetPolicy).
    std::function<void(std::shared_ptr<const exchange::ActivePolicy>)> swap;
    std::filesystem::path policy_file;
    instance::PolicyTrust trust;
    std::unique_ptr<FileWatch> watch;  // null: file changes are not followed
    std::function<Clock::time_point()> now = [] { return Clock::now(); };
    std::ostream* err = nullptr;  // the log; required
  };
  Reloader(Options options, instance::LoadedPolicy current);

  proxy::ReloadResult Reload(std::string_view trigger);

  // For the main loop's poll: the watch's descriptor (-1: none), and how
  // long it may sleep before a settled change is due (-1: no change waits).
  int watch_fd() const;
  int PollTimeoutMillis() const;
  // Call when the watch's descriptor is readable, and after every wake-up:
  // notes a change, and reloads once the files have settled.
  void OnWatchReadable();
  void Tick();

  const exchange::ActivePolicy& current() const { return *current_.active; }
  // Any thread: the policy in force and the reloads, for /metrics.
  std::string Gauges() const;

 private:
  // The files whose change triggers a reload: the policy, its signatures,
  // its model and the trust file.
  std::set<std::filesystem::path> Watched() const;
  proxy::ReloadResult Refuse(std::string_view trigger, const std::string& reason);

  Options options_;
  instance::Instance& instance_;
  std::ostream& err_;
  instance::LoadedPolicy current_;
  std::optional<Clock::time_point> settle_;  // a change waits until then
  mutable std::mutex mu_;                    // in_force_, read by Gauges on any thread
  std::shared_ptr<const exchange::ActivePolicy> in_force_;
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<std::uint64_t> refusals_{0};
};

}  // namespace firebreak::daemon
