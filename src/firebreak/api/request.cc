#include "firebreak/api/request.h"

#include <boost/json.hpp>

namespace firebreak::api {
namespace {

namespace json = boost::json;

// Offset of the first byte that is not part of well-formed UTF-8 (no
// overlongs, no surrogates, nothing past U+10FFFF), or npos.
std::size_t InvalidUtf8Offset(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      lo = c == 0xE0 ? 0xA0 : 0x80;
      hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      lo = c == 0xF0 ? 0x90 : 0x80;
      hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
      return i;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) {
      return i;
    }
    for (std::size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) {
        return i;
      }
    }
    i += len;
  }
  return std::string_view::npos;
}

std::string Location(std::string_view body, std::size_t offset) {
  offset = std::min(offset, body.size());
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (body[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "at byte " + std::to_string(offset) + " (line " + std::to_string(line) + ", column " +
         std::to_string(column) + ")";
}

std::string Field(std::string_view prefix, std::size_t index) {
  return std::string(prefix) + "[" + std::to_string(index) + "]";
}

// Appends `text` and a newline separator to `out`.
void Append(std::string& out, std::string_view text) {
  if (text.empty()) {
    return;
  }
  if (!out.empty()) {
    out.push_back('\n');
  }
  out.append(text);
}

base::Status ContentText(const json::value& content, Dialect dialect, const std::string& where,
                         std::string& text);

// One content part (OpenAI) or block (Anthropic). Parts without text (images,
// audio) add nothing; the text of tool calls and tool results is classified.
base::Status PartText(const json::object& part, Dialect dialect, const std::string& where,
                      std::string& text) {
  const json::value* type = part.if_contains("type");
  if (type == nullptr || !type->is_string()) {
    return base::InvalidArgument(where + ".type must be a string");
  }
  const std::string_view kind = type->get_string();
  auto string_field = [&](std::string_view name) -> base::Status {
    const json::value* v = part.if_contains(name);
    if (v == nullptr || !v->is_string()) {
      return base::InvalidArgument(where + "." + std::string(name) + " must be a string");
    }
    Append(text, v->get_string());
    return base::Status::Ok();
  };
  if (kind == "text") {
    return string_field("text");
  }
  if (kind == "refusal") {
    return string_field("refusal");
  }
  if (dialect == Dialect::kAnthropic && kind == "tool_use") {
    const json::value* name = part.if_contains("name");
    const json::value* input = part.if_contains("input");
    if (name != nullptr && name->is_string()) {
      Append(text, name->get_string());
    }
    if (input != nullptr) {
      Append(text, json::serialize(*input));
    }
    return base::Status::Ok();
  }
  if (dialect == Dialect::kAnthropic && kind == "tool_result") {
    if (const json::value* c = part.if_contains("content")) {
      return ContentText(*c, dialect, where + ".content", text);
    }
    return base::Status::Ok();
  }
  if (dialect == Dialect::kAnthropic && kind == "document") {
    const json::value* source = part.if_contains("source");
    if (source != nullptr && source->is_object()) {
      const json::object& s = source->get_object();
      const json::value* source_type = s.if_contains("type");
      const json::value* data = s.if_contains("data");
      if (source_type != nullptr && *source_type == "text" && data != nullptr &&
          data->is_string()) {
        Append(text, data->get_string());
      } else if (const json::value* c = s.if_contains("content")) {
        return ContentText(*c, dialect, where + ".source.content", text);
      }
    }
    return base::Status::Ok();
  }
  return base::Status::Ok();
}

base::Status ContentText(const json::value& content, Dialect dialect, const std::string& where,
                         std::string& text) {
  if (content.is_string()) {
    Append(text, content.get_string());
    return base::Status::Ok();
  }
  if (content.is_null()) {
    return base::Status::Ok();
  }
  if (!content.is_array()) {
    return base::InvalidArgument(where + " must be a string or an array of content parts");
  }
  std::size_t index = 0;
  for (const json::value& part : content.get_array()) {
    const std::string at = Field(where, index++);
    if (!part.is_object()) {
      return base::InvalidArgument(at + " must be an object");
    }
    FB_RETURN_IF_ERROR(PartText(part.get_object(), dialect, at, text));
  }
  return base::Status::Ok();
}

// OpenAI assistant messages carry tool calls whose arguments are model
// output the next turn builds on: they are part of the conversation.
void ToolCallText(const json::object& message, std::string& text) {
  if (const json::value* calls = message.if_contains("tool_calls"); calls && calls->is_array()) {
    for (const json::value& call : calls->get_array()) {
      const json::value* function =
          call.is_object() ? call.get_object().if_contains("function") : nullptr;
      if (function == nullptr || !function->is_object()) {
        continue;
      }
      for (std::string_view key : {"name", "arguments"}) {
        if (const json::value* v = function->get_object().if_contains(key); v && v->is_string()) {
          Append(text, v->get_string());
        }
      }
    }
  }
}

}  // namespace

std::string_view DialectName(Dialect dialect) {
  return dialect == Dialect::kOpenAI ? "openai" : "anthropic";
}

base::StatusOr<json::value> ParseJson(std::string_view body, const ParseLimits& limits) {
  if (body.empty()) {
    return base::InvalidArgument("the request body is empty; expected a JSON object");
  }
  if (const std::size_t bad = InvalidUtf8Offset(body); bad != std::string_view::npos) {
    return base::InvalidArgument("the request body is not valid UTF-8 " + Location(body, bad));
  }
  json::parse_options options;
  options.max_depth = limits.max_depth;
  json::stream_parser parser({}, options);
  boost::system::error_code ec;
  const std::size_t consumed = parser.write(body.data(), body.size(), ec);
  if (!ec) {
    parser.finish(ec);
  }
  if (ec) {
    const std::size_t offset = ec == json::error::incomplete ? body.size() : consumed;
    if (ec == json::error::too_deep) {
      return base::InvalidArgument("the JSON body nests deeper than " +
                                   std::to_string(limits.max_depth) + " levels " +
                                   Location(body, offset));
    }
    return base::InvalidArgument("malformed JSON " + Location(body, offset) + ": " + ec.message());
  }
  return parser.release();
}

base::StatusOr<base::Conversation> ConversationOf(const json::value& document, Dialect dialect) {
  const json::object* body = document.if_object();
  if (body == nullptr) {
    return base::InvalidArgument("the request body must be a JSON object");
  }
  base::Conversation conversation;
  if (const json::value* model = body->if_contains("model")) {
    if (!model->is_string()) {
      return base::InvalidArgument("model must be a string");
    }
    conversation.model = model->get_string();
  }
  if (const json::value* stream = body->if_contains("stream"); stream && !stream->is_null()) {
    if (!stream->is_bool()) {
      return base::InvalidArgument("stream must be true or false");
    }
    conversation.stream = stream->get_bool();
  }
  if (const json::value* system = body->if_contains("system");
      system != nullptr && dialect == Dialect::kAnthropic) {
    base::Message message{base::Role::kSystem, {}};
    FB_RETURN_IF_ERROR(ContentText(*system, dialect, "system", message.text));
    conversation.messages.push_back(std::move(message));
  }
  const json::value* messages = body->if_contains("messages");
  if (messages == nullptr) {
    return base::InvalidArgument("messages is required: an array of {role, content} objects");
  }
  if (!messages->is_array() || messages->get_array().empty()) {
    return base::InvalidArgument("messages must be a non-empty array");
  }
  std::size_t index = 0;
  bool any_text = false;
  for (const json::value& item : messages->get_array()) {
    const std::string where = Field("messages", index++);
    const json::object* m = item.if_object();
    if (m == nullptr) {
      return base::InvalidArgument(where + " must be an object");
    }
    base::Message message;
    const json::value* role = m->if_contains("role");
    const bool known = role != nullptr && role->is_string() &&
                       base::ParseRole(std::string_view(role->get_string()), &message.role);
    if (dialect == Dialect::kAnthropic &&
        (!known || (message.role != base::Role::kUser && message.role != base::Role::kAssistant))) {
      return base::InvalidArgument(where + ".role must be \"user\" or \"assistant\"");
    }
    if (!known) {
      return base::InvalidArgument(where +
                                   ".role must be system, developer, user, assistant or tool");
    }
    if (const json::value* content = m->if_contains("content")) {
      FB_RETURN_IF_ERROR(ContentText(*content, dialect, where + ".content", message.text));
    } else if (dialect == Dialect::kAnthropic) {
      return base::InvalidArgument(where + ".content is required");
    }
    if (dialect == Dialect::kOpenAI) {
      ToolCallText(*m, message.text);
    }
    any_text = any_text || message.text.find_first_not_of(" \t\r\n") != std::string::npos;
    conversation.messages.push_back(std::move(message));
  }
  if (!any_text) {
    return base::InvalidArgument("the messages contain no text: there is nothing to classify");
  }
  return conversation;
}

void InjectSystemInstruction(json::object& document, Dialect dialect,
                             std::string_view instruction) {
  if (dialect == Dialect::kAnthropic) {
    json::value& system = document["system"];
    if (system.is_array()) {
      system.get_array().push_back(json::object{{"type", "text"}, {"text", instruction}});
    } else if (system.is_string() && !system.get_string().empty()) {
      system = std::string(system.get_string()) + "\n\n" + std::string(instruction);
    } else {
      system = instruction;
    }
    return;
  }
  json::value* messages = document.if_contains("messages");
  if (messages == nullptr || !messages->is_array()) {
    return;
  }
  json::array& list = messages->get_array();
  auto at = list.begin();
  while (at != list.end() && at->is_object()) {
    const json::value* role = at->get_object().if_contains("role");
    if (role == nullptr || (*role != "system" && *role != "developer")) {
      break;
    }
    ++at;
  }
  list.insert(at, json::object{{"role", "system"}, {"content", instruction}});
}

std::string OpenAIErrorBody(std::string_view message, std::string_view type,
                            std::string_view code) {
  return json::serialize(json::object{
      {"error",
       json::object{{"message", message}, {"type", type}, {"code", code}, {"param", nullptr}}}});
}

std::string AnthropicErrorBody(std::string_view type, std::string_view message) {
  return json::serialize(json::object{
      {"type", "error"}, {"error", json::object{{"type", type}, {"message", message}}}});
}

std::string_view AnthropicErrorType(int status) {
  switch (status) {
    case 400:
    case 405:
    case 411:
    case 415:
    case 422:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 408:
    case 504:
      return "timeout_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return "api_error";
  }
}

}  // namespace firebreak::api
