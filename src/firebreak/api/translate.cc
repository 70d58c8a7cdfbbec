#include "firebreak/api/translate.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <limits>

#include "firebreak/api/fields.h"

namespace firebreak::api {
namespace {

namespace json = boost::json;

const json::value* Get(const json::object& o, std::string_view key) { return o.if_contains(key); }

std::int64_t IntOr(const json::object& o, std::string_view key, std::int64_t fallback) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return fallback;
  }
  if (v->is_int64()) {
    return v->get_int64();
  }
  if (v->is_uint64()) {
    return static_cast<std::int64_t>(v->get_uint64());
  }
  return fallback;
}

// a + b, saturated: token counts come from the upstream and may be anything.
std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return a < 0 ? std::numeric_limits<std::int64_t>::min()
                 : std::numeric_limits<std::int64_t>::max();
  }
  return sum;
}

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The text of a string or an array of text parts/blocks.
std::string JoinedText(const json::value* content) {
  if (content == nullptr) {
    return {};
  }
  if (content->is_string()) {
    return std::string(content->get_string());
  }
  std::string text;
  if (content->is_array()) {
    for (const json::value& part : content->get_array()) {
      if (part.is_object()) {
        if (std::string_view t = StringOr(part.get_object(), "text", ""); !t.empty()) {
          text += text.empty() ? "" : "\n";
          text += t;
        }
      }
    }
  }
  return text;
}

json::value ParseOrEmpty(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value(json::object{}) : v;
}

// The object at `key`, or an empty one.
const json::object& ObjectAt(const json::object& o, std::string_view key) {
  static const json::object kEmpty;
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? v->get_object() : kEmpty;
}

// An OpenAI assistant message (text and tool calls) as Anthropic content blocks.
json::array AnthropicBlocksOf(const json::object& message) {
  json::array blocks;
  if (std::string text = JoinedText(Get(message, "content")); !text.empty()) {
    blocks.push_back(json::object{{"type", "text"}, {"text", text}});
  }
  if (const json::value* calls = Get(message, "tool_calls"); calls && calls->is_array()) {
    for (const json::value& call : calls->get_array()) {
      if (!call.is_object()) {
        continue;
      }
      const json::object& fn = ObjectAt(call.get_object(), "function");
      blocks.push_back(json::object{{"type", "tool_use"},
                                    {"id", StringOr(call.get_object(), "id", "")},
                                    {"name", StringOr(fn, "name", "")},
                                    {"input", ParseOrEmpty(StringOr(fn, "arguments", "{}"))}});
    }
  }
  return blocks;
}

std::string_view AnthropicStopReason(std::string_view openai_finish) {
  if (openai_finish == "length") {
    return "max_tokens";
  }
  if (openai_finish == "tool_calls" || openai_finish == "function_call") {
    return "tool_use";
  }
  return "end_turn";
}

std::string_view OpenAIFinishReason(std::string_view anthropic_stop) {
  if (anthropic_stop == "max_tokens") {
    return "length";
  }
  if (anthropic_stop == "tool_use") {
    return "tool_calls";
  }
  if (anthropic_stop == "refusal") {
    return "content_filter";
  }
  return "stop";
}

}  // namespace

// ---- whole responses -------------------------------------------------------

