// Stage 2 of classification: a one-vs-rest logistic regression over hashed
// n-gram features (features.h) and, when trained with pretrained word
// vectors (word_vectors.h), the text's smooth-inverse-frequency weighted sum
// of them; trained with liblinear and stored in our own versioned file
// format. The vector features are linear in the words, so the model keeps
// each word's contribution to each label (WordRow) and prediction stays a
// sparse dot product: no allocation beyond the feature list, microseconds
// per text. See README.md for why this model and not fastText.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/base/status.h"

namespace firebreak::classify {

// Labels of training texts that belong to no category. Labels that start
// with "__" are reserved for them; each is a class of its own, so the policy's
// hand-written near misses (kNoneLabel) weigh as much as a whole category
// however large the public out-of-scope corpora (kCorpusNoneLabel) are.
inline constexpr std::string_view kNoneLabel = "__none__";
inline constexpr std::string_view kCorpusNoneLabel = "__none_corpus__";
inline bool IsNoneLabel(std::string_view label) { return label.starts_with("__"); }

// to[0, n) += from[0, n), n a multiple of 4 (a row_stride()).
inline void AddWeights(float* __restrict to, const float* __restrict from, std::size_t n) {
  for (std::size_t j = 0; j < n; j += 4) {
    to[j] += from[j];
    to[j + 1] += from[j + 1];
    to[j + 2] += from[j + 2];
    to[j + 3] += from[j + 3];
  }
}

// to[0, n) = a[0, n) + b[0, n), n a multiple of 4.
inline void SumWeights(float* __restrict to, const float* __restrict a, const float* __restrict b,
                       std::size_t n) {
  for (std::size_t j = 0; j < n; j += 4) {
    to[j] = a[j] + b[j];
    to[j + 1] = a[j + 1] + b[j + 1];
    to[j + 2] = a[j + 2] + b[j + 2];
    to[j + 3] = a[j + 3] + b[j + 3];
  }
}

struct TrainingExample {
  std::string text;   // raw; normalised by the trainer
  std::string label;  // a category id or kNoneLabel
};

class WordVectors;

struct TrainOptions {
  unsigned hash_bits = 18;
  // Pretrained word vectors, or null for n-grams alone; and the scale of
  // their features against the n-grams' (both see the same regularisation).
  const WordVectors* vectors = nullptr;
  double vector_scale = 1.0;
  double c = 16.0;         // inverse regularisation strength
  double epsilon = 0.001;  // liblinear stopping tolerance
  unsigned seed = 1;       // liblinear's only randomness (rand()) is seeded with it
  // Called with (labels done, labels total) as training advances.
  std::function<void(int, int)> progress;
};

class LinearModel {
 public:
  // Trains on `examples` with balanced class weights. Deterministic for a
  // given input and options; single-threaded.
  static base::StatusOr<LinearModel> Train(const std::vector<TrainingExample>& examples,
                                           const TrainOptions& options);
  static base::StatusOr<LinearModel> Load(const std::filesystem::path& path);
  // From a model file's bytes, already read (`path` names it in errors).
  static base::StatusOr<LinearModel> Parse(std::string_view bytes,
                                           const std::filesystem::path& path);
  base::Status Save(const std::filesystem::path& path) const;

  const std::vector<std::string>& labels() const { return labels_; }
  // Hex SHA-256 of the file the model was loaded from; empty for a model
  // trained in memory.
  const std::string& sha256() const { return sha256_; }
  unsigned hash_bits() const { return hash_bits_; }

  // Probabilities per label (same order as labels()), normalised to sum to 1,
  // of already-normalised text. `features` is scratch space, reused by the caller.
  void Predict(std::string_view normalized, std::vector<std::uint32_t>& features,
               std::vector<double>& probabilities) const;

  // The same prediction from parts: the weights of one feature (labels()
  // values), and the probabilities of a text whose `count` features' weights
  // sum to `sums`. Lets a caller score many spans of one text from one pass.
  // A row holds labels() weights padded with zeros to row_stride(), a
  // multiple of 4, so sums of rows vectorise (AddWeights).
  const float* Weights(std::uint32_t feature) const {
    return &weights_[static_cast<std::size_t>(feature) * stride_];
  }
  std::size_t row_stride() const { return stride_; }
  // What a word (FeatureTokens::exact_hash) adds to each label through its
  // pretrained vector, like one more feature's weights (row_stride() values);
  // null for words without a vector, and for models trained without them.
  const float* WordRow(std::uint64_t exact_hash) const {
    if (word_table_.empty()) {
      return nullptr;
    }
    const std::size_t slots = word_table_.size() / word_slot_;
    for (std::size_t slot = exact_hash & (slots - 1);; slot = (slot + 1) & (slots - 1)) {
      const float* entry = &word_table_[slot * word_slot_];
      std::uint64_t key;
      std::memcpy(&key, entry, sizeof(key));
      if (key == exact_hash) {
        return entry + 2;
      }
      if (key == 0) {
        return nullptr;
      }
    }
  }
  std::size_t words() const { return word_hashes_.size(); }
  void Probabilities(const float* sums, std::size_t count,
                     std::vector<double>& probabilities) const;

 private:
  LinearModel(std::vector<std::string> labels, unsigned hash_bits);
  // Builds the word table from word_hashes_ and their rows ([word * stride +
  // label]).
  void IndexWords(const std::vector<float>& rows);

  std::vector<std::string> labels_;
  unsigned hash_bits_ = 0;
  std::size_t stride_ = 0;                  // labels rounded up to a multiple of 4
  std::vector<float> bias_;                 // [label]
  std::vector<float> weights_;              // [bucket * stride + label]
  std::vector<std::uint64_t> word_hashes_;  // [word]: its exact_hash
  // Open addressing over the words, each slot its key (an exact_hash in two
  // floats' room; 0 = empty) and its row inline, so that a lookup costs one
  // cache miss, not three.
  std::vector<float> word_table_;
  std::size_t word_slot_ = 0;  // floats per slot: 2 + stride_
  std::string sha256_;
};

}  // namespace firebreak::classify
