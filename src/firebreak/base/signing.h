// Ed25519 keys and signatures (OpenSSL EVP): the instance key that signs audit
// checkpoints, and the parties' keys that sign policies.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "firebreak/base/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace firebreak::base {

class SigningKey {
 public:
  static StatusOr<SigningKey> Generate();
  // PEM (PKCS#8). NotFound when the file does not exist.
  static StatusOr<SigningKey> LoadPem(const std::filesystem::path& path);
  // Writes the private key with mode 0600 (and refuses to overwrite).
  Status SavePem(const std::filesystem::path& path) const;
  // The public key as PEM (SubjectPublicKeyInfo).
  std::string PublicPem() const;

  // 64-byte Ed25519 signature of `message`.
  std::string Sign(std::string_view message) const;

 private:
  struct Free {
    void operator()(EVP_PKEY* key) const;
  };
  explicit SigningKey(EVP_PKEY* key) : key_(key) {}
  std::unique_ptr<EVP_PKEY, Free> key_;
};

// Verifies an Ed25519 signature against a PEM public key.
StatusOr<bool> VerifySignature(std::string_view public_pem, std::string_view message,
                               std::string_view signature);

}  // namespace firebreak::base
