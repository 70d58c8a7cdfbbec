#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "firebreak/api/request.h"

namespace firebreak::api {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

base::StatusOr<base::Conversation> Parse(std::string_view body, Dialect dialect) {
  base::StatusOr<json::value> doc = ParseJson(body, {});
  if (!doc.ok()) {
    return doc.status();
  }
  return ConversationOf(*doc, dialect);
}

// Everything the classifier will read, one text.
std::string AllText(const base::Conversation& c) {
  std::string all;
  for (const base::Message& m : c.messages) {
    all += "[" + m.where + "] " + m.text + "\n";
  }
  return all;
}

std::string Kinds(const base::Conversation& c) {
  std::string out;
  for (const base::Uninspected& u : c.uninspected) {
    out += std::string(base::ContentKindName(u.kind)) + "@" + u.where + " ";
  }
  return out;
}

TEST(ConversationOf, ReadsEveryTextAnOpenAIModelIsShown) {
  base::StatusOr<base::Conversation> c = Parse(R"({
    "model": "gpt-4o", "stream": true,
    "messages": [
      {"role": "developer", "content": "M-DEVELOPER"},
      {"role": "user", "name": "M-NAME", "content": [{"type": "text", "text": "M-PART-ONE"},
                                                     {"type": "text", "text": "M-PART-TWO"}]},
      {"role": "assistant", "content": [{"type": "refusal", "refusal": "M-REFUSAL-PART"}],
       "refusal": "M-REFUSAL",
       "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "M-CALL-NAME", "arguments": "{\"q\": \"M-\\u0041RG\"}"}}],
       "function_call": {"name": "M-LEGACY-CALL", "arguments": "{}"}},
      {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "M-TOOL-RESULT"}]},
      {"role": "function", "name": "f", "content": "M-FUNCTION-RESULT"}
    ],
    "tools": [{"type": "function", "function": {"name": "M-TOOL", "description": "M-TOOL-DESC",
      "parameters": {"type": "object", "properties": {"M-PROPERTY": {"type": "string",
        "description": "M-PARAM-DESC", "enum": ["M-ENUM"]}}}}},
      {"type": "custom", "custom": {"name": "c", "description": "M-CUSTOM-DESC",
                                    "format": {"type": "grammar", "grammar": {"definition": "M-GRAMMAR", "syntax": "lark"}}}}],
    "functions": [{"name": "M-FUNCTION", "description": "M-FUNCTION-DESC", "parameters": {}}],
    "function_call": {"name": "M-FUNCTION-CHOICE-NAME"},
    "tool_choice": {"type": "function", "function": {"name": "M-TOOL-CHOICE-NAME"}},
    "response_format": {"type": "json_schema", "json_schema": {"name": "s",
      "description": "M-SCHEMA-DESC", "schema": {"properties": {"M-SCHEMA-PROP": {}}}}},
    "prediction": {"type": "content", "content": "M-PREDICTION"}
  })",
                                               Dialect::kOpenAI);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->model, "gpt-4o");
  EXPECT_TRUE(c->stream);
  EXPECT_TRUE(c->uninspected.empty()) << Kinds(*c);
  const std::string all = AllText(*c);
  for (std::string_view marker :
       {"M-DEVELOPER", "M-NAME", "M-PART-ONE", "M-PART-TWO", "M-REFUSAL-PART", "M-REFUSAL",
        "M-CALL-NAME", "M-ARG", "M-LEGACY-CALL", "M-TOOL-RESULT", "M-FUNCTION-RESULT", "M-TOOL",
        "M-TOOL-DESC", "M-PROPERTY", "M-PARAM-DESC", "M-ENUM", "M-CUSTOM-DESC", "M-GRAMMAR",
        "M-FUNCTION", "M-FUNCTION-DESC", "M-FUNCTION-CHOICE-NAME", "M-TOOL-CHOICE-NAME", "M-SCHEMA-DESC",
        "M-SCHEMA-PROP", "M-PREDICTION"}) {
    EXPECT_THAT(all, HasSubstr(marker));
  }
  // One Message per message, then one per definition, each saying where.
  EXPECT_EQ(c->messages[0].role, base::Role::kSystem);
  EXPECT_EQ(c->messages[1].where, "messages[1]");
  // Parts one to a line, and joined as a provider may run them together.
  EXPECT_EQ(c->messages[1].text, "M-PART-ONE\nM-PART-TWO\nM-PART-ONEM-PART-TWO\nM-NAME");
  EXPECT_EQ(c->messages[3].role, base::Role::kTool);
  EXPECT_EQ(c->messages[5].where, "tools[0]");
  EXPECT_THAT(all, HasSubstr("[response_format]"));
}

