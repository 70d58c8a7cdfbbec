#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <thread>

#include "firebreak/base/clock.h"
#include "firebreak/cli/active_policy.h"
#include "firebreak/cli/commands.h"
#include "firebreak/cli/instance.h"
#include "firebreak/http/resources.h"
#include "firebreak/http/server.h"
#include "firebreak/exchange/audit_outbox.h"
#include "firebreak/proxy/proxy.h"
#include "firebreak/tui/terminal.h"

namespace firebreak::cli {
namespace {

using ReloadOutcome = proxy::ReloadResult::Outcome;

// Allocations from this size up are mapped (http::MapLargeAllocations).
constexpr std::size_t kMappedAllocationBytes = 1 << 20;

bool IsLoopback(const std::string& address) {
  boost::system::error_code ec;
  const auto parsed = boost::asio::ip::make_address(address, ec);
  return !ec && parsed.is_loopback();
}

// The listener's gauges and counters for /metrics, in exposition format.
std::string ListenerMetrics(const http::ServerStats& s) {
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help, std::uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(value) + "\n";
  };
  metric("firebreak_connections", "gauge", "Open client connections.", s.connections);
  metric("firebreak_connections_limit", "gauge",
         "Client connections allowed at once (server.max_connections, or fewer when the file "
         "descriptors allow fewer).",
         s.max_connections);
  metric("firebreak_accept_failures_total", "counter",
         "Client connections the listener failed to accept (file descriptors exhausted, ...).",
         s.accept_failures);
  metric("firebreak_idle_connections_closed_total", "counter",
         "Idle keep-alive connections closed to make room for new clients.", s.idle_closed);
  metric("firebreak_file_descriptors_exhausted", "gauge",
         "1 while the process cannot open another file descriptor.",
         s.descriptors_exhausted ? 1 : 0);
  metric("firebreak_request_body_bytes_in_flight", "gauge",
         "Request body bytes held now, against server.max_body_bytes_in_flight.",
         s.body_bytes_in_flight);
  metric("firebreak_request_body_budget_refusals_total", "counter",
         "Requests refused 503 because their body would pass server.max_body_bytes_in_flight.",
         s.body_budget_refusals);
  return out;
}

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reloads the policy on the main thread, one reload at a time: the candidate
// is loaded and verified beside the policy in force; a refused candidate
// leaves it in force and is recorded (policy.refused, alerting the system
// targets); an accepted one is recorded (policy.reloaded, old and new digest
// and signers) and then swapped in.
class Reloader {
 public:
  Reloader(Instance& instance, proxy::Proxy& proxy, std::filesystem::path policy_file,
           PolicyTrust trust, LoadedPolicy current, std::ostream& err)
      : instance_(instance),
        proxy_(proxy),
        policy_file_(std::move(policy_file)),
        trust_(std::move(trust)),
        current_(std::move(current)),
        err_(err) {}

