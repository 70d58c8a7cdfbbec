#include "firebreak/policy/signature.h"

#include <yaml-cpp/yaml.h>

#include <fstream>

#include "firebreak/base/digest.h"
#include "firebreak/base/signing.h"

namespace firebreak::policy {
namespace {

std::string At(const std::filesystem::path& path, const YAML::Mark& mark) {
  return path.string() + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

std::string At(const std::filesystem::path& path, const YAML::Node& node) {
  return At(path, node.Mark());
}

base::Status YamlError(const std::filesystem::path& path, const YAML::Exception& e) {
  return base::InvalidArgument(At(path, e.mark) + ": " + e.msg);
}

}  // namespace

std::filesystem::path SignaturePath(const std::filesystem::path& policy_file) {
  return std::filesystem::path(policy_file.string() + ".sig");
}

std::string SignedMessage(std::string_view digest) {
  return "firebreak-policy-signature/1\n" + std::string(digest) + "\n";
}

std::string KeyId(std::string_view public_pem) {
  return base::ToHex(base::Sha256Of(public_pem)).substr(0, 16);
}

base::StatusOr<SignatureFile> LoadSignatures(const std::filesystem::path& path) {
  SignatureFile file;
  if (!std::filesystem::exists(path)) {
    return file;
  }
  try {
    const YAML::Node root = YAML::LoadFile(path.string());
    if (const YAML::Node d = root["digest"]) {
      file.digest = d.as<std::string>();
    }
    if (const YAML::Node list = root["signatures"]) {
      if (!list.IsSequence()) {
        return base::InvalidArgument(At(path, list) + ": signatures must be a list");
      }
      for (const YAML::Node& s : list) {
        PartySignature sig;
        for (auto [key, slot] : {std::pair{"party", &sig.party},
                                 {"key_id", &sig.key_id},
                                 {"algorithm", &sig.algorithm},
                                 {"signature", &sig.signature},
                                 {"signed_at", &sig.signed_at}}) {
          if (!s[key] || !s[key].IsScalar()) {
            return base::InvalidArgument(At(path, s) + ": a signature needs " + key);
          }
          *slot = s[key].Scalar();
        }
        file.signatures.push_back(std::move(sig));
      }
    }
  } catch (const YAML::Exception& e) {
    return YamlError(path, e);
  }
  return file;
}

base::Status SaveSignatures(const std::filesystem::path& path, const SignatureFile& file) {
  YAML::Emitter out;
  out << YAML::Comment(
      "Firebreak policy signatures: each party signs the bundle digest "
      "(firebreak digest)");
  out << YAML::BeginMap << YAML::Key << "digest" << YAML::Value << file.digest;
  out << YAML::Key << "signatures" << YAML::Value << YAML::BeginSeq;
  for (const PartySignature& s : file.signatures) {
    out << YAML::BeginMap << YAML::Key << "party" << YAML::Value << s.party << YAML::Key << "key_id"
        << YAML::Value << s.key_id << YAML::Key << "algorithm" << YAML::Value << s.algorithm
        << YAML::Key << "signature" << YAML::Value << s.signature << YAML::Key << "signed_at"
        << YAML::Value << s.signed_at << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << out.c_str() << '\n';
    if (!f) {
      return base::Internal("cannot write " + tmp.string());
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return ec ? base::Internal("cannot write " + path.string() + ": " + ec.message())
            : base::Status::Ok();
}

base::StatusOr<Trust> LoadTrust(const std::filesystem::path& path) {
  Trust trust;
  try {
    const YAML::Node root = YAML::LoadFile(path.string());
    const YAML::Node parties = root["parties"];
    if (!parties || !parties.IsSequence() || parties.size() == 0) {
      return base::InvalidArgument(At(path, root) +
                                   ": parties must list {name, public_key} for each party");
    }
    for (const YAML::Node& p : parties) {
      if (!p["name"] || !p["public_key"]) {
        return base::InvalidArgument(At(path, p) + ": a party needs name and public_key");
      }
      TrustedParty party{p["name"].as<std::string>(), p["public_key"].as<std::string>()};
      if (party.public_pem.find("-----BEGIN") == std::string::npos) {
        std::filesystem::path key = party.public_pem;
        if (key.is_relative()) {
          key = path.parent_path() / key;
        }
        base::StatusOr<std::string> pem = base::ReadFile(key);
        if (!pem.ok()) {
          return base::InvalidArgument(At(path, p["public_key"]) + ": party '" + party.name +
                                       "': " + pem.status().message());
        }
        party.public_pem = *pem;
      }
      trust.parties.push_back(std::move(party));
    }
    trust.threshold = trust.parties.size();
    if (const YAML::Node t = root["threshold"]) {
      const int threshold = t.as<int>(0);
      if (threshold < 1 || static_cast<std::size_t>(threshold) > trust.parties.size()) {
        return base::InvalidArgument(At(path, t) + ": threshold must be 1 to " +
                                     std::to_string(trust.parties.size()));
      }
      trust.threshold = static_cast<std::size_t>(threshold);
    }
  } catch (const YAML::Exception& e) {
    return YamlError(path, e);
  }
  return trust;
}

std::string_view PartyStateName(PartyState state) {
  switch (state) {
    case PartyState::kValid:
      return "valid";
    case PartyState::kMissing:
      return "missing";
    case PartyState::kInvalid:
      return "invalid";
    case PartyState::kUnknownKey:
      return "unknown key";
  }
  return "?";
}

Verification Verify(const SignatureFile& signatures, const Trust& trust, std::string_view digest) {
  Verification v;
  v.threshold = trust.threshold;
  const std::string message = SignedMessage(digest);
  for (const TrustedParty& party : trust.parties) {
    PartyReport report{party.name, PartyState::kMissing, "no signature by this party"};
    for (const PartySignature& s : signatures.signatures) {
      if (s.party != party.name) {
        continue;
      }
      std::string raw;
      if (s.key_id != KeyId(party.public_pem)) {
        report = {
            party.name, PartyState::kUnknownKey,
            "signed with key " + s.key_id + ", not the trusted key " + KeyId(party.public_pem)};
      } else if (s.algorithm != "ed25519" || !base::HexDecode(s.signature, raw)) {
        report = {party.name, PartyState::kInvalid, "malformed signature"};
      } else if (base::StatusOr<bool> good = base::VerifySignature(party.public_pem, message, raw);
                 !good.ok() || !*good) {
        report = {party.name, PartyState::kInvalid,
                  "the signature does not match the policy's digest (changed since signing?)"};
      } else {
        report = {party.name, PartyState::kValid, "signed at " + s.signed_at};
      }
      break;
    }
    v.valid += report.state == PartyState::kValid ? 1 : 0;
    v.parties.push_back(std::move(report));
  }
  for (const PartySignature& s : signatures.signatures) {
    bool named = false;
    for (const TrustedParty& party : trust.parties) {
      named = named || party.name == s.party;
    }
    if (!named) {
      v.unknown.push_back(s.party);
    }
  }
  return v;
}

}  // namespace firebreak::policy
