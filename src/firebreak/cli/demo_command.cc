// `firebreak demo`: the prototype's seven scenarios through the real pipeline
// (classification, the signed policy, the durable audit trail, alerts to the
// configured targets), shown on the live dashboard, or as one plain line per
// scenario without a terminal. `--server` runs the proxy with the dashboard.
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <istream>
#include <mutex>
#include <ostream>
#include <thread>

#include "firebreak/api/provider.h"
#include "firebreak/base/clock.h"
#include "firebreak/base/digest.h"
#include "firebreak/cli/commands.h"
#include "firebreak/cli/scenario.h"
#include "firebreak/exchange/events.h"
#include "firebreak/exchange/records.h"
#include "firebreak/http/client.h"
#include "firebreak/instance/instance.h"
#include "firebreak/instance/policy_loader.h"
#include "firebreak/tui/terminal.h"

namespace firebreak::cli {
namespace {

namespace json = boost::json;

// Where allowed prompts go: the config's default upstream, else the
// provider whose API key is in the environment; none: offline.
struct Upstream {
  std::string name;
  const api::Provider* api = &api::OpenAIProvider();
  std::string base_url;
  std::string key;
  std::string model;
};

std::optional<Upstream> UpstreamOf(const config::ServerConfig& config) {
  if (!config.upstreams.empty()) {
    // As the proxy chooses for a model it does not list: the default, else the first.
    const config::UpstreamConfig* chosen = &config.upstreams.front();
    for (const config::UpstreamConfig& u : config.upstreams) {
      chosen = u.is_default ? &u : chosen;
    }
    const config::UpstreamConfig& u = *chosen;
    Upstream up{u.name, &api::ProviderFor(u.type), u.base_url, u.api_key, ""};
    for (const std::string& m : u.models) {
      if (!m.ends_with('*') && up.model.empty()) {
        up.model = m;
      }
    }
    if (up.model.empty()) {
      up.model = up.api->default_model();
    }
    return up;
  }
  for (const api::Provider* provider : api::Providers()) {
    if (const char* key = std::getenv(std::string(provider->key_env()).c_str());
        key != nullptr && *key != '\0') {
      return Upstream{std::string(provider->name()), provider, std::string(provider->public_url()),
                      key, std::string(provider->default_model())};
    }
  }
  return std::nullopt;
}

std::string Excerpt(std::string text, std::size_t bytes) {
  for (char& c : text) {
    c = c == '\n' ? ' ' : c;
  }
  if (text.size() <= bytes) {
    return text;
  }
  while (bytes > 0 && (static_cast<unsigned char>(text[bytes]) >> 6) == 0x2) {
    --bytes;
  }
  text.resize(bytes);
  return text + "…";
}

// One prompt through the pipeline, as the proxy runs it: decide, record the
// decision and its alerts (durable before anything happens), then forward
// an allowed prompt (recording the completion) or say what would happen.
class Pipeline {
 public:
  Pipeline(instance::Instance& instance, const exchange::ActivePolicy& policy,
           std::optional<Upstream> upstream)
      : instance_(instance), policy_(policy), upstream_(std::move(upstream)) {}

  base::DecisionEvent Run(const base::Conversation& conversation, const std::string& request_id) {
    exchange::Gate& gate = *instance_.gate;
    const exchange::Caller caller{
        .request_id = request_id, .principal = "demo", .endpoint = "demo"};
    base::StatusOr<exchange::Outcome> outcome = gate.Decide(policy_, conversation, caller);
    if (!outcome.ok()) {
      base::DecisionEvent failed;
      failed.time_micros = base::UnixMicros();
      failed.request_id = request_id;
      failed.decision = base::EventVerdict::kBlock;
      failed.outcome = "refused (fail closed): " + outcome.status().message();
      return failed;
    }
    const policy::Decision& d = outcome->decision;
    exchange::Admission admission = gate.Admit(policy_, conversation, *outcome, caller);
    if (!admission.event) {  // no dashboard listens, but the demo prints it
      admission.event = exchange::DecisionEventOf(conversation, *outcome, *policy_.core, request_id,
                                                  "demo", "demo", "");
    }
    std::string targets;
    for (const audit::OutboxAlert& a : admission.alerts) {
      targets += (targets.empty() ? "" : ", ") + a.target;
    }
    const std::size_t folded = admission.admissions.size() - admission.alerts.size();
    base::StatusOr<audit::Appended> appended = gate.CommitNow(admission);
    base::DecisionEvent& e = *admission.event;
    if (!appended.ok()) {
      e.decision = base::EventVerdict::kBlock;
      e.outcome = "refused: the audit trail cannot record it (" + appended.status().message() + ")";
      return e;
    }
    e.seq = appended->seq;
    if (d.verdict == policy::Verdict::kBlock) {
      e.outcome = "blocked: it never reached the model" +
                  (targets.empty() ? std::string() : "; alerted " + targets) +
                  (folded == 0 ? std::string()
                               : "; " + std::to_string(folded) + " alert(s) folded into a summary");
    } else if (!upstream_) {
      e.outcome = d.constraints.empty()
                      ? "offline: would be forwarded to the model"
                      : "offline: would be forwarded with its constraints as a system instruction";
    } else {
      e.outcome = Forward(conversation, d, request_id, e.seq);
    }
    base::DecisionEvent shown = e;
    gate.Publish(admission, shown.seq);
    return shown;
  }

