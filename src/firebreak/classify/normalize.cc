#include "firebreak/classify/normalize.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace firebreak::classify {
namespace {

// Lower-case look-alikes of Latin letters (after case folding).
struct Confusable {
  char32_t from;
  char to;
};
constexpr std::array kConfusables = std::to_array<Confusable>({
    // Cyrillic
    {0x0430, 'a'},
    {0x0435, 'e'},
    {0x043E, 'o'},
    {0x0440, 'p'},
    {0x0441, 'c'},
    {0x0443, 'y'},
    {0x0445, 'x'},
    {0x0456, 'i'},
    {0x0458, 'j'},
    {0x0455, 's'},
    {0x04BB, 'h'},
    {0x0501, 'd'},
    {0x051B, 'q'},
    {0x051D, 'w'},
    {0x04CF, 'l'},
    {0x043A, 'k'},
    {0x0442, 't'},
    {0x043C, 'm'},
    {0x0432, 'b'},
    {0x043D, 'h'},
    {0x0457, 'i'},
    {0x0491, 'r'},
    // Greek
    {0x03B1, 'a'},
    {0x03BF, 'o'},
    {0x03C1, 'p'},
    {0x03B5, 'e'},
    {0x03B9, 'i'},
    {0x03BA, 'k'},
    {0x03BD, 'v'},
    {0x03C4, 't'},
    {0x03C5, 'u'},
    {0x03C7, 'x'},
    {0x03B2, 'b'},
    {0x03B3, 'y'},
    {0x03B7, 'n'},
    {0x03C9, 'w'},
    // Armenian and Latin extensions
    {0x0585, 'o'},
    {0x057D, 'u'},
    {0x0570, 'h'},
    {0x0131, 'i'},
    {0x0261, 'g'},
    {0x0251, 'a'},
    {0x028F, 'y'},
    {0x0269, 'i'},
    {0x01C0, 'l'},
});

char FoldConfusable(char32_t c) {
  for (const Confusable& k : kConfusables) {
    if (k.from == c) {
      return k.to;
    }
  }
  return 0;
}

bool IsLetter(char32_t c) {
  if (c < 0x80) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }
  utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

std::vector<char32_t> Decode(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &c);
    if (n <= 0) {  // cannot happen on utf8proc output; skip a byte to be safe
      n = 1;
      c = 0xFFFD;
    }
    out.push_back(static_cast<char32_t>(c));
    p += n;
    left -= n;
  }
  return out;
}

