// Helpers the API module's readers and translators share (internal to
// src/firebreak/api): the readers' walk of free-form JSON, field paths for
// error messages, typed lookups with a fallback, and the one mapping both
// directions of translation make.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "firebreak/api/request.h"
#include "firebreak/api/translate.h"

namespace firebreak::api {

// The conversation of an OpenAI or Anthropic request (extract.cc).
base::StatusOr<base::Conversation> WalkConversation(const boost::json::value& document,
                                                    Dialect dialect);

// What every provider's reading shares (extract.cc):
// Appends `text` to `out`, newline-separated.
void AppendLine(std::string& out, std::string_view text);
// A field name as a case-insensitive decoder compares it.
std::string FoldedName(std::string_view name);
// A URL as a model or a fetcher would read it (percent escapes decoded).
std::string DecodedUrl(std::string_view url);
// A setting's string worth classifying: a phrase, or a long unbroken string
// that may be an encoded payload.
bool ReadsAsText(std::string_view s);
// The strings of settings, ids and enums that read as text, keys included.
void CollectSettings(const boost::json::value& v, std::string& out);
// Every key and string under `v` (free-form JSON).
void CollectStrings(const boost::json::value& v, std::string& text);
// Every string of a JSON schema but its own vocabulary.
void CollectSchemaStrings(const boost::json::value& v, std::string& text);

// Events of a neutral (Chat Completions) stream, for the spokes that write
// one (translate.cc): a chunk with a delta, the usage chunk, an error.
std::string NeutralChunk(std::string_view id, std::string_view model, boost::json::object delta,
                         boost::json::value finish_reason);
std::string NeutralUsageChunk(std::string_view id, std::string_view model,
                              boost::json::object usage);
std::string NeutralStreamError(std::string_view message, std::string_view type = "api_error");

// A spoke's stream toward the hub: what it writes is a neutral stream, with
// the message's id and model on every chunk. A stream that closes before its
// end (finished_) was cut short, and the client is told so rather than given
// a clean ending.
class NeutralStreamWriter : public StreamTranslator {
 public:
  std::string Finish() override;

 protected:
  std::string Chunk(boost::json::object delta, boost::json::value finish_reason) {
    return NeutralChunk(id_, model_, std::move(delta), std::move(finish_reason));
  }

  bool finished_ = false;
  std::string id_;
  std::string model_;
};

// "messages[3].content": a field of an object, as the client wrote the
// request ("content" alone at the top).
inline std::string Member(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
}

// Field names a reader accounts for.
using Keys = std::initializer_list<std::string_view>;
inline bool Contains(Keys keys, std::string_view key) {
  for (std::string_view k : keys) {
    if (k == key) {
      return true;
    }
  }
  return false;
}

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
