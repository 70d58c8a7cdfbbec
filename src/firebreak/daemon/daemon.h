// The running server: the enforced policy (loaded and verified before
// anything is compiled or opened), the instance (audit trail, alerts), the
// proxy and its listener, the reloader, and the main loop that serves
// signals, file changes and reload requests. Its members are declared in
// the order they are built; the listener, the first to go, is drained by
// Run before the trail is closed.
#pragma once

#include <signal.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <ostream>
#include <stop_token>
#include <vector>

#include "firebreak/base/event.h"
#include "firebreak/config/server_config.h"
#include "firebreak/daemon/reloader.h"
#include "firebreak/http/server.h"
#include "firebreak/instance/instance.h"
#include "firebreak/proxy/proxy.h"

namespace firebreak::daemon {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in every
// thread started after): the daemon reads them from a signalfd. Ignores
// SIGXFSZ: a write past the file size limit fails (EFBIG) and is handled as
// any audit store failure, rather than killing the process.
sigset_t BlockDaemonSignals();

struct DaemonOptions {
  config::ServerConfig config;  // with the command line's overrides
  bool allow_unsigned = false;
  // Dashboards subscribe here (before Start, to see it start); optional.
  std::shared_ptr<base::EventHub> events;
};

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

class Daemon {
 public:
  // Loads and verifies the policy, opens the instance and starts listening
  // (the address is printed to `out`). Null after printing why to `err`;
  // `policy_refused` says whether it was the policy (not the config or the
  // system).
  static std::unique_ptr<Daemon> Start(DaemonOptions options, std::ostream& out, std::ostream& err,
                                       bool& policy_refused);
  ~Daemon();

  // Serves until SIGINT or SIGTERM (blocked by BlockDaemonSignals) or until
  // `stop` is requested, reloading on SIGHUP, on file changes
  // (server.watch_policy) and on POST /v1/firebreak/reload; then drains the
  // exchanges in flight and closes the audit trail. False when the trail
  // could not be closed.
  bool Run(std::stop_token stop);

 private:
  Daemon(DaemonOptions options, std::ostream& err);
  void ReloadRequested();

  DaemonOptions options_;
  std::ostream& err_;
  std::unique_ptr<instance::Instance> instance_;
  // Reload requests from POST /v1/firebreak/reload, run by the main loop.
  const Fd wake_;
  std::mutex waiting_mu_;
  std::vector<proxy::ReloadDone> waiting_;  // under waiting_mu_
  bool stopping_ = false;                   // under waiting_mu_
  // What the proxy's metrics read from I/O threads: set once the listener
  // has started (it serves before Start returns).
  std::atomic<const http::Server*> serving_{nullptr};
  std::unique_ptr<proxy::Proxy> proxy_;
  std::unique_ptr<Reloader> reloader_;
  std::unique_ptr<http::Server> server_;
  bool closed_ = false;
};

}  // namespace firebreak::daemon
