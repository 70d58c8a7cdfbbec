#include "firebreak/api/translate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>

namespace firebreak::api {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(TranslateRequest, OpenAIToAnthropic) {
  json::value in = json::parse(R"({
    "model": "claude-3", "temperature": 1.5, "stop": "END", "stream": true, "user": "u1",
    "messages": [
      {"role": "system", "content": "sys"},
      {"role": "user", "content": [{"type": "text", "text": "hi"},
                                   {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
      {"role": "assistant", "content": null, "tool_calls": [
         {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "42"}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "tool_choice": "required"})");
  json::object out = AnthropicRequestFromOpenAI(in.as_object()).value();
  EXPECT_EQ(out.at("max_tokens"), kDefaultMaxTokens);
  EXPECT_EQ(out.at("system"), "sys");
  EXPECT_EQ(out.at("temperature"), 1.0);
  EXPECT_EQ(json::serialize(out.at("stop_sequences")), R"(["END"])");
  EXPECT_EQ(out.at("metadata").at("user_id"), "u1");
  const json::array& messages = out.at("messages").as_array();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(
      json::serialize(messages[0].at("content").at(1)),
      R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}})");
  EXPECT_EQ(json::serialize(messages[1].at("content").at(0)),
            R"({"type":"tool_use","id":"c1","name":"f","input":{"a":1}})");
  EXPECT_EQ(
      json::serialize(messages[2]),
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"c1","content":"42"}]})");
  EXPECT_EQ(json::serialize(out.at("tools")), R"([{"name":"f","input_schema":{"type":"object"}}])");
  EXPECT_EQ(out.at("tool_choice").at("type"), "any");
}

TEST(TranslateRequest, AnthropicToOpenAI) {
  json::value in = json::parse(R"({
    "model": "gpt-4o", "max_tokens": 50, "stream": true, "system": "sys",
    "stop_sequences": ["X"],
    "messages": [
      {"role": "user", "content": "hi"},
      {"role": "assistant", "content": [{"type": "text", "text": "calling"},
                                        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]},
      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"},
                                   {"type": "text", "text": "thanks"}]}]})");
  json::object out = OpenAIRequestFromAnthropic(in.as_object()).value();
  EXPECT_EQ(out.at("max_tokens"), 50);
  EXPECT_EQ(json::serialize(out.at("stop")), R"(["X"])");
  EXPECT_EQ(out.at("stream_options").at("include_usage"), true);
  const json::array& messages = out.at("messages").as_array();
  ASSERT_EQ(messages.size(), 5u);
  EXPECT_EQ(json::serialize(messages[0]), R"({"role":"system","content":"sys"})");
  EXPECT_EQ(messages[2].at("content"), "calling");
  EXPECT_EQ(messages[2].at("tool_calls").at(0).at("function").at("arguments"), R"({"a":1})");
  EXPECT_EQ(json::serialize(messages[3]), R"({"role":"tool","tool_call_id":"t1","content":"42"})");
  EXPECT_EQ(messages[4].at("content").at(0).at("text"), "thanks");
}

// What ConversationOf accepted, translated.
base::StatusOr<json::object> Translate(std::string_view body, Dialect from) {
  base::StatusOr<json::value> doc = ParseJson(body, {});
  EXPECT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_TRUE(ConversationOf(*doc, from).ok());
  return from == Dialect::kOpenAI ? AnthropicRequestFromOpenAI(doc->as_object())
                                  : OpenAIRequestFromAnthropic(doc->as_object());
}

TEST(TranslateRequest, CarriesOnlyWhatWasClassified) {
  // A stray "text" on an image part, or on a non-text system block, is not
  // text to the classifier and must not become text upstream.
  base::StatusOr<json::object> out = Translate(R"({"model": "claude-x", "messages": [
      {"role": "user", "content": [{"type": "image_url", "text": "SMUGGLED",
                                    "image_url": {"url": "https://x.test/a.png"}}]},
      {"role": "user", "content": "hi", "name": "SMUGGLED-NAME"}]})",
                                               Dialect::kOpenAI);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_THAT(json::serialize(*out), Not(HasSubstr("SMUGGLED")));
  EXPECT_EQ(json::serialize(out->at("messages").at(0).at("content")),
            R"([{"type":"image","source":{"type":"url","url":"https://x.test/a.png"}}])");
}

