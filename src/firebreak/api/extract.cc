// ConversationOf: every string a provider would show the model, read from a
// strictly parsed request body of either API. The request is walked against
// what each API defines: known objects by their known fields, content parts
// and blocks by their known types. What the walk meets:
// - text the model reads (messages, names, tool and function definitions with
//   their schemas, tool calls and results, response schemas, documents,
//   search results, citations, decoded URLs): classified, one Message per
//   message or definition;
// - media (images, audio, binary or remote documents) and tools the provider
//   runs itself: recorded as uninspected, for the policy to decide; their
//   payloads are not read as text;
// - a field or part type this version does not know: uninspected too, and
//   every string inside it is classified all the same;
// - a field spelled like a known one in another case: refused, since some
//   upstreams match names case-insensitively.
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <initializer_list>
#include <string>
#include <string_view>

#include "firebreak/api/fields.h"
#include "firebreak/api/request.h"
#include "firebreak/base/utf8.h"

namespace firebreak::api {

namespace json = boost::json;
// A field name as a case-insensitive decoder compares it: ASCII case folded,
// and the two non-ASCII letters that Unicode simple case folding maps onto
// ASCII ones (U+017F long s, U+212A Kelvin sign), as Go's encoding/json does.
std::string FoldedName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name.substr(i, 2) == "\xC5\xBF") {
      out.push_back('s');
      i += 1;
    } else if (name.substr(i, 3) == "\xE2\x84\xAA") {
      out.push_back('k');
      i += 2;
    } else {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(name[i]))));
    }
  }
  return out;
}

// Appends `text` to `out`, newline-separated.
void AppendLine(std::string& out, std::string_view text) {
  if (text.empty()) {
    return;
  }
  if (!out.empty()) {
    out.push_back('\n');
  }
  out.append(text);
}

