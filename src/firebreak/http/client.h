// A small blocking HTTP/1.1 client for background senders (alert delivery):
// one request per connection, TLS with certificate and host-name
// verification against the system CAs for https, and one deadline for the
// whole exchange. Boost.Beast stays inside client.cc.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "firebreak/base/status.h"

namespace firebreak::http {

struct Request {
  std::string method = "POST";
  std::string url;  // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{5000};
  // Streaming (server-sent events): a 2xx response's body is handed over
  // piece by piece as it arrives, with no size limit (returning false ends
  // the exchange); any other response's body is in Response::body.
  // `timeout` is then the longest silence allowed, and `cancel`, when set,
  // ends the exchange within 200 ms.
  std::function<bool(std::string_view)> on_body;
  const std::atomic<bool>* cancel = nullptr;
};

struct Response {
  int status = 0;
  std::string body;
};

// Unavailable for connection failures, DeadlineExceeded-like Unavailable
// ("timed out") past the deadline, InvalidArgument for a bad URL. Any HTTP
// status is a Response, not an error (streamed: the body was handed over).
base::StatusOr<Response> Send(const Request& request);

}  // namespace firebreak::http
