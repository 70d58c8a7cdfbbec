#include "firebreak/daemon/reloader.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "firebreak/exchange/audit_outbox.h"
#include "firebreak/exchange/records.h"

namespace firebreak::daemon {
namespace {

using ReloadOutcome = proxy::ReloadResult::Outcome;

class Inotify : public FileWatch {
 public:
  explicit Inotify(int fd) : fd_(fd) {}
  ~Inotify() override { ::close(fd_); }
  Inotify(const Inotify&) = delete;
  Inotify& operator=(const Inotify&) = delete;

  int fd() const override { return fd_; }

  void Watch(const std::set<std::filesystem::path>& files) override {
    files_ = files;
    for (const std::filesystem::path& f : files) {
      const int wd = inotify_add_watch(fd_, f.parent_path().c_str(),
                                       IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE);
      if (wd >= 0) {
        dirs_[wd] = f.parent_path();
      }
    }
  }

  bool Changed() override {
    alignas(inotify_event) char buffer[8192];
    bool changed = false;
    ssize_t n;
    while ((n = ::read(fd_, buffer, sizeof(buffer))) > 0) {
      for (char* at = buffer; at < buffer + n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(at);
        if (event->len > 0 && dirs_.contains(event->wd) &&
            files_.contains(dirs_[event->wd] / event->name)) {
          changed = true;
        }
        at += sizeof(inotify_event) + event->len;
      }
    }
    return changed;
  }

 private:
  int fd_;
  std::map<int, std::filesystem::path> dirs_;
  std::set<std::filesystem::path> files_;
};

}  // namespace

std::unique_ptr<FileWatch> InotifyWatch(std::ostream& err) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    err << "warning: cannot watch the policy files (inotify: " << std::strerror(errno)
        << "); reload with SIGHUP or POST /v1/firebreak/reload\n";
    return nullptr;
  }
  return std::make_unique<Inotify>(fd);
}

Reloader::Reloader(Options options, instance::LoadedPolicy current)
    : options_(std::move(options)),
      instance_(*options_.instance),
      err_(*options_.err),
      current_(std::move(current)),
      in_force_(current_.active) {
  if (options_.watch) {
    options_.watch->Watch(Watched());
  }
}

proxy::ReloadResult Reloader::Reload(std::string_view trigger) {
  const std::string& digest = current_.active->digest;
  base::StatusOr<instance::LoadedPolicy> candidate =
      instance::LoadActivePolicy(options_.policy_file, options_.trust);
  if (candidate.ok()) {
    if (base::Status s = config::CheckAlertTargets(
            instance_.config, exchange::AlertTargetsNamedBy(candidate->active->core->policy()),
            options_.policy_file.string());
        !s.ok()) {
      candidate = base::FailedPrecondition(s.message());
    }
  }
  if (!candidate.ok()) {
    return Refuse(trigger, candidate.status().message());
  }
  const exchange::ActivePolicy& next = *candidate->active;
  if (next.digest == digest && next.signer_keys == current_.active->signer_keys &&
      next.signers == current_.active->signers && next.verified == current_.active->verified) {
    err_ << "policy reload (" << trigger << "): unchanged, digest " << digest.substr(0, 16) << '\n';
    return {ReloadOutcome::kUnchanged, "the policy and its signatures are unchanged", digest};
  }
  // Audit before effect: the swap happens only once it is recorded.
  if (base::StatusOr<audit::Appended> a =
          instance_.log->Append(exchange::PolicyReloadedRecord(trigger, *current_.active, next));
      !a.ok()) {
    return Refuse(trigger, "the audit trail cannot record the reload: " + a.status().message());
  }
  options_.swap(candidate->active);
  {
    std::lock_guard lock(mu_);
    in_force_ = candidate->active;
  }
  instance_.events->Publish(
      instance::PolicyEventOf(*candidate, "reload (" + std::string(trigger) + ")"));
  ++reloads_;
  err_ << candidate->warnings << "policy reloaded (" << trigger << "): digest "
       << digest.substr(0, 16) << " -> " << next.digest.substr(0, 16) << ", signed by "
       << instance::SignerSummary(*candidate) << '\n';
  current_ = std::move(candidate).value();
  if (options_.watch) {
    options_.watch->Watch(Watched());  // the model may be another file now
  }
  return {ReloadOutcome::kReloaded, "now enforcing " + current_.active->digest,
          current_.active->digest};
}

int Reloader::watch_fd() const { return options_.watch ? options_.watch->fd() : -1; }

int Reloader::PollTimeoutMillis() const {
  if (!settle_) {
    return -1;
  }
  return static_cast<int>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(*settle_ - options_.now()).count()));
}

void Reloader::OnWatchReadable() {
  if (options_.watch && options_.watch->Changed()) {
    settle_ = options_.now() + kSettle;  // from the last change
  }
}

void Reloader::Tick() {
  if (settle_ && options_.now() >= *settle_) {
    settle_.reset();
    Reload("file change");
  }
}

std::set<std::filesystem::path> Reloader::Watched() const {
  std::set<std::filesystem::path> files{
      std::filesystem::absolute(options_.policy_file),
      std::filesystem::absolute(policy::SignaturePath(options_.policy_file))};
  if (!current_.model_file.empty()) {
    files.insert(std::filesystem::absolute(current_.model_file));
  }
  if (!options_.trust.trust.empty()) {
    files.insert(std::filesystem::absolute(options_.trust.trust));
  }
  return files;
}

std::string Reloader::Gauges() const {
  std::shared_ptr<const exchange::ActivePolicy> p;
  {
    std::lock_guard lock(mu_);
    p = in_force_;
  }
  return "# HELP firebreak_policy_info The policy in force.\n"
         "# TYPE firebreak_policy_info gauge\nfirebreak_policy_info{digest=\"" +
         p->digest + "\",signed=\"" + (p->verified ? "true" : "false") +
         "\"} 1\n"
         "# HELP firebreak_policy_reloads_total Policy reloads, by result.\n"
         "# TYPE firebreak_policy_reloads_total counter\n"
         "firebreak_policy_reloads_total{result=\"reloaded\"} " +
         std::to_string(reloads_.load()) + "\nfirebreak_policy_reloads_total{result=\"refused\"} " +
         std::to_string(refusals_.load()) + "\n";
}

proxy::ReloadResult Reloader::Refuse(std::string_view trigger, const std::string& reason) {
  ++refusals_;
  const std::string& digest = current_.active->digest;
  err_ << "policy reload (" << trigger << ") REFUSED; still enforcing " << digest.substr(0, 16)
       << ":\n"
       << reason << '\n';
  audit::Value::Object payload{
      {"kind", "policy_refused"},
      {"severity", "critical"},
      {"summary", "a policy reload was refused; the last good policy (" + digest.substr(0, 16) +
                      ") stays in force: " + reason},
      {"policy", digest},
  };
  std::vector<audit::OutboxAlert> alerts;
  for (const std::string& target : instance_.config.system_alerts) {
    alerts.push_back({target, payload});
  }
  if (base::StatusOr<audit::Appended> a = instance_.log->Append(
          exchange::PolicyRefusedRecord(trigger, reason, options_.policy_file.string(),
                                        *current_.active),
          std::move(alerts));
      !a.ok()) {
    err_ << "the audit trail cannot record the refusal either: " << a.status().message() << '\n';
  }
  return {ReloadOutcome::kRefused, reason, digest};
}

}  // namespace firebreak::daemon