// Folds look-alikes in words that contain a Latin letter, or whose every
// letter is a look-alike (a disguised word rather than real Cyrillic/Greek).
void FoldHomoglyphs(std::vector<char32_t>& text) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (!IsLetter(text[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    bool latin = false;
    bool all_confusable = true;
    while (end < text.size() && IsLetter(text[end])) {
      char32_t c = text[end];
      latin = latin || (c < 0x80);
      all_confusable = all_confusable && (c < 0x80 || FoldConfusable(c) != 0);
      ++end;
    }
    if (latin || (all_confusable && end - i >= 2)) {
      for (std::size_t j = i; j < end; ++j) {
        if (char f = text[j] >= 0x80 ? FoldConfusable(text[j]) : 0) {
          text[j] = static_cast<char32_t>(f);
        }
      }
    }
    i = end;
  }
}

bool IsAsciiAlnum(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsSpacer(char32_t c) {
  return c == ' ' || c == '\n' || c == '.' || c == '-' || c == '_' || c == '*';
}

// Joins runs of at least three single letters separated by one spacer each
// ("s u r v e i l", "b.u.l.k") into words; collapses whitespace, noting in
// `line_breaks` (if set) where a collapsed run held a line break. `text` holds
// case-folded code points (char for ASCII text, char32_t otherwise).
template <typename CharT>
std::string JoinAndCollapse(std::basic_string_view<CharT> text,
                            std::vector<std::uint32_t>* line_breaks) {
  const std::size_t n = text.size();
  std::string out(n * (sizeof(CharT) == 1 ? 1 : 4), '\0');
  char* p = out.data();
  char* const begin = p;
  auto code = [&](std::size_t k) { return static_cast<char32_t>(text[k]); };
  auto single_at = [&](std::size_t k) {
    return k < n && IsAsciiAlnum(code(k)) && (k == 0 || !IsAsciiAlnum(code(k - 1))) &&
           (k + 1 >= n || !IsAsciiAlnum(code(k + 1)));
  };
  bool pending_break = false;
  auto note_break = [&] {
    if (pending_break && line_breaks != nullptr && p != begin) {
      line_breaks->push_back(static_cast<std::uint32_t>(p - begin));
    }
    pending_break = false;
  };
  std::size_t i = 0;
  while (i < n) {
    const char32_t c = code(i);
    if (single_at(i)) {
      std::size_t k = i;
      std::size_t letters = 1;
      while (k + 2 < n && IsSpacer(code(k + 1)) && single_at(k + 2)) {
        k += 2;
        ++letters;
      }
      if (letters >= 3) {
        note_break();
        for (std::size_t j = i; j <= k; j += 2) {
          *p++ = static_cast<char>(code(j));
        }
        i = k + 1;
        continue;
      }
    }
    ++i;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      pending_break = pending_break || c == '\n' || c == '\r';
      if (p != begin && p[-1] != ' ') {
        *p++ = ' ';
      }
      continue;
    }
    note_break();
    if (c < 0x80) {
      *p++ = static_cast<char>(c);
    } else {
      p += utf8proc_encode_char(static_cast<utf8proc_int32_t>(c),
                                reinterpret_cast<utf8proc_uint8_t*>(p));
    }
  }
  if (p != begin && p[-1] == ' ') {
    --p;
  }
  out.resize(static_cast<std::size_t>(p - begin));
  return out;
}

// Standard and URL-safe alphabets; -1 for any other byte.
constexpr std::array<std::int8_t, 256> kBase64 = [] {
  std::array<std::int8_t, 256> table{};
  table.fill(-1);
  for (int i = 0; i < 26; ++i) {
    table['A' + i] = static_cast<std::int8_t>(i);
    table['a' + i] = static_cast<std::int8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) {
    table['0' + i] = static_cast<std::int8_t>(52 + i);
  }
  table['+'] = table['-'] = 62;
  table['/'] = table['_'] = 63;
  return table;
}();

int Base64Value(char c) { return kBase64[static_cast<unsigned char>(c)]; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string DecodeBase64(std::string_view run) {
  std::string out;
  unsigned int acc = 0;
  int bits = 0;
  for (char c : run) {
    int v = Base64Value(c);
    if (v < 0) {
      break;  // '=' padding ends the payload
    }
    acc = (acc << 6) | static_cast<unsigned int>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string DecodeHex(std::string_view run) {
  std::string out;
  for (std::size_t i = 0; i + 1 < run.size(); i += 2) {
    out.push_back(static_cast<char>(HexValue(run[i]) * 16 + HexValue(run[i + 1])));
  }
  return out;
}

// Decoded bytes count as a hidden text when they are valid UTF-8, mostly
// printable, and contain at least one space-separated word pair.
bool LooksLikeText(std::string_view bytes) {
  if (bytes.size() < 8 || FindInvalidUtf8(bytes) != std::string_view::npos) {
    return false;
  }
  std::size_t printable = 0;
  std::size_t letters = 0;
  bool space = false;
  for (unsigned char c : bytes) {
    printable += (c >= 0x20 || c == '\n' || c == '\t') ? 1 : 0;
    letters += ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c >= 0x80 ? 1 : 0;
    space = space || c == ' ';
  }
  return space && printable == bytes.size() && letters * 2 >= bytes.size();
}

constexpr std::size_t kMinPayloadRun = 20;

}  // namespace

std::size_t FindInvalidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  std::size_t i = 0;
  while (i < text.size()) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t n =
        utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(text.size() - i), &c);
    if (n <= 0) {
      return i;
    }
    i += static_cast<std::size_t>(n);
  }
  return std::string_view::npos;
}

base::StatusOr<std::string> Normalize(std::string_view text,
                                      std::vector<std::uint32_t>* line_breaks) {
  if (std::size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    return base::InvalidArgument("invalid UTF-8 at byte " + std::to_string(bad));
  }
  // ASCII fast path: NFKC and homoglyph folding change nothing; case folding
  // is tolower; control characters go as utf8proc's STRIPCC would take them.
  if (std::all_of(text.begin(), text.end(), [](char c) { return (c & 0x80) == 0; })) {
    std::string folded(text.size(), '\0');
    char* p = folded.data();
    for (char c : text) {
      if (c == '\n' || c == '\r') {
        *p++ = '\n';
      } else if (c == '\t' || c == '\f' || c == '\v') {
        *p++ = ' ';
      } else if (c >= 0x20 && c != 0x7F) {
        *p++ = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
      }
    }
    folded.resize(static_cast<std::size_t>(p - folded.data()));
    return JoinAndCollapse(std::string_view(folded), line_breaks);
  }
  utf8proc_uint8_t* mapped = nullptr;
  const auto options = static_cast<utf8proc_option_t>(
      UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE |
      UTF8PROC_STRIPCC | UTF8PROC_NLF2LF | UTF8PROC_LUMP | UTF8PROC_STRIPMARK);
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                    static_cast<utf8proc_ssize_t>(text.size()), &mapped, options);
  if (n < 0) {
    return base::InvalidArgument(std::string("cannot normalise text: ") + utf8proc_errmsg(n));
  }
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(mapped, &std::free);
  std::vector<char32_t> chars =
      Decode(std::string_view(reinterpret_cast<const char*>(mapped), static_cast<std::size_t>(n)));
  FoldHomoglyphs(chars);
  return JoinAndCollapse(std::u32string_view(chars.data(), chars.size()), line_breaks);
}