std::string OpenAIResponseFromAnthropic(std::string_view body) {
  json::value parsed = ParseOrEmpty(body);
  const json::object empty;
  const json::object& in = parsed.is_object() ? parsed.get_object() : empty;
  if (StringOr(in, "type", "") != "message") {
    const json::object& error = ObjectAt(in, "error");
    const std::string_view type = StringOr(error, "type", "api_error");
    return OpenAIErrorBody(
        StringOr(error, "message", "the upstream returned an unexpected response"), type, type);
  }
  std::string text;
  json::array tool_calls;
  if (const json::value* content = Get(in, "content"); content && content->is_array()) {
    for (const json::value& block : content->get_array()) {
      if (!block.is_object()) {
        continue;
      }
      const json::object& b = block.get_object();
      const std::string_view type = StringOr(b, "type", "");
      if (type == "text") {
        text += StringOr(b, "text", "");
      } else if (type == "tool_use") {
        tool_calls.push_back(ToolCallOf(b));
      }
    }
  }
  json::object message{
      {"role", "assistant"},
      {"content", text.empty() && !tool_calls.empty() ? json::value(nullptr) : json::value(text)},
      {"refusal", nullptr}};
  if (!tool_calls.empty()) {
    message["tool_calls"] = std::move(tool_calls);
  }
  const json::object& usage = ObjectAt(in, "usage");
  const std::int64_t prompt = IntOr(usage, "input_tokens", 0);
  const std::int64_t completion = IntOr(usage, "output_tokens", 0);
  return json::serialize(json::object{
      {"id", StringOr(in, "id", "")},
      {"object", "chat.completion"},
      {"created", NowSeconds()},
      {"model", StringOr(in, "model", "")},
      {"choices", json::array{json::object{
                      {"index", 0},
                      {"message", std::move(message)},
                      {"logprobs", nullptr},
                      {"finish_reason", OpenAIFinishReason(StringOr(in, "stop_reason", ""))}}}},
      {"usage", json::object{{"prompt_tokens", prompt},
                             {"completion_tokens", completion},
                             {"total_tokens", SaturatingAdd(prompt, completion)}}}});
}

std::string AnthropicResponseFromOpenAI(std::string_view body) {
  json::value parsed = ParseOrEmpty(body);
  const json::object empty;
  const json::object& in = parsed.is_object() ? parsed.get_object() : empty;
  const json::value* choices = Get(in, "choices");
  if (choices == nullptr || !choices->is_array() || choices->get_array().empty() ||
      !choices->get_array()[0].is_object()) {
    const json::object& error = ObjectAt(in, "error");
    return AnthropicErrorBody(
        "api_error", StringOr(error, "message", "the upstream returned an unexpected response"));
  }
  const json::object& choice = choices->get_array()[0].get_object();
  json::array content = AnthropicBlocksOf(ObjectAt(choice, "message"));
  const json::object& usage = ObjectAt(in, "usage");
  return json::serialize(json::object{
      {"id", StringOr(in, "id", "")},
      {"type", "message"},
      {"role", "assistant"},
      {"model", StringOr(in, "model", "")},
      {"content", std::move(content)},
      {"stop_reason", AnthropicStopReason(StringOr(choice, "finish_reason", "stop"))},
      {"stop_sequence", nullptr},
      {"usage", json::object{{"input_tokens", IntOr(usage, "prompt_tokens", 0)},
                             {"output_tokens", IntOr(usage, "completion_tokens", 0)}}}});
}

// ---- streams ---------------------------------------------------------------

std::vector<SseEvent> SseParser::Feed(std::string_view bytes) {
  for (char c : bytes) {
    if (c != '\r') {
      buffer_.push_back(c);
    }
  }
  std::vector<SseEvent> events;
  std::size_t start = 0;
  std::size_t end;
  while ((end = buffer_.find("\n\n", std::max(start, scan_from_))) != std::string::npos) {
    SseEvent event;
    bool has_data = false;
    std::string_view block(buffer_.data() + start, end - start);
    while (!block.empty()) {
      const std::size_t newline = block.find('\n');
      std::string_view line = block.substr(0, newline);
      block = newline == std::string_view::npos ? std::string_view() : block.substr(newline + 1);
      const std::size_t colon = line.find(':');
      if (colon == 0) {
        continue;  // a comment
      }
      std::string_view field = line.substr(0, colon);
      std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
      if (value.starts_with(' ')) {
        value.remove_prefix(1);
      }
      if (field == "event") {
        event.event = value;
      } else if (field == "data") {
        event.data += has_data ? "\n" : "";
        event.data += value;
        has_data = true;
      }
    }
    if (has_data || !event.event.empty()) {
      events.push_back(std::move(event));
    }
    start = end + 2;
  }
  buffer_.erase(0, start);
  // A blank line may begin at the last byte kept.
  scan_from_ = buffer_.empty() ? 0 : buffer_.size() - 1;
  return events;
}

std::string FormatSse(const SseEvent& event) {
  std::string out;
  if (!event.event.empty()) {
    out += "event: " + event.event + "\n";
  }
  std::string_view data = event.data;
  while (true) {
    const std::size_t newline = data.find('\n');
    out += "data: ";
    out += data.substr(0, newline);
    out += "\n";
    if (newline == std::string_view::npos) {
      break;
    }
    data.remove_prefix(newline + 1);
  }
  return out + "\n";
}

