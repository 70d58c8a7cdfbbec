// The Ed25519 key the receipt target and the seed generator sign with, so
// that the committed receipt seeds verify. A fuzzing key only: it signs
// nothing else and is no secret.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "firebreak/base/signing.h"

namespace firebreak::fuzz {

inline constexpr std::string_view kFuzzPrivatePem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIHkuVbzw1TuEMlK/LqNyy4SaS5vq680vKfEP36zcj/Pe\n"
    "-----END PRIVATE KEY-----\n";
inline constexpr std::string_view kFuzzPublicPem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAw+JBwxd79s4beClNGy0GDO4AH0ZUow8YdQsLx3sIX18=\n"
    "-----END PUBLIC KEY-----\n";
// Another key, for receipts signed by the wrong instance.
inline constexpr std::string_view kOtherPrivatePem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEILlOHLq9KxZ1BOXSSfT9AlXwJykYsqA5r5U3hsriV+PK\n"
    "-----END PRIVATE KEY-----\n";

// SigningKey loads only from a file: the PEM goes through a temporary one.
// Exits on failure (a broken build of the target, not a finding).
inline base::SigningKey LoadKey(std::string_view pem) {
  char path[] = "/tmp/firebreak-fuzz-key-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) {
    std::perror("mkstemp");
    std::exit(2);
  }
  ::close(fd);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(pem.data(), static_cast<std::streamsize>(pem.size()));
  }
  base::StatusOr<base::SigningKey> key = base::SigningKey::LoadPem(path);
  std::filesystem::remove(path);
  if (!key.ok()) {
    std::fprintf(stderr, "cannot load the fuzzing key: %s\n", key.status().ToString().c_str());
    std::exit(2);
  }
  return std::move(key).value();
}

}  // namespace firebreak::fuzz
