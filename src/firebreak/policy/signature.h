// Detached policy signatures (POLICY.sig) and the trust that checks them.
// Each party signs the bundle digest (bundle.h) with its Ed25519 key; the
// trust file, held by the operator and never referenced by the policy, names
// the parties, their public keys and how many must have signed.
//
// POLICY.sig:
//   digest: <hex>                  # the bundle digest when last signed
//   signatures:
//     - {party: NAME, key_id: <16 hex>, algorithm: ed25519,
//        signature: <hex>, signed_at: <RFC 3339>}
// trust file:
//   parties: [{name: NAME, public_key: PATH-or-PEM}, ...]
//   threshold: M                   # default: every party
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/base/status.h"

namespace firebreak::policy {

struct PartySignature {
  std::string party;
  std::string key_id;
  std::string algorithm = "ed25519";
  std::string signature;  // hex
  std::string signed_at;
};

struct SignatureFile {
  std::string digest;
  std::vector<PartySignature> signatures;
};

// POLICY.sig beside the policy.
std::filesystem::path SignaturePath(const std::filesystem::path& policy_file);
// An absent file is an empty SignatureFile.
base::StatusOr<SignatureFile> LoadSignatures(const std::filesystem::path& path);
base::Status SaveSignatures(const std::filesystem::path& path, const SignatureFile& file);

// What a party signs: a domain-separated message naming the digest.
std::string SignedMessage(std::string_view digest);
// The first 16 hex digits of the SHA-256 of a public key PEM.
std::string KeyId(std::string_view public_pem);

struct TrustedParty {
  std::string name;
  std::string public_pem;
};

struct Trust {
  std::vector<TrustedParty> parties;
  std::size_t threshold = 0;  // parties.size() unless the file says
};

// InvalidArgument with file:line:col for a malformed trust file.
base::StatusOr<Trust> LoadTrust(const std::filesystem::path& path);

enum class PartyState { kValid, kMissing, kInvalid, kUnknownKey };
std::string_view PartyStateName(PartyState state);

struct PartyReport {
  std::string party;
  PartyState state = PartyState::kMissing;
  std::string detail;
};

struct Verification {
  std::vector<PartyReport> parties;  // one per trusted party, in the trust file's order
  std::vector<std::string> unknown;  // signatures by parties the trust file does not name
  std::size_t valid = 0;
  std::size_t threshold = 0;
  bool ok() const { return valid >= threshold; }
};

// Checks every trusted party's signature over `digest`.
Verification Verify(const SignatureFile& signatures, const Trust& trust, std::string_view digest);

}  // namespace firebreak::policy
