// Text normalisation, the first step of classification: every stage sees the
// same canonical text, so width variants, zero-width characters, homoglyphs,
// spaced-out letters and encoded payloads cannot hide intent. Also the simple
// decodings the classifier applies to hidden text: base64, hex, ROT13,
// reversed text and leetspeak.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/base/status.h"

namespace firebreak::classify {

// Returns the byte offset of the first invalid UTF-8 sequence, or npos.
std::size_t FindInvalidUtf8(std::string_view text);

// NFKC, case fold, diacritics stripped, default-ignorable (zero-width) and
// control characters removed, Cyrillic/Greek look-alikes folded to Latin
// inside Latin-looking words, letters spelled out with separators joined
// ("b.u.l.k" -> "bulk"), whitespace collapsed to single spaces.
// InvalidArgument (with the byte offset) for invalid UTF-8. With
// `line_breaks`, also appends the offsets in the result at which a collapsed
// run of whitespace held a line break (ascending), so sentence and list
// boundaries survive the collapse.
base::StatusOr<std::string> Normalize(std::string_view text,
                                      std::vector<std::uint32_t>* line_breaks = nullptr);

// How a text the classifier scored was decoded from the text as written.
enum class Decoding : std::uint8_t { kNone, kBase64, kHex, kRot13, kReversed, kLeetspeak };
std::string_view DecodingName(Decoding decoding);  // "none", "base64", "hex", "rot13", ...

struct DecodedPayload {
  std::string text;
  Decoding decoding = Decoding::kBase64;
};

// Decodes base64 and hex runs (>= 20 characters) found in `text` whose
// decoded bytes are printable UTF-8 text. Returns the decoded texts, in order.
std::vector<DecodedPayload> DecodeEmbeddedPayloads(std::string_view text);

// ROT13 of the ASCII letters of `text`; everything else is kept.
std::string Rot13(std::string_view text);

// `text` with its code points in reverse order (valid UTF-8 in, valid out).
std::string Reversed(std::string_view text);

// Normalised text with leetspeak words spelled in letters ("tr4ck 3v3ry
// c1t1z3n" -> "track every citizen", "p@ttern" -> "pattern"), or nothing
// when no word of it is leetspeak. A leetspeak word mixes letters with digits
// or @ $ | standing for letters, with such a character between two letters or
// at least two of them, and has two letters or more (one, with a symbol:
// "$h3"); codes such as "f-35", "0340z" or "mq9" are not.
std::optional<std::string> DecodeLeetspeak(std::string_view normalized);

}  // namespace firebreak::classify
