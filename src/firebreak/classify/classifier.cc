#include "firebreak/classify/classifier.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cmath>

#include "firebreak/classify/normalize.h"

namespace firebreak::classify {
namespace {

constexpr double kReportFloor = 0.01;
constexpr int kMaxPayloadDepth = 2;

// One entry of the RE2::Set: which category, and whether it is a keyword.
struct Probe {
  std::uint16_t category;
  Evidence::Kind kind;
  std::string_view text;
};

std::string KeywordPattern(std::string_view normalized_keyword) {
  return "\\b" + RE2::QuoteMeta(normalized_keyword) + "\\b";
}

}  // namespace

struct Classifier::Compiled {
  std::unique_ptr<RE2::Set> set;
  std::vector<Probe> probes;
  std::optional<LinearModel> model;
  std::vector<int> model_label_to_category;  // -1 for labels that are no category
};

// One text to score: a message, the whole conversation, or a decoded payload.
struct Classifier::Segment {
  std::string text;
  int message;
  bool decoded;
  int depth;
};

std::string_view EvidenceKindName(Evidence::Kind kind) {
  switch (kind) {
    case Evidence::Kind::kPattern:
      return "pattern";
    case Evidence::Kind::kKeyword:
      return "keyword";
    case Evidence::Kind::kModel:
      return "model";
  }
  return "model";
}

bool Classification::AnyDetected() const {
  return std::any_of(scores.begin(), scores.end(),
                     [](const CategoryScore& s) { return s.detected; });
}

Classifier::Classifier(Config config, std::unique_ptr<Compiled> compiled)
    : config_(std::move(config)), compiled_(std::move(compiled)) {}

Classifier::~Classifier() = default;

base::StatusOr<std::unique_ptr<Classifier>> Classifier::Create(Config config_in) {
  // Build in place: the probes borrow strings owned by the classifier's config.
  auto classifier = std::unique_ptr<Classifier>(
      new Classifier(std::move(config_in), std::make_unique<Compiled>()));
  const Config& config = classifier->config_;
  Compiled* compiled = classifier->compiled_.get();
  RE2::Options options;
  options.set_log_errors(false);
  options.set_case_sensitive(false);
  options.set_max_mem(64 << 20);
  compiled->set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  std::size_t pattern_count = 0;
  std::size_t keyword_count = 0;
  if (config.use_patterns) {
    for (std::size_t i = 0; i < config.categories.size(); ++i) {
      const CategoryConfig& c = config.categories[i];
      const auto index = static_cast<std::uint16_t>(i);
      for (const std::string& p : c.patterns) {
        std::string error;
        if (compiled->set->Add(p, &error) < 0) {
          return base::InvalidArgument("category '" + c.id + "': invalid pattern '" + p +
                                       "': " + error);
        }
        compiled->probes.push_back({index, Evidence::Kind::kPattern, p});
        ++pattern_count;
      }
      for (const std::string& k : c.keywords) {
        // Keywords match the text as every stage sees it: normalised.
        base::StatusOr<std::string> normalized = Normalize(k);
        if (!normalized.ok() || normalized->empty()) {
          return base::InvalidArgument("category '" + c.id + "': keyword '" + k +
                                       "' is empty or not UTF-8 after normalisation");
        }
        std::string error;
        if (compiled->set->Add(KeywordPattern(*normalized), &error) < 0) {
          return base::InvalidArgument("category '" + c.id + "': invalid keyword '" + k +
                                       "': " + error);
        }
        compiled->probes.push_back({index, Evidence::Kind::kKeyword, k});
        ++keyword_count;
      }
    }
    if (!compiled->probes.empty() && !compiled->set->Compile()) {
      return base::FailedPrecondition("patterns are too large to compile together");
    }
  }

  std::string model_version = "none";
  if (config.use_model && !config.model_file.empty()) {
    base::StatusOr<LinearModel> model = LinearModel::Load(config.model_file);
    if (!model.ok()) {
      return model.status();
    }
    for (const std::string& label : model->labels()) {
      int category = -1;
      for (std::size_t i = 0; i < config.categories.size(); ++i) {
        if (config.categories[i].id == label) {
          category = static_cast<int>(i);
        }
      }
      if (category < 0 && !IsNoneLabel(label)) {
        return base::FailedPrecondition("model file " + config.model_file.string() +
                                        " knows category '" + label +
                                        "' that the policy does not define; retrain it");
      }
      compiled->model_label_to_category.push_back(category);
    }
    model_version = "linear:" + model->sha256().substr(0, 12);
    compiled->model = std::move(model).value();
  }
  classifier->version_ = "firebreak-local/1 patterns=" + std::to_string(pattern_count) +
                         " keywords=" + std::to_string(keyword_count) + " model=" + model_version;
  return classifier;
}

void Classifier::ScoreSegment(std::string_view normalized, int message, bool decoded,
                              std::vector<CategoryScore>& best) const {
  struct Found {
    std::size_t category;
    Evidence evidence;
  };
  // Per category, the model's probability and the pattern and keyword
  // evidence combine noisy-OR: 1 - (1-model)(1-pattern)(1-keyword)^hits.
  thread_local std::vector<double> miss;
  thread_local std::vector<Found> found;
  thread_local std::vector<std::uint32_t> features;
  thread_local std::vector<double> probabilities;
  thread_local std::vector<int> hits;
  miss.assign(config_.categories.size(), 1.0);
  found.clear();

  if (compiled_->model) {
    compiled_->model->Predict(normalized, features, probabilities);
    for (std::size_t j = 0; j < probabilities.size(); ++j) {
      const int c = compiled_->model_label_to_category[j];
      if (c >= 0 && probabilities[j] >= kReportFloor) {
        miss[static_cast<std::size_t>(c)] *= 1.0 - probabilities[j];
        found.push_back({static_cast<std::size_t>(c),
                         {Evidence::Kind::kModel, compiled_->model->labels()[j], probabilities[j],
                          message, decoded}});
      }
    }
  }
  if (!compiled_->probes.empty()) {
    hits.clear();
    compiled_->set->Match(normalized, &hits);
    std::sort(hits.begin(), hits.end());
    for (int h : hits) {
      const Probe& probe = compiled_->probes[static_cast<std::size_t>(h)];
      const double s =
          probe.kind == Evidence::Kind::kPattern ? config_.pattern_score : config_.keyword_score;
      miss[probe.category] *= 1.0 - s;
      found.push_back({probe.category, {probe.kind, probe.text, s, message, decoded}});
    }
  }

  for (std::size_t c = 0; c < miss.size(); ++c) {
    const double score = 1.0 - miss[c];
    if (score <= best[c].score) {
      continue;
    }
    best[c].score = score;
    best[c].evidence.clear();
    for (const Found& f : found) {
      if (f.category == c) {
        best[c].evidence.push_back(f.evidence);
      }
    }
  }
}

const std::string& Classifier::model_sha256() const {
  static const std::string kNone;
  return compiled_->model ? compiled_->model->sha256() : kNone;
}

base::StatusOr<Classification> Classifier::Classify(const base::Conversation& conversation) const {
  std::vector<CategoryScore> best(config_.categories.size());
  for (std::size_t c = 0; c < best.size(); ++c) {
    best[c].category = static_cast<std::uint16_t>(c);
  }

  std::vector<Segment> segments;
  std::size_t with_text = 0;
  for (std::size_t i = 0; i < conversation.messages.size(); ++i) {
    if (!conversation.messages[i].text.empty()) {
      segments.push_back({conversation.messages[i].text, static_cast<int>(i), false, 0});
      ++with_text;
    }
  }
  // Intent split across turns: the whole conversation is one more segment.
  if (with_text > 1) {
    std::string joined;
    for (const base::Message& m : conversation.messages) {
      joined += m.text;
      joined += '\n';
    }
    segments.push_back({std::move(joined), -1, false, 0});
  }

  for (std::size_t i = 0; i < segments.size(); ++i) {
    base::StatusOr<std::string> normalized = Normalize(segments[i].text);
    if (!normalized.ok()) {
      return normalized.status().WithContext(
          segments[i].message < 0 ? std::string("conversation")
                                  : "message " + std::to_string(segments[i].message));
    }
    ScoreSegment(*normalized, segments[i].message, segments[i].decoded, best);
    // Payloads of single messages only: the joined segment repeats them.
    if (segments[i].message >= 0 && segments[i].depth < kMaxPayloadDepth) {
      for (std::string& payload : DecodeEmbeddedPayloads(segments[i].text)) {
        segments.push_back({std::move(payload), segments[i].message, true, segments[i].depth + 1});
      }
    }
  }

  Classification result;
  result.version = version_;
  for (CategoryScore& s : best) {
    if (s.score >= kReportFloor) {
      s.detected = s.score >= config_.categories[s.category].threshold;
      result.scores.push_back(std::move(s));
    }
  }
  std::stable_sort(
      result.scores.begin(), result.scores.end(),
      [](const CategoryScore& a, const CategoryScore& b) { return a.score > b.score; });
  return result;
}

}  // namespace firebreak::classify
