// Fuzz target: an upstream's server-sent-event stream, raw bytes, through
// the SSE framer and the stream translators of every pair of APIs. Beyond not crashing:
// - framing does not depend on how the bytes are split into reads (the
//   input is fed whole, and again in pieces of 1-17 bytes chosen by a
//   generator seeded with the input's size);
// - an event written by FormatSse frames back into the same event;
// - what a translator writes for the client is well-framed SSE whose data
//   is JSON objects (or OpenAI's [DONE]), an Anthropic event's name is its
//   data's type, nothing follows the end, and the stream always ends either
//   cleanly ([DONE], message_stop, Gemini's chunk with a finishReason) or
//   with an error event.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "firebreak/api/provider.h"

namespace {

namespace api = firebreak::api;
namespace json = boost::json;

bool Same(const std::vector<api::SseEvent>& a, const std::vector<api::SseEvent>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].event != b[i].event || a[i].data != b[i].data) {
      return false;
    }
  }
  return true;
}

std::vector<api::SseEvent> FeedInPieces(std::string_view bytes) {
  api::SseParser parser;
  std::vector<api::SseEvent> events;
  std::uint32_t state = static_cast<std::uint32_t>(bytes.size()) * 2654435761u + 1;
  while (!bytes.empty()) {
    state = state * 1664525u + 1013904223u;
    const std::size_t n = std::min<std::size_t>(bytes.size(), 1 + (state >> 16) % 17);
    for (api::SseEvent& e : parser.Feed(bytes.substr(0, n))) {
      events.push_back(std::move(e));
    }
    bytes.remove_prefix(n);
  }
  return events;
}

// Checks what a translator wrote for a client of `client` dialect.
void CheckClientStream(const std::string& out, api::Dialect client) {
  FB_FUZZ_CHECK(out.empty() || out.ends_with("\n\n"), "the client stream ends on an event");
  api::SseParser parser;
  const std::vector<api::SseEvent> events = parser.Feed(out);
  FB_FUZZ_CHECK(!events.empty(), "the client is told how the stream ended");
  bool ended = false;
  for (const api::SseEvent& e : events) {
    FB_FUZZ_CHECK(!ended, "nothing follows the end of a stream");
    if (client == api::Dialect::kOpenAI && e.data == "[DONE]") {
      ended = true;
      continue;
    }
    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = 256;
    const json::value data = json::parse(e.data, ec, {}, options);
    FB_FUZZ_CHECK(!ec && data.is_object(), "every event's data is a JSON object");
    const json::object& o = data.get_object();
    if (client == api::Dialect::kAnthropic) {
      const json::value* type = o.if_contains("type");
      FB_FUZZ_CHECK(type != nullptr && type->is_string() && type->get_string() == e.event,
                    "an Anthropic event is named for its data's type");
      ended = e.event == "message_stop" || e.event == "error";
    } else if (client == api::Dialect::kGemini) {
      // A Gemini stream ends with the chunk that has a finishReason.
      const json::value* candidates = o.if_contains("candidates");
      ended = o.contains("error") ||
              (candidates != nullptr && candidates->is_array() &&
               !candidates->get_array().empty() &&
               candidates->get_array()[0].as_object().contains("finishReason"));
    } else {
      ended = o.contains("error");
    }
  }
  FB_FUZZ_CHECK(ended, "a stream ends cleanly or with an error event");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  api::SseParser whole;
  const std::vector<api::SseEvent> events = whole.Feed(bytes);
  FB_FUZZ_CHECK(Same(events, FeedInPieces(bytes)), "framing does not depend on the reads");

  for (const api::SseEvent& e : events) {
    api::SseParser again;
    FB_FUZZ_CHECK(Same(again.Feed(api::FormatSse(e)), {e}), "a formatted event frames back");
  }

  // Every pair of APIs, through the hub.
  for (const api::Provider* upstream : api::Providers()) {
    for (const api::Provider* client : api::Providers()) {
      std::unique_ptr<api::StreamTranslator> translator = api::TranslateStream(*upstream, *client);
      if (translator == nullptr) {
        continue;  // the same API: the events pass unchanged
      }
      std::string out;
      for (const api::SseEvent& e : events) {
        out += translator->Feed(e);
      }
      out += translator->Finish();
      FB_FUZZ_CHECK(translator->Finish().empty(), "a finished stream writes nothing more");
      CheckClientStream(out, client->dialect());
    }
  }
  return 0;
}