TEST(TranslateRequest, RefusesWhatHasNoCounterpart) {
  struct Case {
    std::string_view body;
    Dialect from;
    std::string_view error;
  };
  const Case cases[] = {
      {R"({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}]})",
       Dialect::kOpenAI, "messages[0].content[0]: a 'image_url' part here has no counterpart"},
      {R"({"messages": [{"role": "tool", "tool_call_id": "c", "content": [{"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}]})",
       Dialect::kOpenAI, "messages[0].content[0]"},
      {R"({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}]})",
       Dialect::kOpenAI, "a 'input_audio' part has no counterpart in the Anthropic API"},
      {R"({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]})",
       Dialect::kOpenAI, "a 'file' part"},
      {R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema", "json_schema": {"name": "s"}}})",
       Dialect::kOpenAI, "response_format: the field 'response_format' has no counterpart"},
      {R"({"messages": [{"role": "user", "content": "x"}], "prediction": {"type": "content", "content": "p"}})",
       Dialect::kOpenAI, "prediction"},
      {R"({"messages": [{"role": "user", "content": "x"}], "instructions": "y"})",
       Dialect::kOpenAI, "instructions"},
      // fuzz (translate_anthropic): a comma in the type turned the payload into text
      {R"({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png,x", "data": "AA=="}}]}]})",
       Dialect::kAnthropic, "messages[0].content[0].source.media_type: a media_type that is not a MIME type"},
      // fuzz (translate_openai): a percent escape in a data URL's type was read
      // decoded, and carried across as written
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/p%11ng;base64,AA=="}}]}]})",
       Dialect::kOpenAI,
       "messages[0].content[0].image_url.url: a data URL whose media type is not a MIME type"},
      // fuzz (translate_openai): a user's refusal was read, then dropped
      {R"({"messages": [{"role": "user", "refusal": "r"}]})",
       Dialect::kOpenAI, "messages[0].refusal: 'refusal' on a 'user' message has no counterpart"},
      // fuzz (translate_openai): the Anthropic API needs a message besides the system prompt
      {R"({"messages": [{"role": "system", "content": "x"}, {"role": "developer", "content": "y"}]})",
       Dialect::kOpenAI, "messages: a conversation of system messages only has no counterpart"},
      {R"({"messages": [{"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "not json"}}]}]})",
       Dialect::kOpenAI, "must be a JSON object"},
      {R"({"system": [{"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}], "messages": [{"role": "user", "content": "x"}]})",
       Dialect::kAnthropic, "system[0]: a 'image' block here has no counterpart in the OpenAI API"},
      {R"({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}]}]}]})",
       Dialect::kAnthropic, "messages[0].content[0].content[0]"},
      {R"({"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}}]}]})",
       Dialect::kAnthropic, "a 'document' block"},
      {R"({"messages": [{"role": "user", "content": [{"type": "search_result", "source": "s", "title": "t", "content": []}]}]})",
       Dialect::kAnthropic, "a 'search_result' block"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "web_search_20250305", "name": "web_search"}]})",
       Dialect::kAnthropic, "tools[0]: a tool the provider runs itself"},
      {R"({"messages": [{"role": "user", "content": "x"}], "mcp_servers": [{"type": "url", "url": "https://m.test", "name": "m"}]})",
       Dialect::kAnthropic, "mcp_servers"},
  };
  for (const Case& c : cases) {
    base::StatusOr<json::object> out = Translate(c.body, c.from);
    ASSERT_FALSE(out.ok()) << c.body;
    EXPECT_THAT(out.status().message(), HasSubstr(c.error)) << c.body;
  }
}

TEST(TranslateRequest, LeavesBehindOnlySettingsWithoutContent) {
  base::StatusOr<json::object> out = Translate(R"({"model": "gpt-4o", "max_tokens": 5,
      "top_k": 3, "thinking": {"type": "enabled", "budget_tokens": 1024},
      "messages": [{"role": "user", "content": "q"},
                   {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                                                     {"type": "text", "text": "a"}]}]})",
                                               Dialect::kAnthropic);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(json::serialize(out->at("messages")),
            R"([{"role":"user","content":"q"},{"role":"assistant","content":"a"}])");
  EXPECT_FALSE(out->contains("top_k"));
}