namespace {

// Appends code point `cp` as UTF-8 (a surrogate as U+FFFD).
void AppendUtf8(std::string& out, std::uint32_t cp) {
  if (cp >= 0xD800 && cp <= 0xDFFF) {
    cp = 0xFFFD;
  }
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int HexDigit(char c);

// JSON string escapes (\uXXXX with surrogate pairs, \n, \", ...) decoded
// wherever they appear in `s`; anything else is kept as written.
std::string Unescaped(std::string_view s) {
  auto hex4 = [&](std::size_t at) -> int {
    if (at + 4 > s.size()) {
      return -1;
    }
    int v = 0;
    for (std::size_t k = at; k < at + 4; ++k) {
      const int d = HexDigit(s[k]);
      if (d < 0) {
        return -1;
      }
      v = v * 16 + d;
    }
    return v;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char c = s[++i];
    if (c == 'u') {
      int cp = hex4(i + 1);
      if (cp < 0) {
        out += "\\u";
        continue;
      }
      i += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF && s.substr(i + 1, 2) == "\\u") {
        const int low = hex4(i + 3);
        if (low >= 0xDC00 && low <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          i += 6;
        }
      }
      AppendUtf8(out, static_cast<std::uint32_t>(cp));
    } else {
      const std::string_view from = "nrtbf\"\\/";
      const std::string_view to = "\n\r\t\b\f\"\\/";
      const std::size_t k = from.find(c);
      out.push_back(k == std::string_view::npos ? c : to[k]);
    }
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

// A URL as a model or a fetcher would read it: percent escapes decoded, '+'
// as a space (query strings). Undecodable or not UTF-8: the URL as written.
std::string DecodedUrl(std::string_view url) {
  std::string out;
  out.reserve(url.size());
  for (std::size_t i = 0; i < url.size(); ++i) {
    if (url[i] == '%' && i + 2 < url.size() &&
        HexDigit(url[i + 1]) >= 0 && HexDigit(url[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(url[i + 1]) * 16 + HexDigit(url[i + 2])));
      i += 2;
    } else {
      out.push_back(url[i] == '+' ? ' ' : url[i]);
    }
  }
  return base::IsUtf8(out) ? out : std::string(url);
}

namespace {

// Runs of two or more letters, whatever separates them.
int Words(std::string_view s) {
  int words = 0;
  int run = 0;
  for (const char c : s) {
    const bool letter = std::isalpha(static_cast<unsigned char>(c)) != 0 ||
                        static_cast<unsigned char>(c) >= 0x80;
    if (letter) {
      ++run;
    } else {
      words += run >= 2 ? 1 : 0;
      run = 0;
    }
  }
  return words + (run >= 2 ? 1 : 0);
}

}  // namespace

// A setting worth classifying: a phrase (three words or more), or a long
// unbroken string that may be an encoded payload.
bool ReadsAsText(std::string_view s) {
  return Words(s) >= 3 ||
         (s.size() >= 48 && s.find_first_of(" \t\r\n") == std::string_view::npos);
}

// The strings of settings that read as text (ReadsAsText), keys included.
void CollectSettings(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::string:
      if (ReadsAsText(v.get_string())) {
        AppendLine(out, v.get_string());
      }
      break;
    case json::kind::array:
      for (const json::value& item : v.get_array()) {
        CollectSettings(item, out);
      }
      break;
    case json::kind::object:
      for (const auto& [key, value] : v.get_object()) {
        if (ReadsAsText(key)) {
          AppendLine(out, key);
        }
        CollectSettings(value, out);
      }
      break;
    default:
      break;
  }
}

// Every key and string under `v`: what a model could read of free-form
// JSON (schemas, tool inputs, unknown fields).
void CollectStrings(const json::value& v, std::string& text) {
  switch (v.kind()) {
    case json::kind::string:
      AppendLine(text, v.get_string());
      break;
    case json::kind::array:
      for (const json::value& item : v.get_array()) {
        CollectStrings(item, text);
      }
      break;
    case json::kind::object:
      for (const auto& [key, value] : v.get_object()) {
        AppendLine(text, key);
        CollectStrings(value, text);
      }
      break;
    default:
      break;
  }
}

// Every string of a JSON schema but its own vocabulary: the keywords
// ("properties", "items", "type", ...) and type names say nothing, and
// would only dilute the descriptions, property names, enum values and
// examples that do.
void CollectSchemaStrings(const json::value& v, std::string& text) {
  static constexpr std::string_view kKeywords[] = {
      "$schema", "$id", "$ref", "$defs", "definitions", "type", "properties", "items",
      "required", "additionalProperties", "description", "enum", "const", "default",
      "examples", "title", "format", "pattern", "minimum", "maximum", "minLength",
      "maxLength", "minItems", "maxItems", "anyOf", "allOf", "oneOf", "not", "nullable",
      "strict", "uniqueItems", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"};
  static constexpr std::string_view kTypes[] = {"object", "string",  "number", "integer",
                                                "boolean", "array", "null"};
  if (v.is_object()) {
    for (const auto& [key, value] : v.get_object()) {
      if (std::find(std::begin(kKeywords), std::end(kKeywords), key) == std::end(kKeywords)) {
        AppendLine(text, key);
      }
      // Type names in any case (Gemini's schemas write OBJECT, STRING).
      if (key == "type" && value.is_string() &&
          std::find(std::begin(kTypes), std::end(kTypes), FoldedName(value.get_string())) !=
              std::end(kTypes)) {
        continue;
      }
      CollectSchemaStrings(value, text);
    }
  } else if (v.is_array()) {
    for (const json::value& item : v.get_array()) {
      CollectSchemaStrings(item, text);
    }
  } else {
    CollectStrings(v, text);
  }
}


namespace {

// The walk of one request. Each method reads one kind of object; text goes
// to the Message being built, media and unknowns to conversation.uninspected.
class Walker {
 public:
  Walker(Dialect dialect, base::Conversation& out) : dialect_(dialect), out_(out) {}

  base::Status Request(const json::object& body);

 private:
  using Status = base::Status;

  // Accounts for every key of a known object: `read` are the fields the
  // caller reads itself; `settings` are fields of ids, enums and options,
  // whose strings go to Settings(); a known field in another case is
  // refused; any other key is recorded as uninspected, and its strings are
  // classified all the same.
  Status CheckKeys(const json::object& o, const std::string& where, Keys read, Keys settings,
                   std::string& text) {
    for (const auto& [key, value] : o) {
      if (Contains(read, key)) {
        continue;
      }
      if (Contains(settings, key)) {
        Settings(value);
        continue;
      }
      const std::string folded = FoldedName(key);
      for (Keys known : {read, settings}) {
        for (std::string_view k : known) {
          if (folded == k) {
            return base::InvalidArgument(Member(where, key) +
                                         ": field names are case-sensitive; '" +
                                         std::string(key) + "' is not '" + std::string(k) + "'");
          }
        }
      }
      Uninspected(base::ContentKind::kUnknownField, Member(where, key));
      CollectStrings(value, text);
    }
    return Status::Ok();
  }

  // The strings of settings, ids and enums ("auto", "gpt-4o", "call_x1")
  // reach the upstream too, but are not prose: scored alone they would only
  // misfire. Those that read as text (ReadsAsText) are classified,
  // together, as the request's own text.
  void Settings(const json::value& v) { CollectSettings(v, settings_); }

  void Uninspected(base::ContentKind kind, std::string where) {
    out_.uninspected.push_back({kind, std::move(where)});
  }

  // A JSON-encoded string (tool call arguments): the model reads it as
  // written, escapes and all, and as what it decodes to.
  static void EncodedJson(std::string_view encoded, std::string& text) {
    AppendLine(text, encoded);
    if (encoded.find('\\') != std::string_view::npos) {
      // Escapes as the model reads them, whether or not the whole parses
      // (and whichever of two duplicate keys a parser would keep).
      AppendLine(text, Unescaped(encoded));
    }
    boost::system::error_code ec;
    json::value decoded = json::parse(encoded, ec);
    if (!ec && !decoded.is_string()) {
      CollectStrings(decoded, text);
    } else if (!ec) {
      AppendLine(text, decoded.get_string());
    }
  }

  static Status Expect(const json::value* v, json::kind kind, const std::string& where,
                       std::string_view what) {
    if (v != nullptr && v->kind() != kind && !v->is_null()) {
      return base::InvalidArgument(where + " must be " + std::string(what));
    }
    return Status::Ok();
  }

  // A string field the model reads (text, names, descriptions).
  static Status TextField(const json::object& o, std::string_view key, const std::string& where,
                          std::string& text, bool required = false) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || (v->is_null() && !required)) {
      if (required) {
        return base::InvalidArgument(Member(where, key) + " is required");
      }
      return Status::Ok();
    }
    if (!v->is_string()) {
      return base::InvalidArgument(Member(where, key) + " must be a string");
    }
    AppendLine(text, v->get_string());
    return Status::Ok();
  }

  // The part or block's type, which must be a string.
  static base::StatusOr<std::string_view> TypeOf(const json::object& o, const std::string& where) {
    const json::value* type = o.if_contains("type");
    if (type == nullptr || !type->is_string()) {
      return base::InvalidArgument(where + ".type must be a string");
    }
    return std::string_view(type->get_string());
  }

  Status Url(const json::value* url, const std::string& where, std::string& text) {
    if (url == nullptr || url->is_null()) {
      return Status::Ok();
    }
    if (!url->is_string()) {
      return base::InvalidArgument(where + " must be a string");
    }
    const std::string_view u = url->get_string();
    if (!u.starts_with("data:")) {
      AppendLine(text, DecodedUrl(u));
      return Status::Ok();
    }
    // data:[TYPE][;base64],PAYLOAD: a base64 payload is media, its type a
    // setting (as an Anthropic source's media_type); anything else is text
    // in the URL itself, and read as such.
    const std::size_t comma = u.find(',');
    const std::string_view head = u.substr(0, comma);
    if (comma == std::string_view::npos || !head.ends_with(";base64")) {
      AppendLine(text, DecodedUrl(u));
    } else if (const std::string_view type = head.substr(5, head.size() - 12);
               ReadsAsText(type) || ReadsAsText(DecodedUrl(type))) {
      AppendLine(settings_, DecodedUrl(type));  // raw, it becomes a media_type
    }
    return Status::Ok();
  }

  Status Content(const json::value& content, const std::string& where, std::string& text);
  Status OpenAIPart(const json::object& part, const std::string& where, std::string& text);
  Status AnthropicBlock(const json::object& block, const std::string& where, std::string& text);
  Status AnthropicAttachment(std::string_view type, const json::object& block,
                             const std::string& where, std::string& text);
  Status AnthropicSource(const json::object& block, base::ContentKind media,
                         const std::string& where, std::string& text);
  Status OpenAIMessage(const json::object& m, const std::string& where, base::Message& message);
  Status AnthropicMessage(const json::object& m, const std::string& where,
                          base::Message& message);
  Status OpenAITool(const json::object& tool, const std::string& where, std::string& text);
  Status AnthropicTool(const json::object& tool, const std::string& where, std::string& text);
  Status ToolCalls(const json::value& calls, const std::string& where, std::string& text);
  Status FunctionDefinition(const json::value& fn, const std::string& where, std::string& text);

  void MoveAttached() {
    for (base::Message& m : attached_) {
      out_.messages.push_back(std::move(m));
    }
    attached_.clear();
  }

  // A text beside the messages (a definition, a schema) as its own Message.
  void Definition(std::string text, std::string where) {
    if (!text.empty()) {
      out_.messages.push_back({base::Role::kSystem, std::move(text), std::move(where)});
    }
  }

  Dialect dialect_;
  base::Conversation& out_;
  std::string settings_;                 // see Settings()
  std::vector<base::Message> attached_;  // documents and results met in the current message
};

base::Status Walker::Content(const json::value& content, const std::string& where,
                             std::string& text) {
  if (content.is_string()) {
    AppendLine(text, content.get_string());
    return Status::Ok();
  }
  if (content.is_null()) {
    return Status::Ok();
  }
  if (!content.is_array()) {
    return base::InvalidArgument(where + " must be a string or an array of content parts");
  }
  std::size_t index = 0;
  for (const json::value& part : content.get_array()) {
    const std::string at = Index(where, index++);
    if (!part.is_object()) {
      return base::InvalidArgument(at + " must be an object");
    }
    FB_RETURN_IF_ERROR(dialect_ == Dialect::kOpenAI ? OpenAIPart(part.get_object(), at, text)
                                                    : AnthropicBlock(part.get_object(), at, text));
  }
  // Parts are read one to a line, but a provider (or a translation) may
  // run adjacent text parts together: "I w" + "ill ..." is read joined too.
  std::string joined;
  std::size_t text_parts = 0;
  for (const json::value& part : content.get_array()) {
    const json::object& p = part.get_object();
    const json::value* type = p.if_contains("type");
    const json::value* t = p.if_contains("text");
    if (type != nullptr && *type == "text" && t != nullptr && t->is_string()) {
      joined.append(t->get_string());
      ++text_parts;
    }
  }
  if (text_parts > 1) {
    AppendLine(text, joined);
  }
  return Status::Ok();
}

// OpenAI content parts: text, refusal, image_url, input_audio, file.
base::Status Walker::OpenAIPart(const json::object& part, const std::string& where,
                                std::string& text) {
  base::StatusOr<std::string_view> type = TypeOf(part, where);
  if (!type.ok()) {
    return type.status();
  }
  if (*type == "text") {
    FB_RETURN_IF_ERROR(CheckKeys(part, where, {"type", "text"}, {}, text));
    return TextField(part, "text", where, text, true);
  }
  if (*type == "refusal") {
    FB_RETURN_IF_ERROR(CheckKeys(part, where, {"type", "refusal"}, {}, text));
    return TextField(part, "refusal", where, text, true);
  }
  if (*type == "image_url" || *type == "input_audio" || *type == "file") {
    const bool image = *type == "image_url";
    const bool audio = *type == "input_audio";
    Uninspected(image   ? base::ContentKind::kImage
                : audio ? base::ContentKind::kAudio
                        : base::ContentKind::kDocument,
                where);
    const std::string_view inner = *type;
    FB_RETURN_IF_ERROR(CheckKeys(part, where, {"type", inner}, {}, text));
    const json::value* v = part.if_contains(inner);
    const std::string at = Member(where, inner);
    if (v == nullptr || !v->is_object()) {
      return base::InvalidArgument(at + " must be an object");
    }
    const json::object& media = v->get_object();
    if (image) {
      FB_RETURN_IF_ERROR(CheckKeys(media, at, {"url"}, {"detail"}, text));
      return Url(media.if_contains("url"), Member(at, "url"), text);
    }
    if (audio) {
      return CheckKeys(media, at, {"data"}, {"format"}, text);
    }
    FB_RETURN_IF_ERROR(CheckKeys(media, at, {"file_data", "filename"}, {"file_id"}, text));
    return TextField(media, "filename", at, text);
  }
  Uninspected(base::ContentKind::kUnknownPart, where);
  CollectStrings(part, text);
  return Status::Ok();
}

// Where an Anthropic image or document comes from: base64 data or a file id
// (never read as text), a URL the upstream fetches (its decoded text read),
// or, for documents, text the model reads.
base::Status Walker::AnthropicSource(const json::object& block, base::ContentKind media,
                                     const std::string& where, std::string& text) {
  const json::value* s = block.if_contains("source");
  const std::string at = Member(where, "source");
  if (s == nullptr || !s->is_object()) {
    return base::InvalidArgument(at + " must be an object");
  }
  const json::object& source = s->get_object();
  base::StatusOr<std::string_view> type = TypeOf(source, at);
  if (!type.ok()) {
    return type.status();
  }
  if (media == base::ContentKind::kDocument && *type == "text") {
    FB_RETURN_IF_ERROR(CheckKeys(source, at, {"type", "data"}, {"media_type"}, text));
    return TextField(source, "data", at, text, true);
  }
  if (media == base::ContentKind::kDocument && *type == "content") {
    FB_RETURN_IF_ERROR(CheckKeys(source, at, {"type", "content"}, {}, text));
    const json::value* content = source.if_contains("content");
    if (content == nullptr) {
      return base::InvalidArgument(Member(at, "content") + " is required");
    }
    return Content(*content, Member(at, "content"), text);
  }
  Uninspected(media, where);
  if (*type == "base64") {
    return CheckKeys(source, at, {"type", "data"}, {"media_type"}, text);
  }
  if (*type == "url") {
    FB_RETURN_IF_ERROR(CheckKeys(source, at, {"type", "url"}, {}, text));
    return Url(source.if_contains("url"), Member(at, "url"), text);
  }
  if (*type == "file") {
    return CheckKeys(source, at, {"type"}, {"file_id"}, text);
  }
  Uninspected(base::ContentKind::kUnknownPart, at);
  CollectStrings(source, text);
  return Status::Ok();
}

// Anthropic content blocks.
base::Status Walker::AnthropicBlock(const json::object& block, const std::string& where,
                                    std::string& text) {
  base::StatusOr<std::string_view> type = TypeOf(block, where);
  if (!type.ok()) {
    return type.status();
  }
  if (*type == "text") {
    // Citations quote documents the model was given: their text is read too.
    if (const json::value* citations = block.if_contains("citations")) {
      CollectStrings(*citations, text);
    }
    FB_RETURN_IF_ERROR(
        CheckKeys(block, where, {"type", "text", "citations"}, {"cache_control"}, text));
    return TextField(block, "text", where, text, true);
  }
  if (*type == "image") {
    FB_RETURN_IF_ERROR(CheckKeys(block, where, {"type", "source"}, {"cache_control"}, text));
    return AnthropicSource(block, base::ContentKind::kImage, where, text);
  }
  if (*type == "document" || *type == "search_result" || *type == "tool_result") {
    // Given to the model as a whole: a text of its own, so that the request
    // around it cannot dilute it.
    std::string own;
    FB_RETURN_IF_ERROR(AnthropicAttachment(*type, block, where, own));
    if (!own.empty()) {
      attached_.push_back(
          {*type == "tool_result" ? base::Role::kTool : base::Role::kUser, std::move(own), where});
    }
    return Status::Ok();
  }
  if (*type == "tool_use") {
    FB_RETURN_IF_ERROR(
        CheckKeys(block, where, {"type", "name", "input"}, {"id", "cache_control"}, text));
    FB_RETURN_IF_ERROR(TextField(block, "name", where, text));
    if (const json::value* input = block.if_contains("input")) {
      CollectStrings(*input, text);
    }
    return Status::Ok();
  }
  if (*type == "thinking") {
    // The signature is the provider's own seal over the thinking.
    FB_RETURN_IF_ERROR(CheckKeys(block, where, {"type", "thinking"}, {"signature"}, text));
    return TextField(block, "thinking", where, text, true);
  }
  if (*type == "redacted_thinking") {
    // Encrypted by the provider, which refuses anything it did not seal.
    return CheckKeys(block, where, {"type"}, {"data"}, text);
  }
  if (type->starts_with("server_tool_use") || type->starts_with("mcp_tool_") ||
      type->ends_with("_tool_result") || *type == "container_upload") {
    Uninspected(base::ContentKind::kServerTool, where);
    CollectStrings(block, text);
    return Status::Ok();
  }
  Uninspected(base::ContentKind::kUnknownPart, where);
  CollectStrings(block, text);
  return Status::Ok();
}

// Documents, search results and tool results, each read into `text`.
base::Status Walker::AnthropicAttachment(std::string_view type, const json::object& block,
                                         const std::string& where, std::string& text) {
  if (type == "document") {
    FB_RETURN_IF_ERROR(CheckKeys(block, where, {"type", "source", "title", "context", "citations"},
                                 {"cache_control"}, text));
    FB_RETURN_IF_ERROR(TextField(block, "title", where, text));
    FB_RETURN_IF_ERROR(TextField(block, "context", where, text));
    if (const json::value* citations = block.if_contains("citations")) {
      CollectStrings(*citations, text);
    }
    return AnthropicSource(block, base::ContentKind::kDocument, where, text);
  }
  if (type == "search_result") {
    FB_RETURN_IF_ERROR(CheckKeys(block, where, {"type", "source", "title", "content", "citations"},
                                 {"cache_control"}, text));
    FB_RETURN_IF_ERROR(TextField(block, "title", where, text));
    if (const json::value* citations = block.if_contains("citations")) {
      CollectStrings(*citations, text);
    }
    FB_RETURN_IF_ERROR(Url(block.if_contains("source"), Member(where, "source"), text));
    const json::value* content = block.if_contains("content");
    return content != nullptr ? Content(*content, Member(where, "content"), text) : Status::Ok();
  }
  // tool_result
  FB_RETURN_IF_ERROR(CheckKeys(block, where, {"type", "content", "is_error"},
                               {"tool_use_id", "cache_control"}, text));
  FB_RETURN_IF_ERROR(Expect(block.if_contains("is_error"), json::kind::bool_,
                            Member(where, "is_error"), "a boolean"));
  const json::value* content = block.if_contains("content");
  return content != nullptr ? Content(*content, Member(where, "content"), text) : Status::Ok();
}

// OpenAI assistant tool calls: function (name, JSON arguments) or custom
// (name, free-form input).
base::Status Walker::ToolCalls(const json::value& calls, const std::string& where,
                               std::string& text) {
  if (calls.is_null()) {
    return Status::Ok();
  }
  if (!calls.is_array()) {
    return base::InvalidArgument(where + " must be an array");
  }
  std::size_t index = 0;
  for (const json::value& call : calls.get_array()) {
    const std::string at = Index(where, index++);
    if (!call.is_object()) {
      return base::InvalidArgument(at + " must be an object");
    }
    const json::object& c = call.get_object();
    FB_RETURN_IF_ERROR(CheckKeys(c, at, {"function", "custom"}, {"id", "type"}, text));
    for (std::string_view kind : {"function", "custom"}) {
      const json::value* f = c.if_contains(kind);
      if (f == nullptr) {
        continue;
      }
      const std::string fat = Member(at, kind);
      if (!f->is_object()) {
        return base::InvalidArgument(fat + " must be an object");
      }
      const json::object& fn = f->get_object();
      const std::string_view payload = kind == "function" ? "arguments" : "input";
      FB_RETURN_IF_ERROR(CheckKeys(fn, fat, {"name", payload}, {}, text));
      FB_RETURN_IF_ERROR(TextField(fn, "name", fat, text));
      if (const json::value* p = fn.if_contains(payload); p != nullptr && !p->is_null()) {
        if (!p->is_string()) {
          return base::InvalidArgument(Member(fat, payload) + " must be a string");
        }
        EncodedJson(p->get_string(), text);
      }
    }
  }
  return Status::Ok();
}

base::Status Walker::OpenAIMessage(const json::object& m, const std::string& where,
                                   base::Message& message) {
  std::string& text = message.text;
  FB_RETURN_IF_ERROR(CheckKeys(
      m, where, {"role", "content", "name", "refusal", "tool_calls", "function_call", "audio"},
      {"tool_call_id"}, text));
  if (const json::value* content = m.if_contains("content")) {
    FB_RETURN_IF_ERROR(Content(*content, Member(where, "content"), text));
  }
  FB_RETURN_IF_ERROR(TextField(m, "name", where, text));
  FB_RETURN_IF_ERROR(TextField(m, "refusal", where, text));
  if (const json::value* calls = m.if_contains("tool_calls")) {
    FB_RETURN_IF_ERROR(ToolCalls(*calls, Member(where, "tool_calls"), text));
  }
  if (const json::value* call = m.if_contains("function_call"); call && !call->is_null()) {
    // The legacy form of one tool call: {name, arguments}.
    const std::string at = Member(where, "function_call");
    if (!call->is_object()) {
      return base::InvalidArgument(at + " must be an object");
    }
    FB_RETURN_IF_ERROR(CheckKeys(call->get_object(), at, {"name", "arguments"}, {}, text));
    FB_RETURN_IF_ERROR(TextField(call->get_object(), "name", at, text));
    if (const json::value* args = call->get_object().if_contains("arguments")) {
      if (!args->is_string()) {
        return base::InvalidArgument(Member(at, "arguments") + " must be a string");
      }
      EncodedJson(args->get_string(), text);
    }
  }
  if (const json::value* audio = m.if_contains("audio"); audio && !audio->is_null()) {
    // A previous audio answer, by id: the model hears what we cannot read.
    Uninspected(base::ContentKind::kAudio, Member(where, "audio"));
    Settings(*audio);
  }
  return Status::Ok();
}

base::Status Walker::AnthropicMessage(const json::object& m, const std::string& where,
                                      base::Message& message) {
  FB_RETURN_IF_ERROR(CheckKeys(m, where, {"role", "content"}, {}, message.text));
  const json::value* content = m.if_contains("content");
  if (content == nullptr) {
    return base::InvalidArgument(where + ".content is required");
  }
  if (!content->is_string() && !content->is_array()) {
    // null is an OpenAI assistant's way of saying "tool calls only".
    return base::InvalidArgument(where + ".content must be a string or an array of content blocks");
  }
  return Content(*content, Member(where, "content"), message.text);
}

// A function's definition: {name, description, parameters (a JSON schema),
// strict}. Every string of the schema is read: descriptions, property names,
// enum values, defaults, examples.
base::Status Walker::FunctionDefinition(const json::value& fn, const std::string& where,
                                        std::string& text) {
  if (!fn.is_object()) {
    return base::InvalidArgument(where + " must be an object");
  }
  const json::object& f = fn.get_object();
  FB_RETURN_IF_ERROR(
      CheckKeys(f, where, {"name", "description", "parameters"}, {"strict"}, text));
  FB_RETURN_IF_ERROR(TextField(f, "name", where, text, true));
  FB_RETURN_IF_ERROR(TextField(f, "description", where, text));
  if (const json::value* parameters = f.if_contains("parameters")) {
    CollectSchemaStrings(*parameters, text);
  }
  return Status::Ok();
}

base::Status Walker::OpenAITool(const json::object& tool, const std::string& where,
                                std::string& text) {
  base::StatusOr<std::string_view> type = TypeOf(tool, where);
  if (!type.ok()) {
    return type.status();
  }
  if (*type == "function") {
    FB_RETURN_IF_ERROR(CheckKeys(tool, where, {"type", "function"}, {}, text));
    const json::value* fn = tool.if_contains("function");
    if (fn == nullptr) {
      return base::InvalidArgument(where + ".function is required");
    }
    return FunctionDefinition(*fn, Member(where, "function"), text);
  }
  if (*type == "custom") {
    // A free-form tool: {name, description, format (text or a grammar)}.
    FB_RETURN_IF_ERROR(CheckKeys(tool, where, {"type", "custom"}, {}, text));
    const json::value* custom = tool.if_contains("custom");
    const std::string at = Member(where, "custom");
    if (custom == nullptr || !custom->is_object()) {
      return base::InvalidArgument(at + " must be an object");
    }
    FB_RETURN_IF_ERROR(
        CheckKeys(custom->get_object(), at, {"name", "description", "format"}, {}, text));
    CollectStrings(*custom, text);
    return Status::Ok();
  }
  Uninspected(base::ContentKind::kServerTool, where);
  CollectStrings(tool, text);
  return Status::Ok();
}

base::Status Walker::AnthropicTool(const json::object& tool, const std::string& where,
                                   std::string& text) {
  const json::value* type = tool.if_contains("type");
  if (type != nullptr && !type->is_null() && *type != "custom") {
    // web_search_*, bash_*, text_editor_*, computer_*, code_execution_*, ...
    Uninspected(base::ContentKind::kServerTool, where);
    CollectStrings(tool, text);
    return Status::Ok();
  }
  FB_RETURN_IF_ERROR(
      CheckKeys(tool, where, {"type", "name", "description", "input_schema"}, {"cache_control"},
                text));
  FB_RETURN_IF_ERROR(TextField(tool, "name", where, text, true));
  FB_RETURN_IF_ERROR(TextField(tool, "description", where, text));
  if (const json::value* schema = tool.if_contains("input_schema")) {
    CollectSchemaStrings(*schema, text);
  }
  return Status::Ok();
}

base::Status Walker::Request(const json::object& body) {
  const bool openai = dialect_ == Dialect::kOpenAI;
  // Text beside the messages that is no definition of its own (unknown
  // fields, provider-run tools' settings).
  std::string other;
  if (openai) {
    FB_RETURN_IF_ERROR(CheckKeys(
        body, "",
        {"messages", "tools", "functions", "response_format", "prediction", "web_search_options"},
        {"model", "audio", "frequency_penalty", "function_call", "logit_bias", "logprobs",
         "max_completion_tokens", "max_tokens", "metadata", "modalities", "n",
         "parallel_tool_calls", "presence_penalty", "prompt_cache_key", "reasoning_effort",
         "safety_identifier", "seed", "service_tier", "stop", "store", "stream", "stream_options",
         "temperature", "tool_choice", "top_logprobs", "top_p", "user", "verbosity"},
        other));
  } else {
    FB_RETURN_IF_ERROR(CheckKeys(
        body, "", {"messages", "system", "tools", "container", "mcp_servers"},
        {"model", "max_tokens", "metadata", "stop_sequences", "stream", "temperature", "top_k",
         "top_p", "tool_choice", "thinking", "service_tier"},
        other));
  }
  if (const json::value* model = body.if_contains("model")) {
    if (!model->is_string()) {
      return base::InvalidArgument("model must be a string");
    }
    out_.model = model->get_string();
  }
  if (const json::value* stream = body.if_contains("stream"); stream && !stream->is_null()) {
    if (!stream->is_bool()) {
      return base::InvalidArgument("stream must be true or false");
    }
    out_.stream = stream->get_bool();
  }
  if (const json::value* system = body.if_contains("system"); system != nullptr && !openai) {
    base::Message message{base::Role::kSystem, {}, "system"};
    FB_RETURN_IF_ERROR(Content(*system, "system", message.text));
    out_.messages.push_back(std::move(message));
    MoveAttached();
  }

  const json::value* messages = body.if_contains("messages");
  if (messages == nullptr) {
    return base::InvalidArgument("messages is required: an array of {role, content} objects");
  }
  if (!messages->is_array() || messages->get_array().empty()) {
    return base::InvalidArgument("messages must be a non-empty array");
  }
  std::size_t index = 0;
  for (const json::value& item : messages->get_array()) {
    std::string where = Index("messages", index++);
    const json::object* m = item.if_object();
    if (m == nullptr) {
      return base::InvalidArgument(where + " must be an object");
    }
    base::Message message;
    const json::value* role = m->if_contains("role");
    const bool known = role != nullptr && role->is_string() &&
                       base::ParseRole(std::string_view(role->get_string()), &message.role);
    if (!openai &&
        (!known || (message.role != base::Role::kUser && message.role != base::Role::kAssistant))) {
      return base::InvalidArgument(where + ".role must be \"user\" or \"assistant\"");
    }
    if (!known) {
      return base::InvalidArgument(
          where + ".role must be system, developer, user, assistant, tool or function");
    }
    FB_RETURN_IF_ERROR(openai ? OpenAIMessage(*m, where, message)
                              : AnthropicMessage(*m, where, message));
    message.where = std::move(where);
    out_.messages.push_back(std::move(message));
    MoveAttached();
  }

  if (const json::value* tools = body.if_contains("tools"); tools && !tools->is_null()) {
    if (!tools->is_array()) {
      return base::InvalidArgument("tools must be an array");
    }
    index = 0;
    for (const json::value& tool : tools->get_array()) {
      std::string where = Index("tools", index++);
      if (!tool.is_object()) {
        return base::InvalidArgument(where + " must be an object");
      }
      std::string text;
      FB_RETURN_IF_ERROR(openai ? OpenAITool(tool.get_object(), where, text)
                                : AnthropicTool(tool.get_object(), where, text));
      Definition(std::move(text), std::move(where));
    }
  }
  if (openai) {
    if (const json::value* functions = body.if_contains("functions"); functions) {
      if (!functions->is_array()) {
        return base::InvalidArgument("functions must be an array");
      }
      index = 0;
      for (const json::value& fn : functions->get_array()) {
        std::string where = Index("functions", index++);
        std::string text;
        FB_RETURN_IF_ERROR(FunctionDefinition(fn, where, text));
        Definition(std::move(text), std::move(where));
      }
    }
    if (const json::value* format = body.if_contains("response_format"); format) {
      // {type: text | json_object | json_schema, json_schema: {name,
      // description, schema, strict}}: the schema steers the answer.
      std::string text;
      CollectSchemaStrings(*format, text);
      Definition(std::move(text), "response_format");
    }
    if (const json::value* prediction = body.if_contains("prediction"); prediction) {
      std::string text;
      CollectStrings(*prediction, text);
      Definition(std::move(text), "prediction");
    }
    if (const json::value* search = body.if_contains("web_search_options");
        search && !search->is_null()) {
      Uninspected(base::ContentKind::kServerTool, "web_search_options");
      Settings(*search);
    }
  } else {
    for (std::string_view key : {"container", "mcp_servers"}) {
      if (const json::value* v = body.if_contains(key); v && !v->is_null()) {
        Uninspected(base::ContentKind::kServerTool, std::string(key));
        CollectStrings(*v, other);
      }
    }
  }
  AppendLine(other, settings_);
  Definition(std::move(other), "request");
  return Status::Ok();
}

}  // namespace

base::StatusOr<base::Conversation> WalkConversation(const json::value& document, Dialect dialect) {
  const json::object* body = document.if_object();
  if (body == nullptr) {
    return base::InvalidArgument("the request body must be a JSON object");
  }
  base::Conversation conversation;
  FB_RETURN_IF_ERROR(Walker(dialect, conversation).Request(*body));
  const bool any_text =
      std::any_of(conversation.messages.begin(), conversation.messages.end(),
                  [](const base::Message& m) {
                    return m.text.find_first_not_of(" \t\r\n") != std::string::npos;
                  });
  if (!any_text && conversation.uninspected.empty()) {
    return base::InvalidArgument("the messages contain no text: there is nothing to classify");
  }
  return conversation;
}

}  // namespace firebreak::api
