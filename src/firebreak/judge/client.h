// Asks the judge the server config names: on worker threads of its own,
// never an exchange's I/O thread; at most `max_in_flight` questions queued or
// asked at once (past it, the caller is answered kOverloaded at once); behind
// the breaker and the cache. Every question is answered exactly once, each
// failure as an Answer with its Failure: the caller fails closed.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "firebreak/base/conversation.h"
#include "firebreak/judge/cache.h"
#include "firebreak/judge/judge.h"

namespace firebreak::judge {

// How a question went, beside its answer.
struct Asked {
  std::string model;
  bool cache_hit = false;
  double seconds = 0;  // the call's latency; 0 for a cache hit or no call
};

using Done = std::function<void(Answer answer, Asked asked)>;

class Client {
 public:
  struct Options {
    JudgeType type = JudgeType::kOpenAI;
    std::string base_url;
    std::string model;
    std::string api_key;
    std::chrono::milliseconds timeout{10'000};
    int max_in_flight = 16;
    int breaker_failures = 5;
    std::chrono::milliseconds breaker_cool_down{30'000};
    Cache* cache = nullptr;  // optional; borrowed
    // Called (on a worker thread) when failures open the breaker: once per
    // opening, for the system alert.
    std::function<void(const std::string& why)> on_open;
  };

  // Counters for /metrics.
  struct Stats {
    std::atomic<std::uint64_t> calls{0};
    std::atomic<std::uint64_t> cache_hits{0};
    std::array<std::atomic<std::uint64_t>, kFailureCount> failures{};
    std::atomic<std::uint64_t> micros{0};  // the calls' latency, summed
    std::atomic<std::uint64_t> input_tokens{0};
    std::atomic<std::uint64_t> output_tokens{0};
  };

  explicit Client(Options options);
  ~Client();  // answers what is still queued kOverloaded, then joins

  // Asks about `conversation` under the policy with `policy_digest`;
  // `categories` and the conversation are copied. `done` runs on a worker
  // thread, or before Ask returns (a cache hit, overloaded, breaker open).
  void Ask(std::string policy_digest, std::vector<Category> categories,
           base::Conversation conversation, Done done);

  const std::string& model() const { return options_.model; }
  const Stats& stats() const { return stats_; }
  // The Prometheus exposition of the stats (firebreak_judge_*).
  std::string MetricsText() const;

 private:
  struct Question {
    std::string key;
    std::vector<Category> categories;
    base::Conversation conversation;
    Done done;
  };
  void Work();
  void Answered(const Question& q, Answer answer, Asked asked);

  Options options_;
  Breaker breaker_;
  Stats stats_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Question> queue_;
  int in_flight_ = 0;  // queued or being asked
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace firebreak::judge
