// The strict reading of a request's framing, in front of Beast's parser: the
// request head (line endings, folded fields, targets and field values that
// are not UTF-8 text, transfer codings) and the chunk framing of a body.
// Plain functions on bytes; the listener (server.cc) calls them so that no
// two readers of one request can disagree on where it ends.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace firebreak::http {

// Where a request head ends in the bytes received so far.
struct HeadEnd {
  std::size_t size = 0;  // bytes of the head, its empty line included; 0: not all here yet
  bool bare_lf = false;  // a line of it ends in LF without CR (refused at once)
};

// `from`: how many bytes an earlier call already scanned without finding the
// end (each byte is then looked at once).
HeadEnd FindHeadEnd(std::string_view bytes, std::size_t from = 0);

// Why a head is refused: 400 (malformed) or 501 (a transfer coding other
// than chunked); status 0: accepted.
struct HeadRefusal {
  int status = 0;
  std::string message;
  std::string target;  // the request's, when its line could be read (it shapes the error)
};

// Checks a complete head (as FindHeadEnd delimited it):
// - the request line and every field value are UTF-8 text without control
//   characters (C0, DEL, C1), HTAB allowed in field values; the message
//   names the header;
// - no field is folded over lines (obsolete line folding);
// - Transfer-Encoding, when present, is one field saying exactly `chunked`
//   (case-insensitive): anything else is 501, and Transfer-Encoding with
//   Content-Length is 400 (either would let two readers split the stream
//   into different requests).
HeadRefusal CheckHead(std::string_view head);

// The bytes a chunked-body parser has received but not consumed, while it
// waits for the end of a chunk-size line or of the trailer section, are
// framing: true when a line in them ends in LF without CR.
bool HasBareLf(std::string_view pending_framing);

// The offset of the first byte of `text` that is not part of strict UTF-8
// (no overlong forms, surrogates or code points past U+10FFFF) or that
// encodes a control character (HTAB allowed when `allow_tab`); npos when
// there is none. `*control` (optional) tells which of the two it was.
std::size_t FirstNonText(std::string_view text, bool allow_tab, bool* control = nullptr);

}  // namespace firebreak::http