  proxy::ReloadResult Reload(std::string_view trigger) {
    const std::string& digest = current_.active->digest;
    base::StatusOr<LoadedPolicy> candidate = LoadActivePolicy(policy_file_, trust_);
    if (candidate.ok()) {
      if (base::Status s = config::CheckAlertTargets(
              instance_.config, exchange::AlertTargetsNamedBy(candidate->active->core->policy()),
              policy_file_.string());
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
      err_ << "policy reload (" << trigger << "): unchanged, digest " << digest.substr(0, 16)
           << '\n';
      return {ReloadOutcome::kUnchanged, "the policy and its signatures are unchanged", digest};
    }
    // Audit before effect: the swap happens only once it is recorded.
    if (base::StatusOr<audit::Appended> a = instance_.log->Append(
            exchange::PolicyReloadedRecord(trigger, *current_.active, next));
        !a.ok()) {
      return Refuse(trigger, "the audit trail cannot record the reload: " + a.status().message());
    }
    proxy_.SetPolicy(candidate->active);
    instance_.events->Publish(PolicyEventOf(*candidate, "reload (" + std::string(trigger) + ")"));
    ++reloads_;
    err_ << candidate->warnings << "policy reloaded (" << trigger << "): digest "
         << digest.substr(0, 16) << " -> " << next.digest.substr(0, 16) << ", signed by "
         << SignerSummary(*candidate) << '\n';
    current_ = std::move(candidate).value();
    return {ReloadOutcome::kReloaded, "now enforcing " + current_.active->digest,
            current_.active->digest};
  }

  // The files whose change triggers a reload: the policy, its signatures,
  // its model and the trust file.
  std::set<std::filesystem::path> Watched() const {
    std::set<std::filesystem::path> files{
        std::filesystem::absolute(policy_file_),
        std::filesystem::absolute(policy::SignaturePath(policy_file_))};
    if (!current_.model_file.empty()) {
      files.insert(std::filesystem::absolute(current_.model_file));
    }
    if (!trust_.trust.empty()) {
      files.insert(std::filesystem::absolute(trust_.trust));
    }
    return files;
  }

  // Any thread.
  std::string Gauges() const {
    const std::shared_ptr<const exchange::ActivePolicy> p = proxy_.policy();
    return "# HELP firebreak_policy_info The policy in force.\n"
           "# TYPE firebreak_policy_info gauge\nfirebreak_policy_info{digest=\"" +
           p->digest + "\",signed=\"" + (p->verified ? "true" : "false") +
           "\"} 1\n"
           "# HELP firebreak_policy_reloads_total Policy reloads, by result.\n"
           "# TYPE firebreak_policy_reloads_total counter\n"
           "firebreak_policy_reloads_total{result=\"reloaded\"} " +
           std::to_string(reloads_.load()) +
           "\nfirebreak_policy_reloads_total{result=\"refused\"} " +
           std::to_string(refusals_.load()) + "\n";
  }

 private:
  proxy::ReloadResult Refuse(std::string_view trigger, const std::string& reason) {
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
            exchange::PolicyRefusedRecord(trigger, reason, policy_file_.string(), *current_.active),
            std::move(alerts));
        !a.ok()) {
      err_ << "the audit trail cannot record the refusal either: " << a.status().message() << '\n';
    }
    return {ReloadOutcome::kRefused, reason, digest};
  }

  Instance& instance_;
  proxy::Proxy& proxy_;
  const std::filesystem::path policy_file_;
  const PolicyTrust trust_;
  LoadedPolicy current_;
  std::ostream& err_;
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<std::uint64_t> refusals_{0};
};

// Watches the directories of the reloader's files (editors replace files by
// renaming, so the files themselves cannot be watched).
class FileWatch {
 public:
  FileWatch() : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {}
  int fd() const { return fd_.get(); }

  void Watch(const std::set<std::filesystem::path>& files) {
    files_ = files;
    for (const std::filesystem::path& f : files) {
      const int wd = inotify_add_watch(fd_.get(), f.parent_path().c_str(),
                                       IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE);
      if (wd >= 0) {
        dirs_[wd] = f.parent_path();
      }
    }
  }

