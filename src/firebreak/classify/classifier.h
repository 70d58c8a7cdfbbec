// The local classification cascade of an exchange: normalise every message
// (and the whole conversation, and any base64/hex payload in it), run the
// pattern stage (RE2 patterns and keywords, one RE2::Set scan) and the model
// stage (linear_model.h), and combine them into calibrated scores per
// category with the evidence that produced them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/base/conversation.h"
#include "firebreak/base/status.h"
#include "firebreak/classify/linear_model.h"

namespace re2 {
class RE2;
class Set;
}  // namespace re2

namespace firebreak::classify {

struct CategoryConfig {
  std::string id;
  std::vector<std::string> patterns;  // RE2, matched against normalised text
  std::vector<std::string> keywords;  // normalised, matched as whole words
  double threshold = 0.5;
};

struct Config {
  std::vector<CategoryConfig> categories;  // index = category index of the policy
  bool use_patterns = true;
  bool use_model = true;
  double pattern_score = 0.9;
  double keyword_score = 0.35;
  std::filesystem::path model_file;  // empty: no model stage
};

struct Evidence {
  enum class Kind : std::uint8_t { kPattern, kKeyword, kModel };
  Kind kind = Kind::kModel;
  std::string_view detail;  // the pattern or keyword (borrowed from the Classifier)
  double score = 0;         // this evidence's own score
  int message = -1;         // message index; -1 = the whole conversation
  bool decoded = false;     // found in a decoded base64/hex payload
};

struct CategoryScore {
  std::uint16_t category = 0;
  double score = 0;  // in [0, 1]
  bool detected = false;
  std::vector<Evidence> evidence;  // of the segment that gave the best score
};

struct Classification {
  std::vector<CategoryScore> scores;  // categories with a score >= 0.01, best first
  std::string_view version;           // borrowed from the Classifier

  bool AnyDetected() const;
};

std::string_view EvidenceKindName(Evidence::Kind kind);

class Classifier {
 public:
  // Compiles the patterns and loads the model. Errors name the category and
  // the pattern or the model file.
  static base::StatusOr<std::unique_ptr<Classifier>> Create(Config config);
  ~Classifier();

  // Thread-safe. InvalidArgument when the conversation's text is not UTF-8:
  // the caller must fail closed.
  base::StatusOr<Classification> Classify(const base::Conversation& conversation) const;

  const Config& config() const { return config_; }
  // e.g. "firebreak-local/1 patterns=24 model=linear:3f2a9c1b07de"
  const std::string& version() const { return version_; }
  // Hex SHA-256 of the model bytes loaded; empty without a model stage.
  const std::string& model_sha256() const;

 private:
  struct Compiled;
  struct Segment;
  Classifier(Config config, std::unique_ptr<Compiled> compiled);
  void ScoreSegment(std::string_view normalized, int message, bool decoded,
                    std::vector<CategoryScore>& best) const;

  Config config_;
  std::unique_ptr<Compiled> compiled_;
  std::string version_;
};

}  // namespace firebreak::classify
