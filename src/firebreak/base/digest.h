// SHA-256 helpers (OpenSSL EVP) used for model versions, policy bundle
// digests and the audit chain.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "firebreak/base/status.h"

namespace firebreak::base {

using Sha256 = std::array<std::uint8_t, 32>;

Sha256 Sha256Of(std::string_view bytes);
std::string ToHex(const Sha256& digest);
// Lower-case hex SHA-256 of a file's bytes.
StatusOr<std::string> Sha256HexOfFile(const std::filesystem::path& path);

// Reads a whole file; NotFound or DataLoss with the path in the message.
StatusOr<std::string> ReadFile(const std::filesystem::path& path);

}  // namespace firebreak::base
