// Where `firebreak train` gets its examples: the policy's categories, public
// prompt sets of out-of-scope requests (CSV or JSONL, read in place) and
// labelled JSONL files.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/base/status.h"
#include "firebreak/classify/linear_model.h"
#include "firebreak/policy/policy_set.h"

namespace firebreak::cli {

// Each category's examples under its id; counter-examples as "no category"
// unless another category lists the same text as an example.
std::vector<classify::TrainingExample> PolicyExamples(const policy::PolicySet& policy);

// The prompts of a public prompt set: the first of the goal, Behavior,
// forbidden_prompt, prompt or text columns of a CSV file, or the prompt,
// text, question or turns[0] field of each JSONL line.
base::StatusOr<std::vector<std::string>> ReadPrompts(const std::string& path);

// Calls `visit` with each line of `text` that is not blank and its number
// (from 1); stops at the first error, which it returns.
base::Status ForEachLine(std::string_view text,
                         const std::function<base::Status(std::string_view, int)>& visit);

// Appends {"text": ..., "label": ...} lines of a JSONL file.
base::Status ReadLabelled(const std::string& path, std::vector<classify::TrainingExample>& out);

}  // namespace firebreak::cli
