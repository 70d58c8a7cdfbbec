#include <pthread.h>
#include <signal.h>

#include <boost/asio/ip/address.hpp>
#include <ostream>

#include "firebreak/cli/commands.h"
#include "firebreak/cli/instance.h"
#include "firebreak/cli/report.h"
#include "firebreak/http/server.h"
#include "firebreak/proxy/proxy.h"

namespace firebreak::cli {
namespace {

bool IsLoopback(const std::string& address) {
  boost::system::error_code ec;
  const auto parsed = boost::asio::ip::make_address(address, ec);
  return !ec && parsed.is_loopback();
}

}  // namespace

int RunServe(const ServeOptions& options, std::ostream& out, std::ostream& err) {
  // Signals are taken by sigwait below; every thread started from here on
  // inherits the mask.
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

  const std::string policy_path = config->policy.string();
  std::unique_ptr<proxy::DecisionCore> core = LoadDecisionCore(policy_path, err);
  if (core == nullptr) {
    return kExitPolicyFailure;
  }
  std::shared_ptr<const proxy::DecisionCore> shared_core = std::move(core);

  audit::Value::Array upstreams;
  for (const config::UpstreamConfig& u : config->upstreams) {
    upstreams.push_back(
        audit::Value::Object{{"name", u.name}, {"type", u.type}, {"base_url", u.base_url}});
  }
  const config::ListenConfig listen = config->server;
  std::unique_ptr<Instance> instance = OpenInstance(
      *config, policy_path, shared_core->policy(), "serve",
      {{"listen", listen.address + ":" + std::to_string(listen.port)},
       {"upstreams", std::move(upstreams)},
       {"policy_signed", false}},
      err);
  if (instance == nullptr) {
    return kExitUsage;
  }

  std::unique_ptr<http::Server> server;
  proxy::Proxy proxy({.config = *config,
                      .core = shared_core,
                      .log = instance->log.get(),
                      .policy_digest = instance->policy_digest,
                      .policy_signed = false,
                      .retention = instance->retention,
                      .redactor = instance->redactor,
                      .on_audit_failure = instance->on_audit_failure,
                      .gauges = [&server] {
                        return "# HELP firebreak_connections Open client connections.\n"
                               "# TYPE firebreak_connections gauge\nfirebreak_connections " +
                               std::to_string(server ? server->connections() : 0) + "\n";
                      }});
  base::StatusOr<std::unique_ptr<http::Server>> started = http::Server::Start({
      .address = listen.address,
      .port = listen.port,
      .threads = listen.threads,
      .max_body_bytes = listen.max_body_bytes,
      .max_header_bytes = listen.max_header_bytes,
      .read_timeout = listen.read_timeout,
      .idle_timeout = listen.idle_timeout,
      .max_connections = listen.max_connections,
      .tls_cert_file = listen.tls_cert,
      .tls_key_file = listen.tls_key,
      .handler = [&proxy](http::ServerRequest&& request,
                          std::shared_ptr<http::Exchange> exchange) {
        proxy.Handle(std::move(request), std::move(exchange));
      },
      .error_reply = [&proxy](std::string_view target, int status, std::string_view message) {
        return proxy.ErrorReply(target, status, message);
      },
  });
  if (!started.ok()) {
    err << "firebreak serve: " << started.status().message() << '\n';
    CloseInstance(*instance, "serve", err);
    return kExitUsage;
  }
  server = std::move(started).value();
  const policy::Metadata& meta = shared_core->policy().metadata();
  err << "policy: " << policy_path << " (" << meta.name << " " << meta.version << ", "
      << shared_core->policy().rules().size() << " rules, digest "
      << instance->policy_digest.substr(0, 16) << ")\n";
  for (const config::UpstreamConfig& u : config->upstreams) {
    err << "upstream: " << u.name << " (" << u.type << ") " << u.base_url
        << (u.api_key.empty() ? ", no API key" : ", API key from " + u.api_key_env) << '\n';
  }
  out << "listening on " << (listen.tls_cert.empty() ? "" : "https://") << server->address()
      << ":" << server->port() << std::endl;

  while (true) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == SIGHUP) {
      err << "SIGHUP: policy reload is not available yet; the current policy stays in force\n";
      continue;
    }
    err << "firebreak serve: " << (signal == SIGINT ? "SIGINT" : "SIGTERM")
        << ": draining (up to " << listen.drain_timeout.count() << " ms)\n";
    break;
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

}  // namespace firebreak::cli
