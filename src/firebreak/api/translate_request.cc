// Request translation, OpenAI Chat Completions <-> Anthropic Messages. It
// runs on a request that ConversationOf has read and the policy allowed, and
// it carries only what that reading classified: each field and part it knows
// is mapped to its counterpart; content without a counterpart (audio, files,
// documents, search results, provider-run tools, response schemas, unknown
// fields) refuses the translation instead of being dropped or passed through.
// Only settings that change no content (sampling penalties, cache hints,
// earlier turns' thinking) are left behind.
#include <algorithm>
#include <boost/json.hpp>

#include "firebreak/api/fields.h"
#include "firebreak/api/translate.h"

namespace firebreak::api {
namespace {

namespace json = boost::json;
using Status = base::Status;

bool Present(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && !v->is_null();
}

Status NoCounterpart(const std::string& where, std::string_view what, Dialect to) {
  return base::InvalidArgument(where + ": " + std::string(what) + " has no counterpart in the " +
                               (to == Dialect::kAnthropic ? "Anthropic" : "OpenAI") +
                               " API, so this request cannot be translated for the upstream");
}

// Fields of the source request that carry no content and may stay behind;
// every other field must be translated or the translation is refused.
bool Droppable(std::string_view key, Dialect from) {
  // clang-format off
  static constexpr std::string_view kOpenAI[] = {
      "frequency_penalty", "presence_penalty", "logit_bias",        "logprobs",
      "top_logprobs",      "seed",             "store",             "service_tier",
      "reasoning_effort",  "verbosity",        "safety_identifier", "prompt_cache_key",
      "stream_options",    "parallel_tool_calls", "metadata"};
  // clang-format on
  static constexpr std::string_view kAnthropic[] = {"top_k", "thinking", "service_tier"};
  if (from == Dialect::kOpenAI) {
    return std::find(std::begin(kOpenAI), std::end(kOpenAI), key) != std::end(kOpenAI);
  }
  return std::find(std::begin(kAnthropic), std::end(kAnthropic), key) != std::end(kAnthropic);
}

Status CheckTopLevel(const json::object& in, Dialect from,
                     std::initializer_list<std::string_view> mapped) {
  const Dialect to = from == Dialect::kOpenAI ? Dialect::kAnthropic : Dialect::kOpenAI;
  for (const auto& [key, value] : in) {
    if (value.is_null() || Droppable(key, from) ||
        std::find(mapped.begin(), mapped.end(), key) != mapped.end()) {
      continue;
    }
    if (key == "n" && value.is_number() && value.to_number<double>() == 1) {
      continue;
    }
    if (key == "modalities" && json::serialize(value) == R"(["text"])") {
      continue;
    }
    if (key == "response_format" && value.is_object() &&
        StringOr(value.get_object(), "type", "") == "text") {
      continue;
    }
    return NoCounterpart(std::string(key), "the field '" + std::string(key) + "'", to);
  }
  return Status::Ok();
}

// ---- OpenAI -> Anthropic ---------------------------------------------------

// Text parts only (system, tool and refusal content), joined.
base::StatusOr<std::string> OpenAIText(const json::value* content, const std::string& where) {
  if (content == nullptr || content->is_null()) {
    return std::string();
  }
  if (content->is_string()) {
    return std::string(content->get_string());
  }
  std::string text;
  std::size_t index = 0;
  for (const json::value& part : content->get_array()) {
    const std::string at = Index(where, index++);
    const json::object& p = part.get_object();
    const std::string_view type = StringOr(p, "type", "");
    if (type != "text" && type != "refusal") {
      return NoCounterpart(at, "a '" + std::string(type) + "' part here", Dialect::kAnthropic);
    }
    text += text.empty() ? "" : "\n";
    text += StringOr(p, type, "");
  }
  return text;
}

// type/subtype: RFC 6838's restricted-name characters and the slash. A
// media type is carried across as written; anything else in it (a comma, a
// semicolon, a percent escape, spaces) would read differently on each side.
bool IsMediaType(std::string_view media_type) {
  constexpr std::string_view kMediaTypeChars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&^_.+-/";
  return !media_type.empty() &&
         media_type.find_first_not_of(kMediaTypeChars) == std::string_view::npos;
}

base::StatusOr<json::object> ImageBlock(const json::object& part, const std::string& where) {
  const std::string_view url = StringOr(part.at("image_url").as_object(), "url", "");
  if (url.starts_with("data:")) {
    const std::size_t semicolon = url.find(';');
    const std::size_t comma = url.find(',');
    if (semicolon == std::string_view::npos || comma == std::string_view::npos ||
        semicolon > comma || url.substr(semicolon, comma - semicolon) != ";base64") {
      return base::InvalidArgument(where +
                                   ".image_url.url: a data URL must be data:TYPE;base64,DATA");
    }
    if (!IsMediaType(url.substr(5, semicolon - 5))) {
      return NoCounterpart(where + ".image_url.url",
                           "a data URL whose media type is not a MIME type", Dialect::kAnthropic);
    }
    return json::object{{"type", "image"},
                        {"source", json::object{{"type", "base64"},
                                                {"media_type", url.substr(5, semicolon - 5)},
                                                {"data", url.substr(comma + 1)}}}};
  }
  return json::object{{"type", "image"}, {"source", json::object{{"type", "url"}, {"url", url}}}};
}

base::StatusOr<json::value> UserContent(const json::value* content, const std::string& where) {
  if (content == nullptr || content->is_null()) {
    return json::value(json::array{});
  }
  if (content->is_string()) {
    return *content;
  }
  json::array blocks;
  std::size_t index = 0;
  for (const json::value& part : content->get_array()) {
    const std::string at = Index(where, index++);
    const json::object& p = part.get_object();
    const std::string_view type = StringOr(p, "type", "");
    if (type == "text") {
      blocks.push_back(json::object{{"type", "text"}, {"text", StringOr(p, "text", "")}});
    } else if (type == "image_url") {
      base::StatusOr<json::object> image = ImageBlock(p, at);
      if (!image.ok()) {
        return image.status();
      }
      blocks.push_back(std::move(image).value());
    } else {
      return NoCounterpart(at, "a '" + std::string(type) + "' part", Dialect::kAnthropic);
    }
  }
  return json::value(std::move(blocks));
}

base::StatusOr<json::array> AssistantBlocks(const json::object& m, const std::string& where) {
  if (Present(m, "function_call") || Present(m, "audio")) {
    return NoCounterpart(where, Present(m, "audio") ? "an audio answer" : "a legacy function_call",
                         Dialect::kAnthropic);
  }
  json::array blocks;
  base::StatusOr<std::string> text = OpenAIText(m.if_contains("content"), where + ".content");
  if (!text.ok()) {
    return text.status();
  }
  if (std::string_view refusal = StringOr(m, "refusal", ""); !refusal.empty()) {
    *text += text->empty() ? "" : "\n";
    *text += refusal;
  }
  if (!text->empty()) {
    blocks.push_back(json::object{{"type", "text"}, {"text", *text}});
  }
  if (const json::value* calls = m.if_contains("tool_calls"); calls && calls->is_array()) {
    std::size_t index = 0;
    for (const json::value& call : calls->get_array()) {
      const std::string at = Index(where + ".tool_calls", index++);
      const json::object& c = call.get_object();
      const json::value* fn = c.if_contains("function");
      if (fn == nullptr || !fn->is_object()) {
        return NoCounterpart(at, "a custom tool call", Dialect::kAnthropic);
      }
      boost::system::error_code ec;
      json::value input = json::parse(StringOr(fn->get_object(), "arguments", "{}"), ec);
      if (ec || !input.is_object()) {
        return base::InvalidArgument(at +
                                     ".function.arguments must be a JSON object to be "
                                     "translated for an Anthropic upstream");
      }
      blocks.push_back(json::object{{"type", "tool_use"},
                                    {"id", StringOr(c, "id", "")},
                                    {"name", StringOr(fn->get_object(), "name", "")},
                                    {"input", std::move(input)}});
    }
  }
  return blocks;
}

}  // namespace

base::StatusOr<json::object> AnthropicRequestFromOpenAI(const json::object& in) {
  FB_RETURN_IF_ERROR(
      CheckTopLevel(in, Dialect::kOpenAI,
                    {"model", "messages", "max_tokens", "max_completion_tokens", "temperature",
                     "top_p", "stop", "stream", "tools", "tool_choice", "user"}));
  json::object out;
  out["model"] = StringOr(in, "model", "");
  const json::value* limit = in.if_contains("max_completion_tokens");
  if (limit == nullptr || !limit->is_int64()) {
    limit = in.if_contains("max_tokens");
  }
  out["max_tokens"] =
      limit != nullptr && limit->is_int64() ? limit->get_int64() : kDefaultMaxTokens;
  std::string system;
  json::array messages;
  std::size_t index = 0;
  for (const json::value& item : in.at("messages").as_array()) {
    const std::string where = Index("messages", index++);
    const json::object& m = item.get_object();
    const std::string_view role = StringOr(m, "role", "");
    if (role != "assistant") {
      // An assistant's fields elsewhere: read, so never dropped.
      for (std::string_view key : {"refusal", "tool_calls", "function_call", "audio"}) {
        if (Present(m, key)) {
          return NoCounterpart(
              where + "." + std::string(key),
              "'" + std::string(key) + "' on a '" + std::string(role) + "' message",
              Dialect::kAnthropic);
        }
      }
    }
    if (role == "system" || role == "developer") {
      base::StatusOr<std::string> text = OpenAIText(m.if_contains("content"), where + ".content");
      if (!text.ok()) {
        return text.status();
      }
      system += system.empty() ? "" : "\n\n";
      system += *text;
    } else if (role == "user") {
      base::StatusOr<json::value> content =
          UserContent(m.if_contains("content"), where + ".content");
      if (!content.ok()) {
        return content.status();
      }
      messages.push_back(json::object{{"role", "user"}, {"content", std::move(content).value()}});
    } else if (role == "assistant") {
      base::StatusOr<json::array> blocks = AssistantBlocks(m, where);
      if (!blocks.ok()) {
        return blocks.status();
      }
      messages.push_back(
          json::object{{"role", "assistant"}, {"content", std::move(blocks).value()}});
    } else if (role == "tool") {
      base::StatusOr<std::string> text = OpenAIText(m.if_contains("content"), where + ".content");
      if (!text.ok()) {
        return text.status();
      }
      messages.push_back(json::object{
          {"role", "user"},
          {"content", json::array{json::object{{"type", "tool_result"},
                                               {"tool_use_id", StringOr(m, "tool_call_id", "")},
                                               {"content", *text}}}}});
    } else {
      return NoCounterpart(where, "a '" + std::string(role) + "' message", Dialect::kAnthropic);
    }
  }
  if (messages.empty()) {
    return NoCounterpart("messages", "a conversation of system messages only", Dialect::kAnthropic);
  }
  if (!system.empty()) {
    out["system"] = system;
  }
  out["messages"] = std::move(messages);
  if (const json::value* t = in.if_contains("temperature"); t && t->is_number()) {
    out["temperature"] = std::min(t->to_number<double>(), 1.0);
  }
  if (const json::value* p = in.if_contains("top_p"); p && p->is_number()) {
    out["top_p"] = *p;
  }
  if (const json::value* stop = in.if_contains("stop")) {
    if (stop->is_string()) {
      out["stop_sequences"] = json::array{*stop};
    } else if (stop->is_array()) {
      out["stop_sequences"] = *stop;
    }
  }
  if (const json::value* s = in.if_contains("stream"); s && s->is_bool()) {
    out["stream"] = *s;
  }
  if (const json::value* tools = in.if_contains("tools"); tools && tools->is_array()) {
    json::array converted;
    index = 0;
    for (const json::value& tool : tools->get_array()) {
      const std::string where = Index("tools", index++);
      const json::value* f = tool.get_object().if_contains("function");
      if (StringOr(tool.get_object(), "type", "") != "function" || f == nullptr) {
        return NoCounterpart(where, "a tool that is not a function", Dialect::kAnthropic);
      }
      const json::object& fn = f->get_object();
      json::object t{{"name", StringOr(fn, "name", "")}};
      if (const json::value* d = fn.if_contains("description"); d && d->is_string()) {
        t["description"] = *d;
      }
      const json::value* params = fn.if_contains("parameters");
      t["input_schema"] =
          params != nullptr ? *params : json::value(json::object{{"type", "object"}});
      converted.push_back(std::move(t));
    }
    out["tools"] = std::move(converted);
  }
  if (const json::value* choice = in.if_contains("tool_choice")) {
    if (choice->is_string()) {
      const std::string_view c = choice->get_string();
      out["tool_choice"] =
          json::object{{"type", c == "required" ? "any" : (c == "none" ? "none" : "auto")}};
    } else if (choice->is_object()) {
      const json::value* f = choice->get_object().if_contains("function");
      if (f == nullptr || !f->is_object()) {
        return NoCounterpart("tool_choice", "this tool_choice", Dialect::kAnthropic);
      }
      out["tool_choice"] =
          json::object{{"type", "tool"}, {"name", StringOr(f->get_object(), "name", "")}};
    }
  }
  if (const json::value* user = in.if_contains("user"); user && user->is_string()) {
    out["metadata"] = json::object{{"user_id", *user}};
  }
  return out;
}

// ---- Anthropic -> OpenAI ---------------------------------------------------

namespace {

// Text blocks only (system, tool results), joined.
base::StatusOr<std::string> AnthropicText(const json::value* content, const std::string& where) {
  if (content == nullptr || content->is_null()) {
    return std::string();
  }
  if (content->is_string()) {
    return std::string(content->get_string());
  }
  std::string text;
  std::size_t index = 0;
  for (const json::value& block : content->get_array()) {
    const std::string at = Index(where, index++);
    const json::object& b = block.get_object();
    const std::string_view type = StringOr(b, "type", "");
    if (type != "text") {
      return NoCounterpart(at, "a '" + std::string(type) + "' block here", Dialect::kOpenAI);
    }
    text += text.empty() ? "" : "\n";
    text += StringOr(b, "text", "");
  }
  return text;
}

base::StatusOr<json::object> ImagePart(const json::object& block, const std::string& where) {
  const json::object& source = block.at("source").as_object();
  const std::string_view type = StringOr(source, "type", "");
  std::string url;
  if (type == "base64") {
    // In a data URL, a media type with a comma or a semicolon would end
    // the type early and turn the payload into text.
    const std::string_view media_type = StringOr(source, "media_type", "");
    if (!IsMediaType(media_type)) {
      return NoCounterpart(where + ".source.media_type", "a media_type that is not a MIME type",
                           Dialect::kOpenAI);
    }
    url =
        "data:" + std::string(media_type) + ";base64," + std::string(StringOr(source, "data", ""));
  } else if (type == "url") {
    url = StringOr(source, "url", "");
  } else {
    return NoCounterpart(where + ".source", "an image of source type '" + std::string(type) + "'",
                         Dialect::kOpenAI);
  }
  return json::object{{"type", "image_url"}, {"image_url", json::object{{"url", url}}}};
}

}  // namespace

base::StatusOr<json::object> OpenAIRequestFromAnthropic(const json::object& in) {
  FB_RETURN_IF_ERROR(
      CheckTopLevel(in, Dialect::kAnthropic,
                    {"model", "messages", "max_tokens", "system", "temperature", "top_p",
                     "stop_sequences", "stream", "tools", "tool_choice", "metadata"}));
  json::object out;
  out["model"] = StringOr(in, "model", "");
  json::array messages;
  base::StatusOr<std::string> system = AnthropicText(in.if_contains("system"), "system");
  if (!system.ok()) {
    return system.status();
  }
  if (!system->empty()) {
    messages.push_back(json::object{{"role", "system"}, {"content", *system}});
  }
  std::size_t index = 0;
  for (const json::value& item : in.at("messages").as_array()) {
    const std::string where = Index("messages", index++);
    const json::object& m = item.get_object();
    const std::string role(StringOr(m, "role", "user"));
    const json::value& content = m.at("content");
    if (content.is_string()) {
      messages.push_back(json::object{{"role", role}, {"content", content}});
      continue;
    }
    json::array parts;
    json::array tool_calls;
    std::string assistant_text;
    std::size_t block_index = 0;
    for (const json::value& block : content.get_array()) {
      const std::string at = Index(where + ".content", block_index++);
      const json::object& b = block.get_object();
      const std::string_view type = StringOr(b, "type", "");
      if (type == "text") {
        if (role == "assistant") {
          assistant_text += StringOr(b, "text", "");
        } else {
          parts.push_back(json::object{{"type", "text"}, {"text", StringOr(b, "text", "")}});
        }
      } else if (type == "image" && role == "user") {
        base::StatusOr<json::object> image = ImagePart(b, at);
        if (!image.ok()) {
          return image.status();
        }
        parts.push_back(std::move(image).value());
      } else if (type == "tool_use" && role == "assistant") {
        tool_calls.push_back(ToolCallOf(b));
      } else if (type == "tool_result" && role == "user") {
        base::StatusOr<std::string> result =
            AnthropicText(b.if_contains("content"), at + ".content");
        if (!result.ok()) {
          return result.status();
        }
        messages.push_back(json::object{{"role", "tool"},
                                        {"tool_call_id", StringOr(b, "tool_use_id", "")},
                                        {"content", *result}});
      } else if ((type == "thinking" || type == "redacted_thinking") && role == "assistant") {
        // An earlier turn's reasoning: no OpenAI counterpart, and no content
        // the answer depends on (Anthropic itself drops it from past turns).
      } else {
        return NoCounterpart(at, "a '" + std::string(type) + "' block", Dialect::kOpenAI);
      }
    }
    if (role == "assistant") {
      json::object message{{"role", "assistant"}};
      message["content"] =
          assistant_text.empty() ? json::value(nullptr) : json::value(assistant_text);
      if (!tool_calls.empty()) {
        message["tool_calls"] = std::move(tool_calls);
      }
      messages.push_back(std::move(message));
    } else if (!parts.empty()) {
      messages.push_back(json::object{{"role", role}, {"content", std::move(parts)}});
    }
  }
  out["messages"] = std::move(messages);
  for (std::string_view key : {"max_tokens", "temperature", "top_p"}) {
    if (const json::value* v = in.if_contains(key)) {
      out[key] = *v;
    }
  }
  if (const json::value* stop = in.if_contains("stop_sequences")) {
    out["stop"] = *stop;
  }
  if (const json::value* s = in.if_contains("stream"); s && s->is_bool()) {
    out["stream"] = *s;
    if (s->get_bool()) {
      out["stream_options"] = json::object{{"include_usage", true}};
    }
  }
  if (const json::value* tools = in.if_contains("tools"); tools && tools->is_array()) {
    json::array converted;
    index = 0;
    for (const json::value& tool : tools->get_array()) {
      const json::object& t = tool.get_object();
      if (Present(t, "type") && StringOr(t, "type", "") != "custom") {
        return NoCounterpart(Index("tools", index), "a tool the provider runs itself",
                             Dialect::kOpenAI);
      }
      ++index;
      json::object fn{{"name", StringOr(t, "name", "")}};
      if (const json::value* d = t.if_contains("description"); d && d->is_string()) {
        fn["description"] = *d;
      }
      if (const json::value* schema = t.if_contains("input_schema")) {
        fn["parameters"] = *schema;
      }
      converted.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
    }
    out["tools"] = std::move(converted);
  }
  if (const json::value* choice = in.if_contains("tool_choice"); choice && choice->is_object()) {
    const std::string_view type = StringOr(choice->get_object(), "type", "auto");
    if (type == "tool") {
      out["tool_choice"] = json::object{
          {"type", "function"},
          {"function", json::object{{"name", StringOr(choice->get_object(), "name", "")}}}};
    } else {
      out["tool_choice"] = type == "any" ? "required" : (type == "none" ? "none" : "auto");
    }
  }
  if (const json::value* meta = in.if_contains("metadata"); meta && meta->is_object()) {
    if (const json::value* user = meta->get_object().if_contains("user_id")) {
      out["user"] = *user;
    }
  }
  return out;
}

}  // namespace firebreak::api
