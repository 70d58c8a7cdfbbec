#include "firebreak/classify/linear_model.h"

#include <linear.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include "firebreak/base/digest.h"
#include "firebreak/classify/features.h"
#include "firebreak/classify/normalize.h"

namespace firebreak::classify {
namespace {

constexpr char kMagic[8] = {'F', 'B', 'L', 'I', 'N', 'E', 'A', 'R'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::uint32_t kMaxLabels = 1024;

void Silent(const char*) {}

// The liblinear feature row of one text: sorted ids (1-based), summed values.
std::vector<feature_node> Row(std::string_view normalized, unsigned hash_bits, int bias_index) {
  std::vector<std::uint32_t> ids;
  ExtractFeatures(normalized, hash_bits, ids);
  std::sort(ids.begin(), ids.end());
  const double value = ids.empty() ? 0.0 : 1.0 / std::sqrt(static_cast<double>(ids.size()));
  std::vector<feature_node> row;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!row.empty() && row.back().index == static_cast<int>(ids[i]) + 1) {
      row.back().value += value;
    } else {
      row.push_back({static_cast<int>(ids[i]) + 1, value});
    }
  }
  row.push_back({bias_index, 1.0});
  row.push_back({-1, 0.0});
  return row;
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
  const int bias_index = features + 1;
  std::vector<std::vector<feature_node>> rows;
  std::vector<double> y;
  std::vector<int> counts(labels.size(), 0);
  rows.reserve(examples.size());
  for (std::size_t i = 0; i < examples.size(); ++i) {
    base::StatusOr<std::string> normalized = Normalize(examples[i].text);
    if (!normalized.ok()) {
      return normalized.status().WithContext("training example " + std::to_string(i + 1));
    }
    rows.push_back(Row(*normalized, options.hash_bits, bias_index));
    int label = label_index[examples[i].label];
    y.push_back(label);
    ++counts[static_cast<std::size_t>(label)];
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
    model.bias_[k] = static_cast<float>(sign * trained->w[features] * trained->bias);
    free_and_destroy_model(&trained);
    if (options.progress) {
      options.progress(static_cast<int>(k + 1), static_cast<int>(labels.size()));
    }
  }
  return model;
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
  const std::string where = "model file " + path.string();
  Reader in(*bytes);
  std::string magic;
  std::uint32_t version = 0;
  std::uint32_t hash_bits = 0;
  std::uint32_t count = 0;
  if (!in.GetString(sizeof(kMagic), magic) || magic != std::string_view(kMagic, sizeof(kMagic))) {
    return base::DataLoss(where + " is not a Firebreak linear model");
  }
  if (!in.Get(version) || version != kFormatVersion) {
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
  if (!in.AtEnd()) {
    return base::DataLoss(where + " has trailing bytes");
  }
  model.sha256_ = base::ToHex(base::Sha256Of(*bytes));
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
