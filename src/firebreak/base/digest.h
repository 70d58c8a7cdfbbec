// SHA-256 helpers (OpenSSL EVP) used for model versions, policy bundle
// digests and the audit chain.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>

#include "firebreak/base/status.h"

namespace firebreak::base {

using Sha256 = std::array<std::uint8_t, 32>;

Sha256 Sha256Of(std::string_view bytes);
// The digest of the parts one after the other, without joining them.
Sha256 Sha256Of(std::initializer_list<std::string_view> parts);

// SHA-256 of bytes that arrive in pieces (a streamed response).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::string_view bytes);
  Sha256 Finish();

 private:
  void* context_;  // EVP_MD_CTX
};
std::string ToHex(const Sha256& digest);
// Lower-case hex of any bytes, and back (false on odd length or a non-hex digit).
std::string HexEncode(std::string_view bytes);
bool HexDecode(std::string_view hex, std::string& out);
// Unpadded base64url (RFC 4648 §5), and back (false on any other character
// or an impossible length).
std::string Base64UrlEncode(std::string_view bytes);
bool Base64UrlDecode(std::string_view text, std::string& out);
// The raw 32 bytes of a digest.
inline std::string_view AsBytes(const Sha256& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}
// Lower-case hex SHA-256 of a file's bytes.
StatusOr<std::string> Sha256HexOfFile(const std::filesystem::path& path);

// Reads a whole file; NotFound or DataLoss with the path in the message.
StatusOr<std::string> ReadFile(const std::filesystem::path& path);

}  // namespace firebreak::base
