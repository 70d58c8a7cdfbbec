#include "firebreak/http/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "firebreak/base/sanitizers.h"
#include "firebreak/http/raw_client.h"
#include "firebreak/http/resources.h"

namespace firebreak::http {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A server whose handler records each request's target and answers 200
// with the body's size; requests to /hold are kept unanswered until
// Release() so that their bodies stay in flight.
class ServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    options.threads = 2;
    options.handler = [this](ServerRequest&& request, std::shared_ptr<Exchange> exchange) {
      std::lock_guard lock(mu_);
      targets_.push_back(request.target);
      if (request.target == "/hold") {
        held_.push_back(std::move(exchange));
        return;
      }
      exchange->Respond(
          {200,
           {{"content-type", "text/plain"}},
           "got " + std::to_string(request.body.size()) + ": " + request.body.substr(0, 32)});
    };
    base::StatusOr<std::unique_ptr<Server>> started = Server::Start(std::move(options));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(started).value();
  }
  void TearDown() override {
    Release();
    if (server_) {
      server_->Shutdown(milliseconds(100));
    }
  }
  std::vector<std::string> targets() {
    std::lock_guard lock(mu_);
    return targets_;
  }
  std::size_t held() {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  void Release() {
    std::lock_guard lock(mu_);
    for (auto& exchange : held_) {
      exchange->Respond({200, {{"content-type", "text/plain"}}, "released"});
    }
    held_.clear();
  }
  RawClient Connected() {
    RawClient client;
    EXPECT_TRUE(client.Connect(server_->port()));
    return client;
  }
  // Sends `bytes` on a new connection and reads until the server closes.
  std::string SendAndRead(std::string_view bytes, bool* closed,
                          milliseconds timeout = milliseconds(3000)) {
    RawClient client = Connected();
    client.Send(bytes);
    return client.ReadUntilClose(timeout, closed);
  }

  std::unique_ptr<Server> server_;
  std::mutex mu_;
  std::vector<std::string> targets_;
  std::vector<std::shared_ptr<http::Exchange>> held_;
};

TEST_F(ServerTest, UnsupportedTransferCodingIs501AndClosesWithoutReadingTheBodyAsARequest) {
  Start();
  for (const char* coding : {"identity", "gzip", "xchunked", "gzip, chunked", "chunked, gzip"}) {
    bool closed = false;
    const std::string reply =
        SendAndRead(std::string("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
                                "Transfer-Encoding: ") +
                        coding + "\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
                    &closed);
    EXPECT_THAT(reply, StartsWith("HTTP/1.1 501 ")) << coding;
    EXPECT_THAT(reply, HasSubstr("only chunked is supported")) << coding;
    EXPECT_EQ(reply.find("HTTP/1.1", 8), std::string::npos) << "one answer only: " << reply;
    EXPECT_TRUE(closed) << coding;
  }
  EXPECT_TRUE(targets().empty()) << "the handler saw " << targets().front();
}

TEST_F(ServerTest, TransferEncodingWithContentLengthIs400AndCloses) {
  Start();
  for (const char* fields : {"Transfer-Encoding: chunked\r\nContent-Length: 39\r\n",
                             "Content-Length: 39\r\nTransfer-Encoding: gzip\r\n",
                             "Transfer-Encoding: identity\r\nContent-Length: 39\r\n"}) {
    bool closed = false;
    const std::string reply =
        SendAndRead(std::string("POST /v1/messages HTTP/1.1\r\nHost: a\r\n") + fields +
                        "\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
                    &closed);
    EXPECT_THAT(reply, StartsWith("HTTP/1.1 400 ")) << fields;
    EXPECT_THAT(reply, HasSubstr("Transfer-Encoding and Content-Length")) << fields;
    EXPECT_TRUE(closed) << fields;
  }
  EXPECT_TRUE(targets().empty());
}

