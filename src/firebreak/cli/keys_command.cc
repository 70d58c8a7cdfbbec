#include <cctype>
#include <cstdio>
#include <optional>
#include <ostream>

#include "firebreak/audit/record.h"
#include "firebreak/base/clock.h"
#include "firebreak/base/digest.h"
#include "firebreak/base/signing.h"
#include "firebreak/cli/commands.h"
#include "firebreak/exchange/receipt.h"
#include "firebreak/policy/bundle.h"
#include "firebreak/policy/loader.h"
#include "firebreak/policy/signature.h"

namespace firebreak::cli {
namespace {

// The bundle of a policy that loads; nothing (after printing why) if not.
std::optional<policy::Bundle> BundleOfPolicy(const std::string& policy_path,
                                             std::string_view command, std::ostream& err) {
  policy::LoadResult loaded = policy::LoadPolicyFile(policy_path);
  if (!loaded.ok()) {
    for (const policy::Diagnostic& d : loaded.diagnostics) {
      err << d.ToString() << '\n';
    }
    err << policy_path << ": the policy does not load; fix it before `firebreak " << command
        << "`\n";
    return std::nullopt;
  }
  base::StatusOr<policy::Bundle> bundle = policy::BundleOf(policy_path, *loaded.policy);
  if (!bundle.ok()) {
    err << "firebreak " << command << ": " << bundle.status().message() << '\n';
    return std::nullopt;
  }
  return std::move(bundle).value();
}

}  // namespace

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
  if (f == nullptr ||
      std::fwrite(public_pem.data(), 1, public_pem.size(), f) != public_pem.size()) {
    if (f != nullptr) {
      std::fclose(f);
    }
    err << "firebreak keygen: cannot write " << public_path << " (does it exist already?)\n";
    return kExitUsage;
  }
  std::fclose(f);
  out << "wrote " << private_path << " (private, mode 0600) and " << public_path << "; key id "
      << policy::KeyId(public_pem) << '\n';
  return kExitOk;
}

int RunSign(const std::string& policy_path, const std::string& key_path, const std::string& party,
            std::ostream& out, std::ostream& err) {
  const std::optional<policy::Bundle> bundle = BundleOfPolicy(policy_path, "sign", err);
  if (!bundle) {
    return kExitPolicyFailure;
  }
  const std::string& digest = bundle->digest;
  base::StatusOr<base::SigningKey> key = base::SigningKey::LoadPem(key_path);
  if (!key.ok()) {
    err << "firebreak sign: " << key.status().message() << '\n';
    return kExitUsage;
  }
  const std::filesystem::path sig_path = policy::SignaturePath(policy_path);
  base::StatusOr<policy::SignatureFile> file = policy::LoadSignatures(sig_path);
  if (!file.ok()) {
    err << "firebreak sign: " << file.status().message() << '\n';
    return kExitUsage;
  }
  std::erase_if(file->signatures,
                [&](const policy::PartySignature& s) { return s.party == party; });
  const std::string key_id = policy::KeyId(key->PublicPem());
  file->signatures.push_back({party, key_id, "ed25519",
                              base::HexEncode(key->Sign(policy::SignedMessage(digest))),
                              audit::FormatTime(base::UnixMicros())});
  file->digest = digest;
  if (base::Status s = policy::SaveSignatures(sig_path, *file); !s.ok()) {
    err << "firebreak sign: " << s.message() << '\n';
    return kExitUsage;
  }
  out << "signed " << digest << " as " << party << " (key id " << key_id << ") in "
      << sig_path.string() << '\n';
  return kExitOk;
}

int RunVerify(const std::string& policy_path, const std::string& trust_path, std::ostream& out,
              std::ostream& err) {
  const std::optional<policy::Bundle> bundle = BundleOfPolicy(policy_path, "verify", err);
  if (!bundle) {
    return kExitPolicyFailure;
  }
  const std::string& digest = bundle->digest;
  base::StatusOr<policy::Trust> trust = policy::LoadTrust(trust_path);
  if (!trust.ok()) {
    err << "firebreak verify: " << trust.status().message() << '\n';
    return kExitUsage;
  }
  base::StatusOr<policy::SignatureFile> file =
      policy::LoadSignatures(policy::SignaturePath(policy_path));
  if (!file.ok()) {
    err << "firebreak verify: " << file.status().message() << '\n';
    return kExitUsage;
  }
  const policy::Verification v = policy::Verify(*file, *trust, digest);
  out << "policy " << policy_path << " digest " << digest << '\n';
  for (const policy::PartyReport& p : v.parties) {
    out << "  " << p.party << ": " << policy::PartyStateName(p.state) << " (" << p.detail << ")\n";
  }
  for (const std::string& name : v.unknown) {
    out << "  " << name << ": unknown key (a party the trust file does not name)\n";
  }
  out << (v.ok() ? "threshold met: " : "threshold NOT met: ") << v.valid << " of "
      << v.parties.size() << " valid, " << v.threshold << " required\n";
  return v.ok() ? kExitOk : kExitPolicyFailure;
}

int RunDigest(const std::string& policy_path, bool manifest, std::ostream& out, std::ostream& err) {
  const std::optional<policy::Bundle> bundle = BundleOfPolicy(policy_path, "digest", err);
  if (!bundle) {
    return kExitPolicyFailure;
  }
  out << bundle->digest << '\n';
  if (manifest) {
    out << bundle->manifest;
  }
  return kExitOk;
}

int RunVerifyReceipt(const std::string& receipt, const std::string& pubkey, std::ostream& out,
                     std::ostream& err) {
  base::StatusOr<std::string> pem = base::ReadFile(pubkey);
  if (!pem.ok()) {
    err << "firebreak verify-receipt: " << pem.status().message() << '\n';
    return kExitUsage;
  }
  std::string_view token = receipt;
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
    token.remove_suffix(1);
  }
  base::StatusOr<exchange::Receipt> r = exchange::VerifyReceipt(token, *pem);
  if (!r.ok()) {
    err << "firebreak verify-receipt: INVALID: " << r.status().message() << '\n';
    return kExitPolicyFailure;
  }
  std::string rules;
  for (const std::string& id : r->rules) {
    rules += (rules.empty() ? "" : ",") + id;
  }
  out << "valid receipt, signed by instance " << r->instance << " (key id " << policy::KeyId(*pem)
      << ")\n"
      << "  request_id:  " << r->request_id << '\n'
      << "  decision:    " << r->decision << '\n'
      << "  rules:       " << (rules.empty() ? "-" : rules) << '\n'
      << "  policy:      " << r->policy << '\n'
      << "  audit_seq:   " << r->seq << '\n'
      << "  record_hash: " << r->record_hash << '\n';
  return kExitOk;
}

}  // namespace firebreak::cli
