// Feature extraction for the local text model: hashed word unigrams (lightly
// stemmed), word bigrams and character 4-grams of normalised text. Training
// and prediction share this code, so a model sees exactly what it learned on.
// FeatureTokens walks the same features token by token, so the classifier can
// score every sentence and clause of a text from one pass.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace firebreak::classify {

// Appends the hashed feature ids (in [0, 2^hash_bits)) of `normalized` to
// `out`; an id may repeat. Every occurrence carries the same weight,
// 1/sqrt(total occurrences).
void ExtractFeatures(std::string_view normalized, unsigned hash_bits,
                     std::vector<std::uint32_t>& out);

// The tokens of normalised text, in order, each with the features it adds:
// its unigram and character 4-grams (own()) and the bigram that joins it to
// the token before (bigram()). ExtractFeatures emits exactly these. Borrows
// the text.
class FeatureTokens {
 public:
  FeatureTokens(std::string_view normalized, unsigned hash_bits);

  // Advances to the next token; false after the last one.
  bool Next();

  std::size_t begin() const { return begin_; }  // byte offsets in the text
  std::size_t end() const { return end_; }
  // The token with digits folded to '0' (cut at 254 bytes).
  std::string_view word() const { return {token_ + 1, length_ - 2}; }
  // Hash of the stemmed word, the same for the same word in any text; see
  // WordHash.
  std::uint64_t word_hash() const { return word_hash_; }
  // Hash of the word as it is (not stemmed); see ExactWordHash.
  std::uint64_t exact_hash() const;
  bool has_bigram() const { return has_bigram_; }
  std::uint32_t bigram() const { return bigram_; }
  std::span<const std::uint32_t> own() const { return {own_, own_count_}; }

 private:
  std::string_view text_;
  std::uint64_t mask_;
  std::size_t pos_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  char token_[256];
  std::size_t length_ = 0;
  std::uint64_t word_hash_ = 0;
  std::uint64_t previous_ = 0;
  bool has_bigram_ = false;
  std::uint32_t bigram_ = 0;
  std::uint32_t own_[256];
  std::size_t own_count_ = 0;
};

// The word_hash() and exact_hash() a token spelling `word` has (lower-case
// ASCII letters, digits as '0').
std::uint64_t WordHash(std::string_view word);
std::uint64_t ExactWordHash(std::string_view word);

}  // namespace firebreak::classify
