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

namespace {
constexpr std::string_view kContentKindNames[kContentKinds] = {
    "image", "audio", "document", "server_tool", "unknown_part", "unknown_field"};
}  // namespace

std::string_view ContentKindName(ContentKind kind) {
  return kContentKindNames[static_cast<std::size_t>(kind)];
}

bool ParseContentKind(std::string_view name, ContentKind* kind) {
  for (std::size_t i = 0; i < kContentKinds; ++i) {
    if (kContentKindNames[i] == name) {
      *kind = static_cast<ContentKind>(i);
      return true;
    }
  }
  return false;
}

Conversation SinglePrompt(std::string text) {
  Conversation conversation;
  conversation.messages.push_back({Role::kUser, std::move(text)});
  return conversation;
}

}  // namespace firebreak::base
