// Fuzz target: a request body of one API (FIREBREAK_FUZZ_DIALECT, one
// executable per dialect) through the parser and the conversation the
// classifier reads (request_entry.h). Beyond not crashing:
// - an accepted request has text to classify, or content that cannot be
//   inspected (which the policy's uninspectable section decides on);
// - re-serialising the parsed document (what is forwarded when the bytes
//   are not) yields the same conversation;
// - a constraint injected as a system instruction is in the conversation
//   afterwards (ALLOW_CONSTRAINED always reaches the model).
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.h"
#include "firebreak/api/provider.h"
#include "request_entry.h"

namespace {

using firebreak::api::Dialect;
constexpr Dialect kDialect = Dialect::FIREBREAK_FUZZ_DIALECT;
constexpr std::string_view kInstruction = "FIREBREAK-FUZZ-CONSTRAINT";

bool SameText(const firebreak::base::Conversation& a, const firebreak::base::Conversation& b) {
  if (a.messages.size() != b.messages.size() || a.model != b.model || a.stream != b.stream) {
    return false;
  }
  for (std::size_t i = 0; i < a.messages.size(); ++i) {
    if (a.messages[i].role != b.messages[i].role || a.messages[i].text != b.messages[i].text) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = firebreak::fuzz::ParseRequest(body, kDialect);
  if (!parsed.ok()) {
    FB_FUZZ_CHECK(!parsed.status().message().empty(), "a refusal says why");
    return 0;
  }
  const firebreak::base::Conversation& conversation = parsed->conversation;
  bool any_text = false;
  for (const firebreak::base::Message& m : conversation.messages) {
    any_text = any_text || m.text.find_first_not_of(" \t\r\n") != std::string::npos;
  }
  FB_FUZZ_CHECK(any_text || !conversation.uninspected.empty(),
                "an accepted request has text to classify, or content the policy decides on");

  const std::string reserialised = boost::json::serialize(parsed->document);
  auto again = firebreak::fuzz::ParseRequest(reserialised, kDialect);
  FB_FUZZ_CHECK(again.ok(), "the re-serialised document is accepted");
  FB_FUZZ_CHECK(SameText(conversation, again->conversation),
                "the re-serialised document says the same");

  FB_FUZZ_CHECK(parsed->document.is_object(), "an accepted request is an object");
  boost::json::object constrained = parsed->document.get_object();
  firebreak::api::ProviderFor(kDialect).InjectSystemInstruction(constrained, kInstruction);
  auto with_instruction = firebreak::api::ConversationOf(constrained, kDialect);
  FB_FUZZ_CHECK(with_instruction.ok(), "a constrained request is still accepted");
  bool found = false;
  for (const firebreak::base::Message& m : with_instruction->messages) {
    found = found || (m.role == firebreak::base::Role::kSystem &&
                      m.text.find(kInstruction) != std::string::npos);
  }
  FB_FUZZ_CHECK(found, "the injected instruction is a system text of the conversation");
  return 0;
}
