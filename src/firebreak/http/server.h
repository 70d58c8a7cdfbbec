// The HTTP/1.1 listener and the upstream relay, behind a plain interface:
// Boost.Asio/Beast (C++20 coroutines, one io_context run by N threads) stay
// inside server.cc and upstream_client.cc.
//
// For each request the server calls the handler with the request and an
// Exchange. The handler answers once, from any thread, either with a Reply or
// by asking the server to Forward the request upstream; the server then
// relays the upstream's response, event by event for server-sent events,
// through the handler's Relay. Limits (body and header size, bodies in
// flight, read and idle timeouts, connections, file descriptors) and strict
// request framing are enforced here, with error replies the handler shapes
// per route.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/base/status.h"

namespace firebreak::http {

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

// The value of the first header named `name` (case-insensitive), or "".
std::string_view FindHeader(const Headers& headers, std::string_view name);

struct ServerRequest {
  std::string method;
  std::string target;  // path and query, as sent
  Headers headers;
  std::string body;
  std::string remote;  // the peer's address
};

struct Reply {
  int status = 200;
  Headers headers;  // content-type included
  std::string body;
};

struct UpstreamRequest {
  std::string url;  // absolute http:// or https:// URL
  Headers headers;  // host and content-length are set by the server
  std::string body;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds first_byte_timeout{120'000};
  std::chrono::milliseconds idle_timeout{120'000};  // between bytes of a response
  std::size_t max_response_bytes = 64 << 20;        // a whole (non-streamed) response
};

struct RelayEnd {
  int status = 0;           // what the client was sent
  std::uint64_t bytes = 0;  // body bytes the client was sent
  bool complete = false;    // the client received the whole response
  std::string error;        // why not, otherwise
};

// How an upstream response reaches the client. Called on an I/O thread; must
// not block.
class Relay {
 public:
  virtual ~Relay() = default;
  // A whole response (anything but text/event-stream): what the client gets.
  virtual Reply OnResponse(int status, const Headers& headers, std::string body) = 0;
  // A stream: the head for the client (its body is ignored), then the bytes
  // to send for each piece, then for the end. `clean` is false when the
  // upstream failed mid-stream: the client's response is then cut off (no
  // terminating chunk) after the bytes OnStreamEnd returns.
  virtual Reply OnStreamStart(int status, const Headers& headers) = 0;
  virtual std::string OnStreamData(std::string_view bytes) = 0;
  virtual std::string OnStreamEnd(bool clean) = 0;
  // No response came: 502 (connection, TLS, protocol) or 504 (timed out).
  virtual Reply OnFailure(int status, std::string_view what) = 0;
  // The exchange is over, whatever happened.
  virtual void OnDone(const RelayEnd& end) = 0;
};

// A response produced over time (server-sent events). The server pulls from
// it on the connection's I/O thread: once after Attach, then whenever woken,
// and at least once a second (heartbeats are the source's business).
class StreamSource {
 public:
  virtual ~StreamSource() = default;
  // `wake` may be called from any thread, any number of times, until Detach.
  virtual void Attach(std::function<void()> wake) = 0;
  // The bytes to send now (possibly none); `finished` ends the response.
  virtual std::string Take(bool& finished) = 0;
  // The response is over (finished, the client left, or the server stops).
  virtual void Detach() = 0;
};

// One request's answer. Call exactly one of Respond, RespondWith, Stream or
// Forward, once, from any thread. An Exchange released unanswered answers
// 500.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual void Respond(Reply reply) = 0;
  // Builds the reply on the connection's I/O thread: for work (a signature)
  // that should not run on the caller's thread.
  virtual void RespondWith(std::function<Reply()> build) = 0;
  virtual void Forward(UpstreamRequest request, std::unique_ptr<Relay> relay) = 0;
  // `head` (its body is ignored), then the source's bytes, chunked; the
  // connection closes after it. Shutdown ends it within a second.
  virtual void Stream(Reply head, std::shared_ptr<StreamSource> source) = 0;
};

using Handler = std::function<void(ServerRequest&& request, std::shared_ptr<Exchange> exchange)>;
// Shapes the errors the server answers itself (400, 408, 413, 431, 501, 503).
using ErrorReply =
    std::function<Reply(std::string_view target, int status, std::string_view message)>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port
  unsigned threads = 0;    // 0: one per hardware thread
  std::size_t max_body_bytes = 10 << 20;
  // Request bodies held at once, summed over every exchange (declared
  // length, or chunks as they come); a request that would pass it is
  // refused with 503 and Retry-After before its body is read.
  std::size_t max_body_bytes_in_flight = 256 << 20;
  std::size_t max_header_bytes = 32 << 10;
  std::chrono::milliseconds read_timeout{30'000};  // a request, from its first byte
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive wait; writes to a client
  // Lowered to what the file descriptors allow (ConnectionsFor in
  // resources.h). At the limit, the connection idle the longest is closed to
  // make room; with none idle, a new client is answered 503.
  std::size_t max_connections = 10'000;
  std::string tls_cert_file;  // both set: TLS on the listener
  std::string tls_key_file;
  Handler handler;
  ErrorReply error_reply;  // default: {"error":{"message":...}}
};

// What the server holds and what it refused, for /metrics and /ready.
struct ServerStats {
  std::size_t connections = 0;
  std::size_t max_connections = 0;     // in force (see ServerOptions)
  std::uint64_t accept_failures = 0;   // accept() failed (e.g. out of file descriptors)
  std::uint64_t idle_closed = 0;       // idle keep-alive connections closed to make room
  bool descriptors_exhausted = false;  // no file descriptor could be opened just now
  std::size_t body_bytes_in_flight = 0;
  std::size_t max_body_bytes_in_flight = 0;
  std::uint64_t body_budget_refusals = 0;  // requests refused 503 for the budget
};

class Server {
 public:
  // Listening (accepting) when it returns.
  static base::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options);
  ~Server();

  std::uint16_t port() const;
  const std::string& address() const;
  std::size_t connections() const;
  // The connection limit in force: ServerOptions::max_connections, or less
  // when the file descriptors (RLIMIT_NOFILE at start) allow fewer.
  std::size_t max_connections() const;
  // Tries to take back the reserved descriptor (so descriptors_exhausted
  // says how things are now); any thread.
  ServerStats Stats() const;

  // Stops accepting, lets the exchanges in flight finish for up to `drain`,
  // closes every connection and joins the threads. Returns how many
  // exchanges were cut off. Idempotent.
  std::size_t Shutdown(std::chrono::milliseconds drain);

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace firebreak::http
