// The local classification cascade of an exchange. Every message is read
// whole and part by part (sentences, list items and steps such as "then ...",
// "and also ...", "as a second output"), so a prohibited part can neither hide
// behind a benign one nor be diluted by padding; hidden text is decoded and
// read too (base64, hex, ROT13, reversed text, leetspeak). Each text goes
// through the pattern stage (RE2 patterns and keywords, one RE2::Set scan) and
// the model stage (linear_model.h), combined into scores per category with
// the evidence that produced them. What the classifier cannot read (text in
// another language it is asked to act on) makes the classification
// uncertain: the policy's defaults take part.
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
#include "firebreak/classify/normalize.h"

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
  // A classification whose margin (Classification::margin) is below this is
  // uncertain: the policy's defaults take part (or, later, a judge). 0: never.
  double uncertain_margin = 0;
  std::filesystem::path model_file;  // empty: no model stage
  // The model file's bytes when the caller has read (and verified) them;
  // null: read model_file.
  std::shared_ptr<const std::string> model_bytes;
};

struct Evidence {
  enum class Kind : std::uint8_t { kPattern, kKeyword, kModel };
  Kind kind = Kind::kModel;
  std::string_view detail;              // the pattern or keyword (borrowed from the Classifier)
  double score = 0;                     // this evidence's own score
  int message = -1;                     // message index; -1 = the whole conversation
  Decoding decoding = Decoding::kNone;  // how the text it was found in was decoded
  bool part = false;  // found in a sentence or step, not in the message read whole

  bool decoded() const { return decoding != Decoding::kNone; }
};

struct CategoryScore {
  std::uint16_t category = 0;
  double score = 0;  // in [0, 1], the best over every text and part read
  bool detected = false;
  // Detected in a message or the conversation read whole as written, or
  // strongly (>= 0.85) in a request part of it. Only such a detection states
  // the request's intent; a category detected otherwise (weakly in a part, or
  // in decoded text) adds its rules but cannot stand in for the intent of the
  // whole (policy::DetectedCategory::states_intent).
  bool detected_whole = false;
  std::string part;  // the part that gave the best score (an excerpt); empty: a whole text
  std::vector<Evidence> evidence;  // of the text or part that gave the best score
};

struct Classification {
  std::vector<CategoryScore> scores;  // categories with a score >= 0.01, best first
  std::string_view version;           // borrowed from the Classifier
  // Why the local classifier cannot vouch for its reading, e.g. "asked to act
  // on text in French, which the local classifier does not read". Non-empty:
  // the policy's defaults take part in the verdict, as for unknown intent.
  std::vector<std::string> uncertain;
  // How clearly the scores decide: the smallest distance of any category's
  // score from its threshold (a category not scored counts as 0). Near 0, a
  // little more or less evidence would have changed what was detected.
  double margin = 1;
  std::string_view closest;  // the category at that distance (borrowed from the Config)

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
  // the caller must fail closed. Linear in the length of the conversation.
  base::StatusOr<Classification> Classify(const base::Conversation& conversation) const;

  const Config& config() const { return config_; }
  // e.g. "firebreak-local/2 patterns=24 keywords=3 model=linear:3f2a9c1b07de"
  const std::string& version() const { return version_; }
  // Hex SHA-256 of the model bytes loaded; empty without a model stage.
  const std::string& model_sha256() const;

 private:
  struct Compiled;
  struct Run;
  struct Segment;
  // Where a text stands in the conversation: a message read as it stands;
  // a user's message before the last (one that asks for nothing is context
  // for a later turn: "I have an intercepted message." before "Translate
  // it."; a system prompt instructs however it is phrased); or the whole
  // conversation joined, which is read whole only.
  enum class Turn : std::uint8_t { kMessage, kEarlierUserTurn, kConversation };
  Classifier(Config config, std::unique_ptr<Compiled> compiled);
  void ScoreText(std::string normalized, std::vector<std::uint32_t> line_breaks, int message,
                 Decoding decoding, int depth, Turn turn, Run& run) const;
  void ScoreSegment(const Segment& segment, Run& run) const;

  Config config_;
  std::unique_ptr<Compiled> compiled_;
  std::string version_;
};

}  // namespace firebreak::classify
