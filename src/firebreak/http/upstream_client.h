// The upstream client: what the server does with a request the handler
// passed on (Exchange::Forward). It sends the request to its upstream and
// answers the client through the handler's Relay, piece by piece for a
// stream; it keeps idle upstream connections by origin, opens new ones (TLS
// verified as tls.h says) and, when a pooled connection turns out closed,
// tries once more on a new one. Internal to http: server.cc holds one.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>

#include "firebreak/http/server.h"

namespace firebreak::http {

class UpstreamClient {
 public:
  // Connections live on `io`, which must outlive this. `client_timeout`
  // bounds each write to the client.
  UpstreamClient(boost::asio::io_context& io, std::chrono::milliseconds client_timeout);
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // Sends `request` (its body is moved from) and answers `client` from what
  // comes back, through `relay`, whose OnDone is called on every way out. A
  // client that hangs up meanwhile cancels the upstream exchange. Runs on
  // the client connection's strand. Returns whether the client connection
  // stays open: `keep_alive` and the whole answer sent. `Client` is a
  // PlainStream or a TlsStream (stream_io.h), the two it is built for.
  template <class Client>
  boost::asio::awaitable<bool> Forward(Client& client, UpstreamRequest& request, Relay& relay,
                                       bool keep_alive);

  // Closes every idle connection (out of file descriptors; at shutdown).
  // Any thread.
  void CloseIdle();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace firebreak::http
