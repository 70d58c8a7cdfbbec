// Cheap language cues for the classifier, which reads English only: how
// English a run of words looks (the share of common English words, to find
// ROT13 or reversed text), and which languages it cannot read a text is
// written in (by script, or by the function words of Latin-script languages).
// Words are looked up by FeatureTokens::exact_hash().
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace firebreak::classify {

// Languages (or scripts) the local classifier does not read.
enum class Language : std::uint8_t {
  kFrench,
  kSpanish,
  kPortuguese,
  kItalian,
  kGerman,
  kDutch,
  kCyrillic,
  kGreek,
  kArabic,
  kHebrew,
  kChinese,  // Han characters (also Japanese kanji)
  kJapanese,  // kana
  kKorean,
  kDevanagari,
  kThai,
  kOtherScript,  // any other letters outside Latin, Cyrillic and Greek
};
inline constexpr int kLanguageCount = static_cast<int>(Language::kOtherScript) + 1;
inline constexpr int kStopwordLanguageCount = static_cast<int>(Language::kDutch) + 1;

// "French", "Cyrillic script", ...
std::string_view LanguageName(Language language);

// Words by hash (FeatureTokens::exact_hash) -> bits, for small fixed word
// lists: one probe per token, whatever the number of lists.
// Language bits of a word: LanguageBit(l) set, the word is a function word of
// stopword language l (French .. Dutch); kCommonEnglishBit set, it is one of
// the few hundred most common English words (and then no other bit is set).
// Bits 32-63 of a WordSet, so other lists can share its lower bits.
inline constexpr std::uint64_t kCommonEnglishBit = std::uint64_t{1} << 63;
// The ROT13 or reversed spelling of a frequent English word ("gur", "eht")
// that is no English word itself: a sign of encoded text.
inline constexpr std::uint64_t kRot13EnglishBit = std::uint64_t{1} << 62;
inline constexpr std::uint64_t kReversedEnglishBit = std::uint64_t{1} << 61;
constexpr std::uint64_t LanguageBit(int language) { return std::uint64_t{1} << (32 + language); }
inline constexpr std::uint64_t kLanguageBits = ~std::uint64_t{0} << 32;

class WordSet;
// Adds the words of the language lists, with their language bits.
void AddLanguageWords(WordSet& set);
std::uint64_t WordLanguages(std::uint64_t word_hash);
inline bool IsCommonEnglishWord(std::uint64_t word_hash) {
  return (WordLanguages(word_hash) & kCommonEnglishBit) != 0;
}

class WordSet {
 public:
  void Add(std::string_view word, std::uint64_t bits);
  std::uint64_t Find(std::uint64_t word_hash) const {
    for (std::size_t i = word_hash & kMask;; i = (i + 1) & kMask) {
      if (slots_[i].hash == word_hash) {
        return slots_[i].bits;
      }
      if (slots_[i].hash == 0) {
        return 0;
      }
    }
  }
  // Keeps only `bits` on the words that have any of `if_any`.
  void Restrict(std::uint64_t if_any, std::uint64_t bits);

 private:
  static constexpr std::size_t kSize = 4096;  // at most 2048 words
  static constexpr std::size_t kMask = kSize - 1;
  struct Slot {
    std::uint64_t hash = 0;
    std::uint64_t bits = 0;
  };
  std::array<Slot, kSize> slots_{};
  std::size_t used_ = 0;
};

// Counts letters per script in normalised text (only non-ASCII code points
// are looked at; ASCII text costs one scan).
struct ScriptCounts {
  std::uint32_t letters[kLanguageCount] = {};
  bool any = false;  // any letter outside ASCII was seen
};
ScriptCounts CountScripts(std::string_view normalized);

// Whether `counts` shows text written in `language` (one of the scripts):
// at least a few characters of it.
bool ScriptShows(const ScriptCounts& counts, Language language);

// Whether a sentence with these counts is written in the stopword language
// with `hits` function words of `kinds` different words, against
// `english_hits` common English words.
bool StopwordsShow(int hits, int kinds, int english_hits);

}  // namespace firebreak::classify