TEST(TranslateResponse, AnthropicToOpenAIAndBack) {
  const std::string anthropic = R"({"id":"msg_1","type":"message","role":"assistant","model":"m",
    "content":[{"type":"text","text":"Hello"}],"stop_reason":"max_tokens",
    "usage":{"input_tokens":3,"output_tokens":5}})";
  json::value openai = json::parse(OpenAIResponseFromAnthropic(anthropic));
  EXPECT_EQ(openai.at("object"), "chat.completion");
  EXPECT_EQ(openai.at("choices").at(0).at("message").at("content"), "Hello");
  EXPECT_EQ(openai.at("choices").at(0).at("finish_reason"), "length");
  EXPECT_EQ(openai.at("usage").at("total_tokens"), 8);

  json::value back = json::parse(AnthropicResponseFromOpenAI(json::serialize(openai)));
  EXPECT_EQ(back.at("type"), "message");
  EXPECT_EQ(back.at("content").at(0).at("text"), "Hello");
  EXPECT_EQ(back.at("stop_reason"), "max_tokens");
  EXPECT_EQ(back.at("usage").at("output_tokens"), 5);
}

// fuzz/corpus/{translate_response,sse}/regression-usage-overflow: the upstream's
// token counts are summed without overflowing (saturated).
TEST(TranslateResponse, TokenTotalsSaturate) {
  json::value whole = json::parse(OpenAIResponseFromAnthropic(
      R"({"type":"message","usage":{"input_tokens":9223372036854775807,"output_tokens":1}})"));
  EXPECT_EQ(whole.at("usage").at("total_tokens"), INT64_MAX);
  whole = json::parse(OpenAIResponseFromAnthropic(
      R"({"type":"message","usage":{"input_tokens":-9223372036854775808,"output_tokens":-1}})"));
  EXPECT_EQ(whole.at("usage").at("total_tokens"), INT64_MIN);

  auto translator = MakeStreamTranslator(Dialect::kOpenAI);
  std::string out = translator->Feed(
      {"message_start",
       R"({"type":"message_start","message":{"usage":{"input_tokens":9223372036854775807}}})"});
  out += translator->Feed(
      {"message_delta", R"({"type":"message_delta","usage":{"output_tokens":5}})"});
  out += translator->Feed({"message_stop", R"({"type":"message_stop"})"});
  EXPECT_THAT(out, HasSubstr("\"total_tokens\":9223372036854775807"));
}

TEST(TranslateResponse, UpstreamErrorsBecomeErrorsOfTheOtherShape) {
  json::value openai = json::parse(OpenAIResponseFromAnthropic(
      R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})"));
  EXPECT_EQ(openai.at("error").at("message"), "busy");
  json::value anthropic =
      json::parse(AnthropicResponseFromOpenAI(R"({"error":{"message":"bad key"}})"));
  EXPECT_EQ(anthropic.at("type"), "error");
  EXPECT_EQ(anthropic.at("error").at("message"), "bad key");
}

TEST(SseParser, FramesEventsSplitAnywhere) {
  const std::string stream =
      "event: a\ndata: {\"x\":1}\n\n: comment\n\ndata: line1\r\ndata: line2\r\n\r\ndata: "
      "[DONE]\n\n";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser parser;
    std::vector<SseEvent> events = parser.Feed(std::string_view(stream).substr(0, cut));
    for (SseEvent& e : parser.Feed(std::string_view(stream).substr(cut))) {
      events.push_back(std::move(e));
    }
    ASSERT_EQ(events.size(), 3u) << "cut at " << cut;
    EXPECT_EQ(events[0].event, "a");
    EXPECT_EQ(events[0].data, "{\"x\":1}");
    EXPECT_EQ(events[1].data, "line1\nline2");
    EXPECT_EQ(events[2].data, "[DONE]");
  }
  EXPECT_EQ(FormatSse({"e", "a\nb"}), "event: e\ndata: a\ndata: b\n\n");

  // A byte at a time: each read scans only what it added, and a blank line
  // split between two reads still ends its event.
  SseParser parser;
  std::vector<SseEvent> events;
  for (char c : stream + "data: " + std::string(1 << 16, 'x') + "\n\n") {
    for (SseEvent& e : parser.Feed(std::string_view(&c, 1))) {
      events.push_back(std::move(e));
    }
  }
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[1].data, "line1\nline2");
  EXPECT_EQ(events[3].data.size(), std::size_t{1} << 16);
}

