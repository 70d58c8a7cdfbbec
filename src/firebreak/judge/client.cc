#include "firebreak/judge/client.h"

#include "firebreak/api/provider.h"
#include "firebreak/base/clock.h"
#include "firebreak/http/client.h"

namespace firebreak::judge {
namespace {

Answer Failing(Failure failure, std::string detail) {
  Answer a;
  a.failure = failure;
  a.detail = std::move(detail);
  return a;
}

std::int64_t NowSeconds() { return base::UnixMicros() / 1'000'000; }

}  // namespace

Client::Client(Options options)
    : options_(std::move(options)),
      breaker_(options_.breaker_failures, options_.breaker_cool_down) {
  const int workers = std::max(1, options_.max_in_flight);
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] { Work(); });
  }
}

Client::~Client() {
  std::deque<Question> left;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    left.swap(queue_);
  }
  cv_.notify_all();
  for (Question& q : left) {
    q.done(Failing(Failure::kOverloaded, "the judge client is stopping"), {options_.model});
  }
  for (std::thread& t : workers_) {
    t.join();
  }
}

void Client::Ask(std::string policy_digest, std::vector<Category> categories,
                 base::Conversation conversation, Done done) {
  const Asked none{options_.model};
  Question q{CacheKey(policy_digest, options_.model, conversation), std::move(categories),
             std::move(conversation), std::move(done)};
  if (options_.cache != nullptr) {
    if (std::optional<Answer> kept = options_.cache->Get(q.key, NowSeconds())) {
      stats_.cache_hits.fetch_add(1, std::memory_order_relaxed);
      q.done(std::move(*kept), {options_.model, true, 0});
      return;
    }
  }
  if (!breaker_.Allow(std::chrono::steady_clock::now())) {
    stats_.failures[static_cast<int>(Failure::kBreakerOpen)].fetch_add(1);
    q.done(Failing(Failure::kBreakerOpen, "the judge failed too often; cooling down"), none);
    return;
  }
  {
    std::unique_lock lock(mu_);
    if (!stopping_ && in_flight_ < options_.max_in_flight) {
      ++in_flight_;
      queue_.push_back(std::move(q));
      lock.unlock();
      cv_.notify_one();
      return;
    }
  }
  breaker_.Release();  // not asked: a probe, if this was one, is free again
  stats_.failures[static_cast<int>(Failure::kOverloaded)].fetch_add(1);
  q.done(Failing(Failure::kOverloaded, "too many questions in flight (judge.max_in_flight)"), none);
}

void Client::Work() {
  const api::Provider& api = api::ProviderFor(
      options_.type == JudgeType::kAnthropic ? api::Dialect::kAnthropic : api::Dialect::kOpenAI);
  for (;;) {
    Question q;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;
      }
      q = std::move(queue_.front());
      queue_.pop_front();
    }
    http::Request request{
        .url = api.UpstreamUrl(options_.base_url, {.model = options_.model}),
        .body = QuestionBody(options_.type, options_.model, q.categories, q.conversation),
        .timeout = options_.timeout};
    request.headers.emplace_back("content-type", "application/json");
    api.UpstreamHeaders(
        options_.api_key, [](std::string_view) { return std::string_view(); }, false,
        request.headers);
    const auto start = std::chrono::steady_clock::now();
    base::StatusOr<http::Response> response = http::Send(request);
    Asked asked{options_.model, false,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
    stats_.calls.fetch_add(1, std::memory_order_relaxed);
    stats_.micros.fetch_add(static_cast<std::uint64_t>(asked.seconds * 1e6),
                            std::memory_order_relaxed);
    Answer answer;
    if (!response.ok()) {
      const std::string& why = response.status().message();
      answer = Failing(
          why.find("timed out") != std::string::npos ? Failure::kTimeout : Failure::kConnection,
          why);
    } else {
      answer = ParseAnswer(options_.type, response->status, response->body, q.categories);
    }
    Answered(q, std::move(answer), std::move(asked));
  }
}

void Client::Answered(const Question& q, Answer answer, Asked asked) {
  const bool ok = answer.failure == Failure::kNone;
  if (answer.input_tokens > 0) {
    stats_.input_tokens.fetch_add(static_cast<std::uint64_t>(answer.input_tokens));
  }
  if (answer.output_tokens > 0) {
    stats_.output_tokens.fetch_add(static_cast<std::uint64_t>(answer.output_tokens));
  }
  if (ok && options_.cache != nullptr) {
    (void)options_.cache->Put(q.key, answer, NowSeconds());  // a cache that fails only misses
  }
  if (!ok) {
    stats_.failures[static_cast<int>(answer.failure)].fetch_add(1, std::memory_order_relaxed);
  }
  if (breaker_.Record(ok, std::chrono::steady_clock::now()) && options_.on_open) {
    options_.on_open("the judge " + options_.model + " failed " +
                     std::to_string(options_.breaker_failures) +
                     " times in a row (last: " + std::string(FailureName(answer.failure)) + ": " +
                     answer.detail + "); not asked for " +
                     std::to_string(options_.breaker_cool_down.count() / 1000) + " s");
  }
  {
    std::lock_guard lock(mu_);
    --in_flight_;
  }
  q.done(std::move(answer), std::move(asked));
}

std::string Client::MetricsText() const {
  const auto n = [](const std::atomic<std::uint64_t>& v) {
    return std::to_string(v.load(std::memory_order_relaxed));
  };
  std::string out =
      "# HELP firebreak_judge_calls_total Questions asked of the judge.\n"
      "# TYPE firebreak_judge_calls_total counter\nfirebreak_judge_calls_total " +
      n(stats_.calls) +
      "\n# HELP firebreak_judge_seconds_total Time spent waiting on the judge.\n"
      "# TYPE firebreak_judge_seconds_total counter\nfirebreak_judge_seconds_total " +
      std::to_string(static_cast<double>(stats_.micros.load()) / 1e6) +
      "\n# HELP firebreak_judge_cache_hits_total Answers taken from the cache.\n"
      "# TYPE firebreak_judge_cache_hits_total counter\nfirebreak_judge_cache_hits_total " +
      n(stats_.cache_hits) +
      "\n# HELP firebreak_judge_tokens_total Tokens the judge reported.\n"
      "# TYPE firebreak_judge_tokens_total counter\n"
      "firebreak_judge_tokens_total{direction=\"input\"} " +
      n(stats_.input_tokens) + "\nfirebreak_judge_tokens_total{direction=\"output\"} " +
      n(stats_.output_tokens) +
      "\n# HELP firebreak_judge_failures_total Questions with no verdict, by kind.\n"
      "# TYPE firebreak_judge_failures_total counter\n";
  for (int k = 1; k < kFailureCount; ++k) {
    out += "firebreak_judge_failures_total{kind=\"" +
           std::string(FailureName(static_cast<Failure>(k))) + "\"} " + n(stats_.failures[k]) +
           "\n";
  }
  return out;
}

}  // namespace firebreak::judge
