#include "firebreak/api/request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "firebreak/api/provider.h"

namespace firebreak::api {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

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

TEST(ParseJson, ReportsTheFirstProblemNotBadUtf8AfterIt) {
  EXPECT_THAT(ParseJson("{\"a\": 1, \"a\": 2, \"b\": \"\xFF\"}", {}).status().message(),
              HasSubstr("duplicate key \"a\""));
  EXPECT_THAT(ParseJson("{\"a\": tru, \"b\": \"\xFF\"}", {}).status().message(),
              HasSubstr("malformed JSON at byte 6 (line 1, column 7)"));
}

TEST(ParseJson, RefusesNestingPastTheLimit) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  base::StatusOr<json::value> doc = ParseJson(deep, {.max_depth = 64});
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(doc.status().message(), HasSubstr("deeper than 64 levels"));
  EXPECT_TRUE(ParseJson(deep, {.max_depth = 128}).ok());
  // Exactly at the limit is accepted; one level more is refused, arrays and
  // objects alike.
  const std::string at_limit = std::string(64, '[') + std::string(64, ']');
  const std::string past = std::string(65, '[') + std::string(65, ']');
  EXPECT_TRUE(ParseJson(at_limit, {.max_depth = 64}).ok());
  EXPECT_FALSE(ParseJson(past, {.max_depth = 64}).ok());
  std::string objects;
  for (int i = 0; i < 65; ++i) {
    objects += "{\"k\":";
  }
  objects += "1" + std::string(65, '}');
  EXPECT_THAT(ParseJson(objects, {.max_depth = 64}).status().message(),
              HasSubstr("deeper than 64 levels"));
  EXPECT_TRUE(ParseJson(objects, {.max_depth = 65}).ok());
}

TEST(ParseJson, RefusesDuplicateKeysAtAnyLevel) {
  // Parsers disagree on which of two keys wins: the classifier and the
  // upstream must not be able to read different requests.
  base::StatusOr<json::value> top = ParseJson(
      R"({"messages": [{"role": "user", "content": "a"}],
 "messages": [{"role": "user", "content": "b"}]})",
      {});
  ASSERT_FALSE(top.ok());
  EXPECT_THAT(top.status().message(), HasSubstr("duplicate key \"messages\""));
  EXPECT_THAT(top.status().message(), HasSubstr("line 2"));
  EXPECT_THAT(ParseJson(R"({"m": [{"role": "user", "content": "a", "content": "b"}]})", {})
                  .status()
                  .message(),
              HasSubstr("duplicate key \"content\""));
  // The same key once escaped is the same key.
  EXPECT_THAT(ParseJson(R"({"messages": 1, "m\u0065ssages": 2})", {}).status().message(),
              HasSubstr("duplicate key \"messages\""));
  // A key split across escapes and a large object (past the linear scan).
  std::string large = "{";
  for (int i = 0; i < 100; ++i) {
    large += "\"k" + std::to_string(i) + "\": 1, ";
  }
  EXPECT_TRUE(ParseJson(large + "\"end\": 1}", {}).ok());
  EXPECT_THAT(ParseJson(large + "\"k7\": 1}", {}).status().message(),
              HasSubstr("duplicate key \"k7\""));
  // The same key in sibling objects is fine.
  EXPECT_TRUE(ParseJson(R"([{"a": 1}, {"a": 2}, {"b": {"a": 3}}])", {}).ok());
}

TEST(ParseJson, RefusesASecondDocument) {
  EXPECT_THAT(ParseJson("{\"a\": 1}\n{\"a\": 2}", {}).status().message(),
              HasSubstr("unexpected data after the JSON document at byte 9 (line 2, column 1)"));
  EXPECT_FALSE(ParseJson("{} x", {}).ok());
  EXPECT_TRUE(ParseJson(" {\"a\": 1} \r\n\t ", {}).ok());
}

// fuzz/corpus/request_anthropic/regression-infinity: 401e999 was read as
// infinity and written back as `Infinity`, which is not JSON.
TEST(ParseJson, RefusesANumberPastTheRangeOfADouble) {
  for (const char* body : {R"({"top_k": 401e999})", R"({"a": [-1e400]})"}) {
    EXPECT_THAT(ParseJson(body, {}).status().message(),
                HasSubstr("a number is too large (past the range of a double) at byte"))
        << body;
  }
  EXPECT_TRUE(ParseJson(R"({"a": 1.7e308, "b": 1e-400, "c": 18446744073709551616})", {}).ok());
}

TEST(ParseJson, RefusesLoneSurrogatesAndAByteOrderMark) {
  EXPECT_FALSE(ParseJson(R"({"a": "\ud800x"})", {}).ok());
  EXPECT_FALSE(ParseJson(R"({"a": "\udc00"})", {}).ok());
  EXPECT_FALSE(ParseJson("\xEF\xBB\xBF{}", {}).ok());
  EXPECT_TRUE(ParseJson(R"({"a": "\ud83d\ude00"})", {}).ok());
}

TEST(InjectSystemInstruction, OpenAIAfterTheLeadingSystemMessages) {
  json::value doc = json::parse(
      R"({"messages": [{"role": "system", "content": "a"}, {"role": "user", "content": "u"}]})");
  OpenAIProvider().InjectSystemInstruction(doc.as_object(), "limits");
  EXPECT_EQ(json::serialize(doc.at("messages")),
            R"([{"role":"system","content":"a"},{"role":"system","content":"limits"},)"
            R"({"role":"user","content":"u"}])");
}

TEST(InjectSystemInstruction, AnthropicAppendsToSystem) {
  json::value doc = json::parse(R"({"system": "a", "messages": []})");
  AnthropicProvider().InjectSystemInstruction(doc.as_object(), "limits");
  EXPECT_EQ(doc.at("system"), "a\n\nlimits");
  json::value blocks = json::parse(R"({"system": [{"type": "text", "text": "a"}]})");
  AnthropicProvider().InjectSystemInstruction(blocks.as_object(), "limits");
  EXPECT_EQ(blocks.at("system").as_array().size(), 2u);
  json::value none = json::parse(R"({"messages": []})");
  AnthropicProvider().InjectSystemInstruction(none.as_object(), "limits");
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
