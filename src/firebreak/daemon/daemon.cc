#include "firebreak/daemon/daemon.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

#include "firebreak/api/request.h"
#include "firebreak/base/clock.h"
#include "firebreak/http/resources.h"

namespace firebreak::daemon {
namespace {

using ReloadOutcome = proxy::ReloadResult::Outcome;

// Allocations from this size up are mapped (http::MapLargeAllocations).
constexpr std::size_t kMappedAllocationBytes = 1 << 20;

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

// The signals the daemon reads from its signalfd.
sigset_t DaemonSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  return signals;
}

void Wake(int fd) {
  const std::uint64_t one = 1;
  static_cast<void>(::write(fd, &one, sizeof(one)));
}

}  // namespace

sigset_t BlockDaemonSignals() {
  const sigset_t signals = DaemonSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGXFSZ, SIG_IGN);
  return signals;
}

Fd::~Fd() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Daemon::Daemon(DaemonOptions options, std::ostream& err)
    : options_(std::move(options)), err_(err), wake_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Daemon::~Daemon() {
  if (!closed_ && instance_ != nullptr) {  // Run never ran
    instance_->judge.reset();
    server_.reset();
    instance::CloseInstance(*instance_, "serve", err_);
  }
}

std::unique_ptr<Daemon> Daemon::Start(DaemonOptions options, std::ostream& out, std::ostream& err,
                                      bool& policy_refused) {
  policy_refused = false;
  std::unique_ptr<Daemon> d(new Daemon(std::move(options), err));
  const config::ServerConfig& config = d->options_.config;
  const std::filesystem::path policy_file = config.policy;
  const instance::PolicyTrust trust{config.trust, d->options_.allow_unsigned};
  base::StatusOr<instance::LoadedPolicy> loaded = instance::LoadActivePolicy(policy_file, trust);
  if (!loaded.ok()) {
    err << "firebreak serve: refusing to start: " << loaded.status().message() << '\n';
    policy_refused = true;
    return nullptr;
  }
  err << loaded->warnings;
  if (!loaded->active->verified) {
    err << "\n*** WARNING: --allow-unsigned: enforcing a policy whose signatures were NOT "
           "verified.\n*** For local development only; every audit record says "
           "policy.signed: false.\n\n";
  }

  audit::Value::Array upstreams;
  for (const config::UpstreamConfig& u : config.upstreams) {
    upstreams.push_back(audit::Value::Object{
        {"name", u.name}, {"type", api::DialectName(u.type)}, {"base_url", u.base_url}});
  }
  const config::ListenConfig& listen = config.server;
  d->instance_ = instance::OpenInstance(config, policy_file.string(), *loaded, "serve",
                              {{"listen", listen.address + ":" + std::to_string(listen.port)},
                               {"upstreams", std::move(upstreams)},
                               {"trust", loaded->trust_path},
                               {"allow_unsigned", trust.allow_unsigned}},
                              err, d->options_.events);
  if (d->instance_ == nullptr) {
    return nullptr;
  }
  instance::Instance& instance = *d->instance_;
  instance.events->Publish(instance::PolicyEventOf(*loaded, "serve"));
  Daemon* self = d.get();
  d->proxy_ = std::make_unique<proxy::Proxy>(proxy::ProxyOptions{
      .config = config,
      .policy = loaded->active,
      .gate = instance.gate.get(),
      .gauges =
          [self] {
            const http::Server* s = self->serving_.load();
            return (s ? ListenerMetrics(s->Stats()) : std::string()) +
                   (self->reloader_ ? self->reloader_->Gauges() : "");
          },
      .listener_problems =
          [self] {
            std::vector<std::string> problems;
            const http::Server* s = self->serving_.load();
            if (s && s->Stats().descriptors_exhausted) {
              problems.push_back("file descriptors exhausted: new connections wait or are refused");
            }
            return problems;
          },
      .events = instance.events,
      .reload =
          [self](proxy::ReloadDone done) {
            std::unique_lock lock(self->waiting_mu_);
            if (self->stopping_) {
              lock.unlock();
              done({ReloadOutcome::kRefused, "the server is shutting down", ""});
              return;
            }
            self->waiting_.push_back(std::move(done));
            Wake(self->wake_.get());
          },
      .judge = instance.judge.get()});
  const std::string signer_summary = instance::SignerSummary(*loaded);
  const std::string policy_digest = loaded->active->digest;
  d->reloader_ = std::make_unique<Reloader>(
      Reloader::Options{.instance = &instance,
                        .swap =
                            [self](std::shared_ptr<const exchange::ActivePolicy> p) {
                              self->proxy_->SetPolicy(std::move(p));
                            },
                        .policy_file = policy_file,
                        .trust = trust,
                        .watch = listen.watch_policy ? InotifyWatch(err) : nullptr,
                        .err = &err},
      std::move(loaded).value());
  // Every connection costs descriptors: take all the process may have.
  const http::DescriptorLimit descriptors = http::RaiseDescriptorLimit();
  // Request bodies (up to max_body_bytes each) are mapped, so that their
  // memory goes back to the system when they are freed.
  http::MapLargeAllocations(kMappedAllocationBytes);
  proxy::Proxy& proxy = *d->proxy_;
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
    return nullptr;
  }
  d->server_ = std::move(started).value();
  d->serving_ = d->server_.get();
  if (d->server_->max_connections() < listen.max_connections) {
    err << "warning: server.max_connections is " << listen.max_connections << " but "
        << descriptors.soft << " file descriptors (RLIMIT_NOFILE) allow "
        << d->server_->max_connections()
        << " connections at once: serving at most that many (raise the limit with ulimit -n or "
           "LimitNOFILE=)\n";
  }
  const policy::PolicySet& policy = d->reloader_->current().core->policy();
  err << "policy: " << policy_file.string() << " (" << policy.metadata().name << " "
      << policy.metadata().version << ", " << policy.rules().size() << " rules, digest "
      << policy_digest.substr(0, 16) << "), signed by " << signer_summary << '\n';
  for (const config::UpstreamConfig& u : config.upstreams) {
    err << "upstream: " << u.name << " (" << api::DialectName(u.type) << ") " << u.base_url
        << (u.api_key.empty() ? ", no API key" : ", API key from " + u.api_key_env) << '\n';
  }
  const std::string listening = "listening on " +
                                std::string(listen.tls_cert.empty() ? "" : "https://") +
                                d->server_->address() + ":" + std::to_string(d->server_->port());
  out << listening << std::endl;
  instance.events->Publish(base::StatusEvent{base::UnixMicros(), listening});
  return d;
}

