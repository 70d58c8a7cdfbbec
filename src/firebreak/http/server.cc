#include "firebreak/http/server.h"

#include <strings.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cerrno>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "firebreak/http/framing.h"
#include "firebreak/http/resources.h"
#include "firebreak/http/stream_io.h"
#include "firebreak/http/upstream_client.h"

namespace firebreak::http {

std::string_view FindHeader(const Headers& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (h.name.size() == name.size() &&
        ::strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
      return h.value;
    }
  }
  return {};
}

namespace {

using Strand = asio::strand<asio::io_context::executor_type>;

Reply DefaultErrorReply(std::string_view, int status, std::string_view message) {
  std::string body = "{\"error\":{\"message\":\"";
  for (char c : message) {
    if (c == '"' || c == '\\') {
      body.push_back('\\');
    }
    body.push_back(c);
  }
  body += "\"}}";
  return {status, {{"content-type", "application/json"}}, std::move(body)};
}

// Answer state shared by the session (which waits for it) and the Exchange
// handle the handler holds (which fills it). Filled on the session's strand.
struct Answer {
  explicit Answer(Strand strand) : strand(strand), ready(strand) {
    ready.expires_at(asio::steady_timer::time_point::max());
  }
  Strand strand;
  asio::steady_timer ready;
  std::optional<Reply> reply;
  std::optional<UpstreamRequest> forward;
  std::unique_ptr<Relay> relay;
  std::optional<Reply> stream_head;
  std::shared_ptr<StreamSource> source;
};

class ExchangeHandle : public Exchange {
 public:
  explicit ExchangeHandle(std::shared_ptr<Answer> answer) : answer_(std::move(answer)) {}
  ~ExchangeHandle() override {
    Respond(DefaultErrorReply("", 500, "internal error: the request was not answered"));
  }
  void Respond(Reply reply) override {
    if (answered_.exchange(true)) {
      return;
    }
    asio::post(answer_->strand, [a = answer_, r = std::move(reply)]() mutable {
      a->reply = std::move(r);
      a->ready.cancel();
    });
  }
  void RespondWith(std::function<Reply()> build) override {
    if (answered_.exchange(true)) {
      return;
    }
    asio::post(answer_->strand, [a = answer_, b = std::move(build)] {
      a->reply = b();
      a->ready.cancel();
    });
  }
  void Stream(Reply head, std::shared_ptr<StreamSource> source) override {
    if (answered_.exchange(true)) {
      return;
    }
    asio::post(answer_->strand,
               [a = answer_, h = std::move(head), s = std::move(source)]() mutable {
                 a->stream_head = std::move(h);
                 a->source = std::move(s);
                 a->ready.cancel();
               });
  }
  void Forward(UpstreamRequest request, std::unique_ptr<Relay> relay) override {
    if (answered_.exchange(true)) {
      return;
    }
    asio::post(answer_->strand,
               [a = answer_, q = std::move(request), r = std::move(relay)]() mutable {
                 a->forward = std::move(q);
                 a->relay = std::move(r);
                 a->ready.cancel();
               });
  }

 private:
  std::shared_ptr<Answer> answer_;
  std::atomic<bool> answered_{false};
};

bool OutOfDescriptors(const error_code& ec) {
  return ec.category() == boost::system::system_category() &&
         (ec.value() == EMFILE || ec.value() == ENFILE);
}

std::int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

using RequestParser = bhttp::request_parser<bhttp::string_body>;

// Bytes read from a client at a time while a request arrives.
constexpr std::size_t kReadSize = 8192;

// Body bytes reserved in the budget for one exchange; released with it.
class BodyCharge {
 public:
  explicit BodyCharge(BodyBudget& budget) : budget_(budget) {}
  ~BodyCharge() { budget_.Release(bytes_); }
  BodyCharge(const BodyCharge&) = delete;
  BodyCharge& operator=(const BodyCharge&) = delete;
  bool Add(std::size_t bytes) {
    if (!budget_.Reserve(bytes)) {
      return false;
    }
    bytes_ += bytes;
    return true;
  }

 private:
  BodyBudget& budget_;
  std::size_t bytes_ = 0;
};

}  // namespace

