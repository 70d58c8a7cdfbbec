#include "firebreak/http/upstream_client.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "firebreak/http/raw_client.h"

namespace firebreak::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Every wait in these tests is an upper bound that only a hang reaches.
constexpr milliseconds kHang{10'000};

// A loopback socket bound to a free port, listening or not (a port that
// refuses connections).
class BoundSocket {
 public:
  explicit BoundSocket(bool listen) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), size);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    if (listen) {
      ::listen(fd_, 16);
    }
  }
  ~BoundSocket() { ::close(fd_); }
  BoundSocket(const BoundSocket&) = delete;
  BoundSocket& operator=(const BoundSocket&) = delete;
  int fd() const { return fd_; }
  std::uint16_t port() const { return port_; }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

// A local upstream that speaks raw HTTP/1.1, so that each test decides what
// it answers, when, and whether the connection stays: for each request (its
// body) `answer` writes to the connection and returns whether to keep it.
class ScriptedUpstream {
 public:
  using Answer = std::function<bool(int fd, const std::string& body)>;

  explicit ScriptedUpstream(Answer answer)
      : listener_(true), answer_(std::move(answer)), accepting_([this] { AcceptLoop(); }) {}
  ~ScriptedUpstream() {
    stopping_ = true;
    accepting_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : open_) {
        ::shutdown(fd, SHUT_RDWR);
      }
    }
    for (std::thread& t : serving_) {
      t.join();
    }
  }

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(listener_.port()) + std::string(path);
  }
  int accepted() const { return accepted_; }
  int closed() const { return closed_; }
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mu_);
    return bodies_;
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      pollfd p{listener_.fd(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) {
        continue;
      }
      const int fd = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        continue;
      }
      ++accepted_;
      std::lock_guard lock(mu_);
      open_.push_back(fd);
      serving_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    while (true) {
      // The upstream client sends a request only once the one before is
      // answered: what arrives is one request.
      std::string in;
      if (!ReadUntil(fd, in, HoldsWholeMessage, kHang * 3)) {
        break;
      }
      const std::string body = in.substr(in.find("\r\n\r\n") + 4);
      {
        std::lock_guard lock(mu_);
        bodies_.push_back(body);
      }
      if (!answer_(fd, body)) {
        break;
      }
    }
    {
      std::lock_guard lock(mu_);
      std::erase(open_, fd);
    }
    ::close(fd);
    ++closed_;
  }

  BoundSocket listener_;
  Answer answer_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> closed_{0};
  mutable std::mutex mu_;
  std::vector<int> open_;
  std::vector<std::string> bodies_;
  std::vector<std::thread> serving_;
  std::thread accepting_;  // last: it starts once the rest exists
};

// A whole JSON response that keeps the connection open.
bool AnswerJson(int fd, const std::string& json) {
  return SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(json.size()) + "\r\n\r\n" + json);
}

// Records what the upstream client tells it, and passes everything on as is.
class RecordingRelay : public Relay {
 public:
  Reply OnResponse(int status, const Headers&, std::string body) override {
    response_status = status;
    return {status, {{"content-type", "application/json"}}, std::move(body)};
  }
  Reply OnStreamStart(int status, const Headers&) override {
    response_status = status;
    return {status, {{"content-type", "text/event-stream"}}, {}};
  }
  std::string OnStreamData(std::string_view bytes) override {
    std::lock_guard lock(mu_);
    streamed_.append(bytes);
    return std::string(bytes);
  }
  std::string OnStreamEnd(bool clean) override {
    ++stream_ends;
    stream_clean = clean;
    return {};
  }
  Reply OnFailure(int status, std::string_view what) override {
    failure_status = status;
    failure = what;
    return {status, {{"content-type", "text/plain"}}, std::string(what)};
  }
  void OnDone(const RelayEnd& end) override {
    ++done;
    this->end = end;
  }
  std::string streamed() const {
    std::lock_guard lock(mu_);
    return streamed_;
  }

  // Read by the test once the forward is over.
  int response_status = 0;
  int stream_ends = 0;
  bool stream_clean = false;
  int failure_status = 0;
  std::string failure;
  int done = 0;
  RelayEnd end;

 private:
  mutable std::mutex mu_;
  std::string streamed_;
};

// One forward: the client's two ends (the one the upstream client writes to,
// the one the test reads), the request and the relay.
struct Call {
  RawClient client_end;  // the test's
  std::optional<boost::beast::tcp_stream> client;
  UpstreamRequest request;
  RecordingRelay relay;
  std::promise<bool> kept;
  std::future<bool> finished = kept.get_future();
  std::string received;  // what the client was sent, as read so far
};