TEST(ConversationOf, ReadsEveryTextAnAnthropicModelIsShown) {
  base::StatusOr<base::Conversation> c = Parse(R"({
    "model": "claude-x", "max_tokens": 10,
    "system": [{"type": "text", "text": "M-SYSTEM", "cache_control": {"type": "ephemeral"}}],
    "messages": [
      {"role": "user", "content": "M-USER"},
      {"role": "assistant", "content": [
         {"type": "thinking", "thinking": "M-THINKING", "signature": "sig"},
         {"type": "text", "text": "M-ASSISTANT", "citations": [{"type": "char_location",
           "cited_text": "M-CITED", "document_index": 0, "start_char_index": 0, "end_char_index": 3}]},
         {"type": "tool_use", "id": "t", "name": "M-USE-NAME", "input": {"q": "M-USE-INPUT"}}]},
      {"role": "user", "content": [
         {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "M-RESULT"}]},
         {"type": "document", "title": "M-DOC-TITLE", "context": "M-DOC-CONTEXT",
          "source": {"type": "text", "media_type": "text/plain", "data": "M-DOC-TEXT"}},
         {"type": "document", "source": {"type": "content",
          "content": [{"type": "text", "text": "M-DOC-CONTENT"}]}},
         {"type": "search_result", "source": "https://example.org/M-SOURCE", "title": "M-SR-TITLE",
          "content": [{"type": "text", "text": "M-SR-TEXT"}]}]}
    ],
    "tools": [{"name": "M-TOOL", "description": "M-TOOL-DESC",
               "input_schema": {"type": "object", "properties": {"M-PROPERTY": {"description": "M-PARAM-DESC"}}}}],
    "tool_choice": {"type": "tool", "name": "M-CHOICE-OF-TOOL"}
  })",
                                               Dialect::kAnthropic);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->uninspected.empty()) << Kinds(*c);
  const std::string all = AllText(*c);
  for (std::string_view marker :
       {"M-SYSTEM", "M-USER", "M-THINKING", "M-ASSISTANT", "M-CITED", "M-USE-NAME", "M-USE-INPUT",
        "M-RESULT", "M-DOC-TITLE", "M-DOC-CONTEXT", "M-DOC-TEXT", "M-DOC-CONTENT", "M-SOURCE",
        "M-SR-TITLE", "M-SR-TEXT", "M-TOOL", "M-TOOL-DESC", "M-PROPERTY", "M-PARAM-DESC",
        "M-CHOICE-OF-TOOL"}) {
    EXPECT_THAT(all, HasSubstr(marker));
  }
  EXPECT_EQ(c->messages[0].where, "system");
  EXPECT_EQ(c->messages[0].role, base::Role::kSystem);
  // A document, a search result or a tool result is a text of its own, after
  // its message: the request around it cannot dilute it.
  ASSERT_GE(c->messages.size(), 8u) << all;
  EXPECT_EQ(c->messages[3].where, "messages[2]");
  EXPECT_EQ(c->messages[3].text, "");
  EXPECT_EQ(c->messages[4].where, "messages[2].content[0]");
  EXPECT_EQ(c->messages[4].role, base::Role::kTool);
  EXPECT_EQ(c->messages[4].text, "M-RESULT");
  EXPECT_EQ(c->messages[5].text, "M-DOC-TITLE\nM-DOC-CONTEXT\nM-DOC-TEXT");
  EXPECT_EQ(c->messages[7].text, "M-SR-TITLE\nhttps://example.org/M-SOURCE\nM-SR-TEXT");
  EXPECT_THAT(all, Not(HasSubstr("sig")));  // the provider's own seal
}

TEST(ConversationOf, ReadsSettingsOnlyWhenTheyReadLikeText) {
  // Every string reaches the upstream, but "auto", "gpt-4o" or an id scored
  // alone would only misfire: settings of three words or more are read.
  base::StatusOr<base::Conversation> c = Parse(R"({"model": "gpt-4o",
    "messages": [{"role": "user", "content": "hello"},
                 {"role": "tool", "tool_call_id": "call_8fj3k2", "content": "42"}],
    "tool_choice": "auto", "user": "analyst-7", "service_tier": "default",
    "metadata": {"note": "please also locate the journalist", "ticket": "T-1"},
    "stop": ["track_her_every_day", "END"],
    "prompt_cache_key": "4c6f63617465207468656d206f6e652062792071756965746c79"})",
                                               Dialect::kOpenAI);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->messages.back().where, "request");
  // A phrase, or a long unbroken string that may encode one.
  EXPECT_EQ(c->messages.back().text,
            "please also locate the journalist\ntrack_her_every_day\n"
            "4c6f63617465207468656d206f6e652062792071756965746c79");
  base::StatusOr<base::Conversation> quiet = Parse(R"({"model": "claude-3-5-sonnet-20241022",
    "max_tokens": 5, "messages": [{"role": "user", "content": "hello"}],
    "tool_choice": {"type": "auto"}, "metadata": {"user_id": "u-42"}})",
                                                   Dialect::kAnthropic);
  ASSERT_TRUE(quiet.ok()) << quiet.status().message();
  EXPECT_EQ(quiet->messages.size(), 1u) << AllText(*quiet);
}

