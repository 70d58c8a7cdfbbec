// `firebreak dashboard --connect URL`: the live dashboard of a running proxy,
// fed by its event stream (GET /v1/firebreak/events, an admin key). The
// stream is read on a thread and re-opened when it breaks; without a
// terminal each event is printed as a line of JSON.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <ostream>
#include <thread>

#include "firebreak/api/translate.h"
#include "firebreak/cli/commands.h"
#include "firebreak/http/client.h"
#include "firebreak/tui/terminal.h"

namespace firebreak::cli {

int RunDashboard(const DashboardOptions& options, std::ostream& out, std::ostream& err) {
  std::string url = options.connect;
  while (url.ends_with('/')) {
    url.pop_back();
  }
  if (!url.ends_with("/v1/firebreak/events")) {
    url += "/v1/firebreak/events";
  }
  std::string key;
  if (const char* value = std::getenv(options.key_env.c_str()); value != nullptr) {
    key = value;
  }
  base::EventHub hub;
  std::atomic<bool> stop{false};
  std::atomic<int> failure_code{0};
  const bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  // The connection's state: the dashboard's title, or a line on stderr.
  std::mutex connection_mu;
  std::string connection;
  auto status = [&](const std::string& text) {
    std::lock_guard lock(connection_mu);
    connection = text;
    if (!tty) {
      err << "firebreak dashboard: " << text << std::endl;
    }
  };
  status("connecting to " + options.connect + "…");
  std::thread reader([&] {
    std::chrono::milliseconds backoff(500);
    while (!stop) {
      api::SseParser parser;
      bool connected = false;
      http::Request request{.method = "GET", .url = url, .timeout = std::chrono::seconds(45)};
      request.headers.push_back({"accept", "text/event-stream"});
      if (!key.empty()) {
        request.headers.push_back({"authorization", "Bearer " + key});
      }
      request.cancel = &stop;
      request.on_body = [&](std::string_view bytes) {
        for (const api::SseEvent& e : parser.Feed(bytes)) {
          base::StatusOr<base::Event> event = base::ParseEvent(e.data);
          if (event.ok()) {
            hub.Publish(std::move(event).value());
          }
        }
        if (!connected) {
          connected = true;
          backoff = std::chrono::milliseconds(500);
          status("connected to " + options.connect);
        }
        return !stop;
      };
      base::StatusOr<http::Response> response = http::Send(request);
      if (stop) {
        break;
      }
      std::string why = !response.ok() ? response.status().message()
                        : response->status == 200
                            ? "the stream ended"
                            : "HTTP " + std::to_string(response->status) + ": " + response->body;
      if (response.ok() && (response->status == 401 || response->status == 403)) {
        status("refused: " + why + " (set " + options.key_env + " to an admin key)");
        failure_code = kExitUsage;
        if (!tty) {
          stop = true;
          break;
        }
      } else {
        status("disconnected from " + options.connect + ": " + why + "; retrying");
      }
      for (auto waited = std::chrono::milliseconds(0); waited < backoff && !stop;
           waited += std::chrono::milliseconds(100)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(10'000));
    }
  });

  if (std::unique_ptr<tui::Terminal> terminal = tui::Terminal::Open()) {
    tui::Console console(*terminal, hub.Subscribe(10'000));
    console.options().footer = "q: quit (the proxy keeps running)";
    while (true) {
      {
        std::lock_guard lock(connection_mu);
        const std::string title = "FIREBREAK console · " + connection + " ·";
        if (title != console.options().title) {
          console.options().title = title;
          console.Redraw();
        }
      }
      const int key_pressed = console.Step(100);
      if (key_pressed == 'q' || key_pressed == 'Q' || key_pressed == tui::Terminal::kInterrupted) {
        break;
      }
    }
  } else {
    // No terminal: the events, one JSON line each, until interrupted or refused.
    std::shared_ptr<base::EventHub::Subscription> events = hub.Subscribe(10'000);
    while (!stop) {
      for (const base::Event& e : events->Take()) {
        out << base::EventJson(e) << std::endl;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (const base::Event& e : events->Take()) {
      out << base::EventJson(e) << std::endl;
    }
  }
  stop = true;
  reader.join();
  if (failure_code != 0) {
    err << "firebreak dashboard: " << url << " refused the key in " << options.key_env << '\n';
  }
  return failure_code != 0 ? failure_code.load() : kExitOk;
}

}  // namespace firebreak::cli
