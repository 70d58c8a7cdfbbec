// The LLM judge (DESIGN.md §1, issue 20): what the local classifier is unsure
// of is asked of a model the policy accepts. This module is transport-free:
// it writes the question in the judge's wire format (OpenAI Chat Completions
// with a JSON schema, Anthropic Messages with a forced tool, or the Llama
// Guard prompt behind an OpenAI-compatible server), reads the answer, where
// every way it can fail is a Failure the caller answers by failing closed,
// and keeps the breaker that stops calling a failing judge. The call and the
// cache (cache.h) are the caller's.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/base/conversation.h"

namespace firebreak::judge {

enum class JudgeType : std::uint8_t { kOpenAI, kAnthropic, kLlamaGuard };
// Inline: the config names a judge's type without linking the judge.
inline constexpr std::string_view kJudgeTypeNames[] = {"openai", "anthropic", "llama_guard"};
inline std::string_view JudgeTypeName(JudgeType type) {
  return kJudgeTypeNames[static_cast<int>(type)];
}
inline bool ParseJudgeType(std::string_view name, JudgeType* type) {
  for (int i = 0; i < 3; ++i) {
    if (kJudgeTypeNames[i] == name) {
      *type = static_cast<JudgeType>(i);
      return true;
    }
  }
  return false;
}

// Why a judge gave no verdict (the record names it; the defaults decide).
enum class Failure : std::uint8_t {
  kNone,
  kTimeout,          // no answer within the timeout (the caller's)
  kConnection,       // refused, reset, TLS (the caller's)
  kStatus,           // an HTTP status other than 2xx
  kRefusal,          // the model declined to answer
  kSchema,           // an answer that is not the schema asked for
  kUnknownCategory,  // a category (or hazard code) the policy does not know
  kBreakerOpen,      // not asked: the judge failed too often, cooling down
  kOverloaded,       // not asked: too many questions in flight
};
inline constexpr int kFailureCount = 9;
std::string_view FailureName(Failure failure);  // none, timeout, ..., overloaded

// A category of the policy as the judge is told of it.
struct Category {
  std::string id;
  std::string description;
  std::vector<std::string> examples;  // a few, to anchor the description
  // Llama Guard hazard codes ("S1") that stand for this category.
  std::vector<std::string> hazards;
};

// The request body for the judge's endpoint: the categories, and the whole
// conversation as the local classifier read it (each message with the field
// it came from), marked as data to classify, not instructions.
std::string QuestionBody(JudgeType type, std::string_view model,
                         std::span<const Category> categories,
                         const base::Conversation& conversation);

struct Verdict {
  std::string category;   // a Category::id
  double confidence = 0;  // [0, 1]
  std::string reason;     // one line
};

struct Answer {
  Failure failure = Failure::kNone;
  std::string detail;             // what failed, for the record and the log
  std::vector<Verdict> verdicts;  // without a failure: empty means none applies
  std::string raw_sha256;         // of the judge's HTTP body, whatever it was
  std::int64_t input_tokens = -1;
  std::int64_t output_tokens = -1;
};

// Reads the judge's HTTP answer (status and body).
Answer ParseAnswer(JudgeType type, int status, std::string_view body,
                   std::span<const Category> categories);

// An answer as the cache keeps it (verdicts and tokens; JSON) and back;
// false when `json` is not one.
std::string AnswerJson(const Answer& answer);
bool AnswerFromJson(std::string_view json, Answer& answer);

// Stops calling a failing judge: `threshold` failures in a row open it for
// `cool_down`; then one question is let through, and its success closes it
// again (its failure opens it anew). Thread-safe.
class Breaker {
 public:
  using Clock = std::chrono::steady_clock;
  Breaker(int threshold, Clock::duration cool_down);

  // Whether a question may be asked now: false while open, and while the
  // one question let through after the cool-down has not been answered.
  bool Allow(Clock::time_point now);
  // The outcome of a question Allow() let through. True when this failure
  // opened the breaker (one alert per opening, not one per question).
  bool Record(bool ok, Clock::time_point now);
  // A question Allow() let through was not asked after all (the in-flight
  // bound): no outcome, but the probe, if it was one, is free again.
  void Release();
  bool open(Clock::time_point now) const;

 private:
  const int threshold_;
  const Clock::duration cool_down_;
  mutable std::mutex mu_;
  int failures_ = 0;
  Clock::time_point open_until_{};
  bool probing_ = false;  // one question let through after the cool-down
};

}  // namespace firebreak::judge
