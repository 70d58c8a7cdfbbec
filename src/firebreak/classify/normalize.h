// Text normalisation, the first step of classification: every stage sees the
// same canonical text, so width variants, zero-width characters, homoglyphs,
// spaced-out letters and encoded payloads cannot hide intent.
#pragma once

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
// InvalidArgument (with the byte offset) for invalid UTF-8.
base::StatusOr<std::string> Normalize(std::string_view text);

// Decodes base64 and hex runs (>= 20 characters) found in `text` whose
// decoded bytes are printable UTF-8 text. Returns the decoded texts, in order.
std::vector<std::string> DecodeEmbeddedPayloads(std::string_view text);

}  // namespace firebreak::classify
