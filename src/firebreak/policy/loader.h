// Parse -> validate -> build: turns a policy file into a PolicySet.
// Every problem is reported with file:line:column and what to fix; a policy
// with any error never produces a PolicySet. Accepts the prototype's format
// unchanged plus the v1 extensions (DESIGN.md §4).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/policy/policy_set.h"

namespace firebreak::policy {

struct Diagnostic {
  enum class Severity { kError, kWarning };
  std::string file;
  int line = 0;  // 1-based; 0 when the problem has no position (e.g. unreadable file)
  int column = 0;
  Severity severity = Severity::kError;
  std::string message;

  // "file:line:col: error: message"
  std::string ToString() const;
};

struct LoadResult {
  std::shared_ptr<const PolicySet> policy;  // null when any error was found
  std::vector<Diagnostic> diagnostics;      // errors and warnings, in file order

  bool ok() const { return policy != nullptr; }
  std::size_t ErrorCount() const;
  // All diagnostics, one per line.
  std::string Report() const;
};

struct LoadOptions {
  // `firebreak train` loads a policy whose model does not exist yet.
  bool require_model_file = true;
};

LoadResult LoadPolicyFile(const std::filesystem::path& path, const LoadOptions& options = {});
// `path` names the document in messages and anchors relative references
// (the model file) to its directory.
LoadResult LoadPolicyText(std::string_view text, const std::filesystem::path& path,
                          const LoadOptions& options = {});

}  // namespace firebreak::policy
