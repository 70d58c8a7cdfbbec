#include "firebreak/classify/linear_model.h"

#include <linear.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <span>

#include "firebreak/base/digest.h"
#include "firebreak/classify/features.h"
#include "firebreak/classify/normalize.h"
#include "firebreak/classify/word_vectors.h"

namespace firebreak::classify {
namespace {

constexpr char kMagic[8] = {'F', 'B', 'L', 'I', 'N', 'E', 'A', 'R'};
// 1: n-gram weights; 2: and word rows (WordRow).
constexpr std::uint32_t kFormatVersion = 2;
constexpr std::uint32_t kMaxLabels = 1024;

void Silent(const char*) {}

// The liblinear feature row of one text: sorted n-gram ids (1-based) with
// summed values, then `dense` values (the word vector features) from index
// first_dense.
std::vector<feature_node> Row(const std::vector<std::uint32_t>& ids, std::span<const double> dense,
                              int first_dense, int bias_index) {
  const double value = ids.empty() ? 0.0 : 1.0 / std::sqrt(static_cast<double>(ids.size()));
  std::vector<feature_node> row;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!row.empty() && row.back().index == static_cast<int>(ids[i]) + 1) {
      row.back().value += value;
    } else {
      row.push_back({static_cast<int>(ids[i]) + 1, value});
    }
  }
  for (std::size_t d = 0; d < dense.size(); ++d) {
    if (dense[d] != 0) {
      row.push_back({first_dense + static_cast<int>(d), dense[d]});
    }
  }
  row.push_back({bias_index, 1.0});
  row.push_back({-1, 0.0});
  return row;
}

// The smooth-inverse-frequency weighted sum of a text's word vectors, and
// how many of its words have one.
std::size_t SumVectors(std::string_view normalized, const WordVectors& vectors,
                       std::vector<double>& sum) {
  sum.assign(vectors.dimensions(), 0.0);
  std::size_t found = 0;
  FeatureTokens tokens(normalized, 10);
  while (tokens.Next()) {
    if (const int i = vectors.Find(tokens.word()); i >= 0) {
      vectors.AddTo(static_cast<std::size_t>(i), WordVectors::Weight(static_cast<std::size_t>(i)),
                    sum.data());
      ++found;
    }
  }
  return found;
}

// The first principal direction (uncentred) of the texts' mean vectors:
// what all texts share, removed from each word's vector as in SIF (Arora et
// al. 2017). Power iteration from a fixed start: deterministic.
std::vector<double> CommonDirection(const std::vector<std::vector<double>>& means) {
  const std::size_t n = means.empty() ? 0 : means.front().size();
  std::vector<double> u(n, 1.0 / std::sqrt(static_cast<double>(std::max<std::size_t>(n, 1))));
  std::vector<double> next(n);
  for (int iteration = 0; iteration < 100; ++iteration) {
    std::fill(next.begin(), next.end(), 0.0);
    for (const std::vector<double>& m : means) {
      double dot = 0;
      for (std::size_t d = 0; d < n; ++d) {
        dot += m[d] * u[d];
      }
      for (std::size_t d = 0; d < n; ++d) {
        next[d] += dot * m[d];
      }
    }
    double norm = 0;
    for (double x : next) {
      norm += x * x;
    }
    norm = std::sqrt(norm);
    if (norm == 0) {
      return std::vector<double>(n, 0.0);
    }
    for (std::size_t d = 0; d < n; ++d) {
      u[d] = next[d] / norm;
    }
  }
  return u;
}

void RemoveDirection(std::vector<double>& v, const std::vector<double>& u) {
  double dot = 0;
  for (std::size_t d = 0; d < v.size(); ++d) {
    dot += v[d] * u[d];
  }
  for (std::size_t d = 0; d < v.size(); ++d) {
    v[d] -= dot * u[d];
  }
}