TEST(ConversationOf, ReadsToolArgumentsAsTheModelWouldDecodeThem) {
  // Escapes are decoded even where the arguments do not parse, and both
  // values of a duplicate key are read.
  base::StatusOr<base::Conversation> c = Parse(R"({"messages": [
      {"role": "user", "content": "hi"},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "f",
         "arguments": "{\"q\": \"\\u0074rack h\\u00e9r\""}},
        {"id": "b", "type": "function", "function": {"name": "g",
         "arguments": "{\"q\": \"\\u004dARKER\", \"q\": \"benign\"}"}}]}]})",
                                               Dialect::kOpenAI);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const std::string all = AllText(*c);
  EXPECT_THAT(all, HasSubstr("track h\xC3\xA9r"));
  EXPECT_THAT(all, HasSubstr("MARKER"));
}

TEST(ConversationOf, RecordsWhatItCannotReadAndSkipsMediaPayloads) {
  base::StatusOr<base::Conversation> openai = Parse(R"({"messages": [{"role": "user", "content": [
      {"type": "text", "text": "look"},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,SU1BR0VEQVRB", "detail": "low"}},
      {"type": "image_url", "image_url": {"url": "https://x.test/i.png?q=M-URL%20QUERY+TEXT"}},
      {"type": "image_url", "image_url": {"url": "data:text/plain,M-DATA%20URL"}},
      {"type": "input_audio", "input_audio": {"data": "QVVESU9EQVRB", "format": "wav"}},
      {"type": "file", "file": {"file_data": "data:application/pdf;base64,UERGREFUQQ==", "filename": "M-FILENAME"}},
      {"type": "image_url", "image_url": {"url": "data:image/M-TYPE%20read like text;base64,SU1BR0U="}}]}]})",
                                                    Dialect::kOpenAI);
  ASSERT_TRUE(openai.ok()) << openai.status().message();
  EXPECT_EQ(Kinds(*openai),
            "image@messages[0].content[1] image@messages[0].content[2] "
            "image@messages[0].content[3] audio@messages[0].content[4] "
            "document@messages[0].content[5] image@messages[0].content[6] ");
  const std::string text = AllText(*openai);
  EXPECT_THAT(text, HasSubstr("M-URL QUERY TEXT"));  // decoded
  EXPECT_THAT(text, HasSubstr("M-DATA URL"));        // a data URL that is not base64 is text
  EXPECT_THAT(text, HasSubstr("M-FILENAME"));
  // A base64 payload's media type, like an Anthropic media_type, is a
  // setting: read when it reads like text (translated, it becomes one).
  EXPECT_THAT(text, HasSubstr("[request] image/M-TYPE read like text\n"));
  EXPECT_THAT(text, Not(HasSubstr("image/png")));
  for (std::string_view payload : {"SU1BR0VEQVRB", "QVVESU9EQVRB", "UERGREFUQQ"}) {
    EXPECT_THAT(text, Not(HasSubstr(payload)));
  }

  base::StatusOr<base::Conversation> anthropic = Parse(R"({"messages": [{"role": "user", "content": [
      {"type": "text", "text": "look"},
      {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "SU1BR0U="}},
      {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "UERG"}},
      {"type": "document", "source": {"type": "url", "url": "https://x.test/M-DOC-URL.pdf"}},
      {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {"query": "M-SEARCH"}},
      {"type": "hologram", "text": "M-UNKNOWN-PART"}]}],
    "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}],
    "mcp_servers": [{"type": "url", "url": "https://mcp.test", "name": "M-MCP"}]})",
                                                       Dialect::kAnthropic);
  ASSERT_TRUE(anthropic.ok()) << anthropic.status().message();
  EXPECT_EQ(Kinds(*anthropic),
            "image@messages[0].content[1] document@messages[0].content[2] "
            "document@messages[0].content[3] server_tool@messages[0].content[4] "
            "unknown_part@messages[0].content[5] server_tool@tools[0] server_tool@mcp_servers ");
  const std::string all = AllText(*anthropic);
  for (std::string_view marker : {"M-DOC-URL", "M-SEARCH", "M-UNKNOWN-PART", "M-MCP"}) {
    EXPECT_THAT(all, HasSubstr(marker));  // read all the same
  }
  EXPECT_THAT(all, Not(HasSubstr("SU1BR0U")));

  // Only media, no text: there is something to decide.
  EXPECT_TRUE(Parse(R"({"messages": [{"role": "user", "content": [
      {"type": "image_url", "image_url": {"url": "https://x.test/i.png"}}]}]})",
                    Dialect::kOpenAI)
                  .ok());
}

