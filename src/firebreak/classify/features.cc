#include "firebreak/classify/features.h"

#include <string>

namespace firebreak::classify {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

std::uint64_t Hash(std::string_view s, std::uint64_t seed) {
  std::uint64_t h = kFnvOffset ^ (seed * 0x9E3779B97F4A7C15ull);
  for (unsigned char c : s) {
    h = (h ^ c) * kFnvPrime;
  }
  return h ^ (h >> 29);
}

bool IsTokenByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() + 2 && s.ends_with(suffix);
}

// A light suffix stripper: enough to let "surveil", "surveilling" and
// "surveilled" share a feature without a dictionary.
std::string_view Stem(std::string_view t) {
  if (t.size() <= 4) {
    return t;
  }
  for (std::string_view suffix : {"ations", "ation", "ings", "ing", "ies", "ied", "ers", "er",
                                  "ed", "ly", "es", "s"}) {
    if (EndsWith(t, suffix)) {
      if (suffix == "s" && t.ends_with("ss")) {
        return t;
      }
      return t.substr(0, t.size() - suffix.size());
    }
  }
  return t;
}

}  // namespace

void ExtractFeatures(std::string_view text, unsigned hash_bits, std::vector<std::uint32_t>& out) {
  const std::uint64_t mask = (std::uint64_t{1} << hash_bits) - 1;
  std::string token;
  std::string_view previous;
  std::string previous_storage;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!IsTokenByte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    token.clear();
    while (i < text.size() && IsTokenByte(static_cast<unsigned char>(text[i]))) {
      char c = text[i++];
      token.push_back(c >= '0' && c <= '9' ? '0' : c);  // numbers by shape
    }
    std::string_view stem = Stem(token);
    const std::uint64_t unigram = Hash(stem, 1);
    out.push_back(static_cast<std::uint32_t>(unigram & mask));
    if (!previous.empty()) {
      out.push_back(static_cast<std::uint32_t>((Hash(stem, 2) * 31 + Hash(previous, 3)) & mask));
    }
    if (token.size() >= 4) {
      std::string padded = "<" + token + ">";
      for (std::size_t k = 0; k + 4 <= padded.size(); ++k) {
        out.push_back(static_cast<std::uint32_t>(Hash(std::string_view(padded).substr(k, 4), 4) & mask));
      }
    }
    previous_storage.assign(stem);
    previous = previous_storage;
  }
}

}  // namespace firebreak::classify
