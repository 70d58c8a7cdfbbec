#include "firebreak/http/framing.h"

#include <strings.h>

#include <cstdio>
#include <cstring>

#include "firebreak/base/utf8.h"

namespace firebreak::http {
namespace {

bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') {
    return true;
  }
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
    return true;
  }
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool IsToken(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!IsTokenChar(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

bool NameIs(std::string_view name, std::string_view expected) {
  return name.size() == expected.size() &&
         ::strncasecmp(name.data(), expected.data(), expected.size()) == 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// The code point of the character starting at `at` (the text is valid up
// to there and it is a control character), as U+XXXX.
std::string CodePointAt(std::string_view text, std::size_t at) {
  unsigned value = static_cast<unsigned char>(text[at]);
  if (value >= 0xC2 && at + 1 < text.size()) {
    value = ((value & 0x1F) << 6) | (static_cast<unsigned char>(text[at + 1]) & 0x3F);
  }
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "U+%04X", value);
  return buffer;
}

}  // namespace

std::size_t FirstNonText(std::string_view text, bool allow_tab, bool* control) {
  // Controls are ASCII bytes (C0 but a tab where allowed, DEL) or C1 (U+0080
  // to U+009F, C2 80-9F), which never occur inside another sequence.
  std::size_t first_control = std::string_view::npos;
  for (std::size_t i = 0; i < text.size() && first_control == std::string_view::npos; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool c1 = c == 0xC2 && i + 1 < text.size() &&
                    (static_cast<unsigned char>(text[i + 1]) & 0xE0) == 0x80;
    if ((c < 0x20 && !(c == '\t' && allow_tab)) || c == 0x7F || c1) {
      first_control = i;
    }
  }
  const std::size_t bad = base::InvalidUtf8Offset(text.substr(0, first_control));
  const std::size_t at = bad != std::string_view::npos ? bad : first_control;
  if (control != nullptr && at != std::string_view::npos) {
    *control = bad == std::string_view::npos;
  }
  return at;
}

HeadEnd FindHeadEnd(std::string_view bytes, std::size_t from) {
  // A LF at `from` needs the byte before it, which an earlier call saw.
  std::size_t i = from;
  while (i < bytes.size()) {
    const void* found = std::memchr(bytes.data() + i, '\n', bytes.size() - i);
    if (found == nullptr) {
      return {};
    }
    i = static_cast<std::size_t>(static_cast<const char*>(found) - bytes.data());
    if (i == 0 || bytes[i - 1] != '\r') {
      return {0, true};
    }
    if (i >= 3 && bytes[i - 2] == '\n' && bytes[i - 3] == '\r') {
      return {i + 1, false};
    }
    ++i;
  }
  return {};
}

HeadRefusal CheckHead(std::string_view head) {
  std::string_view target;
  auto refuse = [&target](int status, std::string message) {
    return HeadRefusal{status, std::move(message), std::string(target)};
  };
  auto malformed = [&refuse](std::string message) { return refuse(400, std::move(message)); };
  std::size_t at = head.find("\r\n");
  if (at == std::string_view::npos) {
    return malformed("malformed HTTP request: the request head does not end its lines with CRLF");
  }
  {
    const std::string_view line = head.substr(0, at);
    bool control = false;
    if (const std::size_t bad = FirstNonText(line, false, &control);
        bad != std::string_view::npos) {
      return malformed(control ? "the request line contains the control character " +
                                     CodePointAt(line, bad)
                               : std::string("the request target is not valid UTF-8"));
    }
    const std::size_t first = line.find(' ');
    const std::size_t last = line.rfind(' ');
    if (first != std::string_view::npos && last > first) {
      target = line.substr(first + 1, last - first - 1);
    }
  }
  std::string_view previous;  // the last field's name
  int transfer_encodings = 0;
  std::string_view transfer_encoding;
  bool content_length = false;
  while (true) {
    const std::size_t start = at + 2;
    at = head.find("\r\n", start);
    if (at == std::string_view::npos || at == start) {
      break;  // the empty line that ends the head
    }
    const std::string_view line = head.substr(start, at - start);
    if (line.front() == ' ' || line.front() == '\t') {
      return malformed(previous.empty()
                           ? std::string("malformed HTTP request: the first header line is "
                                         "indented")
                           : "header '" + std::string(previous) +
                                 "' is folded over lines (obsolete line folding is refused)");
    }
    const std::size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    if (colon == std::string_view::npos || !IsToken(name)) {
      return malformed("malformed HTTP request: a header line without a valid field name");
    }
    const std::string_view value = Trim(line.substr(colon + 1));
    bool control = false;
    if (const std::size_t bad = FirstNonText(value, true, &control);
        bad != std::string_view::npos) {
      return malformed("header '" + std::string(name) + "' " +
                       (control ? "contains the control character " + CodePointAt(value, bad)
                                : std::string("is not valid UTF-8")));
    }
    if (NameIs(name, "transfer-encoding")) {
      ++transfer_encodings;
      transfer_encoding = value;
    } else if (NameIs(name, "content-length")) {
      content_length = true;
    }
    previous = name;
  }
  if (transfer_encodings == 0) {
    return {};
  }
  if (content_length) {
    return malformed("Transfer-Encoding and Content-Length together are refused");
  }
  if (transfer_encodings > 1) {
    return refuse(501,
                  "Transfer-Encoding is given more than once; only a single chunked is supported");
  }
  if (!NameIs(transfer_encoding, "chunked")) {
    return refuse(501,
                  transfer_encoding.size() <= 64
                      ? "unsupported Transfer-Encoding '" + std::string(transfer_encoding) +
                            "': only chunked is supported"
                      : std::string("unsupported Transfer-Encoding: only chunked is supported"));
  }
  return {};
}

bool HasBareLf(std::string_view pending_framing) {
  for (std::size_t i = pending_framing.find('\n'); i != std::string_view::npos;
       i = pending_framing.find('\n', i + 1)) {
    if (i == 0 || pending_framing[i - 1] != '\r') {
      return true;
    }
  }
  return false;
}

}  // namespace firebreak::http