template <typename T>
void Put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  bool Get(T& value) {
    if (bytes_.size() - pos_ < sizeof(T)) {
      return false;
    }
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetString(std::size_t n, std::string& s) {
    if (bytes_.size() - pos_ < n) {
      return false;
    }
    s.assign(bytes_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool AtEnd() const { return pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

}  // namespace

LinearModel::LinearModel(std::vector<std::string> labels, unsigned hash_bits)
    : labels_(std::move(labels)),
      hash_bits_(hash_bits),
      stride_((labels_.size() + 3) / 4 * 4),
      bias_(labels_.size(), 0.0f),
      weights_((std::size_t{1} << hash_bits) * stride_, 0.0f) {}

base::StatusOr<LinearModel> LinearModel::Train(const std::vector<TrainingExample>& examples,
                                               const TrainOptions& options) {
  if (options.hash_bits < 10 || options.hash_bits > 24) {
    return base::InvalidArgument("hash_bits must be between 10 and 24");
  }
  std::vector<std::string> labels;
  std::map<std::string, int> label_index;
  for (const TrainingExample& e : examples) {
    if (label_index.emplace(e.label, static_cast<int>(labels.size())).second) {
      labels.push_back(e.label);
    }
  }
  if (labels.size() < 2) {
    return base::InvalidArgument("training needs examples of at least two labels");
  }

  const int features = 1 << options.hash_bits;
  const WordVectors* vectors = options.vectors;
  const int dimensions = vectors != nullptr ? static_cast<int>(vectors->dimensions()) : 0;
  const int bias_index = features + dimensions + 1;
  std::vector<std::vector<std::uint32_t>> ids(examples.size());
  std::vector<std::vector<double>> sums(examples.size());
  std::vector<std::vector<double>> means;
  std::vector<double> y;
  std::vector<int> counts(labels.size(), 0);
  for (std::size_t i = 0; i < examples.size(); ++i) {
    base::StatusOr<std::string> normalized = Normalize(examples[i].text);
    if (!normalized.ok()) {
      return normalized.status().WithContext("training example " + std::to_string(i + 1));
    }
    ExtractFeatures(*normalized, options.hash_bits, ids[i]);
    std::sort(ids[i].begin(), ids[i].end());
    if (vectors != nullptr) {
      if (const std::size_t found = SumVectors(*normalized, *vectors, sums[i]); found > 0) {
        means.push_back(sums[i]);
        for (double& x : means.back()) {
          x /= static_cast<double>(found);
        }
      }
    }
    int label = label_index[examples[i].label];
    y.push_back(label);
    ++counts[static_cast<std::size_t>(label)];
  }
  // The vector features: the weighted sum without the common direction,
  // scaled like the n-grams (1/sqrt of the text's n-gram count). Linear in
  // the words, so each word's share is folded into its row after training.
  const std::vector<double> common = CommonDirection(means);
  std::vector<std::vector<feature_node>> rows;
  rows.reserve(examples.size());
  for (std::size_t i = 0; i < examples.size(); ++i) {
    if (vectors != nullptr) {
      RemoveDirection(sums[i], common);
      const double scale =
          ids[i].empty() ? 0.0
                         : options.vector_scale / std::sqrt(static_cast<double>(ids[i].size()));
      for (double& x : sums[i]) {
        x *= scale;
      }
    }
    rows.push_back(Row(ids[i], sums[i], features + 1, bias_index));
  }
  std::vector<feature_node*> x;
  for (auto& row : rows) {
    x.push_back(row.data());
  }

  problem prob{};
  prob.l = static_cast<int>(rows.size());
  prob.n = bias_index;
  prob.y = y.data();
  prob.x = x.data();
  prob.bias = 1.0;

  // Balanced class weights: every label counts as much as any other.
  std::vector<int> weight_label(labels.size());
  std::vector<double> weight(labels.size());
  for (std::size_t k = 0; k < labels.size(); ++k) {
    weight_label[k] = static_cast<int>(k);
    weight[k] = static_cast<double>(rows.size()) /
                (static_cast<double>(labels.size()) * std::max(counts[k], 1));
  }

  LinearModel model(labels, options.hash_bits);
  std::vector<double> vector_weights(labels.size() * static_cast<std::size_t>(dimensions));
  // One binary problem per label (one-vs-rest), so progress can be shown
  // and every label gets its own calibrated sigmoid.
  std::vector<double> binary_y(y.size());
  for (std::size_t k = 0; k < labels.size(); ++k) {
    for (std::size_t i = 0; i < y.size(); ++i) {
      binary_y[i] = static_cast<std::size_t>(y[i]) == k ? 1.0 : -1.0;
    }
    double positive = static_cast<double>(counts[k]);
    double negative = static_cast<double>(rows.size()) - positive;
    int binary_labels[2] = {1, -1};
    double binary_weights[2] = {
        weight[k],
        negative == 0 ? 1.0 : (static_cast<double>(rows.size()) - positive * weight[k]) / negative};
    prob.y = binary_y.data();
    parameter param{};
    param.solver_type = L2R_LR;
    param.eps = options.epsilon;
    param.C = options.c;
    param.nr_weight = 2;
    param.weight_label = binary_labels;
    param.weight = binary_weights;
    param.p = 0.1;
    set_print_string_function(&Silent);
    if (const char* error = check_parameter(&prob, &param)) {
      return base::InvalidArgument(std::string("liblinear: ") + error);
    }
    std::srand(options.seed);
    struct model* trained = train(&prob, &param);
    if (trained == nullptr) {
      return base::Internal("liblinear failed to train label " + labels[k]);
    }
    // liblinear keeps one weight vector for two classes, oriented to label[0].
    const double sign = trained->label[0] == 1 ? 1.0 : -1.0;
    for (int f = 0; f < features; ++f) {
      model.weights_[static_cast<std::size_t>(f) * model.stride_ + k] =
          static_cast<float>(sign * trained->w[f]);
    }
    for (int d = 0; d < dimensions; ++d) {
      vector_weights[k * static_cast<std::size_t>(dimensions) + static_cast<std::size_t>(d)] =
          sign * trained->w[features + d];
    }
    model.bias_[k] = static_cast<float>(sign * trained->w[features + dimensions] * trained->bias);
    free_and_destroy_model(&trained);
    if (options.progress) {
      options.progress(static_cast<int>(k + 1), static_cast<int>(labels.size()));
    }
  }
  if (vectors != nullptr) {
    // Each word's row: the label weights of the vector features dotted with
    // its weighted vector, without the common direction, scaled as trained.
    std::vector<float> rows(vectors->size() * model.stride_, 0.0f);
    std::vector<double> v;
    for (std::size_t w = 0; w < vectors->size(); ++w) {
      v.assign(vectors->dimensions(), 0.0);
      vectors->AddTo(w, WordVectors::Weight(w) * options.vector_scale, v.data());
      RemoveDirection(v, common);
      for (std::size_t k = 0; k < labels.size(); ++k) {
        double dot = 0;
        for (std::size_t d = 0; d < v.size(); ++d) {
          dot += vector_weights[k * v.size() + d] * v[d];
        }
        rows[w * model.stride_ + k] = static_cast<float>(dot);
      }
      model.word_hashes_.push_back(ExactWordHash(vectors->word(w)));
    }
    model.IndexWords(rows);
  }
  return model;
}

void LinearModel::IndexWords(const std::vector<float>& rows) {
  word_table_.clear();
  if (word_hashes_.empty()) {
    return;
  }
  std::size_t slots = 2;
  while (slots < word_hashes_.size() + word_hashes_.size() / 3) {
    slots *= 2;
  }
  word_slot_ = 2 + stride_;
  word_table_.assign(slots * word_slot_, 0.0f);
  for (std::size_t w = 0; w < word_hashes_.size(); ++w) {
    const std::uint64_t hash = word_hashes_[w];
    if (hash == 0) {
      continue;  // 0 marks an empty slot; a word hashing to it goes without
    }
    std::size_t slot = hash & (slots - 1);
    while (true) {
      float* entry = &word_table_[slot * word_slot_];
      std::uint64_t key;
      std::memcpy(&key, entry, sizeof(key));
      if (key == 0 || key == hash) {
        std::memcpy(entry, &hash, sizeof(hash));
        std::copy_n(&rows[w * stride_], stride_, entry + 2);
        break;
      }
      slot = (slot + 1) & (slots - 1);
    }
  }
}

void LinearModel::Predict(std::string_view normalized, std::vector<std::uint32_t>& features,
                          std::vector<double>& probabilities) const {
  const std::size_t k = labels_.size();
  features.clear();
  ExtractFeatures(normalized, hash_bits_, features);
  const float value =
      features.empty() ? 0.0f : 1.0f / std::sqrt(static_cast<float>(features.size()));
  float scores[kMaxLabels];
  std::copy(bias_.begin(), bias_.end(), scores);
  for (std::uint32_t f : features) {
    const float* w = &weights_[static_cast<std::size_t>(f) * stride_];
    for (std::size_t j = 0; j < k; ++j) {
      scores[j] += value * w[j];
    }
  }
  if (!word_table_.empty()) {
    FeatureTokens tokens(normalized, hash_bits_);
    while (tokens.Next()) {
      if (const float* w = WordRow(tokens.exact_hash())) {
        for (std::size_t j = 0; j < k; ++j) {
          scores[j] += value * w[j];
        }
      }
    }
  }
  probabilities.resize(k);
  double total = 0;
  for (std::size_t j = 0; j < k; ++j) {
    probabilities[j] = 1.0 / (1.0 + std::exp(-static_cast<double>(scores[j])));
    total += probabilities[j];
  }
  for (double& p : probabilities) {
    p /= total;
  }
}

base::Status LinearModel::Save(const std::filesystem::path& path) const {
  std::string out(kMagic, sizeof(kMagic));
  Put(out, kFormatVersion);
  Put(out, static_cast<std::uint32_t>(hash_bits_));
  Put(out, static_cast<std::uint32_t>(labels_.size()));
  for (const std::string& label : labels_) {
    Put(out, static_cast<std::uint32_t>(label.size()));
    out += label;
  }
  for (float b : bias_) {
    Put(out, b);
  }
  const std::size_t k = labels_.size();
  const std::size_t buckets = std::size_t{1} << hash_bits_;
  std::uint32_t rows = 0;
  for (std::size_t f = 0; f < buckets; ++f) {
    rows += std::any_of(&weights_[f * stride_], &weights_[f * stride_] + k,
                        [](float w) { return w != 0; });
  }
  Put(out, rows);
  for (std::size_t f = 0; f < buckets; ++f) {
    if (std::any_of(&weights_[f * stride_], &weights_[f * stride_] + k,
                    [](float w) { return w != 0; })) {
      Put(out, static_cast<std::uint32_t>(f));
      for (std::size_t j = 0; j < k; ++j) {
        Put(out, weights_[f * stride_ + j]);
      }
    }
  }
  Put(out, static_cast<std::uint32_t>(word_hashes_.size()));
  for (const std::uint64_t hash : word_hashes_) {
    Put(out, hash);
    const float* row = WordRow(hash);
    for (std::size_t j = 0; j < k; ++j) {
      Put(out, row != nullptr ? row[j] : 0.0f);
    }
  }
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    file.write(out.data(), static_cast<std::streamsize>(out.size()));
    if (!file.good()) {
      return base::DataLoss("cannot write " + tmp.string());
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return base::DataLoss("cannot rename " + tmp.string() + " to " + path.string() + ": " +
                          ec.message());
  }
  return base::Status::Ok();
}

base::StatusOr<LinearModel> LinearModel::Load(const std::filesystem::path& path) {
  base::StatusOr<std::string> bytes = base::ReadFile(path);
  if (!bytes.ok()) {
    return bytes.status();
  }
  return Parse(*bytes, path);
}

base::StatusOr<LinearModel> LinearModel::Parse(std::string_view bytes,
                                               const std::filesystem::path& path) {
  const std::string where = "model file " + path.string();
  Reader in(bytes);
  std::string magic;
  std::uint32_t version = 0;
  std::uint32_t hash_bits = 0;
  std::uint32_t count = 0;
  if (!in.GetString(sizeof(kMagic), magic) || magic != std::string_view(kMagic, sizeof(kMagic))) {
    return base::DataLoss(where + " is not a Firebreak linear model");
  }
  if (!in.Get(version) || version < 1 || version > kFormatVersion) {
    return base::DataLoss(where + " has unsupported format version " + std::to_string(version));
  }
  if (!in.Get(hash_bits) || hash_bits < 10 || hash_bits > 24 || !in.Get(count) || count < 2 ||
      count > kMaxLabels) {
    return base::DataLoss(where + " has a corrupt header");
  }
  std::vector<std::string> labels(count);
  for (std::string& label : labels) {
    std::uint32_t size = 0;
    if (!in.Get(size) || size > 4096 || !in.GetString(size, label)) {
      return base::DataLoss(where + " has a corrupt label table");
    }
  }
  LinearModel model(std::move(labels), hash_bits);
  for (float& b : model.bias_) {
    if (!in.Get(b)) {
      return base::DataLoss(where + " is truncated (bias)");
    }
  }
  std::uint32_t rows = 0;
  if (!in.Get(rows)) {
    return base::DataLoss(where + " is truncated (rows)");
  }
  const std::size_t buckets = std::size_t{1} << hash_bits;
  for (std::uint32_t r = 0; r < rows; ++r) {
    std::uint32_t bucket = 0;
    if (!in.Get(bucket) || bucket >= buckets) {
      return base::DataLoss(where + " has a corrupt weight row " + std::to_string(r));
    }
    for (std::size_t j = 0; j < count; ++j) {
      if (!in.Get(model.weights_[bucket * model.stride_ + j])) {
        return base::DataLoss(where + " is truncated (weights)");
      }
    }
  }
  std::uint32_t words = 0;
  if (version >= 2 && (!in.Get(words) || words > (1u << 24))) {
    return base::DataLoss(where + " is truncated (words)");
  }
  model.word_hashes_.resize(words);
  std::vector<float> word_rows(std::size_t{words} * model.stride_, 0.0f);
  for (std::uint32_t w = 0; w < words; ++w) {
    if (!in.Get(model.word_hashes_[w])) {
      return base::DataLoss(where + " is truncated (word rows)");
    }
    for (std::size_t j = 0; j < count; ++j) {
      if (!in.Get(word_rows[w * model.stride_ + j])) {
        return base::DataLoss(where + " is truncated (word rows)");
      }
    }
  }
  model.IndexWords(word_rows);
  if (!in.AtEnd()) {
    return base::DataLoss(where + " has trailing bytes");
  }
  model.sha256_ = base::ToHex(base::Sha256Of(bytes));
  return model;
}

void LinearModel::Probabilities(const float* sums, std::size_t count,
                                std::vector<double>& probabilities) const {
  const std::size_t k = labels_.size();
  const double value = count == 0 ? 0.0 : 1.0 / std::sqrt(static_cast<double>(count));
  probabilities.resize(k);
  double total = 0;
  for (std::size_t j = 0; j < k; ++j) {
    const double score = static_cast<double>(bias_[j]) + value * static_cast<double>(sums[j]);
    probabilities[j] = 1.0 / (1.0 + std::exp(-score));
    total += probabilities[j];
  }
  for (double& p : probabilities) {
    p /= total;
  }
}

}  // namespace firebreak::classify