namespace {

std::string AnthropicEvent(std::string_view type, json::object data) {
  data["type"] = type;
  return FormatSse({std::string(type), json::serialize(data)});
}

std::string OpenAIData(const json::object& data) { return FormatSse({{}, json::serialize(data)}); }

}  // namespace

std::string NeutralChunk(std::string_view id, std::string_view model, json::object delta,
                         json::value finish_reason) {
  return OpenAIData({{"id", id},
                     {"object", "chat.completion.chunk"},
                     {"created", NowSeconds()},
                     {"model", model},
                     {"choices", json::array{json::object{{"index", 0},
                                                          {"delta", std::move(delta)},
                                                          {"logprobs", nullptr},
                                                          {"finish_reason", finish_reason}}}}});
}

std::string NeutralUsageChunk(std::string_view id, std::string_view model, json::object usage) {
  return OpenAIData({{"id", id},
                     {"object", "chat.completion.chunk"},
                     {"created", NowSeconds()},
                     {"model", model},
                     {"choices", json::array{}},
                     {"usage", std::move(usage)}});
}

std::string NeutralStreamWriter::Finish() {
  if (finished_) {
    return {};
  }
  finished_ = true;
  return NeutralStreamError("the upstream stream ended early");
}

std::string NeutralStreamError(std::string_view message, std::string_view type) {
  return OpenAIData({{"error", json::object{{"message", message},
                                            {"type", type},
                                            {"code", nullptr},
                                            {"param", nullptr}}}});
}

namespace {

// Upstream OpenAI chunks, client Anthropic events.
class AnthropicFromOpenAIStream : public StreamTranslator {
 public:
  std::string Feed(const SseEvent& event) override {
    if (finished_) {
      return {};
    }
    if (event.data == "[DONE]") {
      return Close();
    }
    json::value parsed = ParseOrEmpty(event.data);
    if (!parsed.is_object()) {
      return {};
    }
    const json::object& chunk = parsed.get_object();
    std::string out;
    if (const json::value* e = Get(chunk, "error"); e && e->is_object()) {
      finished_ = true;
      return AnthropicEvent(
          "error",
          {{"error",
            json::object{{"type", "api_error"},
                         {"message", StringOr(e->get_object(), "message", "upstream error")}}}});
    }
    out += Start(chunk);
    if (const json::value* u = Get(chunk, "usage"); u && u->is_object()) {
      input_tokens_ = IntOr(u->get_object(), "prompt_tokens", input_tokens_);
      output_tokens_ = IntOr(u->get_object(), "completion_tokens", output_tokens_);
    }
    const json::value* choices = Get(chunk, "choices");
    if (choices == nullptr || !choices->is_array() || choices->get_array().empty() ||
        !choices->get_array()[0].is_object()) {
      return out;
    }
    const json::object& choice = choices->get_array()[0].get_object();
    if (const json::value* d = Get(choice, "delta"); d && d->is_object()) {
      if (std::string_view text = StringOr(d->get_object(), "content", ""); !text.empty()) {
        if (!block_open_) {
          block_open_ = true;
          out += AnthropicEvent(
              "content_block_start",
              {{"index", 0}, {"content_block", json::object{{"type", "text"}, {"text", ""}}}});
        }
        out += AnthropicEvent(
            "content_block_delta",
            {{"index", 0}, {"delta", json::object{{"type", "text_delta"}, {"text", text}}}});
      }
    }
    if (const json::value* f = Get(choice, "finish_reason"); f && f->is_string()) {
      stop_reason_ = AnthropicStopReason(f->get_string());
    }
    return out;
  }

  // An OpenAI stream ends with [DONE]; one that stops before it was cut
  // short, and the client is told so rather than given a clean ending.
  std::string Finish() override {
    if (finished_) {
      return {};
    }
    finished_ = true;
    return Start({}) +
           AnthropicEvent(
               "error", {{"error", json::object{{"type", "api_error"},
                                                {"message", "the upstream stream ended early"}}}});
  }