  bool online() const { return upstream_.has_value(); }
  const std::string& upstream_name() const { return upstream_->name; }

 private:
  std::string Forward(const base::Conversation& conversation, const policy::Decision& d,
                      const std::string& request_id, std::uint64_t seq) {
    const Upstream& up = *upstream_;
    json::array messages;
    for (const base::Message& m : conversation.messages) {
      messages.push_back(json::object{{"role", base::RoleName(m.role)}, {"content", m.text}});
    }
    json::object body{{"model", up.model}, {"max_tokens", 300}, {"messages", std::move(messages)}};
    if (!d.constraints.empty()) {
      std::string instruction = "Firebreak policy constraints for this request:";
      for (const std::string* c : d.constraints) {
        instruction += "\n- " + *c;
      }
      api::OpenAIProvider().InjectSystemInstruction(body, instruction);
    }
    // The request is written in the neutral form and sent in the upstream's.
    const api::Call call{.model = up.model};
    base::StatusOr<json::object> translated =
        api::TranslateRequest(api::OpenAIProvider(), *up.api, body, call);
    if (!translated.ok()) {
      return "not forwarded: " + translated.status().message();
    }
    http::Request request{.url = up.api->UpstreamUrl(up.base_url, call),
                          .body = json::serialize(*translated),
                          .timeout = std::chrono::seconds(60)};
    request.headers.push_back({"content-type", "application/json"});
    up.api->UpstreamHeaders(up.key, [](std::string_view) { return std::string_view(); }, false,
                            request.headers);
    const auto start = std::chrono::steady_clock::now();
    base::StatusOr<http::Response> response = http::Send(request);
    exchange::Completion completion{
        .request_id = request_id,
        .decision_seq = seq,
        .upstream = up.name,
        .latency_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count()};
    std::string outcome;
    if (!response.ok()) {
      completion.status = 502;
      completion.error = response.status().message();
      outcome = "forwarded to " + up.name + ": failed: " + response.status().message();
    } else {
      completion.status = response->status;
      completion.complete = response->status / 100 == 2;
      completion.bytes = static_cast<std::int64_t>(response->body.size());
      completion.response_sha256 = base::ToHex(base::Sha256Of(response->body));
      std::string text = up.api->ResponseToNeutral(response->body);
      boost::system::error_code ec;
      const json::value parsed = json::parse(text, ec);
      const json::value* content = nullptr;
      if (!ec && parsed.is_object()) {
        const json::value* choices = parsed.get_object().if_contains("choices");
        if (choices != nullptr && choices->is_array() && !choices->get_array().empty()) {
          content = choices->get_array()[0].as_object().if_contains("message");
          content = content != nullptr && content->is_object()
                        ? content->get_object().if_contains("content")
                        : nullptr;
        }
      }
      outcome =
          "forwarded to " + up.name + " (HTTP " + std::to_string(response->status) + "): " +
          Excerpt(content != nullptr && content->is_string() ? std::string(content->get_string())
                                                             : response->body,
                  400);
    }
    instance_.gate->Complete(completion);
    return outcome;
  }

  instance::Instance& instance_;
  const exchange::ActivePolicy& policy_;
  std::optional<Upstream> upstream_;
};

std::string PlainLine(std::size_t n, std::size_t total, const Scenario& s,
                      const base::DecisionEvent& e) {
  std::string rules;
  for (const std::string& r : e.rules) {
    rules += (rules.empty() ? "" : ",") + r;
  }
  char line[160];
  std::snprintf(line, sizeof(line), "[%zu/%zu] %-11s %-17s %-25s audit %-8s | ", n, total,
                s.id.c_str(), std::string(base::EventVerdictName(e.decision)).c_str(),
                rules.empty() ? "-" : rules.c_str(),
                e.audit_level.c_str());
  return line + e.outcome;
}

std::string PolicyHeader(const base::PolicyEvent& p) {
  std::string out = "Firebreak demo: policy " + p.name + " v" + p.version + " (effective " +
                    p.effective + "), " + std::to_string(p.rules) + " rules, digest " +
                    p.digest.substr(0, 16) +
                    (p.verified ? ", signatures verified" : ", NOT verified") + "\n";
  for (const base::Signatory& s : p.signatories) {
    out += "  signatory " + s.role + ": " + s.party + "  " +
           (s.verified ? "✓ signed" : "✗ " + s.state) + "\n";
  }
  return out;
}

// The scenarios, paced for the dashboard: `wait` returns false to stop.
struct Pacing {
  std::mutex mu;
  std::condition_variable cv;
  int advances = 0;  // Enter presses not yet used
  bool stop = false;
  std::vector<std::string> typed;  // interactive prompts not yet run

