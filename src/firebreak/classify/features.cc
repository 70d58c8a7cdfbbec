#include "firebreak/classify/features.h"

#include <cstring>
#include <string>

namespace firebreak::classify {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

// Final avalanche of a 64-bit value (from MurmurHash3's fmix64).
std::uint64_t Mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

std::uint64_t HashWord(std::string_view s) {
  std::uint64_t h = kFnvOffset;
  for (unsigned char c : s) {
    h = (h ^ c) * kFnvPrime;
  }
  return Mix(h);
}

// Distinct salts keep unigrams, bigrams and character grams apart.
constexpr std::uint64_t kBigramSalt = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t kGramSalt = 0xC2B2AE3D27D4EB4Full;

bool IsTokenByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

// A light suffix stripper: enough to let "surveil", "surveilling" and
// "surveilled" share a feature without a dictionary.
std::string_view Stem(std::string_view t) {
  if (t.size() <= 4) {
    return t;
  }
  const char last = t.back();
  if (last != 's' && last != 'g' && last != 'd' && last != 'r' && last != 'y' && last != 'n') {
    return t;
  }
  static constexpr std::string_view kSuffixes[] = {"ations", "ation", "ings", "ing", "ies", "ied",
                                                   "ers",    "er",    "ed",   "ly",  "es",  "s"};
  for (std::string_view suffix : kSuffixes) {
    if (t.size() > suffix.size() + 2 &&
        std::memcmp(t.data() + t.size() - suffix.size(), suffix.data(), suffix.size()) == 0) {
      if (suffix == "s" && t[t.size() - 2] == 's') {
        return t;
      }
      return t.substr(0, t.size() - suffix.size());
    }
  }
  return t;
}

}  // namespace

std::uint64_t WordHash(std::string_view word) { return HashWord(Stem(word)); }
std::uint64_t ExactWordHash(std::string_view word) { return HashWord(word); }
std::uint64_t FeatureTokens::exact_hash() const { return HashWord(word()); }

FeatureTokens::FeatureTokens(std::string_view normalized, unsigned hash_bits)
    : text_(normalized), mask_((std::uint64_t{1} << hash_bits) - 1) {}

bool FeatureTokens::Next() {
  const std::string_view text = text_;
  std::size_t i = pos_;
  while (i < text.size() && !IsTokenByte(static_cast<unsigned char>(text[i]))) {
    ++i;
  }
  if (i >= text.size()) {
    pos_ = i;
    return false;
  }
  begin_ = i;
  // "<token>" with digits folded to '0' (numbers count by shape); tokens
  // longer than the buffer are cut, which only drops trailing grams.
  std::size_t n = 1;
  token_[0] = '<';
  while (i < text.size() && IsTokenByte(static_cast<unsigned char>(text[i]))) {
    const char c = text[i++];
    if (n < sizeof(token_) - 1) {
      token_[n++] = c >= '0' && c <= '9' ? '0' : c;
    }
  }
  token_[n++] = '>';
  end_ = pos_ = i;
  length_ = n;

  const std::uint64_t unigram = HashWord(Stem(word()));
  word_hash_ = unigram;
  own_count_ = 0;
  own_[own_count_++] = static_cast<std::uint32_t>(unigram & mask_);
  has_bigram_ = previous_ != 0;
  if (has_bigram_) {
    bigram_ = static_cast<std::uint32_t>(Mix(previous_ * kBigramSalt + unigram) & mask_);
  }
  previous_ = unigram;
  if (n - 2 >= 4) {
    for (std::size_t k = 0; k + 4 <= n; ++k) {
      std::uint32_t gram;
      std::memcpy(&gram, token_ + k, 4);
      own_[own_count_++] = static_cast<std::uint32_t>(Mix(gram ^ kGramSalt) & mask_);
    }
  }
  return true;
}

void ExtractFeatures(std::string_view text, unsigned hash_bits, std::vector<std::uint32_t>& out) {
  FeatureTokens tokens(text, hash_bits);
  while (tokens.Next()) {
    const std::span<const std::uint32_t> own = tokens.own();
    out.push_back(own[0]);  // the unigram, then the bigram, then the grams
    if (tokens.has_bigram()) {
      out.push_back(tokens.bigram());
    }
    out.insert(out.end(), own.begin() + 1, own.end());
  }
}

}  // namespace firebreak::classify
