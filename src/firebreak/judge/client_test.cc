// The judge client against a scripted local judge server (raw sockets): an
// answer, a cached answer (across a restart), and each transport failure,
// the breaker and the in-flight bound, every one answered exactly once.
#include "firebreak/judge/client.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "firebreak/base/test_dir.h"
#include "firebreak/http/raw_client.h"

namespace firebreak::judge {
namespace {

using namespace std::chrono_literals;

// Answers every request with the script's next (delay, status, body); the
// last entry repeats. Counts the requests.
class JudgeServer {
 public:
  struct Reply {
    std::chrono::milliseconds delay{0};
    int status = 200;
    std::string body;
  };
  explicit JudgeServer(std::vector<Reply> script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~JudgeServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }
  std::string last_request() const {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  void Serve() {
    for (int n = 0;; ++n) {
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) {
        return;
      }
      std::string in;
      http::ReadUntil(client, in, http::HoldsWholeMessage, 5s);
      {
        std::lock_guard lock(mu_);
        last_ = in;
      }
      ++requests_;
      const Reply& r = script_[std::min<std::size_t>(n, script_.size() - 1)];
      std::this_thread::sleep_for(r.delay);
      http::SendAll(client, "HTTP/1.1 " + std::to_string(r.status) +
                                " X\r\ncontent-type: application/json\r\ncontent-length: " +
                                std::to_string(r.body.size()) + "\r\nconnection: close\r\n\r\n" +
                                r.body);
      ::close(client);
    }
  }
  std::vector<Reply> script_;
  int fd_ = -1;
  unsigned short port_ = 0;
  std::atomic<int> requests_{0};
  mutable std::mutex mu_;
  std::string last_;
  std::thread thread_;
};

const std::vector<Category> kCategories = {{"summarization", "Summaries.", {}, {}},
                                           {"bulk_surveillance", "Mass collection.", {}, {}}};

std::string Verdict(std::string_view id) {
  const std::string content = R"({\"categories\":[{\"id\":\")" + std::string(id) +
                              R"(\",\"confidence\":0.8,\"reason\":\"r\"}]})";
  return R"({"choices":[{"message":{"role":"assistant","content":")" + content +
         R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5}})";
}

base::Conversation Prompt(std::string text) { return base::SinglePrompt(std::move(text)); }

struct Result {
  Answer answer;
  Asked asked;
};

Result AskAndWait(Client& client, std::string text) {
  std::promise<Result> promise;
  client.Ask("digest", kCategories, Prompt(std::move(text)), [&](Answer a, Asked asked) {
    promise.set_value({std::move(a), std::move(asked)});
  });
  return promise.get_future().get();
}

TEST(JudgeClientTest, AnAnswerIsKeptAndTheSameQuestionIsNotAskedAgainEvenAfterARestart) {
  JudgeServer server({{0ms, 200, Verdict("summarization")}});
  const std::filesystem::path dir = base::FreshTestDir("judge-client");
  {
    std::unique_ptr<Cache> cache = Cache::Open({.path = dir / "judge.db"}).value();
    Client client(
        {.base_url = server.url(), .model = "gpt-judge", .api_key = "jk", .cache = cache.get()});
    Result r = AskAndWait(client, "Summarise the cable.");
    ASSERT_EQ(r.answer.failure, Failure::kNone) << r.answer.detail;
    EXPECT_EQ(r.answer.verdicts.at(0).category, "summarization");
    EXPECT_FALSE(r.asked.cache_hit);
    EXPECT_THAT(server.last_request(), ::testing::StartsWith("POST /v1/chat/completions "));
    EXPECT_THAT(http::Lower(server.last_request()),
                ::testing::HasSubstr("authorization: bearer jk"));
    EXPECT_THAT(server.last_request(), ::testing::HasSubstr("Summarise the cable."));
    EXPECT_TRUE(AskAndWait(client, "Summarise the cable.").asked.cache_hit);
    EXPECT_EQ(client.stats().calls.load(), 1u);
    EXPECT_EQ(client.stats().input_tokens.load(), 10u);
  }
  std::unique_ptr<Cache> cache = Cache::Open({.path = dir / "judge.db"}).value();
  Client client({.base_url = server.url(), .model = "gpt-judge", .cache = cache.get()});
  Result again = AskAndWait(client, "Summarise the cable.");
  EXPECT_TRUE(again.asked.cache_hit);
  EXPECT_EQ(again.answer.verdicts.at(0).category, "summarization");
  EXPECT_EQ(server.requests(), 1);
  EXPECT_FALSE(AskAndWait(client, "Summarise the other cable.").asked.cache_hit);
  EXPECT_EQ(server.requests(), 2);
}