class UpstreamClientTest : public ::testing::Test {
 protected:
  UpstreamClientTest() {
    client_listener_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client_listener_.listen();
    io_thread_ = std::thread([this] { io_.run(); });
  }
  ~UpstreamClientTest() override {
    work_.reset();
    io_.stop();
    io_thread_.join();
  }

  // Starts forwarding `body` to `url`; the client asked to keep its
  // connection open.
  Call& Forward(const std::string& url, std::string body,
                const std::function<void(UpstreamRequest&)>& adjust = {}) {
    Call& call = *calls_.emplace_back(std::make_unique<Call>());
    EXPECT_TRUE(call.client_end.Connect(client_listener_.local_endpoint().port()));
    call.client.emplace(client_listener_.accept());
    call.request.url = url;
    call.request.headers = {{"content-type", "application/json"}};
    call.request.body = std::move(body);
    if (adjust) {
      adjust(call.request);
    }
    asio::co_spawn(io_, upstream_.Forward(*call.client, call.request, call.relay, true),
                   [&call](std::exception_ptr e, bool kept) {
                     if (e) {
                       call.kept.set_exception(e);
                     } else {
                       call.kept.set_value(kept);
                     }
                   });
    return call;
  }

  // Waits for the forward to end (it must, well before kHang); returns
  // whether the client connection stays open, and reads the client's
  // complete answer into call.received.
  bool Finish(Call& call) {
    if (call.finished.wait_for(kHang) != std::future_status::ready) {
      ADD_FAILURE() << "the forward to " << call.request.url << " did not end";
      return false;
    }
    const bool kept = call.finished.get();
    EXPECT_TRUE(ReadUntil(call.client_end.fd(), call.received, HoldsWholeMessage, kHang))
        << call.received;
    return kept;
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  tcp::acceptor client_listener_{io_, tcp::v4()};
  std::thread io_thread_;
  UpstreamClient upstream_{io_, milliseconds(30'000)};
  std::vector<std::unique_ptr<Call>> calls_;  // destroyed before the client, after io_ stops
};

TEST_F(UpstreamClientTest, ASecondForwardReusesThePooledConnection) {
  std::atomic<int> answered{0};
  ScriptedUpstream upstream([&](int fd, const std::string&) {
    return AnswerJson(fd, "{\"n\":" + std::to_string(++answered) + "}");
  });
  Call& first = Forward(upstream.url("/v1/chat/completions"), "first");
  EXPECT_TRUE(Finish(first));
  EXPECT_EQ(first.relay.response_status, 200);
  EXPECT_THAT(first.received, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(first.received, EndsWith("{\"n\":1}"));
  EXPECT_EQ(first.relay.done, 1);
  EXPECT_TRUE(first.relay.end.complete);

  Call& second = Forward(upstream.url("/v1/chat/completions"), "second");
  EXPECT_TRUE(Finish(second));
  EXPECT_THAT(second.received, EndsWith("{\"n\":2}"));
  EXPECT_EQ(upstream.accepted(), 1) << "the second forward took the idle connection";
  EXPECT_THAT(upstream.bodies(), ElementsAre("first", "second"));
}

TEST_F(UpstreamClientTest, APooledConnectionTheUpstreamClosedIsRetriedOnANewOne) {
  // The first answer keeps the connection open as far as HTTP says, then
  // the upstream closes it (as an upstream's idle timeout does).
  std::atomic<int> answered{0};
  ScriptedUpstream upstream([&](int fd, const std::string& body) {
    AnswerJson(fd, "{\"got\":\"" + body + "\"}");
    return ++answered > 1;
  });
  EXPECT_TRUE(Finish(Forward(upstream.url("/a"), "first")));
  for (const auto until = Clock::now() + kHang; upstream.closed() < 1 && Clock::now() < until;) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(upstream.closed(), 1);

  Call& second = Forward(upstream.url("/a"), "second");
  EXPECT_TRUE(Finish(second));
  EXPECT_EQ(second.relay.failure_status, 0) << second.relay.failure;
  EXPECT_THAT(second.received, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(second.received, EndsWith("{\"got\":\"second\"}")) << "the body was sent again";
  EXPECT_EQ(upstream.accepted(), 2);
}

TEST_F(UpstreamClientTest, ARefusedConnectionIsA502WithoutWaitingForTheDeadline) {
  const BoundSocket refusing(false);  // bound, not listening: connections are refused
  Call& call = Forward("http://127.0.0.1:" + std::to_string(refusing.port()) + "/a", "x",
                       [](UpstreamRequest& r) { r.connect_timeout = kHang * 6; });
  EXPECT_TRUE(Finish(call)) << "the client was answered and stays";
  EXPECT_EQ(call.relay.failure_status, 502);
  EXPECT_THAT(call.relay.failure, HasSubstr("cannot connect to http://127.0.0.1:"));
  EXPECT_THAT(call.received, StartsWith("HTTP/1.1 502 "));
  EXPECT_EQ(call.relay.done, 1);
  EXPECT_EQ(call.relay.end.status, 502);
}

TEST_F(UpstreamClientTest, AnUpstreamThatDoesNotAnswerInTimeIsA504AndItsConnectionIsDropped) {
  // The first request is never answered; later ones are.
  std::atomic<int> requests{0};
  ScriptedUpstream upstream(
      [&](int fd, const std::string&) { return ++requests == 1 || AnswerJson(fd, "{}"); });
  Call& stalled = Forward(upstream.url("/a"), "x",
                          [](UpstreamRequest& r) { r.first_byte_timeout = milliseconds(200); });
  EXPECT_TRUE(Finish(stalled));
  EXPECT_EQ(stalled.relay.failure_status, 504);
  EXPECT_THAT(stalled.relay.failure, HasSubstr("did not answer in time"));
  EXPECT_THAT(stalled.received, StartsWith("HTTP/1.1 504 "));
  EXPECT_EQ(stalled.relay.end.status, 504);

  Call& next = Forward(upstream.url("/a"), "y");
  EXPECT_TRUE(Finish(next));
  EXPECT_EQ(next.relay.response_status, 200);
  EXPECT_EQ(upstream.accepted(), 2) << "the timed-out connection was not pooled";
}

TEST_F(UpstreamClientTest, AStreamIsRelayedPieceByPieceAndItsConnectionReused) {
  // The upstream sends its second event only once the client has the first.
  std::promise<void> first_relayed;
  std::future<void> first_relayed_seen = first_relayed.get_future();
  std::atomic<int> requests{0};
  ScriptedUpstream upstream([&](int fd, const std::string&) {
    if (++requests > 1) {
      return AnswerJson(fd, "{}");
    }
    SendAll(fd,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
            "b\r\ndata: one\n\n\r\n");
    if (first_relayed_seen.wait_for(kHang) != std::future_status::ready) {
      return false;
    }
    return SendAll(fd, "b\r\ndata: two\n\n\r\n0\r\n\r\n");
  });
  Call& call = Forward(upstream.url("/v1/messages"), "{\"stream\":true}");
  std::string seen;
  EXPECT_TRUE(ReadUntil(
      call.client_end.fd(), seen,
      [](const std::string& s) { return s.find("data: one") != std::string::npos; }, kHang))
      << "the first event reached the client before the stream ended: " << seen;
  EXPECT_EQ(call.relay.streamed(), "data: one\n\n");
  first_relayed.set_value();

  call.received = seen;
  EXPECT_TRUE(Finish(call));
  EXPECT_EQ(call.relay.streamed(), "data: one\n\ndata: two\n\n");
  EXPECT_THAT(call.received, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(Lower(call.received), HasSubstr("transfer-encoding: chunked"));
  EXPECT_THAT(call.received, HasSubstr("data: two"));
  EXPECT_EQ(call.relay.stream_ends, 1);
  EXPECT_TRUE(call.relay.stream_clean);
  EXPECT_TRUE(call.relay.end.complete);
  EXPECT_EQ(call.relay.end.bytes, 22u);

  EXPECT_TRUE(Finish(Forward(upstream.url("/v1/messages"), "{}")));
  EXPECT_EQ(upstream.accepted(), 1) << "a stream read to its end leaves its connection pooled";
}

TEST_F(UpstreamClientTest, AStreamThatStallsEndsUncleanAndIsCutOff) {
  ScriptedUpstream upstream([&](int fd, const std::string&) {
    SendAll(fd,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
            "b\r\ndata: one\n\n\r\n");
    return true;  // and nothing more
  });
  Call& call = Forward(upstream.url("/v1/messages"), "{}",
                       [](UpstreamRequest& r) { r.idle_timeout = milliseconds(200); });
  ASSERT_EQ(call.finished.wait_for(kHang), std::future_status::ready);
  EXPECT_FALSE(call.finished.get()) << "a cut-off response closes the client connection";
  EXPECT_EQ(call.relay.streamed(), "data: one\n\n");
  EXPECT_EQ(call.relay.stream_ends, 1);
  EXPECT_FALSE(call.relay.stream_clean);
  EXPECT_FALSE(call.relay.end.complete);
  EXPECT_EQ(call.relay.end.error, "the upstream stream stalled");
}

}  // namespace
}  // namespace firebreak::http
