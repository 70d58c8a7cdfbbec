#include "firebreak/base/conversation.h"

#include <utility>

namespace firebreak::base {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kSystem:
      return "system";
    case Role::kUser:
      return "user";
    case Role::kAssistant:
      return "assistant";
    case Role::kTool:
      return "tool";
  }
  return "user";
}

bool ParseRole(std::string_view name, Role* role) {
  if (name == "system" || name == "developer") {
    *role = Role::kSystem;
  } else if (name == "user") {
    *role = Role::kUser;
  } else if (name == "assistant") {
    *role = Role::kAssistant;
  } else if (name == "tool" || name == "function") {
    *role = Role::kTool;
  } else {
    return false;
  }
  return true;
}

Conversation SinglePrompt(std::string text) {
  Conversation conversation;
  conversation.messages.push_back({Role::kUser, std::move(text)});
  return conversation;
}

}  // namespace firebreak::base
