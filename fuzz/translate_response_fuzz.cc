// Fuzz target: a whole (non-streamed) upstream response body, raw bytes,
// translated for a client of the other API, both ways. Whatever the
// upstream sent, the client gets one JSON object in its own API's shape.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.h"
#include "firebreak/api/translate.h"

namespace {

namespace json = boost::json;

// The translations nest parsed tool arguments (up to Boost.JSON's default
// depth of 32) inside their own objects: checked with room to spare.
bool IsJsonObject(std::string_view text) {
  json::parse_options options;
  options.max_depth = 256;
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec, {}, options);
  return !ec && v.is_object();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  const std::string for_openai_client = firebreak::api::OpenAIResponseFromAnthropic(body);
  FB_FUZZ_CHECK(IsJsonObject(for_openai_client), "an OpenAI client gets a JSON object");
  const std::string for_anthropic_client = firebreak::api::AnthropicResponseFromOpenAI(body);
  FB_FUZZ_CHECK(IsJsonObject(for_anthropic_client), "an Anthropic client gets a JSON object");

  // And back again: a translated response is a response of the other API.
  FB_FUZZ_CHECK(IsJsonObject(firebreak::api::AnthropicResponseFromOpenAI(for_openai_client)),
                "an OpenAI response translates back");
  FB_FUZZ_CHECK(IsJsonObject(firebreak::api::OpenAIResponseFromAnthropic(for_anthropic_client)),
                "an Anthropic response translates back");
  return 0;
}
