#include "firebreak/http/upstream_client.h"

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "firebreak/http/stream_io.h"
#include "firebreak/http/tls.h"
#include "firebreak/http/url.h"

namespace firebreak::http {

namespace {

// Idle upstream connections, by scheme, host and port.
template <class Stream>
class Pool {
 public:
  std::unique_ptr<Stream> Take(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = idle_.find(key);
    if (it == idle_.end() || it->second.empty()) {
      return nullptr;
    }
    std::unique_ptr<Stream> s = std::move(it->second.back());
    it->second.pop_back();
    return s;
  }
  void Put(const std::string& key, std::unique_ptr<Stream> stream) {
    std::lock_guard lock(mu_);
    auto& list = idle_[key];
    if (list.size() < kMaxIdlePerHost) {
      list.push_back(std::move(stream));
    }
  }
  void Clear() {
    std::lock_guard lock(mu_);
    idle_.clear();
  }

 private:
  static constexpr std::size_t kMaxIdlePerHost = 256;
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Stream>>> idle_;
};

}  // namespace

struct UpstreamClient::Impl {
  Impl(asio::io_context& io, std::chrono::milliseconds client_timeout)
      : io(io), client_timeout(client_timeout) {}

  asio::io_context& io;
  const std::chrono::milliseconds client_timeout;
  ssl::context tls = ClientTlsContext();
  Pool<PlainStream> plain_pool;
  Pool<TlsStream> tls_pool;

  asio::awaitable<std::unique_ptr<PlainStream>> Connect(const Url& target,
                                                        std::chrono::milliseconds timeout,
                                                        PlainStream*);
  asio::awaitable<std::unique_ptr<TlsStream>> Connect(const Url& target,
                                                      std::chrono::milliseconds timeout,
                                                      TlsStream*);
  template <class Upstream, class Client>
  asio::awaitable<bool> ForwardVia(Pool<Upstream>& pool, const Url& target, Client& client,
                                   UpstreamRequest& request, Relay& relay, bool keep_alive);
  template <class Upstream, class Client>
  asio::awaitable<bool> RelayStream(Pool<Upstream>& pool, const Url& target, Client& client,
                                    std::unique_ptr<Upstream>& conn, beast::flat_buffer& buffer,
                                    bhttp::response_parser<bhttp::buffer_body>& parser,
                                    const UpstreamRequest& request, Relay& relay, int status,
                                    const Headers& upstream_headers, bool keep_alive,
                                    const ClientWatch& watch);
};

asio::awaitable<std::unique_ptr<PlainStream>> UpstreamClient::Impl::Connect(
    const Url& target, std::chrono::milliseconds timeout, PlainStream*) {
  tcp::resolver resolver(io);
  auto endpoints = co_await resolver.async_resolve(target.host, target.port, asio::use_awaitable);
  auto stream = std::make_unique<PlainStream>(io);
  stream->expires_after(timeout);
  co_await stream->async_connect(endpoints, asio::use_awaitable);
  stream->socket().set_option(tcp::no_delay(true));
  co_return stream;
}

asio::awaitable<std::unique_ptr<TlsStream>> UpstreamClient::Impl::Connect(
    const Url& target, std::chrono::milliseconds timeout, TlsStream*) {
  tcp::resolver resolver(io);
  auto endpoints = co_await resolver.async_resolve(target.host, target.port, asio::use_awaitable);
  auto stream = std::make_unique<TlsStream>(io, tls);
  if (const error_code ec = VerifyPeerAs(*stream, target.host)) {
    throw beast::system_error(ec);
  }
  Lowest(*stream).expires_after(timeout);
  co_await Lowest(*stream).async_connect(endpoints, asio::use_awaitable);
  Lowest(*stream).socket().set_option(tcp::no_delay(true));
  co_await stream->async_handshake(ssl::stream_base::client, asio::use_awaitable);
  co_return stream;
}

template <class Client>
asio::awaitable<bool> UpstreamClient::Forward(Client& client, UpstreamRequest& request,
                                              Relay& relay, bool keep_alive) {
  Impl& u = *impl_;
  base::StatusOr<Url> target = ParseUrl(request.url);
  if (!target.ok()) {
    Reply reply = relay.OnFailure(502, target.status().message());
    const bool sent = co_await WriteReply(client, reply, keep_alive, u.client_timeout);
    relay.OnDone({reply.status, reply.body.size(), sent, target.status().message()});
    co_return sent&& keep_alive;
  }
  if (target->tls) {
    co_return co_await u.ForwardVia(u.tls_pool, *target, client, request, relay, keep_alive);
  }
  co_return co_await u.ForwardVia(u.plain_pool, *target, client, request, relay, keep_alive);
}

// Returns whether the client connection stays open.
template <class Upstream, class Client>
asio::awaitable<bool> UpstreamClient::Impl::ForwardVia(Pool<Upstream>& pool, const Url& target,
                                                       Client& client, UpstreamRequest& request,
                                                       Relay& relay, bool keep_alive) {
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, target.path, 11};
  SetHeaders(req, request.headers);
  req.set(bhttp::field::host, target.host);
  req.keep_alive(true);
  req.body() = std::move(request.body);
  req.prepare_payload();

