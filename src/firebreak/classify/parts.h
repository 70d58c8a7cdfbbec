// The parts of a text the classifier reads on their own besides the text
// whole, so that a prohibited part can neither hide behind a benign one nor be
// diluted by padding: sentences (also list items, lines and clauses after a
// colon), steps within a sentence ("then ...", "and also ...", "as a second
// output", "use them to ..."), and a request read with the short sentence
// before it as its context. Each part says how it reads (Part::Reading): a
// request, a request read without its context, or pasted narrative; only a
// strong detection counts in the last two, the request around them being
// read in the whole text.
// One pass over the tokens also sums each part's model weights, so scoring a
// part costs one probability computation, and yields each sentence's language
// cues (share of common English words, function words of other languages).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace firebreak::classify {

// One token of normalised text, as FeatureTokens yields it.
struct PartToken {
  std::size_t begin = 0;  // byte offsets in the text
  std::size_t end = 0;
  std::uint64_t exact_hash = 0;  // FeatureTokens::exact_hash
  std::string_view word;         // digits folded to '0' (FeatureTokens::word)
  std::uint32_t features = 0;  // its own features (unigram, grams)
  bool has_bigram = false;     // one more feature joins it to the token before
};

struct Part {
  enum class Kind : std::uint8_t { kSentence, kStep, kWithContext };
  Kind kind = Kind::kSentence;
  std::size_t begin = 0;  // byte offsets in the text
  std::size_t end = 0;
  const float* sums = nullptr;  // model weight sums over its features
  std::uint32_t features = 0;
  // How it reads. A request opens with a request verb, addresses the reader
  // or is a question; read here without the context it has (the sentence
  // before it), or as narrative that asks for nothing, only a strong
  // detection in it counts.
  enum class Reading : std::uint8_t { kRequest, kRequestWithoutContext, kNarrative };
  Reading reading = Reading::kRequest;
};

// Language cues of one sentence (every sentence, request or not).
struct SentenceCues {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::uint32_t words = 0;   // alphabetic words
  std::uint32_t common = 0;  // of which common English words
  int language = -1;         // a stopword Language it reads as, or -1
  std::uint32_t rot13 = 0;     // words that are ROT13 of frequent English words
  std::uint32_t reversed = 0;  // words that are frequent English words reversed

  double EnglishShare() const { return words == 0 ? 0.0 : static_cast<double>(common) / words; }
};

class PartSink {
 public:
  virtual void OnPart(const Part& part) = 0;
  virtual void OnSentence(const SentenceCues& cues) = 0;

 protected:
  ~PartSink() = default;
};

// Parts shorter than this many words are not read alone ("keep it short").
inline constexpr std::uint32_t kMinPartTokens = 3;
// A sentence of at most this many words is the context of a request after it.
inline constexpr std::uint32_t kMaxContextTokens = 40;

class PartScanner {
 public:
  // `text` is normalised; `line_breaks` as Normalize reports them;
  // `row_width` the model's LinearModel::row_stride() (0 without a model).
  // Borrows `text`, `line_breaks` and `sink`.
  PartScanner(std::string_view text, std::span<const std::uint32_t> line_breaks,
              std::size_t row_width, PartSink& sink);

  // Storage for the next token's own features' weights summed (`row_width`
  // values), for a token with more than one feature.
  float* NextOwnRow();
  // Feeds the next token: `own`, the weights of its own features summed
  // (NextOwnRow(), or a model row that outlives the scanner); `bigram`, the
  // weights of its bigram (a model row), or null. Both are ignored without a
  // model. Parts are emitted as they end.
  void Add(const PartToken& token, const float* own, const float* bigram);
  // Ends the text: emits the last parts and completes the whole text's sums.
  void Finish();

  const float* whole_sums() const { return whole_.sums; }
  std::uint32_t whole_features() const { return whole_.features; }
  // A word mixes letters with digits, or touches @ $ | (or ! between
  // letters): the text may hold leetspeak (DecodeLeetspeak).
  bool maybe_leetspeak() const { return maybe_leetspeak_; }
  // A word has a letter outside ASCII (another script, perhaps).
  bool any_non_ascii() const { return any_non_ascii_; }
  // A sentence or step of the text reads as a request (Part::Reading).
  bool asks() const { return asks_; }

 private:
  // A token waiting for the boundary decision before it, which needs the
  // words after it.
  struct Pending {
    PartToken token;  // its `word` is not kept
    std::uint64_t classes = 0;  // word classes (parts.cc) and language bits (language.h)
    bool alpha = false;
    bool number = false;            // "0" or "00" (digits folded)
    bool item_marker_word = false;  // a number or a single letter a-h
    bool bullet = false;
    const float* own = nullptr;
    const float* bigram = nullptr;
  };
  struct Span {
    float* sums = nullptr;  // row_width values, in sums_
    std::uint32_t features = 0;
    std::uint32_t tokens = 0;
    std::size_t begin = 0;
    std::size_t end = 0;
  };
  // The first words of a part (by word class), and what they tell.
  struct Opening {
    std::uint64_t classes[8] = {};
    std::uint8_t count = 0;
    std::uint64_t last = 0;
    bool marker = false;

    void Add(std::uint64_t word_classes);
    std::size_t FirstWord() const;
    bool IsRequest() const;
  };
  enum class Boundary : std::uint8_t { kNone, kWeakStep, kStep, kSentence };

  void Process();  // decides the boundary before the oldest pending token and adds it
  Boundary BoundaryBefore(const Pending& token);
  void FinishStep(bool last_in_sentence);
  void FinishSentence(bool last);
  bool QuestionAfter(const Span& span) const;
  void Emit(Part::Kind kind, const Span& span, Part::Reading reading);
  static void AddRow(Span& span, const float* row, std::size_t labels);
  static void AddSpan(Span& to, const Span& from, std::size_t labels);

  std::string_view text_;
  std::span<const std::uint32_t> line_breaks_;
  std::size_t labels_;  // the row width
  PartSink& sink_;

  static constexpr std::size_t kLookahead = 3;  // "as a second output"
  static constexpr std::size_t kRing = kLookahead + 1;
  std::array<Pending, kRing> ring_;
  std::vector<float> rows_;    // per ring slot: a summed own row
  std::vector<float> sums_;    // the spans' sums, then the sentence join
  std::size_t head_ = 0;
  std::size_t pending_ = 0;

  Span whole_;
  Span sentence_;
  Span step_;
  Span previous_;                    // the sentence before the current one
  Span pair_;                        // scratch: previous + join + sentence
  float* sentence_join_ = nullptr;  // bigram weights joining sentence_ to previous_
  bool has_previous_ = false;
  bool previous_request_ = false;
  bool previous_is_first_ = false;
  std::size_t sentences_ = 0;
  std::size_t steps_in_sentence_ = 0;
  bool step_leans_ = false;  // a weak step after a short clause: read in its sentence
  Opening step_opening_;
  Opening sentence_opening_;
  std::uint64_t last_classes_ = 0;
  std::size_t last_end_ = 0;
  bool first_token_ = true;
  bool maybe_leetspeak_ = false;
  bool any_non_ascii_ = false;
  bool asks_ = false;
  std::size_t next_break_ = 0;
  // Language cues of the current sentence.
  SentenceCues cues_;
  std::uint8_t stopword_hits_[8] = {};
  std::uint64_t stopword_first_[8] = {};
  bool stopword_kinds_[8] = {};
};

}  // namespace firebreak::classify
