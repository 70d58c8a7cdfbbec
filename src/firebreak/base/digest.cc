#include "firebreak/base/digest.h"

#include <openssl/evp.h>

#include <fstream>
#include <sstream>

namespace firebreak::base {

Sha256 Sha256Of(std::string_view bytes) {
  Sha256 out{};
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), out.data(), &size, EVP_sha256(), nullptr);
  return out;
}

std::string ToHex(const Sha256& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(digest.size() * 2);
  for (std::uint8_t b : digest) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 0xf]);
  }
  return hex;
}

StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return NotFound("cannot open " + path.string());
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) {
    return DataLoss("cannot read " + path.string());
  }
  return std::move(bytes).str();
}

StatusOr<std::string> Sha256HexOfFile(const std::filesystem::path& path) {
  StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) {
    return bytes.status();
  }
  return ToHex(Sha256Of(*bytes));
}

}  // namespace firebreak::base
