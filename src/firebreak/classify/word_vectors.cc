#include "firebreak/classify/word_vectors.h"

#include <cstring>

#include "firebreak/base/digest.h"

namespace firebreak::classify {
namespace {

constexpr char kMagic[8] = {'F', 'B', 'V', 'E', 'C', 'T', 'R', 'S'};
constexpr std::uint32_t kFormatVersion = 1;

}  // namespace

base::StatusOr<WordVectors> WordVectors::Load(const std::filesystem::path& path) {
  base::StatusOr<std::string> bytes = base::ReadFile(path);
  if (!bytes.ok()) {
    return bytes.status();
  }
  const std::string where = "word vector file " + path.string();
  const std::string_view data = *bytes;
  auto u32 = [&](std::size_t at) {
    std::uint32_t v;
    std::memcpy(&v, data.data() + at, sizeof(v));
    return v;
  };
  if (data.size() < 20 || data.substr(0, 8) != std::string_view(kMagic, 8)) {
    return base::DataLoss(where + " is not a Firebreak word vector file (scripts/vectors)");
  }
  if (u32(8) != kFormatVersion) {
    return base::DataLoss(where + " has unsupported format version " + std::to_string(u32(8)));
  }
  WordVectors v;
  v.dimensions_ = u32(12);
  const std::uint32_t count = u32(16);
  if (v.dimensions_ == 0 || v.dimensions_ > 1024) {
    return base::DataLoss(where + " has a corrupt header");
  }
  std::size_t at = 20;
  v.words_.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (at >= data.size() || at + 1 + static_cast<unsigned char>(data[at]) > data.size()) {
      return base::DataLoss(where + " is truncated (words)");
    }
    const std::size_t length = static_cast<unsigned char>(data[at]);
    v.words_.emplace_back(data.substr(at + 1, length));
    at += 1 + length;
  }
  if (data.size() - at != std::size_t{count} * v.dimensions_) {
    return base::DataLoss(where + " has " + std::to_string(data.size() - at) +
                          " bytes of vectors; expected " +
                          std::to_string(std::size_t{count} * v.dimensions_));
  }
  v.values_.resize(data.size() - at);
  std::memcpy(v.values_.data(), data.data() + at, v.values_.size());
  v.index_.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    v.index_.emplace(v.words_[i], static_cast<int>(i));
  }
  return v;
}

int WordVectors::Find(std::string_view word) const {
  const auto it = index_.find(word);
  return it == index_.end() ? -1 : it->second;
}

void WordVectors::AddTo(std::size_t i, double weight, double* out) const {
  const std::int8_t* v = &values_[i * dimensions_];
  for (std::size_t d = 0; d < dimensions_; ++d) {
    out[d] += weight * v[d] / 127.0;
  }
}

double WordVectors::Weight(std::size_t i) {
  constexpr double kA = 1e-3;
  const double p = 0.1 / static_cast<double>(i + 1);
  return kA / (kA + p);
}

}  // namespace firebreak::classify
