#include "firebreak/cli/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace firebreak::cli {
namespace {

const std::vector<std::string> kScenarioKeys = {
    "id",        "prompt", "messages", "expected_category", "expected_decision", "expected_rule",
    "narration", "note"};

std::string Where(const std::string& path, const YAML::Node& node) {
  return path + ":" + std::to_string(node.Mark().line + 1) + ":" +
         std::to_string(node.Mark().column + 1);
}

base::StatusOr<Scenario> ParseScenario(const std::string& path, const YAML::Node& node) {
  if (!node.IsMap()) {
    return base::InvalidArgument(Where(path, node) + ": a scenario must be a mapping");
  }
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    if (std::find(kScenarioKeys.begin(), kScenarioKeys.end(), key) == kScenarioKeys.end()) {
      return base::InvalidArgument(Where(path, entry.first) + ": unknown scenario key '" + key +
                                   "'");
    }
  }
  Scenario s;
  s.line = node.Mark().line + 1;
  s.id = node["id"] ? node["id"].as<std::string>() : "line-" + std::to_string(s.line);
  if (node["prompt"] && node["messages"]) {
    return base::InvalidArgument(Where(path, node) + ": give 'prompt' or 'messages', not both");
  }
  if (const YAML::Node p = node["prompt"]) {
    s.prompt = p.as<std::string>();
    s.conversation = base::SinglePrompt(s.prompt);
  } else if (const YAML::Node messages = node["messages"]; messages && messages.IsSequence()) {
    for (const YAML::Node& m : messages) {
      base::Message message;
      if (!m.IsMap() || !m["role"] || !m["content"] ||
          !base::ParseRole(m["role"].as<std::string>(), &message.role)) {
        return base::InvalidArgument(Where(path, m) +
                                     ": a message needs role (system, user, assistant, tool) "
                                     "and content");
      }
      message.text = m["content"].as<std::string>();
      if (message.role == base::Role::kUser) {
        s.prompt = message.text;
      }
      s.conversation.messages.push_back(std::move(message));
    }
  } else {
    return base::InvalidArgument(Where(path, node) + ": scenario '" + s.id +
                                 "' needs 'prompt' or a list of 'messages'");
  }
  if (const YAML::Node n = node["expected_category"]) {
    s.expected_category = n.as<std::string>();
  }
  if (const YAML::Node n = node["expected_decision"]) {
    s.expected_decision = policy::ParseVerdict(n.as<std::string>());
    if (!s.expected_decision) {
      return base::InvalidArgument(Where(path, n) +
                                   ": expected_decision must be ALLOW, "
                                   "ALLOW_CONSTRAINED or BLOCK");
    }
  }
  if (const YAML::Node n = node["expected_rule"]) {
    s.expected_rule = n.as<std::string>();
  }
  if (const YAML::Node n = node["narration"]) {
    s.narration = n.as<std::string>();
  }
  return s;
}

}  // namespace

base::StatusOr<std::vector<Scenario>> LoadScenarios(const std::string& path) {
  try {
    YAML::Node root = YAML::LoadFile(path);
    const YAML::Node list = root.IsMap() ? root["scenarios"] : YAML::Node();
    if (!list || !list.IsSequence()) {
      return base::InvalidArgument(path + ": expected a top-level 'scenarios:' list");
    }
    std::vector<Scenario> scenarios;
    for (const YAML::Node& node : list) {
      base::StatusOr<Scenario> s = ParseScenario(path, node);
      if (!s.ok()) {
        return s.status();
      }
      // Folded YAML scalars end in a newline; the prompt is the text.
      while (!s->prompt.empty() && s->prompt.back() == '\n') {
        s->prompt.pop_back();
      }
      scenarios.push_back(std::move(s).value());
    }
    return scenarios;
  } catch (const YAML::BadFile&) {
    return base::NotFound("cannot open scenario file " + path);
  } catch (const YAML::Exception& e) {
    return base::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                                 std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

}  // namespace firebreak::cli
