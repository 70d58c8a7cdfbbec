#include "firebreak/instance/policy_loader.h"

#include "firebreak/base/clock.h"
#include "firebreak/base/digest.h"
#include "firebreak/policy/bundle.h"
#include "firebreak/policy/loader.h"

namespace firebreak::instance {

base::StatusOr<LoadedPolicy> LoadActivePolicy(const std::filesystem::path& policy_file,
                                              const PolicyTrust& trust) {
  const std::string name = policy_file.string();
  base::StatusOr<std::string> text = base::ReadFile(policy_file);
  if (!text.ok()) {
    return base::FailedPrecondition(text.status().message());
  }
  policy::LoadResult parsed = policy::LoadPolicyText(*text, policy_file);
  if (!parsed.ok()) {
    return base::FailedPrecondition(parsed.Report() + name + ": " +
                                    std::to_string(parsed.ErrorCount()) +
                                    " error(s); the policy was not loaded");
  }
  // The model is read once: its bytes are digested, verified and compiled,
  // never the file as it may be by then.
  LoadedPolicy loaded;
  std::vector<policy::HashedFile> files{
      {std::filesystem::absolute(policy_file), base::ToHex(base::Sha256Of(*text))}};
  classify::Config config = exchange::ClassifierConfigOf(*parsed.policy);
  if (!config.model_file.empty()) {
    base::StatusOr<std::string> model = base::ReadFile(config.model_file);
    if (!model.ok()) {
      return base::FailedPrecondition(name + ": " + model.status().message());
    }
    files.push_back({config.model_file, base::ToHex(base::Sha256Of(*model))});
    loaded.model_file = config.model_file.string();
    config.model_bytes = std::make_shared<const std::string>(std::move(model).value());
  }
  const policy::Bundle bundle = policy::BundleFrom(policy_file, files);
  for (const policy::Diagnostic& d : parsed.diagnostics) {
    loaded.warnings += d.ToString() + "\n";
  }

  auto active = std::make_shared<exchange::ActivePolicy>();
  active->digest = bundle.digest;
  // Compiled (patterns, model) only once the signatures are known to hold.
  auto compile = [&]() -> base::StatusOr<LoadedPolicy> {
    base::StatusOr<std::unique_ptr<exchange::DecisionCore>> core =
        exchange::DecisionCore::Create(parsed.policy, std::move(config));
    if (!core.ok()) {
      return base::FailedPrecondition(name + ": " + core.status().message());
    }
    active->core = std::move(core).value();
    loaded.active = std::move(active);
    return std::move(loaded);
  };
  if (trust.trust.empty()) {
    if (!trust.allow_unsigned) {
      return base::FailedPrecondition(
          "no trust file: Firebreak enforces only policies signed by the parties you trust. "
          "Set trust: in the config or pass --trust FILE (see `firebreak verify --help`); "
          "for local development only, --allow-unsigned");
    }
    return compile();
  }
  loaded.trust_path = trust.trust.string();
  base::StatusOr<policy::Trust> parties = policy::LoadTrust(trust.trust);
  if (!parties.ok()) {
    return base::FailedPrecondition(parties.status().message());
  }
  base::StatusOr<policy::SignatureFile> signatures =
      policy::LoadSignatures(policy::SignaturePath(policy_file));
  if (!signatures.ok()) {
    return base::FailedPrecondition(signatures.status().message());
  }
  loaded.verification = policy::Verify(*signatures, *parties, bundle.digest);
  for (std::size_t i = 0; i < parties->parties.size(); ++i) {
    if (loaded.verification.parties[i].state == policy::PartyState::kValid) {
      active->signers.push_back(parties->parties[i].name);
      active->signer_keys.push_back(policy::KeyId(parties->parties[i].public_pem));
    }
  }
  active->verified = loaded.verification.ok();
  if (!active->verified && !trust.allow_unsigned) {
    std::string why;
    for (const policy::PartyReport& p : loaded.verification.parties) {
      if (p.state != policy::PartyState::kValid) {
        why += "\n  " + p.party + ": " + std::string(policy::PartyStateName(p.state)) + " (" +
               p.detail + ")";
      }
    }
    for (const std::string& party : loaded.verification.unknown) {
      why += "\n  " + party + ": unknown key (a party " + loaded.trust_path + " does not name)";
    }
    return base::FailedPrecondition(
        name + " (digest " + bundle.digest.substr(0, 16) + ") is signed by " +
        std::to_string(loaded.verification.valid) + " of the " +
        std::to_string(loaded.verification.parties.size()) + " parties in " + loaded.trust_path +
        ", " + std::to_string(loaded.verification.threshold) + " required:" + why +
        "\nEach party signs with `firebreak sign " + name + " --key KEY --party NAME`");
  }
  return compile();
}

std::string SignerSummary(const LoadedPolicy& loaded) {
  if (loaded.trust_path.empty()) {
    return "UNSIGNED (no trust file; --allow-unsigned)";
  }
  std::string out;
  for (const policy::PartyReport& p : loaded.verification.parties) {
    out += (out.empty() ? "" : ", ") + p.party +
           (p.state == policy::PartyState::kValid
                ? " ✓"
                : " ✗ (" + std::string(policy::PartyStateName(p.state)) + ")");
  }
  if (!loaded.active->verified) {
    out += "; threshold NOT met (--allow-unsigned)";
  }
  return out;
}

base::PolicyEvent PolicyEventOf(const LoadedPolicy& loaded, std::string source) {
  const policy::PolicySet& p = loaded.active->core->policy();
  base::PolicyEvent e{base::UnixMicros(),
                      p.metadata().name,
                      p.metadata().version,
                      p.metadata().effective,
                      loaded.active->digest,
                      loaded.active->verified,
                      {},
                      p.rules().size(),
                      std::move(source)};
  for (const auto& [role, party] : p.metadata().signatories) {
    base::Signatory s{role, party, false,
                      loaded.trust_path.empty() ? "no trust file" : "not in the trust file"};
    for (const policy::PartyReport& r : loaded.verification.parties) {
      if (r.party == role) {
        s.verified = r.state == policy::PartyState::kValid;
        s.state = policy::PartyStateName(r.state);
      }
    }
    e.signatories.push_back(std::move(s));
  }
  return e;
}

}  // namespace firebreak::instance
