// Scenario files: the prototype's demo format (id, prompt, expected_category,
// narration) plus expected_decision, expected_rule and multi-turn messages.
// `firebreak test` and `firebreak demo` run them; they pin behaviour in data.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "firebreak/base/conversation.h"
#include "firebreak/base/status.h"
#include "firebreak/policy/policy_set.h"

namespace firebreak::cli {

struct Scenario {
  std::string id;
  base::Conversation conversation;
  std::string prompt;  // the text shown for the scenario (last user message)
  std::string expected_category;
  std::optional<policy::Verdict> expected_decision;
  std::string expected_rule;
  std::string narration;
  int line = 0;
};

// Errors carry file:line:col.
base::StatusOr<std::vector<Scenario>> LoadScenarios(const std::string& path);

}  // namespace firebreak::cli
