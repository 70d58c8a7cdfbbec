#include "firebreak/api/request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace firebreak::api {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

base::StatusOr<base::Conversation> Parse(std::string_view body, Dialect dialect) {
  base::StatusOr<json::value> doc = ParseJson(body, {});
  if (!doc.ok()) {
    return doc.status();
  }
  return ConversationOf(*doc, dialect);
}

TEST(ParseJson, ReportsWhereTheSyntaxBreaks) {
  base::StatusOr<json::value> doc = ParseJson("{\"a\": 1,\n \"b\": }", {});
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(doc.status().message(), HasSubstr("malformed JSON at byte 15 (line 2, column 7)"));
}

TEST(ParseJson, ReportsATruncatedBody) {
  base::StatusOr<json::value> doc = ParseJson("{\"messages\": [", {});
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(doc.status().message(), HasSubstr("at byte 14"));
}

TEST(ParseJson, RefusesInvalidUtf8WithItsOffset) {
  const std::string body = "{\"x\": \"ok \xC3\x28\"}";
  base::StatusOr<json::value> doc = ParseJson(body, {});
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(doc.status().message(), HasSubstr("not valid UTF-8 at byte 10"));
  // Overlong encodings and surrogates are not UTF-8 either.
  EXPECT_FALSE(ParseJson("\"\xC0\xAF\"", {}).ok());
  EXPECT_FALSE(ParseJson("\"\xED\xA0\x80\"", {}).ok());
  EXPECT_TRUE(ParseJson("\"h\xC3\xA9 \xF0\x9F\x98\x80\"", {}).ok());
}

TEST(ParseJson, RefusesNestingPastTheLimit) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  base::StatusOr<json::value> doc = ParseJson(deep, {.max_depth = 64});
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(doc.status().message(), HasSubstr("deeper than 64 levels"));
  EXPECT_TRUE(ParseJson(deep, {.max_depth = 128}).ok());
}

TEST(ConversationOf, ReadsEveryOpenAIMessagePartAndToolCall) {
  base::StatusOr<base::Conversation> c = Parse(R"({
    "model": "gpt-4o", "stream": true,
    "messages": [
      {"role": "developer", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "part one"},
                                   {"type": "image_url", "image_url": {"url": "http://x/y.png"}},
                                   {"type": "text", "text": "part two"}]},
      {"role": "assistant", "content": null,
       "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "lookup", "arguments": "{\"q\": \"radar\"}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "tool says hi"}
    ]})",
                                               Dialect::kOpenAI);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->model, "gpt-4o");
  EXPECT_TRUE(c->stream);
  ASSERT_EQ(c->messages.size(), 4u);
  EXPECT_EQ(c->messages[0].role, base::Role::kSystem);
  EXPECT_EQ(c->messages[1].text, "part one\npart two");
  EXPECT_EQ(c->messages[2].text, "lookup\n{\"q\": \"radar\"}");
  EXPECT_EQ(c->messages[3].role, base::Role::kTool);
  EXPECT_EQ(c->messages[3].text, "tool says hi");
}

TEST(ConversationOf, ReadsAnthropicSystemBlocksToolsAndDocuments) {
  base::StatusOr<base::Conversation> c = Parse(R"({
    "model": "claude-x", "max_tokens": 10,
    "system": [{"type": "text", "text": "sys"}],
    "messages": [
      {"role": "user", "content": "hello"},
      {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "search",
                                         "input": {"q": "targets"}}]},
      {"role": "user", "content": [
         {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "found"}]},
         {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc text"}}]}
    ]})",
                                               Dialect::kAnthropic);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->messages.size(), 4u);
  EXPECT_EQ(c->messages[0].role, base::Role::kSystem);
  EXPECT_EQ(c->messages[0].text, "sys");
  EXPECT_EQ(c->messages[2].text, "search\n{\"q\":\"targets\"}");
  EXPECT_EQ(c->messages[3].text, "found\ndoc text");
}

TEST(ConversationOf, NamesTheFieldAtFault) {
  EXPECT_THAT(Parse(R"({"model": "m"})", Dialect::kOpenAI).status().message(),
              HasSubstr("messages is required"));
  EXPECT_THAT(Parse(R"({"messages": []})", Dialect::kOpenAI).status().message(),
              HasSubstr("non-empty array"));
  EXPECT_THAT(Parse(R"({"messages": [{"role": "user", "content": "x"}, {"role": "wizard"}]})",
                    Dialect::kOpenAI)
                  .status()
                  .message(),
              HasSubstr("messages[1].role"));
  EXPECT_THAT(Parse(R"({"messages": [{"role": "system", "content": "x"}]})", Dialect::kAnthropic)
                  .status()
                  .message(),
              HasSubstr("messages[0].role must be \"user\" or \"assistant\""));
  EXPECT_THAT(Parse(R"({"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]})",
                    Dialect::kOpenAI)
                  .status()
                  .message(),
              HasSubstr("messages[0].content[0].text must be a string"));
  EXPECT_THAT(Parse(R"({"messages": [{"role": "user", "content": "  "}]})", Dialect::kOpenAI)
                  .status()
                  .message(),
              HasSubstr("no text"));
  EXPECT_THAT(Parse(R"([1])", Dialect::kOpenAI).status().message(), HasSubstr("JSON object"));
}

TEST(InjectSystemInstruction, OpenAIAfterTheLeadingSystemMessages) {
  json::value doc = json::parse(
      R"({"messages": [{"role": "system", "content": "a"}, {"role": "user", "content": "u"}]})");
  InjectSystemInstruction(doc.as_object(), Dialect::kOpenAI, "limits");
  EXPECT_EQ(json::serialize(doc.at("messages")),
            R"([{"role":"system","content":"a"},{"role":"system","content":"limits"},)"
            R"({"role":"user","content":"u"}])");
}

TEST(InjectSystemInstruction, AnthropicAppendsToSystem) {
  json::value doc = json::parse(R"({"system": "a", "messages": []})");
  InjectSystemInstruction(doc.as_object(), Dialect::kAnthropic, "limits");
  EXPECT_EQ(doc.at("system"), "a\n\nlimits");
  json::value blocks = json::parse(R"({"system": [{"type": "text", "text": "a"}]})");
  InjectSystemInstruction(blocks.as_object(), Dialect::kAnthropic, "limits");
  EXPECT_EQ(blocks.at("system").as_array().size(), 2u);
  json::value none = json::parse(R"({"messages": []})");
  InjectSystemInstruction(none.as_object(), Dialect::kAnthropic, "limits");
  EXPECT_EQ(none.at("system"), "limits");
}

TEST(ErrorBodies, HaveEachApisShape) {
  EXPECT_EQ(OpenAIErrorBody("no", "policy_violation", "content_policy_violation"),
            R"({"error":{"message":"no","type":"policy_violation",)"
            R"("code":"content_policy_violation","param":null}})");
  EXPECT_EQ(AnthropicErrorBody("invalid_request_error", "no"),
            R"({"type":"error","error":{"type":"invalid_request_error","message":"no"}})");
  EXPECT_EQ(AnthropicErrorType(401), "authentication_error");
  EXPECT_EQ(AnthropicErrorType(502), "api_error");
}

}  // namespace
}  // namespace firebreak::api