  // Drains the events; true when one concerns a watched file.
  bool Changed() {
    alignas(inotify_event) char buffer[8192];
    bool changed = false;
    ssize_t n;
    while ((n = ::read(fd_.get(), buffer, sizeof(buffer))) > 0) {
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
  Fd fd_;
  std::map<int, std::filesystem::path> dirs_;
  std::set<std::filesystem::path> files_;
};

int Serve(config::ServerConfig& config, const ServeOptions& options, const sigset_t& signals,
          bool dashboard, std::ostream& out, std::ostream& err);

}  // namespace

int RunServe(const ServeOptions& options, std::ostream& out, std::ostream& err) {
  // Signals are read from a signalfd below; every thread started from here
  // on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A write past the file size limit fails (EFBIG) and is handled as any
  // audit store failure, rather than killing the process.
  signal(SIGXFSZ, SIG_IGN);

  std::unique_ptr<config::ServerConfig> config = LoadConfig(options.config, "serve", err);
  if (config == nullptr) {
    return kExitUsage;
  }
  if (!options.policy.empty()) {
    config->policy = options.policy;
  }
  if (!options.trust.empty()) {
    config->trust = options.trust;
  }
  if (!options.listen.empty()) {
    config->server.address = options.listen;
  }
  if (options.port >= 0) {
    config->server.port = static_cast<std::uint16_t>(options.port);
  }
  if (options.threads > 0) {
    config->server.threads = options.threads;
  }
  if (!options.audit_db.empty()) {
    config->audit.db = options.audit_db;
  }
  if (!options.durability.empty()) {
    config->audit.durability = options.durability;
  }
  if (!options.upstreams.empty()) {
    config->upstreams.clear();
    for (const std::string& flag : options.upstreams) {
      base::StatusOr<config::UpstreamConfig> up = config::ParseUpstreamFlag(flag);
      if (!up.ok()) {
        err << "firebreak serve: " << up.status().message() << '\n';
        return kExitUsage;
      }
      config->upstreams.push_back(std::move(up).value());
    }
  }
  if (config->policy.empty()) {
    err << "firebreak serve: no policy: pass --policy FILE or set policy: in " << options.config
        << '\n';
    return kExitUsage;
  }
  if (config->principals.empty()) {
    if (!IsLoopback(config->server.address)) {
      err << "firebreak serve: refusing to listen on " << config->server.address
          << " without API keys: add principals: to the config, or listen on 127.0.0.1\n";
      return kExitUsage;
    }
    err << "warning: no principals (API keys) configured: serving loopback only, every caller "
           "is 'anonymous'\n";
  }
  if (config->upstreams.empty()) {
    err << "warning: no upstream configured: allowed requests get 503 (use --upstream "
           "openai=URL or upstreams: in the config)\n";
  }
  if (config->system_alerts.empty()) {
    err << "warning: no alerts.system targets: audit store failures and refused policy reloads "
           "alert nobody\n";
  }
  if (!options.dashboard || !isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    return Serve(*config, options, signals, false, out, err);
  }
  // The dashboard owns the terminal: the log goes to a file beside the audit
  // database (and what a failed start wrote is shown after all).
  const std::filesystem::path log_path = config->audit.db.parent_path() / "firebreak.log";
  std::error_code ec;
  std::filesystem::create_directories(log_path.parent_path(), ec);
  std::ofstream log(log_path, std::ios::app);
  if (!log) {
    err << "firebreak serve: cannot write the log " << log_path.string() << '\n';
    return kExitUsage;
  }
  const auto start = log.tellp();
  err << "firebreak serve: the dashboard takes the terminal; the log is " << log_path.string()
      << '\n';
  const int code = Serve(*config, options, signals, true, out, log);
  log.close();
  if (code != kExitOk) {
    std::ifstream written(log_path);
    written.seekg(start);
    err << written.rdbuf();
  }
  return code;
}

namespace {

int Serve(config::ServerConfig& config_ref, const ServeOptions& options, const sigset_t& signals,
          bool dashboard, std::ostream& out, std::ostream& err) {
  config::ServerConfig* config = &config_ref;
  const std::filesystem::path policy_file = config->policy;
  const PolicyTrust trust{config->trust, options.allow_unsigned};
  base::StatusOr<LoadedPolicy> loaded = LoadActivePolicy(policy_file, trust);
  if (!loaded.ok()) {
    err << "firebreak serve: refusing to start: " << loaded.status().message() << '\n';
    return kExitPolicyFailure;
  }
  err << loaded->warnings;
  if (!loaded->active->verified) {
    err << "\n*** WARNING: --allow-unsigned: enforcing a policy whose signatures were NOT "
           "verified.\n*** For local development only; every audit record says "
           "policy.signed: false.\n\n";
  }

  audit::Value::Array upstreams;
  for (const config::UpstreamConfig& u : config->upstreams) {
    upstreams.push_back(
        audit::Value::Object{{"name", u.name}, {"type", u.type}, {"base_url", u.base_url}});
  }
  const config::ListenConfig listen = config->server;
  std::unique_ptr<Instance> instance =
      OpenInstance(*config, policy_file.string(), *loaded, "serve",
                   {{"listen", listen.address + ":" + std::to_string(listen.port)},
                    {"upstreams", std::move(upstreams)},
                    {"trust", loaded->trust_path},
                    {"allow_unsigned", options.allow_unsigned}},
                   err);
  if (instance == nullptr) {
    return kExitUsage;
  }

  // Reload requests from POST /v1/firebreak/reload, run by the main loop.
  const Fd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  std::mutex waiting_mu;
  std::vector<proxy::ReloadDone> waiting;
  bool stopping = false;  // under waiting_mu
  std::unique_ptr<http::Server> server;
  // What the proxy's metrics read from I/O threads: set once the server
  // has started (it serves before Start returns).
  std::atomic<const http::Server*> serving{nullptr};
  std::unique_ptr<Reloader> reloader;
  instance->events->Publish(PolicyEventOf(*loaded, "serve"));
  proxy::Proxy proxy({.config = *config,
                      .policy = loaded->active,
                      .gate = instance->gate.get(),
                      .gauges =
                          [&serving, &reloader] {
                            const http::Server* s = serving.load();
                            return (s ? ListenerMetrics(s->Stats()) : std::string()) +
                                   (reloader ? reloader->Gauges() : "");
                          },
                      .listener_problems =
                          [&serving] {
                            std::vector<std::string> problems;
                            const http::Server* s = serving.load();
                            if (s && s->Stats().descriptors_exhausted) {
                              problems.push_back(
                                  "file descriptors exhausted: new connections wait or are "
                                  "refused");
                            }
                            return problems;
                          },
                      .events = instance->events,
                      .reload =
                          [&](proxy::ReloadDone done) {
                            std::unique_lock lock(waiting_mu);
                            if (stopping) {
                              lock.unlock();
                              done({ReloadOutcome::kRefused, "the server is shutting down", ""});
                              return;
                            }
                            waiting.push_back(std::move(done));
                            const std::uint64_t one = 1;
                            static_cast<void>(::write(wake.get(), &one, sizeof(one)));
                          }});
  const std::string signer_summary = SignerSummary(*loaded);
  const std::string policy_digest = loaded->active->digest;
  reloader = std::make_unique<Reloader>(*instance, proxy, policy_file, trust,
                                        std::move(loaded).value(), err);
  // Every connection costs descriptors: take all the process may have.
  const http::DescriptorLimit descriptors = http::RaiseDescriptorLimit();
  // Request bodies (up to max_body_bytes each) are mapped, so that their
  // memory goes back to the system when they are freed.
  http::MapLargeAllocations(kMappedAllocationBytes);
  base::StatusOr<std::unique_ptr<http::Server>> started = http::Server::Start({
      .address = listen.address,
      .port = listen.port,
      .threads = listen.threads,
      .max_body_bytes = listen.max_body_bytes,
      .max_body_bytes_in_flight = listen.max_body_bytes_in_flight,
      .max_header_bytes = listen.max_header_bytes,
      .read_timeout = listen.read_timeout,
      .idle_timeout = listen.idle_timeout,
      .max_connections = listen.max_connections,
      .tls_cert_file = listen.tls_cert,
      .tls_key_file = listen.tls_key,
      .handler =
          [&proxy](http::ServerRequest&& request, std::shared_ptr<http::Exchange> exchange) {
            proxy.Handle(std::move(request), std::move(exchange));
          },
      .error_reply =
          [&proxy](std::string_view target, int status, std::string_view message) {
            return proxy.ErrorReply(target, status, message);
          },
  });
  if (!started.ok()) {
    err << "firebreak serve: " << started.status().message() << '\n';
    CloseInstance(*instance, "serve", err);
    return kExitUsage;
  }
  server = std::move(started).value();
  serving = server.get();
  if (server->max_connections() < listen.max_connections) {
    err << "warning: server.max_connections is " << listen.max_connections << " but "
        << descriptors.soft << " file descriptors (RLIMIT_NOFILE) allow "
        << server->max_connections()
        << " connections at once: serving at most that many (raise the limit with ulimit -n or "
           "LimitNOFILE=)\n";
  }
  const policy::Metadata& meta = proxy.policy()->core->policy().metadata();
  err << "policy: " << policy_file.string() << " (" << meta.name << " " << meta.version << ", "
      << proxy.policy()->core->policy().rules().size() << " rules, digest "
      << policy_digest.substr(0, 16) << "), signed by " << signer_summary << '\n';
  for (const config::UpstreamConfig& u : config->upstreams) {
    err << "upstream: " << u.name << " (" << u.type << ") " << u.base_url
        << (u.api_key.empty() ? ", no API key" : ", API key from " + u.api_key_env) << '\n';
  }
  const std::string listening = "listening on " +
                                std::string(listen.tls_cert.empty() ? "" : "https://") +
                                server->address() + ":" + std::to_string(server->port());
  out << listening << std::endl;
  instance->events->Publish(base::StatusEvent{base::UnixMicros(), listening});

  // The main loop: signals, file changes (settled for a moment: an editor or
  // `firebreak sign` writes in steps) and reload requests.
  const Fd signal_fd(signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  FileWatch watch;
  if (listen.watch_policy) {
    watch.Watch(reloader->Watched());
  }
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> settle;
  std::atomic<bool> loop_done{false};
  auto main_loop = [&] {
    while (true) {
      pollfd fds[3] = {
          {signal_fd.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}, {watch.fd(), POLLIN, 0}};
      int timeout = -1;
      if (settle) {
        timeout = static_cast<int>(std::max<std::int64_t>(
            0,
            std::chrono::duration_cast<std::chrono::milliseconds>(*settle - Clock::now()).count()));
      }
      if (::poll(fds, listen.watch_policy ? 3 : 2, timeout) < 0 && errno != EINTR) {
        err << "firebreak serve: poll failed; stopping\n";
        break;
      }
      signalfd_siginfo info{};
      if ((fds[0].revents & POLLIN) != 0 &&
          ::read(signal_fd.get(), &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo == SIGHUP) {
          reloader->Reload("SIGHUP");
        } else {
          err << "firebreak serve: " << (info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM")
              << ": draining (up to " << listen.drain_timeout.count() << " ms)\n";
          break;
        }
      }
      if ((fds[1].revents & POLLIN) != 0) {
        std::uint64_t count = 0;
        static_cast<void>(::read(wake.get(), &count, sizeof(count)));
        std::vector<proxy::ReloadDone> batch;
        {
          std::lock_guard lock(waiting_mu);
          batch.swap(waiting);
        }
        if (!batch.empty()) {
          const proxy::ReloadResult result = reloader->Reload("api");
          for (proxy::ReloadDone& done : batch) {
            done(result);
          }
        }
      }
      if (listen.watch_policy && (fds[2].revents & POLLIN) != 0 && watch.Changed()) {
        settle = Clock::now() + std::chrono::milliseconds(300);
      }
      if (settle && Clock::now() >= *settle) {
        settle.reset();
        reloader->Reload("file change");
        watch.Watch(reloader->Watched());  // the model may be another file now
      }
    }
    loop_done = true;
  };
  if (!dashboard) {
    main_loop();
  } else {
    // The loop (signals, reloads) runs beside the dashboard; `q` stops the
    // server as SIGTERM would, and the loop's end closes the dashboard.
    std::thread loop(main_loop);
    if (std::unique_ptr<tui::Terminal> terminal = tui::Terminal::Open()) {
      tui::Console console(*terminal, instance->events->Subscribe(10'000));
      console.options().footer = "q: stop the proxy   (serving until then; the log is in a file)";
      while (!loop_done) {
        const int key = console.Step(100);
        if (key == 'q' || key == 'Q' || key == tui::Terminal::kInterrupted) {
          ::kill(::getpid(), SIGTERM);
          break;
        }
      }
    }
    loop.join();
  }
  std::vector<proxy::ReloadDone> unanswered;
  {
    std::lock_guard lock(waiting_mu);
    stopping = true;
    unanswered.swap(waiting);
  }
  for (proxy::ReloadDone& done : unanswered) {
    done({ReloadOutcome::kRefused, "the server is shutting down", ""});
  }
  const std::size_t cut = server->Shutdown(listen.drain_timeout);
  if (cut > 0) {
    err << "firebreak serve: " << cut << " exchange(s) cut off at the drain deadline\n";
  }
  server.reset();
  const bool closed = CloseInstance(*instance, "serve", err);
  err << "firebreak serve: stopped\n";
  return closed ? kExitOk : kExitUsage;
}

}  // namespace

}  // namespace firebreak::cli