void Daemon::ReloadRequested() {
  std::uint64_t count = 0;
  static_cast<void>(::read(wake_.get(), &count, sizeof(count)));
  std::vector<proxy::ReloadDone> batch;
  {
    std::lock_guard lock(waiting_mu_);
    batch.swap(waiting_);
  }
  if (!batch.empty()) {
    const proxy::ReloadResult result = reloader_->Reload("api");
    for (proxy::ReloadDone& done : batch) {
      done(result);
    }
  }
}

bool Daemon::Run(std::stop_token stop) {
  const config::ListenConfig& listen = options_.config.server;
  const sigset_t signals = DaemonSignals();
  const Fd signal_fd(signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  const std::stop_callback on_stop(stop, [this] { Wake(wake_.get()); });
  while (!stop.stop_requested()) {
    pollfd fds[3] = {
        {signal_fd.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}, {reloader_->watch_fd(), POLLIN, 0}};
    if (::poll(fds, fds[2].fd >= 0 ? 3 : 2, reloader_->PollTimeoutMillis()) < 0 && errno != EINTR) {
      err_ << "firebreak serve: poll failed; stopping\n";
      break;
    }
    signalfd_siginfo info{};
    if ((fds[0].revents & POLLIN) != 0 &&
        ::read(signal_fd.get(), &info, sizeof(info)) == sizeof(info)) {
      if (info.ssi_signo == SIGHUP) {
        reloader_->Reload("SIGHUP");
      } else {
        err_ << "firebreak serve: " << (info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM")
             << ": draining (up to " << listen.drain_timeout.count() << " ms)\n";
        break;
      }
    }
    if ((fds[1].revents & POLLIN) != 0) {
      ReloadRequested();
    }
    if (fds[2].fd >= 0 && (fds[2].revents & POLLIN) != 0) {
      reloader_->OnWatchReadable();
    }
    reloader_->Tick();
  }
  if (stop.stop_requested()) {
    err_ << "firebreak serve: stopping: draining (up to " << listen.drain_timeout.count()
         << " ms)\n";
  }
  std::vector<proxy::ReloadDone> unanswered;
  {
    std::lock_guard lock(waiting_mu_);
    stopping_ = true;
    unanswered.swap(waiting_);
  }
  for (proxy::ReloadDone& done : unanswered) {
    done({ReloadOutcome::kRefused, "the server is shutting down", ""});
  }
  const std::size_t cut = server_->Shutdown(listen.drain_timeout);
  if (cut > 0) {
    err_ << "firebreak serve: " << cut << " exchange(s) cut off at the drain deadline\n";
  }
  instance_->judge.reset();  // its workers answer into the proxy: gone before it
  serving_ = nullptr;
  server_.reset();
  closed_ = true;
  const bool closed = instance::CloseInstance(*instance_, "serve", err_);
  err_ << "firebreak serve: stopped\n";
  return closed;
}

}  // namespace firebreak::daemon
