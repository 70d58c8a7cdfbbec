// What the listener (server.cc) and the upstream client (upstream_client.cc)
// both do on a connection: the two stream types, copying headers, writing a
// reply or the head of a chunked one to a client, and the watch on a client
// that hangs up while its request is upstream. Internal to http: only its
// Beast translation units include it.
#pragma once

#include <strings.h>
#include <sys/socket.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "firebreak/http/server.h"

namespace firebreak::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

inline PlainStream& Lowest(PlainStream& s) { return s; }
inline PlainStream& Lowest(TlsStream& s) { return beast::get_lowest_layer(s); }

inline bool IsTimeout(const error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::timed_out;
}

inline bool HopByHop(std::string_view name) {
  static constexpr std::string_view kHop[] = {
      "connection",         "keep-alive",          "transfer-encoding", "te", "trailer", "upgrade",
      "proxy-authenticate", "proxy-authorization", "content-length"};
  for (std::string_view h : kHop) {
    if (h.size() == name.size() && ::strncasecmp(h.data(), name.data(), h.size()) == 0) {
      return true;
    }
  }
  return false;
}

template <class Fields>
Headers HeadersOf(const Fields& fields) {
  Headers headers;
  for (const auto& field : fields) {
    headers.push_back({std::string(field.name_string()), std::string(field.value())});
  }
  return headers;
}

template <class Message>
void SetHeaders(Message& message, const Headers& headers) {
  for (const Header& h : headers) {
    if (!HopByHop(h.name)) {
      message.insert(h.name, h.value);
    }
  }
}

// Whether the client was sent the whole reply within `timeout`.
template <class Stream>
asio::awaitable<bool> WriteReply(Stream& stream, const Reply& reply, bool keep_alive,
                                 std::chrono::milliseconds timeout) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(reply.status), 11};
  SetHeaders(res, reply.headers);
  res.keep_alive(keep_alive);
  res.body() = reply.body;
  res.prepare_payload();
  Lowest(stream).expires_after(timeout);
  error_code ec;
  co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

// The head of a chunked response; false when the client is gone.
template <class Stream>
asio::awaitable<bool> WriteChunkedHead(Stream& stream, const Reply& head, bool keep_alive,
                                       std::chrono::milliseconds timeout) {
  bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(head.status), 11};
  SetHeaders(res, head.headers);
  res.keep_alive(keep_alive);
  res.chunked(true);
  bhttp::response_serializer<bhttp::empty_body> serializer{res};
  Lowest(stream).expires_after(timeout);
  error_code ec;
  co_await bhttp::async_write_header(stream, serializer,
                                     asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

// Watches a client while its request is upstream: a client that hangs up
// (end of stream) cancels the upstream exchange at once, rather than when
// its answer is finally written. Runs on the connection's strand; the guard
// in the forwarding coroutine ends the watch on every way out.
struct ClientWatch {
  bool active = true;
  bool client_gone = false;
  std::function<void()> cancel_upstream;  // set once an upstream connection exists
};

template <class Stream>
class ClientWatchGuard {
 public:
  explicit ClientWatchGuard(Stream& client)
      : client_(client), watch_(std::make_shared<ClientWatch>()) {
    auto& socket = beast::get_lowest_layer(client_).socket();
    socket.async_wait(tcp::socket::wait_read, [watch = watch_, &socket](error_code ec) {
      if (ec || !watch->active) {
        return;
      }
      char byte;
      const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        watch->client_gone = true;
        if (watch->cancel_upstream) {
          watch->cancel_upstream();
        }
      }  // else: the client's next request (pipelined); stop watching
    });
  }
  ~ClientWatchGuard() {
    watch_->active = false;
    watch_->cancel_upstream = nullptr;
    error_code ignored;
    beast::get_lowest_layer(client_).socket().cancel(ignored);
  }
  ClientWatch& operator*() { return *watch_; }
  ClientWatch* operator->() { return watch_.get(); }

 private:
  Stream& client_;
  std::shared_ptr<ClientWatch> watch_;
};

}  // namespace firebreak::http
