// Fuzz target: a request body of one API (FIREBREAK_FUZZ_DIALECT, one
// executable per dialect), parsed as the proxy parses it
// (request_entry.h), translated for an upstream of the other API and back.
// Beyond not crashing: the translated request is JSON the other side's
// parser accepts as JSON (valid UTF-8; nesting may grow by a level, as an
// Anthropic input_schema becomes an OpenAI function's parameters); it is a
// request the other API's reader accepts, and every word of text in it was
// read in the original (what reaches the model is what was classified).
#include <boost/json.hpp>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>

#include "check.h"
#include "firebreak/api/provider.h"
#include "request_entry.h"

namespace {

namespace api = firebreak::api;
namespace json = boost::json;

// OpenAI -> Anthropic, Anthropic -> OpenAI, Gemini -> Anthropic (through
// the hub's neutral form, both ways).
constexpr api::Dialect kFrom = api::Dialect::FIREBREAK_FUZZ_DIALECT;
constexpr api::Dialect kTo =
    kFrom == api::Dialect::kAnthropic ? api::Dialect::kOpenAI : api::Dialect::kAnthropic;

// A translation may nest one level deeper than the request.
constexpr api::ParseLimits kTranslated{.max_depth = 2 * api::ParseLimits{}.max_depth};

firebreak::base::StatusOr<json::object> Translate(const json::object& request, api::Dialect from,
                                                  api::Dialect to) {
  return api::TranslateRequest(api::ProviderFor(from), api::ProviderFor(to), request,
                               {.model = "fuzz-model"});
}

// Text outside the settings ("request": setting strings that read like
// text, read together).
bool HasMessageText(const firebreak::base::Conversation& c) {
  for (const firebreak::base::Message& m : c.messages) {
    if (m.where != "request" && m.text.find_first_not_of(" \t\r\n") != std::string::npos) {
      return true;
    }
  }
  return false;
}

// The words (runs of letters, digits and non-ASCII bytes) of a
// conversation's texts.
std::set<std::string_view> WordsOf(const firebreak::base::Conversation& c) {
  std::set<std::string_view> words;
  for (const firebreak::base::Message& m : c.messages) {
    const std::string_view text = m.text;
    std::size_t i = 0;
    while (i < text.size()) {
      const auto in_word = [&](std::size_t k) {
        const auto b = static_cast<unsigned char>(text[k]);
        return b >= 0x80 || std::isalnum(b) != 0;
      };
      if (text[i] == '\\' && i + 1 < text.size()) {
        // A JSON escape inside a tool call's arguments string (\n, \u00e9)
        // separates words; its letters are not a word.
        i += text[i + 1] == 'u' ? 6 : 2;
        continue;
      }
      if (!in_word(i)) {
        ++i;
        continue;
      }
      const std::size_t start = i;
      while (i < text.size() && in_word(i)) {
        ++i;
      }
      words.insert(text.substr(start, i - start));
    }
  }
  return words;
}

// Every word of the translation's texts is a word of the original's, or
// at least occurs in one of its texts: the translation may arrange what was
// read differently (tool input as an arguments string, with escapes of its
// own), but says nothing that was not read.
bool SaysNothingNew(const firebreak::base::Conversation& translation,
                    const firebreak::base::Conversation& original) {
  const std::set<std::string_view> read = WordsOf(original);
  const auto occurs = [&](std::string_view word) {
    for (const firebreak::base::Message& m : original.messages) {
      if (m.text.find(word) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  for (std::string_view word : WordsOf(translation)) {
    if (!read.contains(word) && !occurs(word)) {
      std::fprintf(stderr, "not read in the original: %.*s\n", static_cast<int>(word.size()),
                   word.data());
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = firebreak::fuzz::ParseRequest(body, kFrom);
  if (!parsed.ok()) {
    return 0;
  }
  FB_FUZZ_CHECK(parsed->document.is_object(), "an accepted request is an object");
  // A request with content the other API cannot carry is refused (400
  // untranslatable), not forwarded without it.
  auto translated = Translate(parsed->document.get_object(), kFrom, kTo);
  if (!translated.ok()) {
    return 0;
  }
  const std::string upstream_body = json::serialize(*translated);
  auto document = api::ParseJson(upstream_body, kTranslated);
  FB_FUZZ_CHECK(document.ok(), "the translated request is JSON the parser accepts");
  auto conversation = api::ConversationOf(*document, kTo);
  if (!conversation.ok() && parsed->conversation.uninspected.empty() &&
      HasMessageText(parsed->conversation)) {
    std::fprintf(stderr, "the translation %s: %s\n", upstream_body.c_str(),
                 conversation.status().ToString().c_str());
  }
  // Only what was read is translated: a request whose only text was in
  // what could not be read (uninspected, allowed by the policy) or in
  // settings that carry no content (left behind) may leave nothing the
  // other API's reader accepts.
  FB_FUZZ_CHECK(conversation.ok() || !parsed->conversation.uninspected.empty() ||
                    !HasMessageText(parsed->conversation),
                "the translation is a request the other API's reader accepts");
  if (!conversation.ok()) {
    return 0;
  }
  FB_FUZZ_CHECK(SaysNothingNew(*conversation, parsed->conversation),
                "every text of the translation was read in the original");
  auto back = Translate(document->get_object(), kTo, kFrom);
  if (back.ok()) {
    auto round_trip = api::ParseJson(json::serialize(*back), kTranslated);
    FB_FUZZ_CHECK(round_trip.ok(), "the translation back is JSON the parser accepts");
  }
  return 0;
}
