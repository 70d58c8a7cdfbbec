#include "firebreak/policy/bundle.h"

#include <algorithm>

#include "firebreak/base/digest.h"

namespace firebreak::policy {

base::StatusOr<Bundle> BundleOf(const std::filesystem::path& policy_file, const PolicySet& policy) {
  std::vector<std::filesystem::path> paths{std::filesystem::absolute(policy_file)};
  if (!policy.classifier().model_file.empty()) {
    paths.push_back(policy.classifier().model_file);
  }
  std::vector<HashedFile> hashed;
  for (const std::filesystem::path& path : paths) {
    base::StatusOr<std::string> sha = base::Sha256HexOfFile(path);
    if (!sha.ok()) {
      return sha.status();
    }
    hashed.push_back({path, *sha});
  }
  return BundleFrom(policy_file, hashed);
}

Bundle BundleFrom(const std::filesystem::path& policy_file, const std::vector<HashedFile>& files) {
  const std::filesystem::path folder = std::filesystem::absolute(policy_file).parent_path();
  Bundle bundle;
  for (const HashedFile& f : files) {
    bundle.files.push_back(
        {f.path.lexically_normal().lexically_relative(folder).generic_string(), f.sha256});
  }
  std::sort(bundle.files.begin(), bundle.files.end(),
            [](const BundleFile& a, const BundleFile& b) { return a.path < b.path; });
  for (const BundleFile& f : bundle.files) {
    bundle.manifest += f.sha256 + "  " + f.path + "\n";
  }
  bundle.digest = base::ToHex(base::Sha256Of(bundle.manifest));
  return bundle;
}

}  // namespace firebreak::policy