// One client connection, as the registry sees it: idle or in an exchange.
struct Connection {
  std::atomic<bool> idle{true};
  std::atomic<std::int64_t> idle_since{SteadyNanos()};
  std::atomic<bool> closing{false};  // chosen to make room (CloseIdle)
  std::function<void()> close;       // run on the connection's strand
  bool evicted = false;              // closed while idle to make room; on the strand
  bool one_shot = false;             // accepted out of descriptors: closes after one exchange
  Strand strand;
  explicit Connection(Strand s) : strand(s) {}
};

struct Server::Impl {
  ServerOptions options;
  // Before `io`: the coroutine frames it destroys release their charges.
  std::optional<BodyBudget> body_budget;
  ReserveDescriptor reserve;
  std::size_t max_connections = 0;  // in force
  std::atomic<std::uint64_t> accept_failures{0};
  std::atomic<std::uint64_t> idle_closed{0};
  std::atomic<std::uint64_t> budget_refusals{0};
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{io};
  std::optional<ssl::context> server_tls;
  std::vector<std::thread> threads;
  std::string address;
  std::uint16_t port = 0;

  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> busy{0};
  std::mutex registry_mu;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> registry;
  std::uint64_t next_id = 0;
  bool shut_down = false;

  std::optional<UpstreamClient> upstream;  // after `io`, which its connections use

  asio::awaitable<void> Accept();
  // Closes up to `count` connections idle for the longest, and for at least
  // 100 ms (on their strands); returns how many were asked to close.
  std::size_t CloseIdle(std::size_t count);
  template <class Stream>
  asio::awaitable<void> ReadHead(Stream& stream, beast::flat_buffer& buffer, RequestParser& parser,
                                 HeadRefusal& refusal, error_code& ec);
  template <class Stream>
  asio::awaitable<void> ReadChunkedBody(Stream& stream, beast::flat_buffer& buffer,
                                        RequestParser& parser, BodyCharge& charge,
                                        bool& over_budget, bool& bare_lf, error_code& ec);
  template <class Stream>
  asio::awaitable<void> Serve(Stream stream, std::shared_ptr<Connection> connection);
  template <class Stream>
  asio::awaitable<void> WriteStream(Stream& client, const Reply& head, StreamSource& source,
                                    Strand strand);
  template <class Stream>
  asio::awaitable<void> RefuseAndLinger(Stream& stream, const Reply& reply);

  Reply ErrorReplyFor(std::string_view target, int status, std::string_view message) {
    return options.error_reply ? options.error_reply(target, status, message)
                               : DefaultErrorReply(target, status, message);
  }
};