std::vector<DecodedPayload> DecodeEmbeddedPayloads(std::string_view text) {
  std::vector<DecodedPayload> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (Base64Value(text[i]) < 0) {
      ++i;
      continue;
    }
    std::size_t end = i;
    bool hex = true;
    while (end < text.size() && Base64Value(text[end]) >= 0) {
      hex = hex && HexValue(text[end]) >= 0;
      ++end;
    }
    std::string_view run = text.substr(i, end - i);
    if (run.size() >= kMinPayloadRun) {
      DecodedPayload decoded{{}, Decoding::kHex};
      if (hex && run.size() % 2 == 0) {
        decoded.text = DecodeHex(run);
      }
      if (!LooksLikeText(decoded.text)) {
        decoded = {DecodeBase64(run), Decoding::kBase64};
      }
      if (LooksLikeText(decoded.text)) {
        out.push_back(std::move(decoded));
      }
    }
    i = end;
    while (i < text.size() && text[i] == '=') {
      ++i;
    }
  }
  return out;
}

std::string_view DecodingName(Decoding decoding) {
  switch (decoding) {
    case Decoding::kNone:
      return "none";
    case Decoding::kBase64:
      return "base64";
    case Decoding::kHex:
      return "hex";
    case Decoding::kRot13:
      return "rot13";
    case Decoding::kReversed:
      return "reversed";
    case Decoding::kLeetspeak:
      return "leetspeak";
  }
  return "none";
}

std::string Rot13(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>('a' + (c - 'a' + 13) % 26);
    } else if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>('A' + (c - 'A' + 13) % 26);
    }
  }
  return out;
}

std::string Reversed(std::string_view text) {
  std::string out(text.size(), '\0');
  std::size_t w = text.size();
  std::size_t i = 0;
  while (i < text.size()) {
    // Lead byte, then its continuation bytes (10xxxxxx).
    std::size_t n = 1;
    while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) {
      ++n;
    }
    w -= n;
    std::copy(text.begin() + static_cast<std::ptrdiff_t>(i),
              text.begin() + static_cast<std::ptrdiff_t>(i + n),
              out.begin() + static_cast<std::ptrdiff_t>(w));
    i += n;
  }
  return out;
}

namespace {

// The letter a leetspeak character stands for; 0 for other bytes.
constexpr std::array<char, 256> kLeetLetters = [] {
  std::array<char, 256> table{};
  const std::pair<char, char> pairs[] = {{'0', 'o'}, {'1', 'i'}, {'!', 'i'}, {'3', 'e'},
                                         {'4', 'a'}, {'@', 'a'}, {'5', 's'}, {'$', 's'},
                                         {'7', 't'}, {'8', 'b'}, {'9', 'g'}, {'|', 'l'}};
  for (const auto& [from, to] : pairs) {
    table[static_cast<unsigned char>(from)] = to;
  }
  return table;
}();

char LeetLetter(char c) { return kLeetLetters[static_cast<unsigned char>(c)]; }

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsLeetWordByte(char c) { return IsLower(c) || LeetLetter(c) != 0 || (c >= '0' && c <= '9'); }

// Whether text[begin, end) (trimmed of '!' and '|') is a leetspeak word.
bool IsLeetWord(std::string_view word) {
  std::size_t letters = 0;
  std::size_t leet = 0;
  bool symbol = false;  // @ $ | ! rather than a digit
  bool inside = false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    const char c = word[i];
    if (IsLower(c)) {
      ++letters;
    } else if (LeetLetter(c) != 0) {
      ++leet;
      symbol = symbol || c < '0' || c > '9';
      inside = inside || (i > 0 && i + 1 < word.size() && IsLower(word[i - 1]) &&
                          IsLower(word[i + 1]));
    } else {
      return false;  // a digit that stands for no letter: a code or a number
    }
  }
  return (letters >= 2 || (letters == 1 && symbol)) && leet >= 1 && (inside || leet >= 2);
}

}  // namespace

std::optional<std::string> DecodeLeetspeak(std::string_view normalized) {
  std::optional<std::string> out;
  // Most text has no letter beside a leetspeak character: one cheap scan.
  bool candidate = false;
  for (std::size_t k = 1; k < normalized.size() && !candidate; ++k) {
    candidate = (LeetLetter(normalized[k]) != 0 && IsLower(normalized[k - 1])) ||
                (LeetLetter(normalized[k - 1]) != 0 && IsLower(normalized[k]));
  }
  if (!candidate) {
    return out;
  }
  std::size_t i = 0;
  while (i < normalized.size()) {
    if (!IsLeetWordByte(normalized[i])) {
      ++i;
      continue;
    }
    std::size_t begin = i;
    std::size_t end = i;
    while (end < normalized.size() && IsLeetWordByte(normalized[end])) {
      ++end;
    }
    i = end;
    while (begin < end && (normalized[begin] == '!' || normalized[begin] == '|')) {
      ++begin;
    }
    while (end > begin && (normalized[end - 1] == '!' || normalized[end - 1] == '|')) {
      --end;
    }
    if (!IsLeetWord(normalized.substr(begin, end - begin))) {
      continue;
    }
    if (!out) {
      out.emplace(normalized);
    }
    for (std::size_t j = begin; j < end; ++j) {
      if (char letter = LeetLetter(normalized[j])) {
        (*out)[j] = letter;
      }
    }
  }
  return out;
}

}  // namespace firebreak::classify