  // Default mode: the next Enter; otherwise a pause.
  bool Wait(bool for_enter, std::chrono::milliseconds pause) {
    std::unique_lock lock(mu);
    if (for_enter) {
      cv.wait(lock, [&] { return stop || advances > 0; });
      advances = std::max(advances - 1, 0);
    } else {
      cv.wait_for(lock, pause, [&] { return stop; });
    }
    return !stop;
  }
};

int RunDashboardDemo(const DemoOptions& options, const std::vector<Scenario>& scenarios,
                     Pipeline& pipeline, instance::Instance& instance, tui::Terminal& terminal) {
  tui::Console console(terminal, instance.events->Subscribe(10'000));
  const bool for_enter = !options.fast && !options.auto_advance;
  const std::chrono::milliseconds pause(options.fast ? 1000 : 4000);
  Pacing pacing;
  std::atomic<bool> scenarios_done{false};
  std::atomic<bool> worker_done{false};
  auto status = [&](const std::string& text) {
    instance.events->Publish(base::StatusEvent{base::UnixMicros(), text});
  };
  const std::string mode =
      pipeline.online() ? "forwarding to " + pipeline.upstream_name() : "offline (no upstream)";
  std::thread worker([&] {
    int n = 0;
    for (const Scenario& s : scenarios) {
      if (n > 0 && !pacing.Wait(for_enter, pause)) {
        break;
      }
      ++n;
      status("scenario " + std::to_string(n) + "/" + std::to_string(scenarios.size()) + ": " +
             s.narration + "  [" + mode + "]");
      pipeline.Run(s.conversation, "demo-" + s.id);
    }
    scenarios_done = true;
    status("all " + std::to_string(n) + " scenarios done  [" + mode + "]");
    int typed = 0;
    while (options.interactive) {
      std::unique_lock lock(pacing.mu);
      pacing.cv.wait(lock, [&] { return pacing.stop || !pacing.typed.empty(); });
      if (pacing.stop) {
        break;
      }
      const std::string prompt = pacing.typed.front();
      pacing.typed.erase(pacing.typed.begin());
      lock.unlock();
      pipeline.Run(base::SinglePrompt(prompt), "demo-typed-" + std::to_string(++typed));
    }
    worker_done = true;
  });

  bool typing = false;
  std::string input;
  while (true) {
    tui::DrawOptions& o = console.options();
    typing = options.interactive && scenarios_done;
    o.typing = typing;
    o.input = input;
    o.footer =
        !scenarios_done ? (for_enter ? "Enter: next scenario   q: quit" : "q: quit") : "q: quit";
    console.Redraw();
    const int key = console.Step(100);
    if (key == tui::Terminal::kInterrupted) {
      break;
    }
    if (typing && key != tui::Terminal::kNoKey) {
      if (key == '\n') {
        if (input.empty()) {
          break;  // an empty line ends the interactive mode, as in the prototype
        }
        std::lock_guard lock(pacing.mu);
        pacing.typed.push_back(std::exchange(input, {}));
        pacing.cv.notify_all();
      } else if (key == tui::Terminal::kBackspace) {
        while (!input.empty() && (static_cast<unsigned char>(input.back()) >> 6) == 0x2) {
          input.pop_back();
        }
        if (!input.empty()) {
          input.pop_back();
        }
      } else if (key == tui::Terminal::kEscape) {
        break;
      } else if (key >= 0x20 && key < 0x100) {
        input.push_back(static_cast<char>(key));
      }
      continue;
    }
    if (key == 'q' || key == 'Q') {
      break;
    }
    if (key == '\n' || key == ' ') {
      std::lock_guard lock(pacing.mu);
      ++pacing.advances;
      pacing.cv.notify_all();
    }
    if (options.exit_when_done && scenarios_done && !options.interactive) {
      break;
    }
  }
  {
    std::lock_guard lock(pacing.mu);
    pacing.stop = true;
    pacing.cv.notify_all();
  }
  worker.join();
  return kExitOk;
}

}  // namespace

int RunDemo(const DemoOptions& options, ServeCommand serve_command, std::istream& in,
            std::ostream& out, std::ostream& err) {
  if (options.server) {
    // The prototype's server mode: the proxy with the demo policy and the
    // live dashboard. Upstreams come from the config; without one, allowed
    // requests get 503.
    ServeOptions serve;
    serve.config = options.config;
    serve.policy = options.policy;
    serve.port = options.port;
    serve.dashboard = true;
    return serve_command(serve, out, err);
  }
  std::unique_ptr<config::ServerConfig> config = instance::LoadConfig(options.config, "demo", err);
  if (config == nullptr) {
    return kExitUsage;
  }
  // The signatures are checked and shown; the demo runs either way.
  base::StatusOr<instance::LoadedPolicy> loaded =
      instance::LoadActivePolicy(options.policy, {.trust = config->trust, .allow_unsigned = true});
  if (!loaded.ok()) {
    err << "firebreak demo: " << loaded.status().message() << '\n';
    return kExitPolicyFailure;
  }
  base::StatusOr<std::vector<Scenario>> scenarios = LoadScenarios(options.scenarios);
  if (!scenarios.ok()) {
    err << "firebreak demo: " << scenarios.status().message() << '\n';
    return kExitUsage;
  }

  // On a terminal the dashboard owns the screen, and the log (alerts to log
  // targets, delivery failures) goes to a file beside the audit database.
  std::unique_ptr<tui::Terminal> terminal;
  std::ofstream log_file;
  std::ostream* log = &err;
  const std::filesystem::path log_path = config->audit.db.parent_path() / "firebreak.log";
  if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
    std::error_code ec;
    std::filesystem::create_directories(log_path.parent_path(), ec);
    log_file.open(log_path, std::ios::app);
    if (log_file) {
      log = &log_file;
    }
  }
  err << loaded->warnings;
  const base::PolicyEvent policy_event = instance::PolicyEventOf(*loaded, "demo");
  std::unique_ptr<instance::Instance> instance =
      instance::OpenInstance(*config, options.policy, *loaded, "demo", {}, *log);
  if (instance == nullptr) {
    if (log != &err) {
      err << "firebreak demo: cannot start; see " << log_path.string() << '\n';
    }
    return kExitUsage;
  }
  instance->events->Publish(policy_event);
  Pipeline pipeline(*instance, *loaded->active, UpstreamOf(*config));

  int code = kExitOk;
  if (log != &err) {
    terminal = tui::Terminal::Open();
  }
  if (terminal != nullptr) {
    code = RunDashboardDemo(options, *scenarios, pipeline, *instance, *terminal);
    terminal.reset();  // the terminal is restored before anything is printed
    out << PolicyHeader(policy_event) << "demo over; the audit trail is "
        << config->audit.db.string() << " and the log " << log_path.string() << '\n';
  } else {
    // No terminal: one plain line per scenario, for CI and logs.
    out << PolicyHeader(policy_event)
        << (pipeline.online() ? "  forwarding allowed prompts to " + pipeline.upstream_name()
                              : std::string("  offline: no upstream is configured (set "
                                            "OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY, "
                                            "or upstreams: "
                                            "in the config), so allowed prompts are not forwarded"))
        << '\n';
    std::map<std::string, int> counts;
    for (std::size_t i = 0; i < scenarios->size(); ++i) {
      const Scenario& s = (*scenarios)[i];
      const base::DecisionEvent e = pipeline.Run(s.conversation, "demo-" + s.id);
      ++counts[std::string(base::EventVerdictName(e.decision))];
      out << PlainLine(i + 1, scenarios->size(), s, e) << std::endl;
    }
    out << scenarios->size() << " scenarios: " << counts["ALLOW"] << " ALLOW, "
        << counts["ALLOW_CONSTRAINED"] << " ALLOW_CONSTRAINED, " << counts["BLOCK"]
        << " BLOCK; every decision is in the audit trail\n";
    if (options.interactive) {
      out << "Interactive: type a prompt and press Enter (an empty line or end of input quits).\n";
      std::string line;
      int n = 0;
      while (out << "> " << std::flush, std::getline(in, line) && !line.empty()) {
        ++n;
        const base::DecisionEvent e =
            pipeline.Run(base::SinglePrompt(line), "demo-typed-" + std::to_string(n));
        out << base::EventVerdictName(e.decision) << " rule "
            << (e.rules.empty() ? "-" : e.rules.front()) << "  | "
            << e.outcome << '\n';
      }
    }
  }
  if (!instance::CloseInstance(*instance, "demo", *log)) {
    return kExitUsage;
  }
  return code;
}

}  // namespace firebreak::cli
