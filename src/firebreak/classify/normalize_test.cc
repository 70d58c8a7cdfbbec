#include "firebreak/classify/normalize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace firebreak::classify {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string N(std::string_view text) {
  base::StatusOr<std::string> out = Normalize(text);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : "";
}

TEST(NormalizeTest, CaseFoldsAndCollapsesWhitespace) {
  EXPECT_EQ(N("  Mass\tSURVEILLANCE \n\n of   Citizens "), "mass surveillance of citizens");
}

TEST(NormalizeTest, FullwidthAndCompatibilityFormsFoldToAscii) {
  EXPECT_EQ(N("ｂｕｌｋ collection"), "bulk collection");
  EXPECT_EQ(N("𝐛𝐮𝐥𝐤 ⓑⓤⓛⓚ"), "bulk bulk");  // mathematical bold, circled
}

TEST(NormalizeTest, ZeroWidthAndControlCharactersAreRemoved) {
  EXPECT_EQ(N("s\u200burveil"), "surveil");
  EXPECT_EQ(N("tar\u200dget\u2060ing\ufeff"), "targeting");
  EXPECT_EQ(N("sur\u00adveil\x01lance"), "surveillance");  // soft hyphen, C0 control
}

TEST(NormalizeTest, DiacriticsAreStripped) { EXPECT_EQ(N("sürvéillançe"), "surveillance"); }

TEST(NormalizeTest, HomoglyphsInsideLatinWordsFold) {
  // Cyrillic а, е, о, с, р and Greek ο, ν mixed into Latin words.
  EXPECT_EQ(N("surv\u0435ill\u0430nce"), "surveillance");
  EXPECT_EQ(N("\u0441r\u043Ess-r\u0435f\u0435r\u0435nc\u0435"), "cross-reference");
  EXPECT_EQ(N("dr\u03BF\u03BDe"), "drove");
}

TEST(NormalizeTest, WordsMadeOnlyOfLookAlikesFold) {
  EXPECT_EQ(N("\u0441\u043E\u0440\u0443"), "copy");  // "сору" in Cyrillic
}

TEST(NormalizeTest, RealCyrillicAndArabicTextIsKept) {
  EXPECT_EQ(N("Противник отступил"), "противник отступил");
  EXPECT_EQ(N("القوات تتحرك"), "القوات تتحرك");
}

TEST(NormalizeTest, SpelledOutLettersAreJoined) {
  EXPECT_EQ(N("s u r v e i l all citizens"), "surveil all citizens");
  EXPECT_EQ(N("b.u.l.k data"), "bulk data");
  EXPECT_EQ(N("k-i-l-l list"), "kill list");
  EXPECT_EQ(N("a b testing"), "a b testing");  // two letters are not a word
}

TEST(NormalizeTest, ReportsWhereLineBreaksWere) {
  std::vector<std::uint32_t> breaks;
  base::StatusOr<std::string> out =
      Normalize("Summarize this.\n\n- first item\r\n  * second\tthird \n", &breaks);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "summarize this. - first item * second third");
  // Each offset is where the text after a collapsed line break starts.
  EXPECT_THAT(breaks, ElementsAre(16u, 29u));
  breaks.clear();
  ASSERT_TRUE(Normalize("Résumé\nзаметка\u2028fin", &breaks).ok());  // the Unicode path
  EXPECT_THAT(breaks, ElementsAre(7u, 22u));
  // A leading break is not a boundary; spelled-out letters across lines still join.
  breaks.clear();
  EXPECT_EQ(*Normalize("\nb\nu\nl\nk data", &breaks), "bulk data");
  EXPECT_THAT(breaks, IsEmpty());
}

TEST(NormalizeTest, InvalidUtf8IsAnErrorWithItsOffset) {
  base::StatusOr<std::string> out = Normalize(std::string("valid \xC3\x28 bytes"));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), base::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("byte 6"));
  EXPECT_EQ(FindInvalidUtf8("plain ascii"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("\xF0\x9F\x98"), 0u);  // truncated sequence
}

MATCHER_P2(Payload, text, decoding, "") {
  return arg.text == text && arg.decoding == decoding;
}

TEST(PayloadTest, DecodesBase64Text) {
  // "track every citizen phone" in base64.
  EXPECT_THAT(DecodeEmbeddedPayloads("please run: dHJhY2sgZXZlcnkgY2l0aXplbiBwaG9uZQ== thanks"),
              ElementsAre(Payload("track every citizen phone", Decoding::kBase64)));
}

TEST(PayloadTest, DecodesUrlSafeBase64WithoutPadding) {
  EXPECT_THAT(DecodeEmbeddedPayloads("dHJhY2sgZXZlcnkgY2l0aXplbiBwaG9uZQ"),
              ElementsAre(Payload("track every citizen phone", Decoding::kBase64)));
}

TEST(PayloadTest, DecodesHexText) {
  // "kill the target now" in hex.
  EXPECT_THAT(DecodeEmbeddedPayloads("x 6b696c6c2074686520746172676574206e6f77 y"),
              ElementsAre(Payload("kill the target now", Decoding::kHex)));
}

TEST(PayloadTest, IgnoresRunsThatAreNotText) {
  EXPECT_THAT(DecodeEmbeddedPayloads(
                  "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
              IsEmpty());
  EXPECT_THAT(DecodeEmbeddedPayloads("ordinary words only, nothing encoded here"), IsEmpty());
  EXPECT_THAT(DecodeEmbeddedPayloads("AAAAAAAAAAAAAAAAAAAAAAAAAAAA"), IsEmpty());
}

TEST(DecodingTest, Rot13RotatesLettersOnly) {
  EXPECT_EQ(Rot13("Track every citizen, 24/7!"), "Genpx rirel pvgvmra, 24/7!");
  EXPECT_EQ(Rot13(Rot13("any Text")), "any Text");
  EXPECT_EQ(Rot13("café"), "pnsé");  // bytes outside ASCII are kept
}

TEST(DecodingTest, ReversedKeepsCodePointsWhole) {
  EXPECT_EQ(Reversed("flag the senders."), ".srednes eht galf");
  EXPECT_EQ(Reversed("où été"), "été ùo");
  EXPECT_EQ(Reversed("日本"), "本日");
  EXPECT_EQ(Reversed(""), "");
}

TEST(DecodingTest, LeetspeakWordsAreSpelledInLetters) {
  EXPECT_EQ(DecodeLeetspeak("tr4ck 3v3ry c1t1z3n"), "track every citizen");
  EXPECT_EQ(DecodeLeetspeak("build a p@ttern of l1fe, now!"), "build a pattern of life, now!");
  EXPECT_EQ(DecodeLeetspeak("wh3r3 $h3 $l33p$"), "where she sleeps");
  EXPECT_EQ(DecodeLeetspeak("str1k3 w1th0ut 4ppr0v4l"), "strike without approval");
}

TEST(DecodingTest, CodesNumbersAndPunctuationAreNotLeetspeak) {
  EXPECT_EQ(DecodeLeetspeak("the f-35 and the mq-9 left at 0340z on the 4th"), std::nullopt);
  EXPECT_EQ(DecodeLeetspeak("b2b, x86, h264, ipv4 and 3am"), std::nullopt);
  EXPECT_EQ(DecodeLeetspeak("15,000 records; $500 each! great!"), std::nullopt);
  EXPECT_EQ(DecodeLeetspeak("plain words only"), std::nullopt);
}

}  // namespace
}  // namespace firebreak::classify
