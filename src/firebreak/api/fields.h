// Helpers the API module's readers and translators share (internal to
// src/firebreak/api): field paths for error messages, typed lookups with a
// fallback, and the one mapping both directions of translation make.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <string>
#include <string_view>

namespace firebreak::api {

// "messages[3]": where an error is, as the client wrote the request.
inline std::string Index(std::string_view prefix, std::size_t index) {
  return std::string(prefix) + "[" + std::to_string(index) + "]";
}

inline std::string_view StringOr(const boost::json::object& o, std::string_view key,
                                 std::string_view fallback) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : fallback;
}

// An Anthropic tool_use block as an OpenAI tool call (in a request's
// assistant turn or in a response).
inline boost::json::object ToolCallOf(const boost::json::object& tool_use) {
  const boost::json::value* input = tool_use.if_contains("input");
  return {{"id", StringOr(tool_use, "id", "")},
          {"type", "function"},
          {"function",
           boost::json::object{{"name", StringOr(tool_use, "name", "")},
                               {"arguments", input ? boost::json::serialize(*input) : "{}"}}}};
}

}  // namespace firebreak::api
