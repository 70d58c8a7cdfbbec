// The conversation an exchange carries, in a provider-neutral shape.
// API adapters build it from a request body; the classifier reads all of it
// (system prompt, every turn, tool results), never only the last message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace firebreak::base {

enum class Role { kSystem, kUser, kAssistant, kTool };

std::string_view RoleName(Role role);
// Parses "system", "developer" (OpenAI's system alias), "user", "assistant",
// "tool" and "function". Returns false for anything else.
bool ParseRole(std::string_view name, Role* role);

// One text the model is shown: a message (all its text parts, its name, its
// tool calls, joined by newlines), or a text the request carries beside the
// messages (a tool definition, a response schema, a document).
struct Message {
  Role role = Role::kUser;
  std::string text;
  std::string where;  // the request field it came from ("messages[2]", "tools[0]"); may be empty
};

// Content the classifier cannot read, each kind decided by the policy's
// `uninspectable` section (BLOCK unless it says otherwise).
enum class ContentKind : std::uint8_t {
  kImage,          // image parts and blocks, whatever their source
  kAudio,          // audio input
  kDocument,       // binary or remote documents and files (PDF, file ids, URLs the upstream fetches)
  kServerTool,     // tools the provider runs itself (web search, code execution, MCP servers)
  kUnknownPart,    // a content part or block of a type this version does not know
  kUnknownField,   // a request field this version does not know
};
inline constexpr std::size_t kContentKinds = 6;

std::string_view ContentKindName(ContentKind kind);  // "image", "audio", ..., "unknown_field"
bool ParseContentKind(std::string_view name, ContentKind* kind);

struct Uninspected {
  ContentKind kind = ContentKind::kUnknownField;
  std::string where;  // the field, e.g. "messages[1].content[0]"
};

struct Conversation {
  std::vector<Message> messages;
  std::vector<Uninspected> uninspected;
  std::string model;
  bool stream = false;
};

// A conversation of one user message.
Conversation SinglePrompt(std::string text);

}  // namespace firebreak::base
