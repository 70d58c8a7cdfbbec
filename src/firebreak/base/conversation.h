// The conversation an exchange carries, in a provider-neutral shape.
// API adapters build it from a request body; the classifier reads all of it
// (system prompt, every turn, tool results), never only the last message.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace firebreak::base {

enum class Role { kSystem, kUser, kAssistant, kTool };

std::string_view RoleName(Role role);
// Parses "system", "developer" (OpenAI's system alias), "user", "assistant",
// "tool" and "function". Returns false for anything else.
bool ParseRole(std::string_view name, Role* role);

struct Message {
  Role role = Role::kUser;
  std::string text;  // All text parts of the message, joined by newlines.
};

struct Conversation {
  std::vector<Message> messages;
  std::string model;
  bool stream = false;
};

// A conversation of one user message.
Conversation SinglePrompt(std::string text);

}  // namespace firebreak::base
