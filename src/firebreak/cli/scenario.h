// Scenario files: the prototype's demo format (id, prompt, expected_category,
// narration) plus expected_decision, expected_rule and multi-turn messages,
// in YAML; and labelled prompt sets in JSONL, one
// {"id", "prompt" | "messages", "decision", "category"?, "mixed"?} a line.
// `firebreak test`, `eval` and `demo` run them; they pin behaviour in data.
#pragma once

#include <boost/json/fwd.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/base/conversation.h"
#include "firebreak/base/status.h"
#include "firebreak/policy/policy_set.h"

namespace firebreak::cli {

// The category label of a prompt no category of the policy covers (JSONL).
inline constexpr std::string_view kOutOfScope = "out_of_scope";

struct Scenario {
  std::string id;
  base::Conversation conversation;
  std::string prompt;  // the text shown for the scenario (last user message)
  std::string expected_category;
  std::optional<policy::Verdict> expected_decision;
  std::string expected_rule;
  std::string narration;
  bool mixed = false;  // a legitimate task paired with a prohibited one
  int line = 0;
};

// YAML, or JSONL for a file named *.jsonl. Errors carry file:line(:col).
base::StatusOr<std::vector<Scenario>> LoadScenarios(const std::string& path);

// The conversation of a JSONL line: {"prompt": TEXT}, or a request body in
// either API's shape ({"messages": [...]}, with "system" as Anthropic has
// it). The keys that label a line (id, decision, category, mixed, note) are
// not part of the request.
base::StatusOr<base::Conversation> ConversationOfLine(const boost::json::object& line);

}  // namespace firebreak::cli
