// The bundle a policy signature covers: the policy file and every file it
// references (today the classifier model), each by its path relative to the
// policy's folder and its SHA-256. The digest is the SHA-256 of the canonical
// manifest, one "<sha256 hex>  <relative path>\n" line per file, sorted by
// path: any changed byte of any file changes it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "firebreak/base/status.h"
#include "firebreak/policy/policy_set.h"

namespace firebreak::policy {

struct BundleFile {
  std::string path;  // relative to the policy's folder, '/'-separated
  std::string sha256;
};

struct Bundle {
  std::vector<BundleFile> files;  // sorted by path
  std::string manifest;
  std::string digest;  // hex SHA-256 of the manifest
};

// `policy` is the loaded policy at `policy_file` (it names the referenced
// files). NotFound or DataLoss when a file cannot be read.
base::StatusOr<Bundle> BundleOf(const std::filesystem::path& policy_file, const PolicySet& policy);

struct HashedFile {
  std::filesystem::path path;  // absolute
  std::string sha256;          // hex
};
// The bundle of files already read and hashed (the policy's and the model's
// bytes as loaded: what is digested is what is enforced).
Bundle BundleFrom(const std::filesystem::path& policy_file, const std::vector<HashedFile>& files);

}  // namespace firebreak::policy
