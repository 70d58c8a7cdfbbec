// Wire formats of OpenAI Chat Completions and Anthropic Messages (Gemini's
// are gemini.cc's). A request body is parsed once (Boost.JSON) into a
// document kept for forwarding or rewriting, and into the provider-neutral
// Conversation the classifier reads: system prompt, every turn, text parts,
// tool calls and tool results.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "firebreak/base/conversation.h"
#include "firebreak/base/status.h"

namespace firebreak::api {

// The APIs Firebreak speaks, each a Provider (provider.h).
enum class Dialect { kOpenAI, kAnthropic, kGemini };
inline constexpr int kDialectCount = 3;

std::string_view DialectName(Dialect dialect);

struct ParseLimits {
  std::size_t max_depth = 64;  // JSON nesting
};

// The body as JSON. InvalidArgument with the byte offset, line and column of
// the first problem: invalid UTF-8, a syntax error, nesting past max_depth.
base::StatusOr<boost::json::value> ParseJson(std::string_view body, const ParseLimits& limits);

// The conversation of a request document in the given dialect (its
// Provider's ConversationOf, with nothing said by the path).
// InvalidArgument naming the field at fault (e.g. "messages[2].role ...").
// A conversation without any text is refused: there is nothing to classify.
base::StatusOr<base::Conversation> ConversationOf(const boost::json::value& document,
                                                  Dialect dialect);

// Error bodies in each API's own shape. OpenAI:
// {"error":{"message","type","code","param":null}}; Anthropic:
// {"type":"error","error":{"type","message"}}.
std::string OpenAIErrorBody(std::string_view message, std::string_view type, std::string_view code);
std::string AnthropicErrorBody(std::string_view type, std::string_view message);

// The Anthropic error type that matches an HTTP status (400
// invalid_request_error, 401 authentication_error, 404 not_found_error, ...).
std::string_view AnthropicErrorType(int status);

}  // namespace firebreak::api
