#include "firebreak/audit/record.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

namespace firebreak::audit {
namespace {

TEST(RecordTest, CanonicalEncodingSortsKeysAndHasNoWhitespace) {
  AuditRecord r;
  r.kind = "decision";
  r.fields["zeta"] = "last";
  r.fields["alpha"] = Value::Array{1, true, nullptr, "x"};
  r.fields["nested"] = Value::Object{{"b", 2}, {"a", 1}};
  EXPECT_EQ(EncodeRecord(r, 7, "2026-11-28T00:00:00.000000Z", "abc"),
            R"({"alpha":[1,true,null,"x"],"instance":"abc","kind":"decision",)"
            R"("nested":{"a":1,"b":2},"seq":7,"time":"2026-11-28T00:00:00.000000Z","v":1,)"
            R"("zeta":"last"})");
}

TEST(RecordTest, StringsAreEscapedAndUtf8KeptAsIs) {
  std::string out;
  Value("quote\" back\\ nl\n tab\t bell\x07 ж").AppendCanonical(out);
  EXPECT_EQ(out, "\"quote\\\" back\\\\ nl\\n tab\\t bell\\u0007 ж\"");
}

TEST(RecordTest, EveryByteIsEscapedWhereverItStands) {
  // Strings are scanned eight bytes at a time: put each byte value at each
  // position of strings of several lengths, against a byte-wise reference.
  auto reference = [](std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      static constexpr std::string_view kShort[] = {"\\b", "\\t", "\\n", "", "\\f", "\\r"};
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c >= 8 && c <= 13 && !kShort[c - 8].empty()) {
        out += kShort[c - 8];
      } else if (c < 0x20) {
        char u[8];
        std::snprintf(u, sizeof(u), "\\u%04x", c);
        out += u;
      } else {
        out += static_cast<char>(c);
      }
    }
    return out + "\"";
  };
  // Short strings (most keys) are checked as one word: every size up to 9.
  for (std::size_t size : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u, 15u, 16u, 23u}) {
    for (std::size_t at = 0; at < size; ++at) {
      for (int c = 0; c < 256; ++c) {
        std::string s(size, 'a');
        s[at] = static_cast<char>(c);
        std::string out;
        Value(s).AppendCanonical(out);
        ASSERT_EQ(out, reference(s)) << "byte " << c << " at " << at << " of " << size;
        out.clear();
        Value(Value::Object{{s, 1}}).AppendCanonical(out);  // as a key
        ASSERT_EQ(out, "{" + reference(s) + ":1}")
            << "byte " << c << " at " << at << " of " << size;
      }
    }
  }
}

TEST(RecordTest, AppendsLongValuesAfterWhatTheStringHolds) {
  // The encoder writes through a pointer and grows the string as it goes:
  // what it held stays, and nothing is left past the end.
  std::string text;
  std::string escaped;
  for (int i = 0; i < 1000; ++i) {
    const char c = i % 100 == 99 ? '\n' : static_cast<char>('a' + i % 26);
    text += c;
    escaped += c == '\n' ? "\\n" : std::string(1, c);
  }
  std::string out = "held:";
  Value(Value::Object{{"n", -42}, {"t", text}}).AppendCanonical(out);
  EXPECT_EQ(out, "held:{\"n\":-42,\"t\":\"" + escaped + "\"}");
}

TEST(RecordTest, ReservedFieldsCannotBeForged) {
  AuditRecord r;
  r.kind = "decision";
  r.fields["seq"] = 999;
  r.fields["kind"] = "forged";
  const std::string body = EncodeRecord(r, 3, "t", "i");
  EXPECT_NE(body.find("\"seq\":3"), std::string::npos);
  EXPECT_NE(body.find("\"kind\":\"decision\""), std::string::npos);
  EXPECT_EQ(body.find("999"), std::string::npos);
}

TEST(RecordTest, ReservedNamesAreMergedInByteOrder) {
  // Names before, between and after the reserved ones, sharing their first
  // bytes or not (and bytes above 0x7f, alone: they sort after "v"): the
  // record is the object of all of them, sorted.
  const std::vector<std::vector<std::string>> sets = {
      {"", "V", "a", "i", "in", "instancf", "j", "kinc", "kindz", "s", "seqq", "t", "timf", "u",
       "v0", "w", "\x7f"},
      {"\xc3\xa9"},
  };
  for (const std::vector<std::string>& names : sets) {
    AuditRecord r;
    r.kind = "decision";
    Value::Object expected{{"instance", "abc"},
                           {"kind", "decision"},
                           {"seq", 7},
                           {"time", "2026-11-28T00:00:00.000000Z"},
                           {"v", kSchemaVersion}};
    for (const std::string& name : names) {
      r.fields[name] = name;
      expected[name] = name;
    }
    std::string want;
    Value(std::move(expected)).AppendCanonical(want);
    EXPECT_EQ(EncodeRecord(r, 7, "2026-11-28T00:00:00.000000Z", "abc"), want);
  }
}

TEST(RecordTest, FormatsTimeAsRfc3339Utc) {
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatTime(1795910399123456), "2026-11-28T23:59:59.123456Z");
  EXPECT_EQ(FormatTime(1795910399000007), "2026-11-28T23:59:59.000007Z");  // same second
  EXPECT_EQ(FormatTime(1795910400000000), "2026-11-29T00:00:00.000000Z");  // the next
}

TEST(RecordTest, TopLevelValuesAreReadFromTheCanonicalEncoding) {
  const std::string body =
      R"({"a":{"kind":"x","n":[1,{"seq":2}]},"kind":"decision","note":"\"kind\":\"y\"",)"
      R"("seq":12,"z":null})";
  EXPECT_EQ(TopLevelValue(body, "a"), R"({"kind":"x","n":[1,{"seq":2}]})");
  EXPECT_EQ(TopLevelString(body, "kind"), "decision");
  EXPECT_EQ(TopLevelValue(body, "note"), R"("\"kind\":\"y\"")");
  EXPECT_EQ(TopLevelString(body, "note"), std::nullopt);  // has escapes
  EXPECT_EQ(TopLevelNumber(body, "seq"), 12u);
  EXPECT_EQ(TopLevelValue(body, "z"), "null");
  EXPECT_EQ(TopLevelNumber(body, "z"), std::nullopt);
  EXPECT_EQ(TopLevelValue(body, "n"), std::nullopt);  // nested only
  EXPECT_EQ(TopLevelValue("[1]", "a"), std::nullopt);
  EXPECT_EQ(TopLevelValue(R"({"a":"unterminated)", "b"), std::nullopt);
}

}  // namespace
}  // namespace firebreak::audit