TEST(JudgeClientTest, EachFailureIsAnAnswerWithItsKind) {
  JudgeServer slow({{600ms, 200, Verdict("summarization")}});
  Client timing_out({.base_url = slow.url(), .model = "m", .timeout = 200ms});
  Result r = AskAndWait(timing_out, "a");
  EXPECT_EQ(r.answer.failure, Failure::kTimeout) << r.answer.detail;
  EXPECT_TRUE(r.answer.verdicts.empty());

  Client refused({.base_url = "http://127.0.0.1:1", .model = "m"});
  EXPECT_EQ(AskAndWait(refused, "a").answer.failure, Failure::kConnection);

  JudgeServer bad({{0ms, 500, R"({"error":{"message":"down"}})"},
                   {0ms, 200, "not json"},
                   {0ms, 200, Verdict("weather")}});
  Client client({.base_url = bad.url(), .model = "m"});
  EXPECT_EQ(AskAndWait(client, "a").answer.failure, Failure::kStatus);
  EXPECT_EQ(AskAndWait(client, "b").answer.failure, Failure::kSchema);
  EXPECT_EQ(AskAndWait(client, "c").answer.failure, Failure::kUnknownCategory);
  EXPECT_EQ(client.stats().failures[static_cast<int>(Failure::kStatus)].load(), 1u);
  EXPECT_THAT(client.MetricsText(),
              ::testing::HasSubstr("firebreak_judge_failures_total{kind=\"unknown_category\"} 1"));
}

TEST(JudgeClientTest, TheBreakerStopsCallingAFailingJudgeAndAlertsOnce) {
  JudgeServer down({{0ms, 503, "{}"}});
  std::atomic<int> alerts{0};
  Client client({.base_url = down.url(),
                 .model = "m",
                 .breaker_failures = 2,
                 .breaker_cool_down = 60s,
                 .on_open = [&](const std::string& why) {
                   EXPECT_THAT(why, ::testing::HasSubstr("failed 2 times in a row"));
                   ++alerts;
                 }});
  EXPECT_EQ(AskAndWait(client, "a").answer.failure, Failure::kStatus);
  EXPECT_EQ(AskAndWait(client, "b").answer.failure, Failure::kStatus);
  EXPECT_EQ(AskAndWait(client, "c").answer.failure, Failure::kBreakerOpen);
  EXPECT_EQ(AskAndWait(client, "d").answer.failure, Failure::kBreakerOpen);
  EXPECT_EQ(down.requests(), 2);
  EXPECT_EQ(alerts.load(), 1);
}

TEST(JudgeClientTest, PastMaxInFlightTheQuestionIsAnsweredOverloadedAtOnce) {
  JudgeServer slow({{500ms, 200, Verdict("summarization")}});
  Client client({.base_url = slow.url(), .model = "m", .max_in_flight = 1});
  std::promise<Result> first;
  client.Ask("digest", kCategories, Prompt("a"), [&](Answer a, Asked asked) {
    first.set_value({std::move(a), std::move(asked)});
  });
  bool answered_inline = false;
  Failure second = Failure::kNone;
  client.Ask("digest", kCategories, Prompt("b"), [&](Answer a, Asked) {
    answered_inline = true;
    second = a.failure;
  });
  EXPECT_TRUE(answered_inline);
  EXPECT_EQ(second, Failure::kOverloaded);
  EXPECT_EQ(first.get_future().get().answer.failure, Failure::kNone);
}

}  // namespace
}  // namespace firebreak::judge