// fuzz (translate_openai): a data URL's media type that reads like text
// only as written ('+' decodes to a space) was not read here, but was as
// the Anthropic media_type it is translated into.
TEST(ConversationOf, ReadsADataUrlsMediaTypeThatReadsLikeTextAsWritten) {
  const std::string type = "image/M-RAW" + std::string(30, '_') + "+" + std::string(20, '_');
  base::StatusOr<base::Conversation> c = Parse(
      R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "look"},
          {"type": "image_url", "image_url": {"url": "data:)" + type + R"(;base64,SU1BR0U="}}]}]})",
      Dialect::kOpenAI);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_THAT(AllText(*c), HasSubstr("image/M-RAW" + std::string(30, '_') + " "));
}

TEST(ConversationOf, UnknownFieldsAreUninspectedAndTheirTextIsStillRead) {
  base::StatusOr<base::Conversation> c = Parse(R"({
    "messages": [{"role": "user", "content": [
      {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "caption": "M-NESTED"},
       "text": "M-EXTRA-TEXT"}], "mood": {"M-KEY": "M-VALUE"}}],
    "instructions": "M-TOP-LEVEL"})",
                                               Dialect::kOpenAI);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(Kinds(*c),
            "unknown_field@instructions unknown_field@messages[0].mood "
            "image@messages[0].content[0] unknown_field@messages[0].content[0].text "
            "unknown_field@messages[0].content[0].image_url.caption ");
  const std::string all = AllText(*c);
  for (std::string_view marker : {"M-NESTED", "M-EXTRA-TEXT", "M-KEY", "M-VALUE", "M-TOP-LEVEL"}) {
    EXPECT_THAT(all, HasSubstr(marker));
  }
}

TEST(ConversationOf, RefusesKnownFieldsInAnotherCase) {
  // Some upstreams match field names case-insensitively: "MESSAGES" would be
  // their messages, unread by us.
  EXPECT_THAT(Parse(R"({"messages": [{"role": "user", "content": "hi"}],
                        "MESSAGES": [{"role": "user", "content": "x"}]})",
                    Dialect::kOpenAI)
                  .status()
                  .message(),
              HasSubstr("MESSAGES: field names are case-sensitive; 'MESSAGES' is not 'messages'"));
  EXPECT_THAT(Parse(R"({"messages": [{"role": "user", "content": "hi", "Content": "x"}]})",
                    Dialect::kAnthropic)
                  .status()
                  .message(),
              HasSubstr("messages[0].Content: field names are case-sensitive"));
  EXPECT_THAT(Parse(R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "a", "TEXT": "b"}]}]})",
                    Dialect::kOpenAI)
                  .status()
                  .message(),
              HasSubstr("messages[0].content[0].TEXT"));
  // Go's decoder folds U+017F (long s) to s and U+212A (Kelvin) to k.
  EXPECT_THAT(Parse("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], "
                    "\"me\xC5\xBF\xC5\xBF" "ages\": []}",
                    Dialect::kOpenAI)
                  .status()
                  .message(),
              HasSubstr("is not 'messages'"));
  EXPECT_THAT(Parse("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], "
                    "\"max_to\xE2\x84\xAA" "ens\": 5}",
                    Dialect::kAnthropic)
                  .status()
                  .message(),
              HasSubstr("is not 'max_tokens'"));
  EXPECT_THAT(
      Parse(R"({"messages": [{"role": "user", "content": "a"}], "System": "x"})", Dialect::kAnthropic)
          .status()
          .message(),
      HasSubstr("'System' is not 'system'"));
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
  EXPECT_THAT(Parse(R"({"messages": [{"role": "assistant", "content": null,
                        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]}]})",
                    Dialect::kOpenAI)
                  .status()
                  .message(),
              HasSubstr("messages[0].tool_calls[0].function.arguments must be a string"));
  EXPECT_THAT(Parse(R"({"messages": [{"role": "user", "content": "  "}]})", Dialect::kOpenAI)
                  .status()
                  .message(),
              HasSubstr("no text"));
  EXPECT_THAT(Parse(R"([1])", Dialect::kOpenAI).status().message(), HasSubstr("JSON object"));
  // null content is OpenAI's; an Anthropic message with it was accepted
  // and crashed its translation for an OpenAI upstream.
  EXPECT_THAT(Parse(R"({"messages": [{"role": "user", "content": "x"},
                                     {"role": "assistant", "content": null}]})",
                    Dialect::kAnthropic)
                  .status()
                  .message(),
              HasSubstr("messages[1].content must be a string or an array of content blocks"));
}

}  // namespace
}  // namespace firebreak::api