std::vector<json::value> Datas(std::string_view sse) {
  SseParser parser;
  std::vector<json::value> out;
  for (const SseEvent& e : parser.Feed(sse)) {
    out.push_back(e.data == "[DONE]" ? json::value("[DONE]") : json::parse(e.data));
  }
  return out;
}

TEST(StreamTranslator, OpenAIChunksBecomeAnthropicEvents) {
  auto translator = MakeStreamTranslator(Dialect::kAnthropic);
  std::string out;
  out += translator->Feed(
      {"",
       R"({"id":"c","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})"});
  out += translator->Feed(
      {"", R"({"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"Hel"}}]})"});
  out += translator->Feed(
      {"",
       R"({"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]})"});
  out += translator->Feed(
      {"",
       R"({"id":"c","model":"m","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":4}})"});
  out += translator->Feed({"", "[DONE]"});
  out += translator->Finish();
  std::vector<json::value> events = Datas(out);
  std::vector<std::string> types;
  std::string text;
  for (const json::value& e : events) {
    types.emplace_back(e.at("type").as_string());
    if (types.back() == "content_block_delta") {
      text += e.at("delta").at("text").as_string();
    }
  }
  EXPECT_THAT(types, ::testing::ElementsAre("message_start", "content_block_start",
                                            "content_block_delta", "content_block_delta",
                                            "content_block_stop", "message_delta", "message_stop"));
  EXPECT_EQ(text, "Hello");
  EXPECT_EQ(events[5].at("delta").at("stop_reason"), "end_turn");
  EXPECT_EQ(events[5].at("usage").at("output_tokens"), 4);
}

TEST(StreamTranslator, AnthropicEventsBecomeOpenAIChunks) {
  auto translator = MakeStreamTranslator(Dialect::kOpenAI);
  std::string out;
  out += translator->Feed(
      {"message_start",
       R"({"type":"message_start","message":{"id":"msg","model":"m","usage":{"input_tokens":7}}})"});
  out += translator->Feed({"ping", R"({"type":"ping"})"});
  out += translator->Feed(
      {"content_block_delta",
       R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})"});
  out += translator->Feed(
      {"message_delta",
       R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}})"});
  out += translator->Feed({"message_stop", R"({"type":"message_stop"})"});
  out += translator->Finish();
  std::vector<json::value> chunks = Datas(out);
  ASSERT_EQ(chunks.size(), 5u);
  EXPECT_EQ(chunks[0].at("choices").at(0).at("delta").at("role"), "assistant");
  EXPECT_EQ(chunks[1].at("choices").at(0).at("delta").at("content"), "Hi");
  EXPECT_EQ(chunks[2].at("choices").at(0).at("finish_reason"), "stop");
  EXPECT_EQ(chunks[3].at("usage").at("total_tokens"), 8);
  EXPECT_EQ(chunks[4], "[DONE]");
}

TEST(StreamTranslator, AStreamCutShortEndsInAnError) {
  auto to_openai = MakeStreamTranslator(Dialect::kOpenAI);
  to_openai->Feed({"message_start", R"({"type":"message_start","message":{"id":"x"}})"});
  EXPECT_THAT(to_openai->Finish(), HasSubstr("ended early"));
  auto to_anthropic = MakeStreamTranslator(Dialect::kAnthropic);
  to_anthropic->Feed({"", R"({"id":"c","choices":[{"index":0,"delta":{"content":"a"}}]})"});
  EXPECT_THAT(to_anthropic->Finish(), HasSubstr("event: error"));
}

}  // namespace
}  // namespace firebreak::api