// Answers an error and closes gently: the rest of what the client is sending
// is read and dropped for a moment, so that it sees the answer rather than a
// connection reset.
template <class Stream>
asio::awaitable<void> Server::Impl::RefuseAndLinger(Stream& stream, const Reply& reply) {
  if (!co_await WriteReply(stream, reply, false, options.idle_timeout)) {
    co_return;
  }
  error_code ec;
  Lowest(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
  Lowest(stream).expires_after(std::chrono::seconds(1));
  std::vector<char> sink(64 << 10);
  std::size_t drained = 0;
  while (!ec && drained < options.max_body_bytes + (1 << 20)) {
    drained += co_await Lowest(stream).async_read_some(
        asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
  }
}

// The state a StreamSource's waker shares with the writing coroutine: the
// waker may outlive the coroutine, so it holds this, not the coroutine.
struct StreamWake {
  explicit StreamWake(Strand strand) : timer(strand) {}
  asio::steady_timer timer;
  bool pending = false;  // woken while not waiting; on the strand
};

template <class Stream>
asio::awaitable<void> Server::Impl::WriteStream(Stream& client, const Reply& head,
                                                StreamSource& source, Strand strand) {
  error_code ec;
  if (!co_await WriteChunkedHead(client, head, false, options.idle_timeout)) {
    co_return;
  }
  auto wake = std::make_shared<StreamWake>(strand);
  source.Attach([wake, strand] {
    asio::post(strand, [wake] {
      wake->pending = true;
      wake->timer.cancel();
    });
  });
  ClientWatchGuard<Stream> watch(client);
  watch->cancel_upstream = [wake] { wake->timer.cancel(); };
  bool finished = false;
  while (!ec && !finished && !stopping && !watch->client_gone) {
    wake->pending = false;
    const std::string bytes = source.Take(finished);
    if (!bytes.empty()) {
      Lowest(client).expires_after(options.idle_timeout);
      co_await asio::async_write(client, bhttp::make_chunk(asio::buffer(bytes)),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec || finished || wake->pending) {
      continue;
    }
    wake->timer.expires_after(std::chrono::seconds(1));
    error_code ignored;
    co_await wake->timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  source.Detach();
  if (!ec && !watch->client_gone) {
    Lowest(client).expires_after(std::chrono::seconds(1));
    co_await asio::async_write(client, bhttp::make_chunk_last(),
                               asio::redirect_error(asio::use_awaitable, ec));
  }
}

// Reads a request head into `parser`, refusing (in `refusal`) what
// framing.h refuses before Beast sees it: a bare LF is refused as soon as it
// arrives, the rest once the head is complete.
template <class Stream>
asio::awaitable<void> Server::Impl::ReadHead(Stream& stream, beast::flat_buffer& buffer,
                                             RequestParser& parser, HeadRefusal& refusal,
                                             error_code& ec) {
  std::size_t scanned = 0;
  while (true) {
    const std::string_view bytes(static_cast<const char*>(buffer.data().data()), buffer.size());
    const HeadEnd end = FindHeadEnd(bytes, scanned);
    if (end.bare_lf) {
      refusal = {400, "malformed HTTP request: a line of the request head ends in LF without CR"};
      co_return;
    }
    if (end.size > 0) {
      refusal = CheckHead(bytes.substr(0, end.size));
      if (refusal.status != 0) {
        co_return;
      }
      // Exactly the head: the parser (not eager) stops after it.
      const std::size_t used = parser.put(asio::buffer(bytes.data(), end.size), ec);
      buffer.consume(used);
      if (!ec && !parser.is_header_done()) {
        ec = bhttp::error::partial_message;
      }
      co_return;
    }
    scanned = bytes.size();
    if (bytes.size() >= options.max_header_bytes) {
      ec = bhttp::error::header_limit;
      co_return;
    }
    const std::size_t n = co_await stream.async_read_some(
        buffer.prepare(kReadSize), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::eof && buffer.size() > 0) {
        ec = bhttp::error::partial_message;
      }
      co_return;
    }
    buffer.commit(n);
  }
}

// Reads a chunked body: each chunk is reserved in the body budget before
// its bytes are read (`over_budget` when it does not fit), and the framing
// the parser waits on is checked as it arrives, so that a chunk line or
// trailer section ending in a bare LF is refused at once (`bare_lf`) rather
// than waited on until the read deadline.
template <class Stream>
asio::awaitable<void> Server::Impl::ReadChunkedBody(Stream& stream, beast::flat_buffer& buffer,
                                                    RequestParser& parser, BodyCharge& charge,
                                                    bool& over_budget, bool& bare_lf,
                                                    error_code& ec) {
  auto on_chunk = [&](std::uint64_t size, beast::string_view, error_code& chunk_ec) {
    if (!charge.Add(static_cast<std::size_t>(size))) {
      over_budget = true;
      chunk_ec = boost::system::errc::make_error_code(boost::system::errc::not_enough_memory);
    }
  };
  parser.on_chunk_header(on_chunk);
  parser.eager(true);
  while (!parser.is_done()) {
    if (buffer.size() > 0) {
      const std::size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == bhttp::error::need_more) {
        ec = {};
      }
      if (ec || parser.is_done()) {
        break;
      }
      // Unconsumed bytes are a chunk line or the trailer section, waiting
      // for their end.
      const std::string_view pending(static_cast<const char*>(buffer.data().data()), buffer.size());
      if (HasBareLf(pending)) {
        bare_lf = true;
        break;
      }
      if (pending.size() > options.max_header_bytes) {
        ec = bhttp::error::bad_chunk;
        break;
      }
    }
    const std::size_t n = co_await stream.async_read_some(
        buffer.prepare(kReadSize), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::eof) {
        ec = bhttp::error::partial_message;
      }
      break;
    }
    buffer.commit(n);
  }
  // (The parser keeps a pointer to on_chunk; it parses nothing more.)
}

template <class Stream>
asio::awaitable<void> Server::Impl::Serve(Stream stream, std::shared_ptr<Connection> connection) {
  error_code ec;
  connection->close = [&stream] {
    error_code ignored;
    Lowest(stream).socket().close(ignored);
  };
  beast::flat_buffer buffer;
  asio::steady_timer read_deadline(connection->strand);
  std::uint64_t read_generation = 0;
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    Lowest(stream).expires_after(options.read_timeout);
    co_await stream.async_handshake(ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, ec));
  }
  while (!ec && !stopping) {
    if (buffer.size() == 0) {
      // Waiting for the next request: idle until its first byte.
      Lowest(stream).expires_after(options.idle_timeout);
      const std::size_t n = co_await stream.async_read_some(
          buffer.prepare(kReadSize), asio::redirect_error(asio::use_awaitable, ec));
      if (ec || connection->evicted) {
        break;
      }
      buffer.commit(n);
    }
    connection->idle = false;
    ++busy;
    // The request must arrive within read_timeout. The deadline cancels the
    // read rather than closing the socket (as the stream's own expiry
    // would), so that the client is told 408.
    Lowest(stream).expires_never();
    const std::uint64_t generation = ++read_generation;
    bool timed_out = false;
    read_deadline.expires_after(options.read_timeout);
    read_deadline.async_wait([&, generation](error_code e) {
      if (!e && generation == read_generation) {
        timed_out = true;
        error_code ignored;
        Lowest(stream).socket().cancel(ignored);
      }
    });
    RequestParser parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    HeadRefusal head_refusal;
    BodyCharge charge(*body_budget);
    bool over_budget = false;
    bool bare_lf = false;
    co_await ReadHead(stream, buffer, parser, head_refusal, ec);
    if (!ec && head_refusal.status == 0) {
      if (const auto length = parser.content_length(); length && !charge.Add(*length)) {
        over_budget = true;
      }
    }
    const bool refused = head_refusal.status != 0 || over_budget;
    if (!ec && !refused && parser.get()[bhttp::field::expect] == "100-continue") {
      bhttp::response<bhttp::empty_body> proceed{bhttp::status::continue_, 11};
      co_await bhttp::async_write(stream, proceed, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!ec && !refused && !parser.is_done()) {
      if (parser.chunked()) {
        co_await ReadChunkedBody(stream, buffer, parser, charge, over_budget, bare_lf, ec);
      } else {
        co_await bhttp::async_read(stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
      }
    }
    ++read_generation;
    read_deadline.cancel();
    if (timed_out) {
      ec = beast::error::timeout;
    }
    if (ec || head_refusal.status != 0 || over_budget || bare_lf) {
      const std::string target =
          parser.is_header_done() ? std::string(parser.get().target()) : head_refusal.target;
      // (Temporaries stay out of co_await expressions: g++ 12 destroys
      // some of them twice.)
      std::optional<Reply> refusal;
      bool linger = true;
      if (head_refusal.status != 0) {
        refusal = ErrorReplyFor(target, head_refusal.status, head_refusal.message);
      } else if (over_budget) {
        ++budget_refusals;
        refusal = ErrorReplyFor(target, 503,
                                "the server is busy: request bodies in flight would pass its "
                                "memory budget (server.max_body_bytes_in_flight, " +
                                    std::to_string(body_budget->limit()) + " bytes); retry later");
        refusal->headers.push_back({"retry-after", "1"});
      } else if (bare_lf) {
        refusal = ErrorReplyFor(target, 400,
                                "malformed chunked body: a chunk line or the trailer section "
                                "ends in LF without CR");
      } else if (ec == bhttp::error::body_limit) {
        refusal = ErrorReplyFor(target, 413,
                                "the request body is larger than the limit of " +
                                    std::to_string(options.max_body_bytes) + " bytes");
      } else if (ec == bhttp::error::header_limit) {
        refusal = ErrorReplyFor(target, 431,
                                "the request headers are larger than the limit of " +
                                    std::to_string(options.max_header_bytes) + " bytes");
      } else if (IsTimeout(ec)) {
        refusal = ErrorReplyFor(target, 408, "the request was not received in time");
        linger = false;
      } else if (ec != bhttp::error::end_of_stream && ec != asio::error::eof &&
                 ec != asio::error::connection_reset) {
        refusal = ErrorReplyFor(target, 400, "malformed HTTP request: " + ec.message());
      }
      if (refusal && linger) {
        co_await RefuseAndLinger(stream, *refusal);
      } else if (refusal) {
        co_await WriteReply(stream, *refusal, false, options.idle_timeout);
      }
      --busy;
      break;
    }
    bhttp::request<bhttp::string_body> message = parser.release();
    bool keep_alive = message.keep_alive() && !stopping && !connection->one_shot;
    auto answer = std::make_shared<Answer>(connection->strand);
    {
      ServerRequest request{std::string(message.method_string()),
                            std::string(message.target()),
                            HeadersOf(message),
                            std::move(message.body()),
                            {}};
      error_code ignored;
      const auto peer = Lowest(stream).socket().remote_endpoint(ignored);
      request.remote = ignored ? std::string() : peer.address().to_string();
      options.handler(std::move(request), std::make_shared<ExchangeHandle>(answer));
    }
    while (!answer->reply && !answer->forward && !answer->source) {
      co_await answer->ready.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    ec = {};
    if (answer->reply) {
      keep_alive = co_await WriteReply(stream, *answer->reply, keep_alive, options.idle_timeout) &&
                   keep_alive;
    } else if (answer->source) {
      co_await WriteStream(stream, *answer->stream_head, *answer->source, connection->strand);
      keep_alive = false;
    } else {
      keep_alive = co_await upstream->Forward(stream, *answer->forward, *answer->relay, keep_alive);
    }
    --busy;
    connection->idle_since = SteadyNanos();
    connection->idle = true;
    if (!keep_alive) {
      break;
    }
  }
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    Lowest(stream).expires_after(std::chrono::seconds(1));
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  }
  Lowest(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
  connection->close = nullptr;
}

std::size_t Server::Impl::CloseIdle(std::size_t count) {
  // A connection just accepted, or just answered, gets a moment to send its
  // request before it counts as idle.
  constexpr std::int64_t kGraceNanos = 100'000'000;
  const std::int64_t idle_before = SteadyNanos() - kGraceNanos;
  std::vector<std::pair<std::int64_t, std::shared_ptr<Connection>>> idle;
  {
    std::lock_guard lock(registry_mu);
    for (auto& [id, weak] : registry) {
      if (std::shared_ptr<Connection> c = weak.lock();
          c && c->idle && !c->closing && c->idle_since.load() < idle_before) {
        idle.emplace_back(c->idle_since.load(), std::move(c));
      }
    }
  }
  count = std::min(count, idle.size());
  std::partial_sort(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(count), idle.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  std::size_t chosen = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (idle[i].second->closing.exchange(true)) {
      continue;  // chosen by another call meanwhile
    }
    ++chosen;
    const Strand strand = idle[i].second->strand;
    asio::post(strand, [this, c = std::move(idle[i].second)] {
      // Still idle: it has not begun a request since it was chosen.
      if (c->idle && c->close && !c->evicted) {
        c->evicted = true;
        ++idle_closed;
        c->close();
      } else {
        c->closing = false;
      }
    });
  }
  return chosen;
}

// Accepts clients. Out of file descriptors (EMFILE, ENFILE), it closes the
// connections idle the longest and spends the reserved descriptor on the
// client waiting (that connection closes after one exchange); with no
// reserve left it waits, longer each time up to a second, instead of
// retrying at once (the listening socket stays readable: retrying would
// spin).
asio::awaitable<void> Server::Impl::Accept() {
  using std::chrono::milliseconds;
  constexpr std::size_t kCloseWhenOut = 32;
  milliseconds pause{0};
  asio::steady_timer pause_timer(io);
  while (true) {
    error_code ec;
    Strand strand = asio::make_strand(io);
    tcp::socket socket(strand);
    co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
      co_return;
    }
    if (ec) {
      ++accept_failures;
      const bool out = OutOfDescriptors(ec);
      if (out) {
        CloseIdle(kCloseWhenOut);
        upstream->CloseIdle();
        if (reserve.Release()) {
          continue;  // the client waiting takes the reserved descriptor
        }
      }
      if (ec == asio::error::connection_aborted || ec == asio::error::connection_reset ||
          ec == asio::error::interrupted || ec == asio::error::try_again) {
        continue;  // that client is gone; the next may be there
      }
      pause = std::clamp(pause * 2, milliseconds(10), milliseconds(1000));
      pause_timer.expires_after(pause);
      co_await pause_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    pause = milliseconds(0);
    // Without a descriptor in reserve, this client is served once and let go.
    const bool one_shot = !reserve.Acquire();
    socket.set_option(tcp::no_delay(true), ec);
    if (connections >= max_connections && CloseIdle(1) == 0) {
      asio::co_spawn(
          strand,
          [this, s = std::move(socket)]() mutable -> asio::awaitable<void> {
            PlainStream stream(std::move(s));
            const Reply busy_reply =
                ErrorReplyFor("", 503, "too many connections; try again later");
            co_await WriteReply(stream, busy_reply, false, options.idle_timeout);
          },
          asio::detached);
      continue;
    }
    auto connection = std::make_shared<Connection>(strand);
    connection->one_shot = one_shot;
    std::uint64_t id;
    {
      std::lock_guard lock(registry_mu);
      id = next_id++;
      registry[id] = connection;
    }
    ++connections;
    auto done = [this, id](std::exception_ptr) {
      std::lock_guard lock(registry_mu);
      registry.erase(id);
      --connections;
    };
    if (server_tls) {
      asio::co_spawn(strand, Serve(TlsStream(std::move(socket), *server_tls), connection), done);
    } else {
      asio::co_spawn(strand, Serve(PlainStream(std::move(socket)), connection), done);
    }
  }
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(std::chrono::milliseconds(0)); }

std::uint16_t Server::port() const { return impl_->port; }
const std::string& Server::address() const { return impl_->address; }
std::size_t Server::connections() const { return impl_->connections; }
std::size_t Server::max_connections() const { return impl_->max_connections; }

ServerStats Server::Stats() const {
  Impl& s = *impl_;
  return {.connections = s.connections,
          .max_connections = s.max_connections,
          .accept_failures = s.accept_failures,
          .idle_closed = s.idle_closed,
          // Only the accept loop takes the reserve back (at the next
          // client): taking it here could take the descriptor it just
          // released for a client waiting.
          .descriptors_exhausted = !s.reserve.held(),
          .body_bytes_in_flight = s.body_budget->in_flight(),
          .max_body_bytes_in_flight = s.body_budget->limit(),
          .body_budget_refusals = s.budget_refusals};
}

base::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const ServerOptions& o = impl->options;
  if (!o.handler) {
    return base::InvalidArgument("server: no handler");
  }
  impl->body_budget.emplace(o.max_body_bytes_in_flight);
  impl->max_connections =
      std::min(o.max_connections, ConnectionsFor(CurrentDescriptorLimit().soft, OpenDescriptors()));
  impl->upstream.emplace(impl->io, o.idle_timeout);
  if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
    impl->server_tls.emplace(ssl::context::tls_server);
    error_code ec;
    impl->server_tls->use_certificate_chain_file(o.tls_cert_file, ec);
    if (!ec) {
      impl->server_tls->use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
    }
    if (ec) {
      return base::InvalidArgument("TLS: cannot load certificate " + o.tls_cert_file + " and key " +
                                   o.tls_key_file + ": " + ec.message());
    }
  }
  error_code ec;
  const auto address = asio::ip::make_address(o.address, ec);
  if (ec) {
    return base::InvalidArgument("invalid listen address '" + o.address + "'");
  }
  const tcp::endpoint endpoint(address, o.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    impl->acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return base::Status(
        base::StatusCode::kUnavailable,
        "cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " + ec.message());
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->address = impl->acceptor.local_endpoint().address().to_string();
  impl->work.emplace(impl->io.get_executor());
  asio::co_spawn(impl->io, impl->Accept(), asio::detached);
  const unsigned threads =
      o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) {
    impl->threads.emplace_back([io = &impl->io] { io->run(); });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::size_t Server::Shutdown(std::chrono::milliseconds drain) {
  Impl& s = *impl_;
  if (s.shut_down) {
    return 0;
  }
  s.shut_down = true;
  s.stopping = true;
  asio::post(s.io, [&s] {
    error_code ignored;
    s.acceptor.close(ignored);
  });
  auto close_where = [&s](bool only_idle) {
    std::lock_guard lock(s.registry_mu);
    for (auto& [id, weak] : s.registry) {
      if (std::shared_ptr<Connection> c = weak.lock(); c && (!only_idle || c->idle)) {
        asio::post(c->strand, [c] {
          if (c->close) {
            c->close();
          }
        });
      }
    }
  };
  close_where(true);
  const auto deadline = std::chrono::steady_clock::now() + drain;
  while (s.busy > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const std::size_t cut = s.busy;
  close_where(false);
  s.work.reset();
  const auto wait_until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (s.connections > 0 && std::chrono::steady_clock::now() < wait_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  s.io.stop();
  for (std::thread& t : s.threads) {
    t.join();
  }
  s.upstream->CloseIdle();
  return cut;
}

}  // namespace firebreak::http
