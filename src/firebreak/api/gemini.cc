// Google's Gemini API: POST /v1beta/models/{model}:generateContent, and
// :streamGenerateContent?alt=sse for server-sent events. The model and
// streaming are in the path; the key in x-goog-api-key.
//
// Reading a request. Gemini's JSON is proto3's: a decoder accepts a field
// by its lowerCamelCase name and by its proto name (system_instruction),
// so both spellings are read, a field given in both is refused (which one
// an upstream keeps is not ours to guess), and so is a known field in
// another case. What the model reads (text, function declarations with
// their schemas, calls and responses, code and its output, text sent as
// inline data, file URIs, response schemas) is classified; media, files
// the upstream fetches, cached content and the tools Google runs are
// uninspected, for the policy; unknown fields and parts are uninspected and
// their strings classified all the same.
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <initializer_list>
#include <map>

#include "firebreak/api/fields.h"
#include "firebreak/api/provider.h"
#include "firebreak/base/digest.h"
#include "firebreak/base/utf8.h"

namespace firebreak::api {
namespace {

namespace json = boost::json;
using Status = base::Status;

// ---- Field names ------------------------------------------------------------

// The lowerCamelCase name proto3 JSON gives a field: "system_instruction"
// is "systemInstruction".
std::string Camel(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  bool upper = false;
  for (const char c : key) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  return out;
}

std::string Snake(std::string_view camel) {
  std::string out;
  for (const char c : camel) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      out.push_back('_');
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A field of a request ConversationOf accepted, by either spelling (it
// refused requests that give both).
const json::value* Find(const json::object& o, std::string_view camel) {
  if (const json::value* v = o.if_contains(camel)) {
    return v;
  }
  return o.if_contains(Snake(camel));
}

const json::object* FindObject(const json::object& o, std::string_view camel) {
  const json::value* v = Find(o, camel);
  return v != nullptr ? v->if_object() : nullptr;
}

const json::array* FindArray(const json::object& o, std::string_view camel) {
  const json::value* v = Find(o, camel);
  return v != nullptr ? v->if_array() : nullptr;
}

std::string_view FindString(const json::object& o, std::string_view camel,
                            std::string_view fallback = "") {
  const json::value* v = Find(o, camel);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : fallback;
}

// Inline data as bytes: proto3 JSON bytes are base64, standard or URL-safe,
// padded or not. False when they are neither.
bool DecodeBytes(std::string_view data, std::string& out) {
  std::string url_safe(data);
  while (!url_safe.empty() && url_safe.back() == '=') {
    url_safe.pop_back();
  }
  for (char& c : url_safe) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return base::Base64UrlDecode(url_safe, out);
}

base::ContentKind MediaKind(std::string_view mime_type) {
  if (mime_type.starts_with("image/")) {
    return base::ContentKind::kImage;
  }
  if (mime_type.starts_with("audio/")) {
    return base::ContentKind::kAudio;
  }
  return base::ContentKind::kDocument;
}

// ---- Reading a request --------------------------------------------------------

class Reader {
 public:
  explicit Reader(base::Conversation& out) : out_(out) {}

  Status Request(const json::object& body) {
    std::string other;  // text beside the contents that is no definition of its own
    FB_RETURN_IF_ERROR(Check(
        body, "", {"contents", "systemInstruction", "tools", "generationConfig", "cachedContent"},
        {"model", "toolConfig", "safetySettings", "labels"}, other));
    if (const json::value* system = Find(body, "systemInstruction"); system && !system->is_null()) {
      base::Message message{base::Role::kSystem, {}, "systemInstruction"};
      FB_RETURN_IF_ERROR(Content(*system, "systemInstruction", message));
      message.role = base::Role::kSystem;
      out_.messages.push_back(std::move(message));
    }
    const json::value* contents = Find(body, "contents");
    if (contents == nullptr || !contents->is_array() || contents->get_array().empty()) {
      return base::InvalidArgument(
          "contents is required: a non-empty array of {role, parts} objects");
    }
    std::size_t index = 0;
    for (const json::value& content : contents->get_array()) {
      base::Message message;
      message.where = Index("contents", index++);
      FB_RETURN_IF_ERROR(Content(content, message.where, message));
      out_.messages.push_back(std::move(message));
    }
    if (const json::value* tools = Find(body, "tools"); tools && !tools->is_null()) {
      if (!tools->is_array()) {
        return base::InvalidArgument("tools must be an array");
      }
      index = 0;
      for (const json::value& tool : tools->get_array()) {
        const std::string where = Index("tools", index++);
        if (!tool.is_object()) {
          return base::InvalidArgument(where + " must be an object");
        }
        FB_RETURN_IF_ERROR(Tool(tool.get_object(), where));
      }
    }
    if (const json::value* config = Find(body, "generationConfig"); config && !config->is_null()) {
      FB_RETURN_IF_ERROR(GenerationConfig(*config));
    }
    if (const json::value* cached = Find(body, "cachedContent"); cached && !cached->is_null()) {
      // Content stored upstream: the model reads it, Firebreak cannot.
      out_.uninspected.push_back({base::ContentKind::kDocument, "cachedContent"});
      CollectStrings(*cached, other);
    }
    AppendLine(other, settings_);
    Definition(std::move(other), "request");
    return Status::Ok();
  }

 private:
  // Accounts for every key of a known object, as the OpenAI and Anthropic
  // reader does (extract.cc's CheckKeys), by either spelling of its name.
  Status Check(const json::object& o, const std::string& where, Keys read, Keys settings,
               std::string& text) {
    std::map<std::string, std::string_view, std::less<>> seen;  // camel name -> as written
    for (const auto& [key, value] : o) {
      const std::string camel = Camel(key);
      if (auto [it, fresh] = seen.emplace(camel, key); !fresh) {
        return base::InvalidArgument(Member(where, key) + ": the field is given twice, as '" +
                                     std::string(it->second) + "' and '" + std::string(key) + "'");
      }
      if (Contains(read, camel)) {
        continue;
      }
      if (Contains(settings, camel)) {
        CollectSettings(value, settings_);
        continue;
      }
      const std::string folded = FoldedName(camel);
      for (Keys known : {read, settings}) {
        for (std::string_view k : known) {
          if (folded == FoldedName(k)) {
            return base::InvalidArgument(Member(where, key) +
                                         ": field names are case-sensitive; '" + std::string(key) +
                                         "' is not '" + std::string(k) + "'");
          }
        }
      }
      out_.uninspected.push_back({base::ContentKind::kUnknownField, Member(where, key)});
      CollectStrings(value, text);
    }
    return Status::Ok();
  }

  static Status TextField(const json::object& o, std::string_view camel, const std::string& where,
                          std::string& text, bool required = false) {
    const json::value* v = Find(o, camel);
    if (v == nullptr || v->is_null()) {
      return required ? base::InvalidArgument(Member(where, camel) + " is required") : Status::Ok();
    }
    if (!v->is_string()) {
      return base::InvalidArgument(Member(where, camel) + " must be a string");
    }
    AppendLine(text, v->get_string());
    return Status::Ok();
  }

  // A Content: {role, parts}. role "user" (or absent) and "model" are turns;
  // "function" is the older role of function responses.
  Status Content(const json::value& value, const std::string& where, base::Message& message) {
    const json::object* content = value.if_object();
    if (content == nullptr) {
      return base::InvalidArgument(where + " must be an object {role, parts}");
    }
    std::string& text = message.text;
    FB_RETURN_IF_ERROR(Check(*content, where, {"role", "parts"}, {}, text));
    const std::string_view role = FindString(*content, "role", "user");
    if (const json::value* r = Find(*content, "role"); r != nullptr && !r->is_string()) {
      return base::InvalidArgument(where + ".role must be a string");
    }
    if (role != "user" && role != "model" && role != "function") {
      return base::InvalidArgument(where + ".role must be \"user\" or \"model\"");
    }
    message.role = role == "model" ? base::Role::kAssistant : base::Role::kUser;
    const json::value* parts = Find(*content, "parts");
    if (parts == nullptr || !parts->is_array()) {
      return base::InvalidArgument(where + ".parts must be an array of parts");
    }
    bool only_responses = !parts->get_array().empty();
    std::size_t index = 0;
    for (const json::value& part : parts->get_array()) {
      const std::string at = Index(Member(where, "parts"), index++);
      if (!part.is_object()) {
        return base::InvalidArgument(at + " must be an object");
      }
      only_responses = only_responses && Find(part.get_object(), "functionResponse") != nullptr;
      FB_RETURN_IF_ERROR(Part(part.get_object(), at, text));
    }
    if (only_responses || role == "function") {
      message.role = base::Role::kTool;  // results, not the user's request
    }
    return Status::Ok();
  }

  Status Part(const json::object& part, const std::string& where, std::string& text) {
    // Settings: thought (a flag), thoughtSignature (opaque; long unbroken
    // strings are classified all the same), media options.
    std::string unknown;
    FB_RETURN_IF_ERROR(
        Check(part, where,
              {"text", "inlineData", "fileData", "functionCall", "functionResponse",
               "executableCode", "codeExecutionResult"},
              {"thought", "thoughtSignature", "videoMetadata", "partMetadata", "mediaResolution"},
              unknown));
    if (!unknown.empty()) {
      out_.uninspected.push_back({base::ContentKind::kUnknownPart, where});
      AppendLine(text, unknown);
    }
    FB_RETURN_IF_ERROR(TextField(part, "text", where, text));
    if (const json::object* data = FindObject(part, "inlineData")) {
      const std::string at = Member(where, "inlineData");
      FB_RETURN_IF_ERROR(Check(*data, at, {"mimeType", "data"}, {"displayName"}, text));
      const std::string_view mime = FindString(*data, "mimeType");
      std::string decoded;
      if (mime.starts_with("text/") && DecodeBytes(FindString(*data, "data"), decoded) &&
          base::IsUtf8(decoded)) {
        AppendLine(text, decoded);  // text the model reads, base64 or not
      } else {
        out_.uninspected.push_back({MediaKind(mime), at});
      }
      if (ReadsAsText(mime)) {
        AppendLine(settings_, mime);
      }
    } else if (Find(part, "inlineData") != nullptr && !Find(part, "inlineData")->is_null()) {
      return base::InvalidArgument(Member(where, "inlineData") + " must be an object");
    }
    if (const json::object* file = FindObject(part, "fileData")) {
      const std::string at = Member(where, "fileData");
      FB_RETURN_IF_ERROR(Check(*file, at, {"mimeType", "fileUri"}, {"displayName"}, text));
      out_.uninspected.push_back({MediaKind(FindString(*file, "mimeType")), at});
      AppendLine(text, DecodedUrl(FindString(*file, "fileUri")));
    }
    if (const json::object* call = FindObject(part, "functionCall")) {
      const std::string at = Member(where, "functionCall");
      FB_RETURN_IF_ERROR(Check(*call, at, {"name", "args"}, {"id"}, text));
      FB_RETURN_IF_ERROR(TextField(*call, "name", at, text, true));
      if (const json::value* args = Find(*call, "args")) {
        CollectStrings(*args, text);
      }
    }
    if (const json::object* response = FindObject(part, "functionResponse")) {
      const std::string at = Member(where, "functionResponse");
      FB_RETURN_IF_ERROR(Check(*response, at, {"name", "response", "parts"},
                               {"id", "willContinue", "scheduling"}, text));
      FB_RETURN_IF_ERROR(TextField(*response, "name", at, text, true));
      if (const json::value* r = Find(*response, "response")) {
        CollectStrings(*r, text);
      }
      if (const json::array* parts = FindArray(*response, "parts")) {
        std::size_t index = 0;
        for (const json::value& p : *parts) {
          const std::string pat = Index(Member(at, "parts"), index++);
          if (!p.is_object()) {
            return base::InvalidArgument(pat + " must be an object");
          }
          FB_RETURN_IF_ERROR(Part(p.get_object(), pat, text));
        }
      }
    }
    if (const json::object* code = FindObject(part, "executableCode")) {
      const std::string at = Member(where, "executableCode");
      FB_RETURN_IF_ERROR(Check(*code, at, {"code"}, {"language", "id"}, text));
      FB_RETURN_IF_ERROR(TextField(*code, "code", at, text));
    }
    if (const json::object* result = FindObject(part, "codeExecutionResult")) {
      const std::string at = Member(where, "codeExecutionResult");
      FB_RETURN_IF_ERROR(Check(*result, at, {"output"}, {"outcome", "id"}, text));
      FB_RETURN_IF_ERROR(TextField(*result, "output", at, text));
    }
    for (std::string_view key : {"fileData", "functionCall", "functionResponse", "executableCode",
                                 "codeExecutionResult"}) {
      if (const json::value* v = Find(part, key); v && !v->is_null() && !v->is_object()) {
        return base::InvalidArgument(Member(where, key) + " must be an object");
      }
    }
    return Status::Ok();
  }

  // A Tool: function declarations, or a tool Google runs itself.
  Status Tool(const json::object& tool, const std::string& where) {
    std::string text;
    for (const auto& [key, value] : tool) {
      if (Camel(key) != "functionDeclarations") {
        out_.uninspected.push_back({base::ContentKind::kServerTool, Member(where, key)});
        CollectStrings(value, text);
      }
    }
    FB_RETURN_IF_ERROR(
        Check(tool, where, {"functionDeclarations"},
              {"googleSearch", "googleSearchRetrieval", "codeExecution", "urlContext", "fileSearch",
               "computerUse", "googleMaps", "retrieval", "enterpriseWebSearch", "mcpServers"},
              text));
    Definition(std::move(text), where);
    const json::value* declarations = Find(tool, "functionDeclarations");
    if (declarations == nullptr || declarations->is_null()) {
      return Status::Ok();
    }
    if (!declarations->is_array()) {
      return base::InvalidArgument(Member(where, "functionDeclarations") + " must be an array");
    }
    std::size_t index = 0;
    for (const json::value& d : declarations->get_array()) {
      const std::string at = Index(Member(where, "functionDeclarations"), index++);
      const json::object* fn = d.if_object();
      if (fn == nullptr) {
        return base::InvalidArgument(at + " must be an object");
      }
      std::string definition;
      FB_RETURN_IF_ERROR(Check(*fn, at,
                               {"name", "description", "parameters", "parametersJsonSchema",
                                "response", "responseJsonSchema"},
                               {"behavior"}, definition));
      FB_RETURN_IF_ERROR(TextField(*fn, "name", at, definition, true));
      FB_RETURN_IF_ERROR(TextField(*fn, "description", at, definition));
      for (std::string_view schema :
           {"parameters", "parametersJsonSchema", "response", "responseJsonSchema"}) {
        if (const json::value* s = Find(*fn, schema)) {
          CollectSchemaStrings(*s, definition);
        }
      }
      Definition(std::move(definition), at);
    }
    return Status::Ok();
  }

  // Settings, but for the response schema, which steers the answer.
  Status GenerationConfig(const json::value& value) {
    const json::object* config = value.if_object();
    if (config == nullptr) {
      return base::InvalidArgument("generationConfig must be an object");
    }
    std::string text;
    FB_RETURN_IF_ERROR(Check(*config, "generationConfig",
                             {"responseSchema", "responseJsonSchema", "ResponseJsonSchema"},
                             {"stopSequences",
                              "responseMimeType",
                              "responseModalities",
                              "candidateCount",
                              "maxOutputTokens",
                              "temperature",
                              "topP",
                              "topK",
                              "seed",
                              "presencePenalty",
                              "frequencyPenalty",
                              "responseLogprobs",
                              "logprobs",
                              "enableEnhancedCivicAnswers",
                              "speechConfig",
                              "thinkingConfig",
                              "mediaResolution",
                              "imageConfig",
                              "audioTimestamp",
                              "routingConfig",
                              "modelSelectionConfig"},
                             text));
    for (std::string_view key : {"responseSchema", "responseJsonSchema", "ResponseJsonSchema"}) {
      if (const json::value* schema = Find(*config, key)) {
        CollectSchemaStrings(*schema, text);
      }
    }
    Definition(std::move(text), "generationConfig");
    return Status::Ok();
  }

  void Definition(std::string text, std::string where) {
    if (!text.empty()) {
      out_.messages.push_back({base::Role::kSystem, std::move(text), std::move(where)});
    }
  }

  base::Conversation& out_;
  std::string settings_;
};

// ---- Translation to and from the neutral form ------------------------------------

Status NoCounterpart(const std::string& where, std::string_view what, std::string_view api) {
  return base::InvalidArgument(where + ": " + std::string(what) + " has no counterpart in the " +
                               std::string(api) +
                               " API, so this request cannot be translated for the upstream");
}

// Gemini's schema types are upper case ("OBJECT"); JSON Schema's lower. Only
// the type names are lowered: any other value stays as written (it was
// classified as written).
json::value LowerTypes(const json::value& schema) {
  if (const json::object* o = schema.if_object()) {
    json::object out;
    for (const auto& [key, value] : *o) {
      static constexpr std::string_view kTypes[] = {"STRING", "NUMBER", "INTEGER", "BOOLEAN",
                                                    "ARRAY",  "OBJECT", "NULL"};
      if (key == "type" && value.is_string() &&
          std::find(std::begin(kTypes), std::end(kTypes), value.get_string()) != std::end(kTypes)) {
        out[key] = FoldedName(value.get_string());
      } else {
        out[key] = LowerTypes(value);
      }
    }
    return out;
  }
  if (const json::array* a = schema.if_array()) {
    json::array out;
    for (const json::value& v : *a) {
      out.push_back(LowerTypes(v));
    }
    return out;
  }
  return schema;
}

// Gemini -> neutral. Turns become messages; function calls and responses
// tool calls and tool messages, paired by id, else by name in order.
class ToNeutral {
 public:
  base::StatusOr<json::object> Request(const json::object& in, const Call& call) {
    for (const auto& [key, value] : in) {
      const std::string camel = Camel(key);
      if (value.is_null() || camel == "contents" || camel == "systemInstruction" ||
          camel == "tools" || camel == "toolConfig" || camel == "generationConfig" ||
          camel == "model" || camel == "safetySettings" || camel == "labels") {
        continue;  // safety settings and labels carry no content
      }
      return NoCounterpart(std::string(key), "the field '" + std::string(key) + "'", "OpenAI");
    }
    json::array messages;
    if (const json::object* system = FindObject(in, "systemInstruction")) {
      base::StatusOr<std::string> text = TextOnly(*system, "systemInstruction");
      if (!text.ok()) {
        return text.status();
      }
      messages.push_back(json::object{{"role", "system"}, {"content", *text}});
    }
    std::size_t index = 0;
    for (const json::value& content : *FindArray(in, "contents")) {
      FB_RETURN_IF_ERROR(Turn(content.get_object(), Index("contents", index++), messages));
    }
    json::object out{{"model", call.model}, {"messages", std::move(messages)}};
    if (call.stream) {
      out["stream"] = true;
      out["stream_options"] = json::object{{"include_usage", true}};
    }
    if (const json::array* tools = FindArray(in, "tools")) {
      json::array functions;
      std::size_t t = 0;
      for (const json::value& tool : *tools) {
        const std::string where = Index("tools", t++);
        for (const auto& [key, value] : tool.get_object()) {
          if (Camel(key) != "functionDeclarations") {
            return NoCounterpart(Member(where, key), "a tool Google runs", "OpenAI");
          }
        }
        if (const json::array* declarations =
                FindArray(tool.get_object(), "functionDeclarations")) {
          for (const json::value& d : *declarations) {
            base::StatusOr<json::object> fn = Function(d.get_object(), where);
            if (!fn.ok()) {
              return fn.status();
            }
            functions.push_back(json::object{{"type", "function"}, {"function", std::move(*fn)}});
          }
        }
      }
      if (!functions.empty()) {
        out["tools"] = std::move(functions);
      }
    }
    if (const json::object* tool_config = FindObject(in, "toolConfig")) {
      if (const json::object* fc = FindObject(*tool_config, "functionCallingConfig")) {
        const std::string_view mode = FindString(*fc, "mode", "AUTO");
        const json::array* allowed = FindArray(*fc, "allowedFunctionNames");
        if (mode == "NONE") {
          out["tool_choice"] = "none";
        } else if (mode == "ANY" && allowed != nullptr && allowed->size() == 1 &&
                   allowed->front().is_string()) {
          out["tool_choice"] = json::object{{"type", "function"},
                                            {"function", json::object{{"name", allowed->front()}}}};
        } else if (mode == "ANY" && (allowed == nullptr || allowed->empty())) {
          out["tool_choice"] = "required";
        } else if (mode != "AUTO" && mode != "MODE_UNSPECIFIED") {
          return NoCounterpart("toolConfig.functionCallingConfig", "this function calling mode",
                               "OpenAI");
        }
      }
    }
    if (const json::object* config = FindObject(in, "generationConfig")) {
      FB_RETURN_IF_ERROR(Generation(*config, out));
    }
    return out;
  }

 private:
  static base::StatusOr<std::string> TextOnly(const json::object& content,
                                              const std::string& where) {
    std::string text;
    std::size_t index = 0;
    for (const json::value& part : *FindArray(content, "parts")) {
      const std::string at = Index(Member(where, "parts"), index++);
      for (const auto& [key, value] : part.get_object()) {
        if (Camel(key) != "text" && Camel(key) != "thoughtSignature") {
          return NoCounterpart(Member(at, key), "a part that is not text here", "OpenAI");
        }
      }
      AppendLine(text, FindString(part.get_object(), "text"));
    }
    return text;
  }

  base::StatusOr<json::object> Function(const json::object& fn, const std::string& where) {
    json::object out{{"name", FindString(fn, "name")}};
    for (const auto& [key, value] : fn) {
      const std::string camel = Camel(key);
      if (camel == "description") {
        out["description"] = value;
      } else if (camel == "parameters") {
        out["parameters"] = LowerTypes(value);
      } else if (camel == "parametersJsonSchema") {
        out["parameters"] = value;
      } else if (camel != "name" && !value.is_null()) {
        return NoCounterpart(Member(where, key), "the declaration field '" + std::string(key) + "'",
                             "OpenAI");
      }
    }
    return out;
  }

  Status Turn(const json::object& content, const std::string& where, json::array& messages) {
    const bool model = FindString(content, "role", "user") == "model";
    json::array parts;  // a user turn's content parts
    std::string text;   // a model turn's text
    json::array calls;
    std::size_t index = 0;
    for (const json::value& value : *FindArray(content, "parts")) {
      const std::string at = Index(Member(where, "parts"), index++);
      const json::object& part = value.get_object();
      if (part.contains("thought") && part.at("thought") == true) {
        continue;  // an earlier turn's thinking, as Anthropic's is left behind
      }
      for (const auto& [key, v] : part) {
        const std::string camel = Camel(key);
        if (v.is_null() || camel == "thoughtSignature" || camel == "thought") {
          continue;
        }
        if (camel == "text") {
          if (model) {
            AppendLine(text, v.get_string());
          } else {
            parts.push_back(json::object{{"type", "text"}, {"text", v}});
          }
        } else if (camel == "inlineData" && !model) {
          base::StatusOr<json::object> media = Media(v.get_object(), Member(at, key));
          if (!media.ok()) {
            return media.status();
          }
          parts.push_back(std::move(*media));
        } else if (camel == "functionCall" && model) {
          const json::object& call = v.get_object();
          const std::string name(FindString(call, "name"));
          std::string id(FindString(call, "id"));
          if (id.empty()) {
            id = NextId();
          }
          open_calls_.emplace_back(name, id);
          const json::value* args = Find(call, "args");
          calls.push_back(json::object{
              {"id", id},
              {"type", "function"},
              {"function",
               json::object{{"name", name}, {"arguments", args ? json::serialize(*args) : "{}"}}}});
        } else if (camel == "functionResponse" && !model) {
          const json::object& response = v.get_object();
          if (const json::array* nested = FindArray(response, "parts");
              nested && !nested->empty()) {
            return NoCounterpart(Member(at, key) + ".parts", "media in a function response",
                                 "OpenAI");
          }
          const json::value* r = Find(response, "response");
          messages.push_back(json::object{{"role", "tool"},
                                          {"tool_call_id", CallIdOf(response)},
                                          {"content", r ? json::serialize(*r) : "{}"}});
        } else {
          return NoCounterpart(Member(at, key), "this part", "OpenAI");
        }
      }
    }
    if (model) {
      json::object message{{"role", "assistant"}, {"content", text}};
      if (!calls.empty()) {
        message["tool_calls"] = std::move(calls);
        if (text.empty()) {
          message["content"] = nullptr;
        }
      }
      messages.push_back(std::move(message));
    } else if (!parts.empty()) {
      json::value content_value = std::move(parts);
      const json::array& a = content_value.get_array();
      if (a.size() == 1 && a.front().at("type") == "text") {
        content_value = a.front().at("text");
      }
      messages.push_back(json::object{{"role", "user"}, {"content", std::move(content_value)}});
    }
    return Status::Ok();
  }

  // The id of the call a function response answers: its own id, else the
  // earliest unanswered call of that name.
  std::string CallIdOf(const json::object& response) {
    const std::string name(FindString(response, "name"));
    if (std::string id(FindString(response, "id")); !id.empty()) {
      return id;
    }
    for (auto it = open_calls_.begin(); it != open_calls_.end(); ++it) {
      if (it->first == name) {
        std::string id = std::move(it->second);
        open_calls_.erase(it);
        return id;
      }
    }
    return NextId();  // answers no call: the upstream will say so
  }

  static base::StatusOr<json::object> Media(const json::object& data, const std::string& where) {
    const std::string_view mime = FindString(data, "mimeType");
    const std::string_view bytes = FindString(data, "data");
    if (mime.starts_with("image/")) {
      return json::object{
          {"type", "image_url"},
          {"image_url",
           json::object{{"url", "data:" + std::string(mime) + ";base64," + std::string(bytes)}}}};
    }
    if (mime == "audio/wav" || mime == "audio/mp3" || mime == "audio/mpeg") {
      return json::object{
          {"type", "input_audio"},
          {"input_audio",
           json::object{{"data", bytes}, {"format", mime == "audio/wav" ? "wav" : "mp3"}}}};
    }
    return NoCounterpart(where, "inline data of type '" + std::string(mime) + "'", "OpenAI");
  }

  static Status Generation(const json::object& config, json::object& out) {
    static constexpr std::pair<std::string_view, std::string_view> kMapped[] = {
        {"maxOutputTokens", "max_tokens"},
        {"temperature", "temperature"},
        {"topP", "top_p"},
        {"candidateCount", "n"},
        {"seed", "seed"},
        {"presencePenalty", "presence_penalty"},
        {"frequencyPenalty", "frequency_penalty"},
        {"stopSequences", "stop"}};
    const json::value* schema = nullptr;
    for (const auto& [key, value] : config) {
      const std::string camel = Camel(key);
      if (value.is_null()) {
        continue;
      }
      bool mapped = false;
      for (const auto& [from, to] : kMapped) {
        if (camel == from) {
          out[to] = value;
          mapped = true;
        }
      }
      if (mapped || camel == "topK" || camel == "thinkingConfig" || camel == "responseLogprobs" ||
          camel == "logprobs" || camel == "mediaResolution" || camel == "responseMimeType") {
        continue;  // sampling and reasoning settings change no content
      }
      if (camel == "responseSchema" || camel == "responseJsonSchema") {
        schema = &value;
        continue;
      }
      if (camel == "responseModalities" && json::serialize(value) == R"(["TEXT"])") {
        continue;
      }
      return NoCounterpart(Member("generationConfig", key),
                           "the setting '" + std::string(key) + "'", "OpenAI");
    }
    const std::string_view mime = FindString(config, "responseMimeType", "text/plain");
    if (schema != nullptr) {
      out["response_format"] = json::object{
          {"type", "json_schema"},
          {"json_schema", json::object{{"name", "response"}, {"schema", LowerTypes(*schema)}}}};
    } else if (mime == "application/json") {
      out["response_format"] = json::object{{"type", "json_object"}};
    } else if (mime != "text/plain") {
      return NoCounterpart("generationConfig.responseMimeType", "'" + std::string(mime) + "'",
                           "OpenAI");
    }
    return Status::Ok();
  }

  // An id for a call that has none. Only a counter: an id made of the
  // function's name could read as text, words no one wrote.
  std::string NextId() { return "call_" + std::to_string(next_id_++); }

  std::vector<std::pair<std::string, std::string>> open_calls_;  // name, id
  int next_id_ = 0;
};

// Neutral -> Gemini.
class FromNeutral {
 public:
  base::StatusOr<json::object> Request(const json::object& in) {
    static constexpr std::string_view kDropped[] = {"model",           "stream",
                                                    "stream_options",  "user",
                                                    "metadata",        "store",
                                                    "service_tier",    "parallel_tool_calls",
                                                    "logprobs",        "top_logprobs",
                                                    "logit_bias",      "reasoning_effort",
                                                    "verbosity",       "safety_identifier",
                                                    "prompt_cache_key"};
    static constexpr std::pair<std::string_view, std::string_view> kMapped[] = {
        {"max_tokens", "maxOutputTokens"},
        {"max_completion_tokens", "maxOutputTokens"},
        {"temperature", "temperature"},
        {"top_p", "topP"},
        {"n", "candidateCount"},
        {"seed", "seed"},
        {"presence_penalty", "presencePenalty"},
        {"frequency_penalty", "frequencyPenalty"}};
    json::object config;
    for (const auto& [key, value] : in) {
      if (value.is_null() || key == "messages" || key == "tools" || key == "tool_choice" ||
          key == "response_format" || key == "stop" ||
          std::find(std::begin(kDropped), std::end(kDropped), key) != std::end(kDropped)) {
        continue;
      }
      bool mapped = false;
      for (const auto& [from, to] : kMapped) {
        if (key == from) {
          config[to] = value;
          mapped = true;
        }
      }
      if (!mapped && !(key == "modalities" && json::serialize(value) == R"(["text"])")) {
        return NoCounterpart(std::string(key), "the field '" + std::string(key) + "'", "Gemini");
      }
    }
    if (const json::value* stop = in.if_contains("stop"); stop && !stop->is_null()) {
      config["stopSequences"] = stop->is_string() ? json::value(json::array{*stop}) : *stop;
    }
    if (const json::value* format = in.if_contains("response_format");
        format && format->is_object()) {
      const std::string_view type = StringOr(format->get_object(), "type", "text");
      if (type == "json_object") {
        config["responseMimeType"] = "application/json";
      } else if (type == "json_schema") {
        config["responseMimeType"] = "application/json";
        const json::value* spec = format->get_object().if_contains("json_schema");
        const json::value* schema =
            spec && spec->is_object() ? spec->get_object().if_contains("schema") : nullptr;
        if (schema != nullptr) {
          config["responseJsonSchema"] = *schema;
        }
      }
    }
    json::object out;
    json::array contents;
    json::array system;
    std::size_t index = 0;
    for (const json::value& m : in.at("messages").as_array()) {
      const std::string where = Index("messages", index++);
      FB_RETURN_IF_ERROR(Message(m.as_object(), where, contents, system));
    }
    out["contents"] = std::move(contents);
    if (!system.empty()) {
      out["systemInstruction"] = json::object{{"parts", std::move(system)}};
    }
    if (const json::value* tools = in.if_contains("tools"); tools && tools->is_array()) {
      json::array declarations;
      std::size_t t = 0;
      for (const json::value& tool : tools->get_array()) {
        const std::string where = Index("tools", t++);
        const json::object& o = tool.as_object();
        const json::value* fn = o.if_contains("function");
        if (StringOr(o, "type", "function") != "function" || fn == nullptr || !fn->is_object()) {
          return NoCounterpart(where, "a tool that is not a function", "Gemini");
        }
        json::object declaration{{"name", StringOr(fn->get_object(), "name", "")}};
        if (const json::value* d = fn->get_object().if_contains("description");
            d && !d->is_null()) {
          declaration["description"] = *d;
        }
        if (const json::value* p = fn->get_object().if_contains("parameters"); p && !p->is_null()) {
          declaration["parametersJsonSchema"] = *p;
        }
        declarations.push_back(std::move(declaration));
      }
      if (!declarations.empty()) {
        out["tools"] = json::array{json::object{{"functionDeclarations", std::move(declarations)}}};
      }
    }
    if (const json::value* choice = in.if_contains("tool_choice"); choice && !choice->is_null()) {
      json::object fc;
      if (choice->is_string()) {
        const std::string_view c = choice->get_string();
        fc["mode"] = c == "none" ? "NONE" : c == "required" ? "ANY" : "AUTO";
      } else if (choice->is_object()) {
        const json::value* fn = choice->get_object().if_contains("function");
        fc["mode"] = "ANY";
        fc["allowedFunctionNames"] =
            json::array{fn && fn->is_object() ? StringOr(fn->get_object(), "name", "") : ""};
      }
      out["toolConfig"] = json::object{{"functionCallingConfig", std::move(fc)}};
    }
    if (!config.empty()) {
      out["generationConfig"] = std::move(config);
    }
    return out;
  }

 private:
  Status Message(const json::object& m, const std::string& where, json::array& contents,
                 json::array& system) {
    const std::string_view role = StringOr(m, "role", "");
    for (const auto& [key, value] : m) {
      if (!value.is_null() && key != "role" && key != "content" && key != "tool_calls" &&
          key != "tool_call_id") {
        return NoCounterpart(Member(where, key), "the message field '" + std::string(key) + "'",
                             "Gemini");
      }
    }
    const json::value* content = m.if_contains("content");
    if (role == "system" || role == "developer") {
      std::string text;
      FB_RETURN_IF_ERROR(Text(content, Member(where, "content"), text));
      system.push_back(json::object{{"text", text}});
      return Status::Ok();
    }
    json::array parts;
    if (role == "tool") {
      const std::string id(StringOr(m, "tool_call_id", ""));
      auto name = names_.find(id);
      if (name == names_.end()) {
        return base::InvalidArgument(Member(where, "tool_call_id") +
                                     ": no earlier tool call has the id '" + id + "'");
      }
      std::string text;
      FB_RETURN_IF_ERROR(Text(content, Member(where, "content"), text));
      boost::system::error_code ec;
      json::value parsed = json::parse(text, ec);
      json::object response = !ec && parsed.is_object() ? std::move(parsed.get_object())
                                                        : json::object{{"content", text}};
      parts.push_back(json::object{
          {"functionResponse",
           json::object{{"id", id}, {"name", name->second}, {"response", std::move(response)}}}});
      return Append(contents, "user", std::move(parts));
    }
    if (role == "assistant") {
      std::string text;
      FB_RETURN_IF_ERROR(Text(content, Member(where, "content"), text));
      if (!text.empty()) {
        parts.push_back(json::object{{"text", text}});
      }
      if (const json::value* calls = m.if_contains("tool_calls"); calls && calls->is_array()) {
        std::size_t index = 0;
        for (const json::value& c : calls->get_array()) {
          const std::string at = Index(Member(where, "tool_calls"), index++);
          const json::object& call = c.as_object();
          const json::value* fn = call.if_contains("function");
          if (fn == nullptr || !fn->is_object()) {
            return NoCounterpart(at, "a tool call that is not a function call", "Gemini");
          }
          const std::string id(StringOr(call, "id", ""));
          const std::string name(StringOr(fn->get_object(), "name", ""));
          boost::system::error_code ec;
          json::value args = json::parse(StringOr(fn->get_object(), "arguments", "{}"), ec);
          if (ec || !args.is_object()) {
            return base::InvalidArgument(at + ".function.arguments: Gemini takes a JSON object");
          }
          names_[id] = name;
          parts.push_back(
              json::object{{"functionCall",
                            json::object{{"id", id}, {"name", name}, {"args", std::move(args)}}}});
        }
      }
      return Append(contents, "model", std::move(parts));
    }
    if (role != "user") {
      return NoCounterpart(Member(where, "role"), "the role '" + std::string(role) + "'", "Gemini");
    }
    if (content != nullptr && content->is_string()) {
      parts.push_back(json::object{{"text", content->get_string()}});
    } else if (content != nullptr && content->is_array()) {
      std::size_t index = 0;
      for (const json::value& p : content->get_array()) {
        const std::string at = Index(Member(where, "content"), index++);
        base::StatusOr<json::object> part = UserPart(p.as_object(), at);
        if (!part.ok()) {
          return part.status();
        }
        parts.push_back(std::move(*part));
      }
    }
    return Append(contents, "user", std::move(parts));
  }

  static base::StatusOr<json::object> UserPart(const json::object& part, const std::string& where) {
    const std::string_view type = StringOr(part, "type", "");
    if (type == "text") {
      return json::object{{"text", StringOr(part, "text", "")}};
    }
    if (type == "image_url") {
      const json::value* image = part.if_contains("image_url");
      const std::string_view url =
          image && image->is_object() ? StringOr(image->get_object(), "url", "") : "";
      const std::size_t comma = url.find(',');
      const std::string_view head = url.substr(0, comma);
      if (!url.starts_with("data:") || comma == std::string_view::npos ||
          !head.ends_with(";base64")) {
        return NoCounterpart(where + ".image_url.url", "an image by URL", "Gemini");
      }
      return json::object{
          {"inlineData", json::object{{"mimeType", head.substr(5, head.size() - 12)},
                                      {"data", url.substr(comma + 1)}}}};
    }
    if (type == "input_audio") {
      const json::value* audio = part.if_contains("input_audio");
      if (audio != nullptr && audio->is_object()) {
        const std::string_view format = StringOr(audio->get_object(), "format", "wav");
        return json::object{
            {"inlineData", json::object{{"mimeType", format == "mp3" ? "audio/mp3" : "audio/wav"},
                                        {"data", StringOr(audio->get_object(), "data", "")}}}};
      }
    }
    return NoCounterpart(where, "a part of type '" + std::string(type) + "'", "Gemini");
  }

  // Text content: a string or text parts.
  static Status Text(const json::value* content, const std::string& where, std::string& text) {
    if (content == nullptr || content->is_null()) {
      return Status::Ok();
    }
    if (content->is_string()) {
      text = content->get_string();
      return Status::Ok();
    }
    if (content->is_array()) {
      std::size_t index = 0;
      for (const json::value& p : content->get_array()) {
        const std::string at = Index(where, index++);
        if (!p.is_object() || StringOr(p.get_object(), "type", "") != "text") {
          return NoCounterpart(at, "a part that is not text here", "Gemini");
        }
        AppendLine(text, StringOr(p.get_object(), "text", ""));
      }
    }
    return Status::Ok();
  }

  // Consecutive turns of one role are one Content.
  static Status Append(json::array& contents, std::string_view role, json::array parts) {
    if (parts.empty()) {
      return Status::Ok();
    }
    if (!contents.empty() && StringOr(contents.back().as_object(), "role", "") == role) {
      json::array& last = contents.back().as_object()["parts"].as_array();
      for (json::value& p : parts) {
        last.push_back(std::move(p));
      }
      return Status::Ok();
    }
    contents.push_back(json::object{{"role", role}, {"parts", std::move(parts)}});
    return Status::Ok();
  }

  std::map<std::string, std::string, std::less<>> names_;  // tool call id -> function name
};

// ---- Responses --------------------------------------------------------------------

std::string_view StatusOfCode(int code) {
  switch (code) {
    case 400:
    case 405:
    case 411:
    case 413:
    case 415:
    case 422:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 408:
    case 504:
      return "DEADLINE_EXCEEDED";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 502:
    case 503:
      return "UNAVAILABLE";
    default:
      return "INTERNAL";
  }
}

std::string GeminiError(int code, std::string_view message, std::string_view reason) {
  json::object error{{"code", code}, {"message", message}, {"status", StatusOfCode(code)}};
  if (!reason.empty()) {
    error["details"] =
        json::array{json::object{{"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
                                 {"reason", reason},
                                 {"domain", "firebreak"}}};
  }
  return json::serialize(json::object{{"error", std::move(error)}});
}

// The HTTP status an error body of the neutral form stands for.
int CodeOfNeutralError(const json::object& error) {
  const std::string_view type = StringOr(error, "type", "");
  return type == "invalid_request_error" || type == "policy_violation" ? 400
         : type == "authentication_error"                              ? 401
         : type == "permission_error"                                  ? 403
         : type == "not_found_error"                                   ? 404
         : type == "rate_limit_error"                                  ? 429
         : type == "overloaded_error"                                  ? 503
                                                                       : 500;
}

std::string_view FinishToNeutral(std::string_view reason, bool calls) {
  if (calls) {
    return "tool_calls";
  }
  if (reason == "MAX_TOKENS") {
    return "length";
  }
  if (reason == "SAFETY" || reason == "RECITATION" || reason == "BLOCKLIST" ||
      reason == "PROHIBITED_CONTENT" || reason == "SPII" || reason == "IMAGE_SAFETY") {
    return "content_filter";
  }
  return "stop";
}

std::string_view FinishFromNeutral(std::string_view reason) {
  return reason == "length" ? "MAX_TOKENS" : reason == "content_filter" ? "SAFETY" : "STOP";
}

json::object NeutralUsage(const json::object& metadata) {
  const auto count = [&](std::string_view key) -> std::int64_t {
    const json::value* v = metadata.if_contains(key);
    return v != nullptr && v->is_int64() ? v->get_int64() : 0;
  };
  const std::int64_t input = count("promptTokenCount");
  const std::int64_t output = count("candidatesTokenCount") + count("thoughtsTokenCount");
  return {{"prompt_tokens", input},
          {"completion_tokens", output},
          {"total_tokens", count("totalTokenCount")}};
}

// A candidate's text and function calls, in the neutral form.
struct CandidateParts {
  std::string text;
  json::array calls;
};

CandidateParts PartsOf(const json::object& candidate, int& next_call) {
  CandidateParts out;
  const json::object* content = FindObject(candidate, "content");
  const json::array* parts = content ? FindArray(*content, "parts") : nullptr;
  if (parts == nullptr) {
    return out;
  }
  for (const json::value& p : *parts) {
    const json::object* part = p.if_object();
    if (part == nullptr || (part->contains("thought") && part->at("thought") == true)) {
      continue;
    }
    out.text += FindString(*part, "text");
    if (const json::object* call = FindObject(*part, "functionCall")) {
      std::string id(FindString(*call, "id"));
      const int index = next_call++;
      if (id.empty()) {
        id = "call_" + std::to_string(index);
      }
      const json::value* args = Find(*call, "args");
      out.calls.push_back(json::object{
          {"index", index},
          {"id", id},
          {"type", "function"},
          {"function", json::object{{"name", FindString(*call, "name")},
                                    {"arguments", args ? json::serialize(*args) : "{}"}}}});
    }
  }
  return out;
}

std::string ResponseToNeutralBody(std::string_view body) {
  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  const json::object* in = ec ? nullptr : parsed.if_object();
  if (in != nullptr && in->contains("error") && in->at("error").is_object()) {
    const json::object& error = in->at("error").get_object();
    return OpenAIErrorBody(StringOr(error, "message", "upstream error"), "api_error",
                           StringOr(error, "status", "api_error"));
  }
  const json::array* candidates = in ? FindArray(*in, "candidates") : nullptr;
  if (in == nullptr || (candidates == nullptr && !in->contains("promptFeedback"))) {
    return OpenAIErrorBody("the upstream returned an unexpected response", "api_error",
                           "api_error");
  }
  json::array choices;
  int next_call = 0;
  if (candidates != nullptr) {
    for (const json::value& c : *candidates) {
      if (!c.is_object()) {
        continue;
      }
      CandidateParts parts = PartsOf(c.get_object(), next_call);
      json::object message{{"role", "assistant"}, {"content", parts.text}};
      const bool calls = !parts.calls.empty();
      if (calls) {
        for (json::value& call : parts.calls) {
          call.as_object().erase("index");
        }
        message["tool_calls"] = std::move(parts.calls);
      }
      choices.push_back(json::object{
          {"index", choices.size()},
          {"message", std::move(message)},
          {"logprobs", nullptr},
          {"finish_reason", FinishToNeutral(FindString(c.get_object(), "finishReason"), calls)}});
    }
  }
  if (choices.empty()) {  // the prompt itself was blocked upstream
    choices.push_back(
        json::object{{"index", 0},
                     {"message", json::object{{"role", "assistant"}, {"content", ""}}},
                     {"logprobs", nullptr},
                     {"finish_reason", "content_filter"}});
  }
  json::object out{{"id", FindString(*in, "responseId", "gemini")},
                   {"object", "chat.completion"},
                   {"created", 0},
                   {"model", FindString(*in, "modelVersion")},
                   {"choices", std::move(choices)}};
  if (const json::object* usage = FindObject(*in, "usageMetadata")) {
    out["usage"] = NeutralUsage(*usage);
  }
  return json::serialize(out);
}

json::object GeminiUsage(const json::object& usage) {
  const auto count = [&](std::string_view key) -> std::int64_t {
    const json::value* v = usage.if_contains(key);
    return v != nullptr && v->is_int64() ? v->get_int64() : 0;
  };
  return {{"promptTokenCount", count("prompt_tokens")},
          {"candidatesTokenCount", count("completion_tokens")},
          {"totalTokenCount", count("total_tokens")}};
}

// Neutral tool calls as functionCall parts.
void AppendCalls(const json::array& calls, json::array& parts) {
  for (const json::value& c : calls) {
    const json::object* call = c.if_object();
    const json::value* fn = call ? call->if_contains("function") : nullptr;
    if (fn == nullptr || !fn->is_object()) {
      continue;
    }
    boost::system::error_code ec;
    json::value args = json::parse(StringOr(fn->get_object(), "arguments", "{}"), ec);
    parts.push_back(json::object{
        {"functionCall", json::object{{"id", StringOr(*call, "id", "")},
                                      {"name", StringOr(fn->get_object(), "name", "")},
                                      {"args", ec || !args.is_object() ? json::object{} : args}}}});
  }
}

std::string ResponseFromNeutralBody(std::string_view neutral) {
  boost::system::error_code ec;
  json::value parsed = json::parse(neutral, ec);
  const json::object* in = ec ? nullptr : parsed.if_object();
  if (in != nullptr && in->contains("error") && in->at("error").is_object()) {
    const json::object& error = in->at("error").get_object();
    return GeminiError(CodeOfNeutralError(error), StringOr(error, "message", "upstream error"), "");
  }
  const json::value* choices = in ? in->if_contains("choices") : nullptr;
  if (choices == nullptr || !choices->is_array()) {
    return GeminiError(502, "the upstream returned an unexpected response", "");
  }
  json::array candidates;
  for (const json::value& c : choices->get_array()) {
    const json::object* choice = c.if_object();
    const json::value* m = choice ? choice->if_contains("message") : nullptr;
    if (m == nullptr || !m->is_object()) {
      continue;
    }
    json::array parts;
    if (std::string_view text = StringOr(m->get_object(), "content", ""); !text.empty()) {
      parts.push_back(json::object{{"text", text}});
    }
    if (const json::value* calls = m->get_object().if_contains("tool_calls");
        calls && calls->is_array()) {
      AppendCalls(calls->get_array(), parts);
    }
    candidates.push_back(json::object{
        {"content", json::object{{"role", "model"}, {"parts", std::move(parts)}}},
        {"finishReason", FinishFromNeutral(StringOr(*choice, "finish_reason", "stop"))},
        {"index", candidates.size()}});
  }
  json::object out{{"candidates", std::move(candidates)},
                   {"modelVersion", StringOr(*in, "model", "")},
                   {"responseId", StringOr(*in, "id", "")}};
  if (const json::value* usage = in->if_contains("usage"); usage && usage->is_object()) {
    out["usageMetadata"] = GeminiUsage(usage->get_object());
  }
  return json::serialize(out);
}

// ---- Streams ------------------------------------------------------------------------

std::string Data(const json::object& data) { return FormatSse({{}, json::serialize(data)}); }

// Upstream Gemini chunks, neutral chunks out. A Gemini stream has no end
// marker: the chunk with a finishReason is the last one, and a stream that
// closes before it was cut short.
class GeminiToNeutralStream : public NeutralStreamWriter {
 public:
  std::string Feed(const SseEvent& event) override {
    if (finished_) {
      return {};
    }
    boost::system::error_code ec;
    json::value parsed = json::parse(event.data, ec);
    if (ec || !parsed.is_object()) {
      return {};
    }
    const json::object& chunk = parsed.get_object();
    if (const json::object* error = FindObject(chunk, "error")) {
      finished_ = true;
      return NeutralStreamError(StringOr(*error, "message", "upstream error"));
    }
    model_ = FindString(chunk, "modelVersion", model_);
    id_ = FindString(chunk, "responseId", id_);
    if (const json::object* usage = FindObject(chunk, "usageMetadata")) {
      usage_ = NeutralUsage(*usage);
    }
    const json::array* candidates = FindArray(chunk, "candidates");
    if (candidates == nullptr || candidates->empty() || !candidates->front().is_object()) {
      return {};
    }
    const json::object& candidate = candidates->front().get_object();
    CandidateParts parts = PartsOf(candidate, next_call_);
    std::string out;
    json::object delta;
    if (!started_) {
      started_ = true;
      delta["role"] = "assistant";
    }
    if (!parts.text.empty()) {
      delta["content"] = parts.text;
    }
    if (!parts.calls.empty()) {
      calls_ = true;
      delta["tool_calls"] = std::move(parts.calls);
    }
    if (!delta.empty()) {
      out += Chunk(std::move(delta), nullptr);
    }
    if (const std::string_view reason = FindString(candidate, "finishReason"); !reason.empty()) {
      finished_ = true;
      out += Chunk({}, json::value(FinishToNeutral(reason, calls_)));
      if (!usage_.empty()) {
        out += NeutralUsageChunk(id_, model_, usage_);
      }
      out += "data: [DONE]\n\n";
    }
    return out;
  }

 private:
  bool started_ = false;
  bool calls_ = false;
  int next_call_ = 0;
  json::object usage_;
};

// Neutral chunks in, Gemini chunks out: text as it comes, tool calls (whose
// arguments stream in pieces) whole with the last chunk, which carries the
// finishReason and the usage.
class NeutralToGeminiStream : public StreamTranslator {
 public:
  std::string Feed(const SseEvent& event) override {
    if (finished_) {
      return {};
    }
    if (event.data == "[DONE]") {
      return Close();
    }
    boost::system::error_code ec;
    json::value parsed = json::parse(event.data, ec);
    if (ec || !parsed.is_object()) {
      return {};
    }
    const json::object& chunk = parsed.get_object();
    if (const json::value* e = chunk.if_contains("error"); e && e->is_object()) {
      finished_ = true;
      return Data(
          json::parse(GeminiError(CodeOfNeutralError(e->get_object()),
                                  StringOr(e->get_object(), "message", "upstream error"), ""))
              .as_object());
    }
    model_ = StringOr(chunk, "model", model_);
    id_ = StringOr(chunk, "id", id_);
    if (const json::value* u = chunk.if_contains("usage"); u && u->is_object()) {
      usage_ = GeminiUsage(u->get_object());
    }
    const json::value* choices = chunk.if_contains("choices");
    if (choices == nullptr || !choices->is_array() || choices->get_array().empty() ||
        !choices->get_array()[0].is_object()) {
      return {};
    }
    const json::object& choice = choices->get_array()[0].get_object();
    std::string out;
    if (const json::value* d = choice.if_contains("delta"); d && d->is_object()) {
      if (std::string_view text = StringOr(d->get_object(), "content", ""); !text.empty()) {
        out += Chunk(json::array{json::object{{"text", text}}}, {});
      }
      if (const json::value* calls = d->get_object().if_contains("tool_calls");
          calls && calls->is_array()) {
        Accumulate(calls->get_array());
      }
    }
    if (const json::value* f = choice.if_contains("finish_reason"); f && f->is_string()) {
      finish_ = FinishFromNeutral(f->get_string());
    }
    return out;
  }

  std::string Finish() override {
    if (finished_) {
      return {};
    }
    finished_ = true;
    return Data(json::parse(GeminiError(502, "the upstream stream ended early", "")).as_object());
  }

 private:
  std::string Chunk(json::array parts, std::string_view finish) {
    json::object candidate{
        {"content", json::object{{"role", "model"}, {"parts", std::move(parts)}}}, {"index", 0}};
    json::object out{{"modelVersion", model_}, {"responseId", id_}};
    if (!finish.empty()) {
      candidate["finishReason"] = finish;
      if (!usage_.empty()) {
        out["usageMetadata"] = usage_;
      }
    }
    out["candidates"] = json::array{std::move(candidate)};
    return Data(out);
  }

  // Tool call deltas by index: the first names the call, the rest append to
  // its arguments.
  void Accumulate(const json::array& deltas) {
    for (const json::value& d : deltas) {
      const json::object* delta = d.if_object();
      if (delta == nullptr) {
        continue;
      }
      const json::value* index = delta->if_contains("index");
      const std::size_t i =
          index && index->is_int64() ? static_cast<std::size_t>(index->get_int64()) : calls_.size();
      if (i > calls_.size() || i > 1024) {
        continue;
      }
      if (i == calls_.size()) {
        calls_.push_back(
            json::object{{"id", ""}, {"function", json::object{{"name", ""}, {"arguments", ""}}}});
      }
      json::object& call = calls_[i].as_object();
      if (std::string_view id = StringOr(*delta, "id", ""); !id.empty()) {
        call["id"] = id;
      }
      if (const json::value* fn = delta->if_contains("function"); fn && fn->is_object()) {
        json::object& into = call["function"].as_object();
        if (std::string_view name = StringOr(fn->get_object(), "name", ""); !name.empty()) {
          into["name"] = name;
        }
        std::string arguments(into["arguments"].as_string());
        arguments += StringOr(fn->get_object(), "arguments", "");
        into["arguments"] = arguments;
      }
    }
  }

  std::string Close() {
    finished_ = true;
    json::array parts;
    AppendCalls(calls_, parts);
    if (parts.empty()) {
      parts.push_back(json::object{{"text", ""}});
    }
    return Chunk(std::move(parts), finish_);
  }

  bool finished_ = false;
  std::string finish_ = "STOP";
  std::string id_;
  std::string model_;
  json::object usage_;
  json::array calls_;
};

// ---- The provider ---------------------------------------------------------------------

class Gemini final : public Provider {
 public:
  Dialect dialect() const override { return Dialect::kGemini; }
  std::string_view endpoint() const override { return "/v1beta/models/*:generateContent"; }

  // /v1beta/models/{model}:generateContent, or :streamGenerateContent with
  // ?alt=sse (without it Gemini streams one JSON array, which Firebreak
  // does not relay); /v1 as well as /v1beta.
  base::StatusOr<bool> Serves(std::string_view path, std::string_view query,
                              Call& call) const override {
    std::string_view rest = path;
    if (rest.starts_with("/v1beta/models/")) {
      rest.remove_prefix(15);
    } else if (rest.starts_with("/v1/models/")) {
      rest.remove_prefix(11);
    } else {
      return false;
    }
    const std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      return false;
    }
    const std::string_view method = rest.substr(colon + 1);
    const std::string_view model = rest.substr(0, colon);
    if (method != "generateContent" && method != "streamGenerateContent") {
      return base::InvalidArgument(
          "Firebreak serves :generateContent and :streamGenerateContent, "
          "not :" +
          std::string(method));
    }
    const bool model_ok = !model.empty() && model.size() <= 128 &&
                          model.find_first_not_of(
                              "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == std::string_view::npos;
    if (!model_ok) {
      return base::InvalidArgument(
          "the model name in the path must be letters, digits, '.', '-' "
          "or '_'");
    }
    call.model = model;
    call.stream = method == "streamGenerateContent";
    if (call.stream && ("&" + std::string(query) + "&").find("&alt=sse&") == std::string::npos) {
      return base::InvalidArgument(
          ":streamGenerateContent needs ?alt=sse: Firebreak relays server-sent events");
    }
    return true;
  }
  std::string_view key_header() const override { return "x-goog-api-key"; }
  std::string_view key_env() const override { return "GEMINI_API_KEY"; }
  bool key_env_by_default() const override { return true; }
  std::string_view public_url() const override {
    return "https://generativelanguage.googleapis.com";
  }
  std::string_view default_model() const override { return "gemini-2.0-flash"; }

  base::StatusOr<base::Conversation> ConversationOf(const json::value& document,
                                                    const Call& call) const override {
    const json::object* body = document.if_object();
    if (body == nullptr) {
      return base::InvalidArgument("the request body must be a JSON object");
    }
    base::Conversation conversation;
    FB_RETURN_IF_ERROR(Reader(conversation).Request(*body));
    conversation.model = call.model;
    conversation.stream = call.stream;
    const bool any_text = std::any_of(
        conversation.messages.begin(), conversation.messages.end(), [](const base::Message& m) {
          return m.text.find_first_not_of(" \t\r\n") != std::string::npos;
        });
    if (!any_text && conversation.uninspected.empty()) {
      return base::InvalidArgument("the contents contain no text: there is nothing to classify");
    }
    return conversation;
  }

  void InjectSystemInstruction(json::object& document,
                               std::string_view instruction) const override {
    const std::string_view key =
        document.contains("system_instruction") ? "system_instruction" : "systemInstruction";
    json::value& system = document[key];
    if (!system.is_object()) {
      system = json::object{};
    }
    json::value& parts = system.get_object()["parts"];
    if (!parts.is_array()) {
      parts = json::array{};
    }
    parts.get_array().push_back(json::object{{"text", instruction}});
  }

  std::string ErrorBody(int status, std::string_view message,
                        std::string_view code) const override {
    return GeminiError(status, message, code);
  }
  std::string BlockBody(std::string_view message) const override {
    return GeminiError(400, message, "CONTENT_POLICY_VIOLATION");
  }

  std::string UpstreamUrl(std::string_view base_url, const Call& call) const override {
    return VersionedBase(base_url, "/v1beta") + "/models/" + call.model +
           (call.stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
  }
  void UpstreamHeaders(std::string_view api_key, const ClientHeader&, bool,
                       HeaderList& out) const override {
    if (!api_key.empty()) {
      out.emplace_back("x-goog-api-key", std::string(api_key));
    }
  }
  void ReadUsage(const json::value& body, TokenUsage& usage) const override {
    const json::object* o = body.if_object();
    const json::object* metadata = o ? FindObject(*o, "usageMetadata") : nullptr;
    if (metadata == nullptr) {
      return;
    }
    const json::object neutral = NeutralUsage(*metadata);
    if (const std::int64_t n = neutral.at("prompt_tokens").as_int64(); n > 0) {
      usage.input = n;
    }
    if (const std::int64_t n = neutral.at("completion_tokens").as_int64(); n > 0) {
      usage.output = n;
    }
  }

  base::StatusOr<json::object> RequestToNeutral(const json::object& request,
                                                const Call& call) const override {
    return ToNeutral().Request(request, call);
  }
  base::StatusOr<json::object> RequestFromNeutral(const json::object& neutral) const override {
    return FromNeutral().Request(neutral);
  }
  std::string ResponseToNeutral(std::string_view body) const override {
    return ResponseToNeutralBody(body);
  }
  std::string ResponseFromNeutral(std::string_view neutral) const override {
    return ResponseFromNeutralBody(neutral);
  }
  std::unique_ptr<StreamTranslator> StreamToNeutral() const override {
    return std::make_unique<GeminiToNeutralStream>();
  }
  std::unique_ptr<StreamTranslator> StreamFromNeutral() const override {
    return std::make_unique<NeutralToGeminiStream>();
  }
};

}  // namespace

const Provider& GeminiProvider() {
  static const Gemini provider;
  return provider;
}

}  // namespace firebreak::api
