// Fuzz target: a request body of one API (FIREBREAK_FUZZ_DIALECT, one
// executable per dialect), parsed as the proxy parses it
// (request_entry.h), translated for an upstream of the other API and back.
// Beyond not crashing: the translated request is JSON the other side's
// parser accepts as JSON (valid UTF-8; nesting may grow by a level, as an
// Anthropic input_schema becomes an OpenAI function's parameters); the
// conversation of the translation is read as the other API's classifier
// would read it.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.h"
#include "firebreak/api/translate.h"
#include "request_entry.h"

namespace {

namespace api = firebreak::api;
namespace json = boost::json;

constexpr api::Dialect kFrom = api::Dialect::FIREBREAK_FUZZ_DIALECT;
constexpr api::Dialect kTo =
    kFrom == api::Dialect::kOpenAI ? api::Dialect::kAnthropic : api::Dialect::kOpenAI;

// A translation may nest one level deeper than the request.
constexpr api::ParseLimits kTranslated{.max_depth = 2 * api::ParseLimits{}.max_depth};

json::object Translate(const json::object& request, api::Dialect from) {
  return from == api::Dialect::kOpenAI ? api::AnthropicRequestFromOpenAI(request)
                                       : api::OpenAIRequestFromAnthropic(request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = firebreak::fuzz::ParseRequest(body, kFrom);
  if (!parsed.ok()) {
    return 0;
  }
  FB_FUZZ_CHECK(parsed->document.is_object(), "an accepted request is an object");
  const json::object translated = Translate(parsed->document.get_object(), kFrom);
  const std::string upstream_body = json::serialize(translated);
  auto document = api::ParseJson(upstream_body, kTranslated);
  FB_FUZZ_CHECK(document.ok(), "the translated request is JSON the parser accepts");
  auto conversation = api::ConversationOf(*document, kTo);
  if (conversation.ok()) {
    const json::object back = Translate(document->get_object(), kTo);
    auto round_trip = api::ParseJson(json::serialize(back), kTranslated);
    FB_FUZZ_CHECK(round_trip.ok(), "the translation back is JSON the parser accepts");
  }
  return 0;
}
