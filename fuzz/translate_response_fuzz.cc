// Fuzz target: a whole (non-streamed) upstream response body, raw bytes,
// translated for a client of each other API, and back. Whatever the
// upstream sent, the client gets one JSON object in its own API's shape.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.h"
#include "firebreak/api/provider.h"

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
  namespace api = firebreak::api;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  // Every pair of APIs, through the hub: the client gets a JSON object, and
  // a translated response translates back to one.
  for (const api::Provider* from : api::Providers()) {
    for (const api::Provider* to : api::Providers()) {
      if (from == to) {
        continue;
      }
      const std::string translated = api::TranslateResponse(*from, *to, body);
      FB_FUZZ_CHECK(IsJsonObject(translated), "the client gets a JSON object");
      FB_FUZZ_CHECK(IsJsonObject(api::TranslateResponse(*to, *from, translated)),
                    "a translated response translates back");
    }
  }
  return 0;
}
