#include "firebreak/http/client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "firebreak/http/tls.h"
#include "firebreak/http/url.h"

namespace firebreak::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

template <typename Stream>
asio::awaitable<void> Exchange(Stream& stream, const bhttp::request<bhttp::string_body>& req,
                               Response& out,
                               const std::function<bool(std::string_view)>& on_body) {
  co_await bhttp::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buffer;
  if (on_body) {
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(boost::none);
    co_await bhttp::async_read_header(stream, buffer, parser, asio::use_awaitable);
    out.status = static_cast<int>(parser.get().result_int());
    char chunk[8192];
    const bool success = out.status / 100 == 2;  // an error's body is kept whole instead
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof(chunk);
      beast::error_code ec;
      co_await bhttp::async_read_some(stream, buffer, parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
      if (ec && ec != bhttp::error::need_buffer) {
        throw beast::system_error(ec);
      }
      const std::size_t n = sizeof(chunk) - parser.get().body().size;
      if (!success) {
        if (out.body.size() + n > (1 << 20)) {
          co_return;
        }
        out.body.append(chunk, n);
      } else if (n > 0 && !on_body(std::string_view(chunk, n))) {
        co_return;
      }
    }
    co_return;
  }
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(1 << 20);
  co_await bhttp::async_read(stream, buffer, parser, asio::use_awaitable);
  out.status = static_cast<int>(parser.get().result_int());
  out.body = std::move(parser.get().body());
}

}  // namespace

base::StatusOr<Response> Send(const Request& request) {
  base::StatusOr<Url> target = ParseUrl(request.url);
  if (!target.ok()) {
    return target.status();
  }
  bhttp::request<bhttp::string_body> req;
  req.method_string(request.method);
  req.target(target->path);
  req.version(11);
  req.set(bhttp::field::host, target->host);
  req.set(bhttp::field::user_agent, "firebreak");
  req.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : request.headers) {
    req.set(name, value);
  }
  req.body() = request.body;
  req.prepare_payload();

  asio::io_context io;
  asio::ssl::context tls = ClientTlsContext();
  Response response;
  std::optional<std::string> error;
  bool finished = false;
  // Streaming: the deadline moves with every piece that arrives.
  auto last_activity = std::chrono::steady_clock::now();
  std::function<bool(std::string_view)> on_body;
  if (request.on_body) {
    on_body = [&](std::string_view piece) {
      last_activity = std::chrono::steady_clock::now();
      return request.on_body(piece);
    };
  }
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        tcp::resolver resolver(io);
        auto endpoints =
            co_await resolver.async_resolve(target->host, target->port, asio::use_awaitable);
        if (target->tls) {
          beast::ssl_stream<beast::tcp_stream> stream(io, tls);
          if (const beast::error_code ec = VerifyPeerAs(stream, target->host)) {
            throw beast::system_error(ec);
          }
          co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
          co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
          co_await Exchange(stream, req, response, on_body);
        } else {
          beast::tcp_stream stream(io);
          co_await stream.async_connect(endpoints, asio::use_awaitable);
          co_await Exchange(stream, req, response, on_body);
        }
        finished = true;
      },
      [&](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            error = ex.what();
          }
        }
      });
  if (!on_body) {
    io.run_for(request.timeout);
  } else {
    while (!io.stopped() && !finished && !error) {
      io.run_for(std::chrono::milliseconds(200));
      if (request.cancel != nullptr && request.cancel->load()) {
        return base::Status(base::StatusCode::kUnavailable, request.url + ": cancelled");
      }
      if (std::chrono::steady_clock::now() - last_activity > request.timeout) {
        break;
      }
    }
  }
  if (!finished) {
    return base::Status(
        base::StatusCode::kUnavailable,
        request.method + " " + request.url + ": " +
            (error ? *error
                   : "timed out after " + std::to_string(request.timeout.count()) + " ms"));
  }
  return response;
}

}  // namespace firebreak::http
