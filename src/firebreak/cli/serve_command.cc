#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <fstream>
#include <ostream>
#include <thread>

#include "firebreak/cli/commands.h"
#include "firebreak/daemon/daemon.h"
#include "firebreak/tui/terminal.h"

namespace firebreak::cli {
namespace {

bool IsLoopback(const std::string& address) {
  boost::system::error_code ec;
  const auto parsed = boost::asio::ip::make_address(address, ec);
  return !ec && parsed.is_loopback();
}

// Runs the daemon; with `dashboard`, beside the live dashboard on this
// terminal (`q` stops the server as SIGTERM would).
int Serve(config::ServerConfig config, const ServeOptions& options, bool dashboard,
          std::ostream& out, std::ostream& err) {
  auto events = std::make_shared<base::EventHub>();
  bool policy_refused = false;
  std::unique_ptr<daemon::Daemon> running = daemon::Daemon::Start(
      {.config = std::move(config), .allow_unsigned = options.allow_unsigned, .events = events},
      out, err, policy_refused);
  if (running == nullptr) {
    return policy_refused ? kExitPolicyFailure : kExitUsage;
  }
  std::unique_ptr<tui::Terminal> terminal = dashboard ? tui::Terminal::Open() : nullptr;
  if (terminal == nullptr) {
    return running->Run({}) ? kExitOk : kExitUsage;
  }
  tui::Console console(*terminal, events->Subscribe(10'000));
  console.options().footer = "q: stop the proxy   (serving until then; the log is in a file)";
  std::atomic<bool> done{false};
  bool closed = false;
  std::jthread loop([&](std::stop_token stop) {
    closed = running->Run(stop);
    done = true;
  });
  while (!done) {
    const int key = console.Step(100);
    if (key == 'q' || key == 'Q' || key == tui::Terminal::kInterrupted) {
      loop.request_stop();
      break;
    }
  }
  loop.join();
  return closed ? kExitOk : kExitUsage;
}

}  // namespace

int RunServe(const ServeOptions& options, std::ostream& out, std::ostream& err) {
  // Every thread started from here on inherits the mask.
  daemon::BlockDaemonSignals();

  std::unique_ptr<config::ServerConfig> config = instance::LoadConfig(options.config, "serve", err);
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
    return Serve(std::move(*config), options, false, out, err);
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
  const int code = Serve(std::move(*config), options, true, out, log);
  log.close();
  if (code != kExitOk) {
    std::ifstream written(log_path);
    written.seekg(start);
    err << written.rdbuf();
  }
  return code;
}

}  // namespace firebreak::cli