 private:
  std::string Start(const json::object& chunk) {
    if (started_) {
      return {};
    }
    started_ = true;
    return AnthropicEvent(
        "message_start",
        {{"message",
          json::object{{"id", StringOr(chunk, "id", "")},
                       {"type", "message"},
                       {"role", "assistant"},
                       {"model", StringOr(chunk, "model", "")},
                       {"content", json::array{}},
                       {"stop_reason", nullptr},
                       {"stop_sequence", nullptr},
                       {"usage", json::object{{"input_tokens", 0}, {"output_tokens", 0}}}}}});
  }

  std::string Close() {
    finished_ = true;
    std::string out = Start({});
    if (block_open_) {
      out += AnthropicEvent("content_block_stop", {{"index", 0}});
    }
    out += AnthropicEvent(
        "message_delta",
        {{"delta", json::object{{"stop_reason", stop_reason_}, {"stop_sequence", nullptr}}},
         {"usage",
          json::object{{"input_tokens", input_tokens_}, {"output_tokens", output_tokens_}}}});
    return out + AnthropicEvent("message_stop", {});
  }

  bool started_ = false;
  bool block_open_ = false;
  bool finished_ = false;
  std::string stop_reason_ = "end_turn";
  std::int64_t input_tokens_ = 0;
  std::int64_t output_tokens_ = 0;
};

// Upstream Anthropic events, client OpenAI chunks; the end is message_stop.
class OpenAIFromAnthropicStream : public NeutralStreamWriter {
 public:
  std::string Feed(const SseEvent& event) override {
    if (finished_) {
      return {};
    }
    json::value parsed = ParseOrEmpty(event.data);
    if (!parsed.is_object()) {
      return {};
    }
    const json::object& data = parsed.get_object();
    const std::string_view type = StringOr(data, "type", event.event);
    if (type == "message_start") {
      if (const json::value* m = Get(data, "message"); m && m->is_object()) {
        id_ = StringOr(m->get_object(), "id", "");
        model_ = StringOr(m->get_object(), "model", "");
        if (const json::value* u = Get(m->get_object(), "usage"); u && u->is_object()) {
          input_tokens_ = IntOr(u->get_object(), "input_tokens", 0);
        }
      }
      return Chunk(json::object{{"role", "assistant"}, {"content", ""}}, nullptr);
    }
    if (type == "content_block_delta") {
      const json::value* d = Get(data, "delta");
      if (d != nullptr && d->is_object() && StringOr(d->get_object(), "type", "") == "text_delta") {
        return Chunk(json::object{{"content", StringOr(d->get_object(), "text", "")}}, nullptr);
      }
      return {};
    }
    if (type == "message_delta") {
      if (const json::value* d = Get(data, "delta"); d && d->is_object()) {
        finish_reason_ = OpenAIFinishReason(StringOr(d->get_object(), "stop_reason", ""));
      }
      if (const json::value* u = Get(data, "usage"); u && u->is_object()) {
        output_tokens_ = IntOr(u->get_object(), "output_tokens", output_tokens_);
      }
      return {};
    }
    if (type == "message_stop") {
      finished_ = true;
      return NeutralChunk(id_, model_, {}, json::value(finish_reason_)) +
             NeutralUsageChunk(
                 id_, model_,
                 {{"prompt_tokens", input_tokens_},
                  {"completion_tokens", output_tokens_},
                  {"total_tokens", SaturatingAdd(input_tokens_, output_tokens_)}}) +
             "data: [DONE]\n\n";
    }
    if (type == "error") {
      finished_ = true;
      const json::object& error = ObjectAt(data, "error");
      return NeutralStreamError(StringOr(error, "message", "upstream error"),
                                StringOr(error, "type", "api_error"));
    }
    return {};
  }

 private:
  std::string finish_reason_ = "stop";
  std::int64_t input_tokens_ = 0;
  std::int64_t output_tokens_ = 0;
};

}  // namespace

std::unique_ptr<StreamTranslator> MakeStreamTranslator(Dialect to) {
  if (to == Dialect::kAnthropic) {
    return std::make_unique<AnthropicFromOpenAIStream>();
  }
  return std::make_unique<OpenAIFromAnthropicStream>();
}

}  // namespace firebreak::api
