#include "firebreak/classify/language.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "firebreak/classify/features.h"

namespace firebreak::classify {
namespace {

std::uint64_t Bits(std::string_view word) { return WordLanguages(ExactWordHash(word)); }

TEST(LanguageTest, CommonEnglishWordsAreEnglishOnly) {
  EXPECT_TRUE(IsCommonEnglishWord(ExactWordHash("the")));
  EXPECT_TRUE(IsCommonEnglishWord(ExactWordHash("where")));
  EXPECT_FALSE(IsCommonEnglishWord(ExactWordHash("journaliste")));
  // "die" is a German function word, "on" and "a" are English ones: a word
  // both languages use counts as English only.
  EXPECT_NE(Bits("die") & LanguageBit(static_cast<int>(Language::kGerman)), 0u);
  EXPECT_EQ(Bits("on"), kCommonEnglishBit);
  EXPECT_EQ(Bits("a"), kCommonEnglishBit);
}

TEST(LanguageTest, FunctionWordsNameTheirLanguages) {
  EXPECT_NE(Bits("dans") & LanguageBit(static_cast<int>(Language::kFrench)), 0u);
  EXPECT_NE(Bits("donde") & LanguageBit(static_cast<int>(Language::kSpanish)), 0u);
  EXPECT_NE(Bits("nicht") & LanguageBit(static_cast<int>(Language::kGerman)), 0u);
  EXPECT_NE(Bits("della") & LanguageBit(static_cast<int>(Language::kItalian)), 0u);
  EXPECT_NE(Bits("nao") & LanguageBit(static_cast<int>(Language::kPortuguese)), 0u);
  // "que" is French, Spanish and Portuguese.
  const std::uint64_t que = Bits("que");
  EXPECT_NE(que & LanguageBit(static_cast<int>(Language::kFrench)), 0u);
  EXPECT_NE(que & LanguageBit(static_cast<int>(Language::kSpanish)), 0u);
  EXPECT_EQ(Bits("journalist"), 0u);
}

TEST(LanguageTest, EncodedSpellingsOfFrequentWordsAreMarked) {
  EXPECT_NE(Bits("gur") & kRot13EnglishBit, 0u);     // ROT13 of "the"
  EXPECT_NE(Bits("naq") & kRot13EnglishBit, 0u);     // "and"
  EXPECT_NE(Bits("eht") & kReversedEnglishBit, 0u);  // "the" reversed
  EXPECT_NE(Bits("htiw") & kReversedEnglishBit, 0u);
  // An encoded spelling that is itself an English word stays English.
  EXPECT_EQ(Bits("saw"), kCommonEnglishBit);  // "was" reversed
}

TEST(LanguageTest, StopwordsShowALanguageOnlyAgainstFewerEnglishWords) {
  EXPECT_TRUE(StopwordsShow(4, 3, 1));
  EXPECT_FALSE(StopwordsShow(2, 2, 0));   // too few
  EXPECT_FALSE(StopwordsShow(5, 1, 0));   // one word repeated ("de Gaulle de ...")
  EXPECT_FALSE(StopwordsShow(4, 3, 12));  // English with a few French names
}

TEST(LanguageTest, ScriptsAreCountedByLetter) {
  const ScriptCounts russian = CountScripts("противник готовит наступление");
  EXPECT_TRUE(russian.any);
  EXPECT_TRUE(ScriptShows(russian, Language::kCyrillic));
  EXPECT_FALSE(ScriptShows(russian, Language::kArabic));
  EXPECT_TRUE(ScriptShows(CountScripts("让无人机自主选择目标"), Language::kChinese));
  EXPECT_TRUE(ScriptShows(CountScripts("اجمع سجلات الهواتف لجميع"), Language::kArabic));
  EXPECT_TRUE(ScriptShows(CountScripts("북한의 미사일 발사"), Language::kKorean));
  // A name or two is not text in that script.
  EXPECT_FALSE(ScriptShows(CountScripts("the ship Адмирал"), Language::kCyrillic));
  EXPECT_FALSE(ScriptShows(CountScripts("北京 was mentioned"), Language::kChinese));
  // Latin letters, digits and punctuation count for nothing.
  EXPECT_FALSE(CountScripts("resume, cafe -- 24/7").any);
}

}  // namespace
}  // namespace firebreak::classify