  ClientWatchGuard<Client> watch(client);
  auto fail = [&](int status, const std::string& what) -> asio::awaitable<bool> {
    const std::string why = watch->client_gone ? "the client went away before the answer" : what;
    Reply reply = relay.OnFailure(status, why);
    const bool sent =
        !watch->client_gone && co_await WriteReply(client, reply, keep_alive, client_timeout);
    relay.OnDone(
        {watch->client_gone ? 499 : reply.status, sent ? reply.body.size() : 0, sent, why});
    co_return sent&& keep_alive;
  };

  std::unique_ptr<Upstream> conn;
  watch->cancel_upstream = [&conn] {
    if (conn) {
      error_code ignored;
      Lowest(*conn).socket().cancel(ignored);
    }
  };
  beast::flat_buffer buffer;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser;
  for (int attempt = 0;; ++attempt) {
    conn = pool.Take(target.origin());
    const bool reused = conn != nullptr;
    error_code ec;
    if (!reused) {
      try {
        conn = co_await Connect(target, request.connect_timeout, static_cast<Upstream*>(nullptr));
      } catch (const boost::system::system_error& e) {
        ec = e.code();
      }
      if (ec) {
        const std::string what = "cannot connect to " + target.origin() + ": " + ec.message();
        co_return co_await fail(IsTimeout(ec) ? 504 : 502, what);
      }
    }
    Lowest(*conn).expires_after(request.first_byte_timeout);
    co_await bhttp::async_write(*conn, req, asio::redirect_error(asio::use_awaitable, ec));
    buffer.clear();
    parser.emplace();
    parser->body_limit(boost::none);
    if (!ec) {
      co_await bhttp::async_read_header(*conn, buffer, *parser,
                                        asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!ec) {
      break;
    }
    // A pooled connection the upstream had closed (it ends or resets before
    // any answer): try once on a new one. Never for a client that left.
    const bool stale = ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
                       ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
    if (reused && attempt == 0 && stale && !watch->client_gone) {
      continue;
    }
    const std::string what = IsTimeout(ec) ? target.origin() + " did not answer in time"
                                           : target.origin() + ": " + ec.message();
    co_return co_await fail(IsTimeout(ec) ? 504 : 502, what);
  }

  const int status = static_cast<int>(parser->get().result_int());
  const Headers upstream_headers = HeadersOf(parser->get());
  const bool streaming = parser->get()[bhttp::field::content_type].starts_with("text/event-stream");
  error_code ec;
  if (!streaming) {
    bhttp::response_parser<bhttp::string_body> whole{std::move(*parser)};
    whole.body_limit(request.max_response_bytes);
    Lowest(*conn).expires_after(request.idle_timeout);
    co_await bhttp::async_read(*conn, buffer, whole, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      const std::string what = target.origin() + ": the response broke off: " + ec.message();
      co_return co_await fail(IsTimeout(ec) ? 504 : 502, what);
    }
    if (whole.keep_alive()) {
      pool.Put(target.origin(), std::move(conn));
    }
    Reply reply = relay.OnResponse(status, upstream_headers, std::move(whole.get().body()));
    const bool sent = co_await WriteReply(client, reply, keep_alive, client_timeout);
    relay.OnDone({reply.status, reply.body.size(), sent, sent ? "" : "the client went away"});
    co_return sent&& keep_alive;
  }

  co_return co_await RelayStream(pool, target, client, conn, buffer, *parser, request, relay,
                                 status, upstream_headers, keep_alive, *watch);
}

// The streamed half of ForwardVia, in a coroutine of its own: its relay
// buffer would otherwise make every forward's frame 16 KiB larger.
template <class Upstream, class Client>
asio::awaitable<bool> UpstreamClient::Impl::RelayStream(
    Pool<Upstream>& pool, const Url& target, Client& client, std::unique_ptr<Upstream>& conn,
    beast::flat_buffer& buffer, bhttp::response_parser<bhttp::buffer_body>& parser,
    const UpstreamRequest& request, Relay& relay, int status, const Headers& upstream_headers,
    bool keep_alive, const ClientWatch& watch) {
  error_code ec;
  const Reply head = relay.OnStreamStart(status, upstream_headers);
  RelayEnd end{head.status, 0, false, {}};
  bool client_ok = co_await WriteChunkedHead(client, head, keep_alive, client_timeout);
  bool clean = false;
  std::string upstream_error;
  char chunk[16 << 10];
  auto send = [&](const std::string& bytes) -> asio::awaitable<void> {
    if (bytes.empty() || !client_ok) {
      co_return;
    }
    Lowest(client).expires_after(client_timeout);
    error_code wec;
    co_await asio::async_write(client, bhttp::make_chunk(asio::buffer(bytes)),
                               asio::redirect_error(asio::use_awaitable, wec));
    client_ok = !wec;
    end.bytes += client_ok ? bytes.size() : 0;
  };
  while (client_ok) {
    if (parser.is_done()) {
      clean = true;
      break;
    }
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof(chunk);
    Lowest(*conn).expires_after(request.idle_timeout);
    co_await bhttp::async_read_some(*conn, buffer, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
    if (ec) {
      upstream_error = IsTimeout(ec) ? "the upstream stream stalled" : ec.message();
      break;
    }
    const std::size_t n = sizeof(chunk) - parser.get().body().size;
    if (n > 0) {
      const std::string out = relay.OnStreamData(std::string_view(chunk, n));
      co_await send(out);
    }
  }
  const std::string tail = relay.OnStreamEnd(clean);
  co_await send(tail);
  if (clean && client_ok) {
    Lowest(client).expires_after(client_timeout);
    co_await asio::async_write(client, bhttp::make_chunk_last(),
                               asio::redirect_error(asio::use_awaitable, ec));
    client_ok = !ec;
  }
  if (clean && parser.keep_alive()) {
    pool.Put(target.origin(), std::move(conn));
  }
  end.complete = clean && client_ok;
  if (watch.client_gone) {
    client_ok = false;
  }
  end.error = !client_ok ? "the client went away" : upstream_error;
  relay.OnDone(end);
  co_return end.complete&& keep_alive;
}

UpstreamClient::UpstreamClient(asio::io_context& io, std::chrono::milliseconds client_timeout)
    : impl_(std::make_unique<Impl>(io, client_timeout)) {}

UpstreamClient::~UpstreamClient() = default;

void UpstreamClient::CloseIdle() {
  impl_->plain_pool.Clear();
  impl_->tls_pool.Clear();
}

template asio::awaitable<bool> UpstreamClient::Forward(PlainStream&, UpstreamRequest&, Relay&,
                                                       bool);
template asio::awaitable<bool> UpstreamClient::Forward(TlsStream&, UpstreamRequest&, Relay&, bool);

}  // namespace firebreak::http
