// passthrough PORT UPSTREAM_URL [THREADS]: Firebreak's HTTP server and
// upstream relay with nothing between them (no parsing, classification,
// policy or audit). Prints "listening on ADDR:PORT"; runs until killed.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include "firebreak/http/server.h"

namespace {

using namespace firebreak;

class Relay : public http::Relay {
 public:
  http::Reply OnResponse(int status, const http::Headers&, std::string body) override {
    return {status, {{"content-type", "application/json"}}, std::move(body)};
  }
  http::Reply OnStreamStart(int status, const http::Headers&) override {
    return {status, {{"content-type", "text/event-stream"}}, {}};
  }
  std::string OnStreamData(std::string_view bytes) override { return std::string(bytes); }
  std::string OnStreamEnd(bool) override { return {}; }
  http::Reply OnFailure(int status, std::string_view what) override {
    return {status, {{"content-type", "text/plain"}}, std::string(what)};
  }
  void OnDone(const http::RelayEnd&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: passthrough PORT UPSTREAM_URL [THREADS]\n";
    return 2;
  }
  const std::string upstream = argv[2];
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto server = http::Server::Start({
      .port = static_cast<std::uint16_t>(std::atoi(argv[1])),
      .threads = argc > 3 ? static_cast<unsigned>(std::atoi(argv[3])) : 0u,
      .handler =
          [&upstream](http::ServerRequest&& request, std::shared_ptr<http::Exchange> exchange) {
            http::UpstreamRequest up;
            up.url = upstream + request.target;
            up.headers = {{"content-type", "application/json"}};
            up.body = std::move(request.body);
            exchange->Forward(std::move(up), std::make_unique<Relay>());
          },
  });
  if (!server.ok()) {
    std::cerr << server.status().message() << '\n';
    return 1;
  }
  std::cout << "listening on " << (*server)->address() << ":" << (*server)->port() << std::endl;
  int signal = 0;
  sigwait(&signals, &signal);
  (*server)->Shutdown(std::chrono::seconds(1));
  return 0;
}