TEST_F(ServerTest, ErrorRepliesAreShapedForTheRouteOfTheRefusedRequest) {
  std::vector<std::pair<std::string, int>> shaped;
  std::mutex shaped_mu;
  ServerOptions options;
  options.error_reply = [&](std::string_view target, int status, std::string_view message) {
    std::lock_guard lock(shaped_mu);
    shaped.emplace_back(std::string(target), status);
    return Reply{status, {{"content-type", "application/json"}}, std::string(message)};
  };
  Start(std::move(options));
  bool closed = false;
  SendAndRead("POST /v1/messages HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", &closed);
  std::lock_guard lock(shaped_mu);
  ASSERT_EQ(shaped.size(), 1u);
  EXPECT_EQ(shaped[0].first, "/v1/messages");
  EXPECT_EQ(shaped[0].second, 501);
}

TEST_F(ServerTest, ChunkedBodiesStillArrive) {
  Start();
  RawClient client = Connected();
  client.Send(
      "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChunKed\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
  const std::string first = client.ReadResponse(milliseconds(3000));
  EXPECT_THAT(first, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(first, HasSubstr("got 11: hello world"));
  // The connection stays usable.
  client.Send("GET /b HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_THAT(client.ReadResponse(milliseconds(3000)), StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(targets(), ::testing::ElementsAre("/a", "/b"));
}

TEST_F(ServerTest, BareLfInChunkFramingIs400AtOnce) {
  ServerOptions options;
  options.read_timeout = milliseconds(20'000);
  Start(std::move(options));
  for (const char* body : {"5\r\nhello\r\n0\n\n", "5\r\nhello\r\n0\r\n\n", "5\nhello\r\n0\r\n\r\n",
                           "5\r\nhello\r\n0\r\nX-T: 1\n\r\n"}) {
    const auto start = Clock::now();
    bool closed = false;
    const std::string reply = SendAndRead(
        std::string("POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n") + body,
        &closed, milliseconds(5000));
    EXPECT_THAT(reply, StartsWith("HTTP/1.1 400 ")) << body;
    EXPECT_TRUE(closed) << body;
    EXPECT_LT(Clock::now() - start, milliseconds(2500)) << "refused at once, not at the deadline";
  }
  EXPECT_TRUE(targets().empty());
}

TEST_F(ServerTest, BareLfInTheHeadIs400AtOnce) {
  ServerOptions options;
  options.read_timeout = milliseconds(20'000);
  Start(std::move(options));
  const auto start = Clock::now();
  bool closed = false;
  const std::string reply =
      SendAndRead("GET /a HTTP/1.1\nHost: a\n\n", &closed, milliseconds(5000));
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 400 "));
  EXPECT_TRUE(closed);
  EXPECT_LT(Clock::now() - start, milliseconds(2500));
}

TEST_F(ServerTest, HeaderValuesMustBeUtf8TextAndTheRefusalNamesTheHeader) {
  Start();
  struct Case {
    std::string fields;
    std::string named;
  };
  for (const Case& c : std::vector<Case>{{"X-Note: ab\xFF\r\n", "'X-Note' is not valid UTF-8"},
                                         {"X-Note: a\xC2\x85z\r\n", "'X-Note' contains"},
                                         {"X-Note: a\x01z\r\n", "'X-Note' contains"},
                                         {"User-Agent: \xC0\xAF\r\n", "'User-Agent'"}}) {
    bool closed = false;
    const std::string reply =
        SendAndRead("GET /a HTTP/1.1\r\nHost: a\r\n" + c.fields + "\r\n", &closed);
    EXPECT_THAT(reply, StartsWith("HTTP/1.1 400 ")) << c.fields;
    EXPECT_THAT(reply, HasSubstr(c.named)) << c.fields;
    EXPECT_TRUE(closed);
  }
  bool closed = false;
  EXPECT_THAT(SendAndRead("GET /caf\xC3\xA9\xFF HTTP/1.1\r\nHost: a\r\n\r\n", &closed),
              HasSubstr("target is not valid UTF-8"));
  EXPECT_TRUE(targets().empty());
  RawClient client = Connected();
  client.Send("GET /caf\xC3\xA9 HTTP/1.1\r\nHost: a\r\nX-Note: \xE2\x82\xAC\t5\r\n\r\n");
  EXPECT_THAT(client.ReadResponse(milliseconds(3000)), StartsWith("HTTP/1.1 200 "));
}

TEST_F(ServerTest, BodiesPastTheBudgetAre503WithRetryAfterBeforeTheBodyIsSent) {
  ServerOptions options;
  options.max_body_bytes = 600'000;
  options.max_body_bytes_in_flight = 1'000'000;
  Start(std::move(options));
  const std::string body(600'000, 'x');
  const std::string head = "POST /hold HTTP/1.1\r\nHost: a\r\nContent-Length: 600000\r\n\r\n";
  RawClient first = Connected();
  first.Send(head + body);
  for (int i = 0; i < 300 && held() == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_EQ(held(), 1u);
  EXPECT_EQ(server_->Stats().body_bytes_in_flight, 600'000u);

  // The second is refused on its head alone: its body is never sent.
  RawClient second = Connected();
  second.Send("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 600000\r\n\r\n");
  bool closed = false;
  const std::string refused = second.ReadUntilClose(milliseconds(3000), &closed);
  EXPECT_THAT(refused, StartsWith("HTTP/1.1 503 "));
  EXPECT_THAT(Lower(refused), HasSubstr("retry-after: 1\r\n"));
  EXPECT_THAT(refused, HasSubstr("max_body_bytes_in_flight"));
  EXPECT_TRUE(closed);

  // A chunked body is counted chunk by chunk.
  RawClient third = Connected();
  third.Send("POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  third.Send("186a0\r\n" + std::string(100'000, 'y') + "\r\n");  // fits
  third.Send("493e1\r\n");                                       // 300,001: does not
  EXPECT_THAT(third.ReadUntilClose(milliseconds(3000)), StartsWith("HTTP/1.1 503 "));
  EXPECT_EQ(server_->Stats().body_budget_refusals, 2u);

  // Once the first is answered its bytes are free again.
  Release();
  EXPECT_THAT(first.ReadResponse(milliseconds(3000)), StartsWith("HTTP/1.1 200 "));
  for (int i = 0; i < 300 && server_->Stats().body_bytes_in_flight != 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(server_->Stats().body_bytes_in_flight, 0u);
  RawClient fourth = Connected();
  fourth.Send("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 600000\r\n\r\n" + body);
  EXPECT_THAT(fourth.ReadResponse(milliseconds(3000)), HasSubstr("got 600000"));
}

TEST_F(ServerTest, AtTheConnectionLimitTheLongestIdleConnectionMakesRoom) {
  ServerOptions options;
  options.max_connections = 3;
  Start(std::move(options));
  EXPECT_EQ(server_->max_connections(), 3u);
  std::vector<RawClient> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(Connected());
    for (int k = 0; k < 100 && server_->connections() < idle.size(); ++k) {
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  ASSERT_EQ(server_->connections(), 3u);
  std::this_thread::sleep_for(milliseconds(150));  // idle long enough to be closed
  RawClient fresh = Connected();
  fresh.Send("GET /health HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_THAT(fresh.ReadResponse(milliseconds(3000)), StartsWith("HTTP/1.1 200 "));
  bool closed = false;
  idle[0].ReadUntilClose(milliseconds(2000), &closed);
  EXPECT_TRUE(closed) << "the oldest idle connection was closed";
  idle[2].ReadUntilClose(milliseconds(200), &closed);
  EXPECT_FALSE(closed) << "the newest stays";
  EXPECT_EQ(server_->Stats().idle_closed, 1u);
}

TEST_F(ServerTest, AConnectionJustAcceptedIsNotClosedToMakeRoom) {
  ServerOptions options;
  options.max_connections = 1;
  Start(std::move(options));
  RawClient first = Connected();
  for (int k = 0; k < 100 && server_->connections() < 1; ++k) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  RawClient second = Connected();
  bool closed = false;
  EXPECT_THAT(second.ReadUntilClose(milliseconds(2000), &closed), HasSubstr(" 503 "));
  first.Send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_THAT(first.ReadResponse(milliseconds(3000)), StartsWith("HTTP/1.1 200 "));
}

TEST_F(ServerTest, TheConnectionLimitFollowsTheFileDescriptors) {
  ServerOptions options;
  options.max_connections = 100'000'000;
  Start(std::move(options));
  EXPECT_LE(server_->max_connections(), ConnectionsFor(CurrentDescriptorLimit().soft, 0));
  EXPECT_GE(server_->max_connections(), 1u);
}

// Under sanitizers a process out of descriptors cannot be tested (UBSan
// needs descriptors of its own); CI runs these tests against the release
// build (.ci/run).
constexpr bool kSanitized = base::kAddressSanitizer;

// Lowers this process's descriptor limit to what is open now plus `spare`,
// and restores it when destroyed.
class DescriptorCeiling {
 public:
  explicit DescriptorCeiling(std::size_t spare) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lowered = saved_;
    lowered.rlim_cur = OpenDescriptors() + spare;
    ::setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~DescriptorCeiling() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

double CpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Clients here are sockets made before the ceiling, so that only the
// server runs out of descriptors.
TEST_F(ServerTest, OutOfDescriptorsTheServerBacksOffAndStillAnswers) {
  if (kSanitized) {
    GTEST_SKIP() << "not under sanitizers: UBSan needs descriptors of its own";
  }
  ServerOptions options;
  options.read_timeout = milliseconds(20'000);
  Start(std::move(options));
  std::vector<RawClient> busy(40);
  RawClient health;
  RawClient later;
  {
    DescriptorCeiling ceiling(20);
    // Each holds a request that has begun: none is idle, none can be closed.
    for (RawClient& c : busy) {
      ASSERT_TRUE(c.Connect(server_->port()));
      c.Send("POST /a HTTP/1.1\r\n");
    }
    for (int i = 0; i < 200 && server_->Stats().accept_failures == 0; ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    ASSERT_GT(server_->Stats().accept_failures, 0u);
    // (Stats() takes the reserve back when it can, so it may take a moment
    // for every descriptor to be in use.)
    bool exhausted = false;
    for (int i = 0; i < 100 && !exhausted; ++i) {
      exhausted = server_->Stats().descriptors_exhausted;
      std::this_thread::sleep_for(milliseconds(10));
    }
    EXPECT_TRUE(exhausted);
    const std::size_t accepted = server_->connections();
    EXPECT_LT(accepted, busy.size());

    // No spinning on the listening socket while out.
    const double cpu = CpuSeconds();
    std::this_thread::sleep_for(milliseconds(1000));
    EXPECT_LT(CpuSeconds() - cpu, 0.3);
    EXPECT_LT(server_->Stats().accept_failures, 40u) << "accept was retried with a pause";

    // Descriptors come back: the server takes the clients waiting, then
    // answers a new one.
    for (RawClient& c : busy) {
      c.Close();
    }
    ASSERT_TRUE(health.Connect(server_->port()));
    health.Send("GET /health HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_THAT(health.ReadResponse(milliseconds(5000)), StartsWith("HTTP/1.1 200 "));
  }
  for (int i = 0; i < 200 && server_->Stats().descriptors_exhausted; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_FALSE(server_->Stats().descriptors_exhausted);
  ASSERT_TRUE(later.Connect(server_->port()));
  later.Send("GET /later HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_THAT(later.ReadResponse(milliseconds(3000)), StartsWith("HTTP/1.1 200 "));
}

TEST_F(ServerTest, OutOfDescriptorsIdleConnectionsAreClosedSoANewClientIsAnswered) {
  if (kSanitized) {
    GTEST_SKIP() << "not under sanitizers: UBSan needs descriptors of its own";
  }
  Start();
  std::vector<RawClient> idle(40);
  RawClient health;
  DescriptorCeiling ceiling(20);
  for (RawClient& c : idle) {
    ASSERT_TRUE(c.Connect(server_->port()));
  }
  for (int i = 0; i < 200 && server_->Stats().accept_failures == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_GT(server_->Stats().accept_failures, 0u);
  ASSERT_TRUE(health.Connect(server_->port()));
  health.Send("GET /health HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_THAT(health.ReadResponse(milliseconds(5000)), StartsWith("HTTP/1.1 200 "));
  EXPECT_GT(server_->Stats().idle_closed, 0u);
}

}  // namespace
}  // namespace firebreak::http
