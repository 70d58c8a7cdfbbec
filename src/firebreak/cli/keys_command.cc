#include <cstdio>
#include <ostream>

#include "firebreak/base/digest.h"
#include "firebreak/base/signing.h"
#include "firebreak/cli/commands.h"
#include "firebreak/policy/bundle.h"
#include "firebreak/policy/loader.h"

namespace firebreak::cli {

int RunKeygen(const std::string& out_name, std::ostream& out, std::ostream& err) {
  base::StatusOr<base::SigningKey> key = base::SigningKey::Generate();
  if (!key.ok()) {
    err << "firebreak keygen: " << key.status().message() << '\n';
    return kExitUsage;
  }
  const std::string private_path = out_name + ".key";
  const std::string public_path = out_name + ".pub";
  if (base::Status s = key->SavePem(private_path); !s.ok()) {
    err << "firebreak keygen: " << s.message() << '\n';
    return kExitUsage;
  }
  const std::string public_pem = key->PublicPem();
  FILE* f = std::fopen(public_path.c_str(), "wx");
  if (f == nullptr || std::fwrite(public_pem.data(), 1, public_pem.size(), f) != public_pem.size()) {
    if (f != nullptr) {
      std::fclose(f);
    }
    err << "firebreak keygen: cannot write " << public_path << " (does it exist already?)\n";
    return kExitUsage;
  }
  std::fclose(f);
  // The key id: the first 16 hex digits of the SHA-256 of the public key PEM.
  out << "wrote " << private_path << " (private, mode 0600) and " << public_path << "; key id "
      << base::ToHex(base::Sha256Of(public_pem)).substr(0, 16) << '\n';
  return kExitOk;
}

int RunDigest(const std::string& policy_path, bool manifest, std::ostream& out,
              std::ostream& err) {
  policy::LoadResult loaded = policy::LoadPolicyFile(policy_path);
  if (!loaded.ok()) {
    for (const policy::Diagnostic& d : loaded.diagnostics) {
      err << d.ToString() << '\n';
    }
    err << policy_path << ": the policy does not load; fix it before taking its digest\n";
    return kExitPolicyFailure;
  }
  base::StatusOr<policy::Bundle> bundle = policy::BundleOf(policy_path, *loaded.policy);
  if (!bundle.ok()) {
    err << "firebreak digest: " << bundle.status().message() << '\n';
    return kExitUsage;
  }
  out << bundle->digest << '\n';
  if (manifest) {
    out << bundle->manifest;
  }
  return kExitOk;
}

}  // namespace firebreak::cli
