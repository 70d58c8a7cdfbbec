// Translation between OpenAI Chat Completions and Anthropic Messages, both
// ways, for requests, whole responses and server-sent-event streams. Text,
// images, tools, tool calls and tool results, stop sequences, usage and stop
// reasons map across. A request part without a counterpart refuses the
// translation; in responses it is dropped. Streams translate text deltas,
// stop reasons and usage.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/api/request.h"

namespace firebreak::api {

// Anthropic requires max_tokens; an OpenAI request without one gets this.
inline constexpr int kDefaultMaxTokens = 4096;

// Requests (translate_request.cc). The request must be one ConversationOf
// accepted in the source dialect. Only what it classified is carried; content
// without a counterpart is refused (InvalidArgument naming the field).
base::StatusOr<boost::json::object> AnthropicRequestFromOpenAI(const boost::json::object& openai);
base::StatusOr<boost::json::object> OpenAIRequestFromAnthropic(const boost::json::object& anthropic);

// Whole (non-streamed) responses. A body that is not the expected shape (an
// upstream error, say) is returned as an error body of the other dialect.
std::string OpenAIResponseFromAnthropic(std::string_view anthropic_body);
std::string AnthropicResponseFromOpenAI(std::string_view openai_body);

// Server-sent events, framed incrementally: bytes in, complete events out.
struct SseEvent {
  std::string event;  // empty: the default "message"
  std::string data;   // data lines joined by '\n'
};

class SseParser {
 public:
  // Appends bytes; returns the events they complete.
  std::vector<SseEvent> Feed(std::string_view bytes);

 private:
  std::string buffer_;  // the start of an event not complete yet
  // Where to look for the blank line next: the buffer before it has none,
  // so an event that arrives in many reads is scanned once, not per read.
  std::size_t scan_from_ = 0;
};

std::string FormatSse(const SseEvent& event);

// Rewrites a stream event by event. Feed() returns the bytes for the client
// (possibly none); Finish() what closes the stream.
class StreamTranslator {
 public:
  virtual ~StreamTranslator() = default;
  virtual std::string Feed(const SseEvent& event) = 0;
  virtual std::string Finish() = 0;
};

// `to` is the client's dialect; the upstream speaks the other.
std::unique_ptr<StreamTranslator> MakeStreamTranslator(Dialect to);

}  // namespace firebreak::api
