#include "firebreak/cli/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>

#include "firebreak/api/request.h"
#include "firebreak/base/digest.h"
#include "firebreak/cli/training_data.h"

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

namespace json = boost::json;

constexpr std::string_view kLabelKeys[] = {"id", "decision", "category", "mixed", "note"};

base::StatusOr<Scenario> ParseScenarioLine(std::string_view text) {
  base::StatusOr<json::value> parsed = api::ParseJson(text, {});
  if (!parsed.ok()) {
    return base::InvalidArgument("invalid JSON: " + std::string(parsed.status().message()));
  }
  const json::object* line = parsed->if_object();
  if (line == nullptr) {
    return base::InvalidArgument("a line must be a JSON object");
  }
  Scenario s;
  base::StatusOr<base::Conversation> conversation = ConversationOfLine(*line);
  if (!conversation.ok()) {
    return conversation.status();
  }
  s.conversation = std::move(conversation).value();
  for (const base::Message& m : s.conversation.messages) {
    if (m.role == base::Role::kUser) {
      s.prompt = m.text;
    }
  }
  if (const json::value* id = line->if_contains("id")) {
    s.id = id->is_string() ? std::string(id->get_string()) : json::serialize(*id);
  }
  if (const json::value* d = line->if_contains("decision")) {
    s.expected_decision =
        d->is_string() ? policy::ParseVerdict(d->get_string()) : std::nullopt;
    if (!s.expected_decision) {
      return base::InvalidArgument("\"decision\" must be ALLOW, ALLOW_CONSTRAINED or BLOCK");
    }
  }
  if (const json::value* c = line->if_contains("category")) {
    if (!c->is_string()) {
      return base::InvalidArgument("\"category\" must be a string");
    }
    s.expected_category = c->get_string();
  }
  if (const json::value* m = line->if_contains("mixed")) {
    if (!m->is_bool()) {
      return base::InvalidArgument("\"mixed\" must be true or false");
    }
    s.mixed = m->get_bool();
  }
  return s;
}

base::StatusOr<std::vector<Scenario>> LoadScenarioLines(const std::string& path) {
  const base::StatusOr<std::string> text = base::ReadFile(path);
  if (!text.ok()) {
    return base::NotFound("cannot open scenario file " + path);
  }
  std::vector<Scenario> scenarios;
  const base::Status read = ForEachLine(*text, [&](std::string_view line, int number) {
    base::StatusOr<Scenario> s = ParseScenarioLine(line);
    if (!s.ok()) {
      return base::InvalidArgument(path + ":" + std::to_string(number) + ": " +
                                   s.status().message());
    }
    s->line = number;
    if (s->id.empty()) {
      s->id = "line-" + std::to_string(number);
    }
    scenarios.push_back(std::move(s).value());
    return base::Status::Ok();
  });
  if (!read.ok()) {
    return read;
  }
  return scenarios;
}

}  // namespace

base::StatusOr<base::Conversation> ConversationOfLine(const json::object& line) {
  json::object request;
  for (const auto& [key, value] : line) {
    if (std::find(std::begin(kLabelKeys), std::end(kLabelKeys), key) == std::end(kLabelKeys)) {
      request.emplace(key, value);
    }
  }
  const json::value* prompt = request.if_contains("prompt");
  if ((prompt != nullptr) == request.contains("messages")) {
    return base::InvalidArgument("expected exactly one of \"prompt\" or \"messages\"");
  }
  if (prompt != nullptr) {
    if (!prompt->is_string()) {
      return base::InvalidArgument("\"prompt\" must be a string");
    }
    return base::SinglePrompt(std::string(prompt->get_string()));
  }
  const api::Dialect dialect =
      request.contains("system") ? api::Dialect::kAnthropic : api::Dialect::kOpenAI;
  return api::ConversationOf(json::value(std::move(request)), dialect);
}

base::StatusOr<std::vector<Scenario>> LoadScenarios(const std::string& path) {
  if (path.ends_with(".jsonl")) {
    return LoadScenarioLines(path);
  }
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
