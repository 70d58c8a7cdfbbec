#include "firebreak/audit/record.h"

#include <array>
#include <charconv>
#include <cstring>
#include <ctime>
#include <iterator>

namespace firebreak::audit {
namespace {

// The bytes a JSON string must escape: the control characters, '"' and '\\'.
constexpr auto kEscaped = [] {
  std::array<bool, 256> escaped{};
  for (int c = 0; c < 0x20; ++c) {
    escaped[static_cast<std::size_t>(c)] = true;
  }
  escaped['"'] = escaped['\\'] = true;
  return escaped;
}();

constexpr std::uint64_t kOnes = 0x0101010101010101;

// Whether any of 8 bytes is one a JSON string must escape: below 0x20, '"'
// or '\\' (exact: no false positives).
bool AnyEscaped(std::uint64_t w) {
  constexpr std::uint64_t kHigh = 0x8080808080808080;
  const std::uint64_t quote = w ^ (kOnes * '"');
  const std::uint64_t backslash = w ^ (kOnes * '\\');
  return ((((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) |
           ((backslash - kOnes) & ~backslash)) &
          kHigh) != 0;
}

// Whether `s` holds a byte to escape: eight bytes at a time, the last ones
// by a load that overlaps the one before (never a short copy into a word,
// which would stall the CPU's store forwarding). A string shorter than eight
// bytes (most keys) is checked as one word too: two overlapping 4-byte
// loads, or its first, middle and last bytes among bytes that need none.
bool NeedsEscaping(std::string_view s) {
  const std::size_t n = s.size();
  if (n < 8) {
    std::uint64_t w = kOnes * 'a';
    if (n >= 4) {
      std::uint32_t first;
      std::uint32_t last;
      std::memcpy(&first, s.data(), 4);
      std::memcpy(&last, s.data() + n - 4, 4);
      w = first | (std::uint64_t{last} << 32);
    } else if (n > 0) {
      auto byte = [&](std::size_t at) { return std::uint64_t{static_cast<unsigned char>(s[at])}; };
      w = (w & ~std::uint64_t{0xffffff}) | byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16;
    }
    return AnyEscaped(w);
  }
  auto word = [&](std::size_t at) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + at, 8);
    return w;
  };
  for (std::size_t i = 0; i + 8 < n; i += 8) {
    if (AnyEscaped(word(i))) {
      return true;
    }
  }
  return AnyEscaped(word(n - 8));
}

// Appends to a string through a pointer into its buffer. The encoder
// writes many short runs, for which std::string's push_back and append, a
// call each with its own checks, cost more than the bytes (BM_Encode: 12-22 %
// less time). While the writer lives, the string may hold up to kSlack
// bytes past what was written (zeroes); they go when it is destroyed.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out), size_(out.size()) {}
  ~Writer() { out_.resize(size_); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  std::size_t size() const { return size_; }

  // Room for `n` more bytes at the end; Advance(k) keeps k of them.
  char* Room(std::size_t n) {
    if (out_.size() - size_ < n) {
      out_.resize(size_ + std::max(n, kSlack));
    }
    return out_.data() + size_;
  }
  void Advance(std::size_t n) { size_ += n; }

  void Put(char c) {
    *Room(1) = c;
    ++size_;
  }
  void Put(std::string_view s) {
    std::memcpy(Room(s.size()), s.data(), s.size());
    size_ += s.size();
  }
  void Put(std::int64_t i) {
    char* at = Room(20);
    size_ += static_cast<std::size_t>(std::to_chars(at, at + 20, i).ptr - at);
  }

 private:
  static constexpr std::size_t kSlack = 256;

  std::string& out_;
  std::size_t size_;
};

// `s` as a JSON string, then a colon if `colon` (an object's key): in one
// write when it needs no escaping (the common case).
void PutString(Writer& out, std::string_view s, bool colon = false) {
  if (!NeedsEscaping(s)) {
    const std::size_t n = s.size() + 2 + (colon ? 1 : 0);
    char* at = out.Room(n);
    at[0] = '"';
    std::memcpy(at + 1, s.data(), s.size());
    at[s.size() + 1] = '"';
    if (colon) {
      at[s.size() + 2] = ':';
    }
    out.Advance(n);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.Put('"');
  // Runs that need no escaping are written whole.
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (!kEscaped[u]) {
      continue;
    }
    out.Put(s.substr(run, i - run));
    run = i + 1;
    switch (u) {
      case '"':
        out.Put("\\\"");
        break;
      case '\\':
        out.Put("\\\\");
        break;
      case '\n':
        out.Put("\\n");
        break;
      case '\r':
        out.Put("\\r");
        break;
      case '\t':
        out.Put("\\t");
        break;
      case '\b':
        out.Put("\\b");
        break;
      case '\f':
        out.Put("\\f");
        break;
      default: {
        const char escape[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
        out.Put(std::string_view(escape, sizeof(escape)));
      }
    }
  }
  out.Put(s.substr(run));
  out.Put('"');
  if (colon) {
    out.Put(':');
  }
}

// An object's key and its colon, after a comma unless it is the first.
void PutKey(Writer& out, std::string_view key, bool first) {
  if (!first) {
    out.Put(',');
  }
  PutString(out, key, /*colon=*/true);
}

void PutValue(Writer& out, const Value& value) {
  struct Visitor {
    Writer& out;
    void operator()(std::nullptr_t) const { out.Put("null"); }
    void operator()(bool b) const { out.Put(b ? "true" : "false"); }
    void operator()(std::int64_t i) const { out.Put(i); }
    void operator()(const std::string& s) const { PutString(out, s); }
    void operator()(const Value::Array& a) const {
      out.Put('[');
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (i > 0) {
          out.Put(',');
        }
        PutValue(out, a[i]);
      }
      out.Put(']');
    }
    void operator()(const Value::Object& o) const {
      out.Put('{');
      bool first = true;
      for (const auto& [key, v] : o) {  // std::map: sorted by byte order
        PutKey(out, key, first);
        first = false;
        PutValue(out, v);
      }
      out.Put('}');
    }
  };
  std::visit(Visitor{out}, value.variant());
}

}  // namespace

void Value::AppendCanonical(std::string& out) const {
  Writer writer(out);
  PutValue(writer, *this);
}

PreparedRecord PrepareRecord(const AuditRecord& record, std::string_view instance) {
  PreparedRecord prepared;
  prepared.text.reserve(1024);
  PrepareRecord(record, instance, prepared);
  return prepared;
}

void PrepareRecord(const AuditRecord& record, std::string_view instance, PreparedRecord& prepared) {
  // The fields and the reserved names, merged in key order (a reserved name
  // in the fields is overwritten).
  static constexpr std::string_view kReserved[] = {"instance", "kind", "seq", "time", "v"};
  prepared.kind = record.kind;
  prepared.text.clear();
  Writer out(prepared.text);
  out.Put('{');
  auto reserved = [&](std::string_view name) {
    PutKey(out, name, out.size() == 1);
    switch (name[0]) {  // the reserved names differ in their first byte
      case 'i':
        PutString(out, instance);
        break;
      case 'k':
        PutString(out, record.kind);
        break;
      case 's':
        prepared.seq_at = out.size();
        break;
      case 't':
        out.Put("\"\"");
        prepared.time_at = out.size() - 1;
        break;
      default:
        out.Put(std::int64_t{kSchemaVersion});
    }
  };
  // Byte order, as std::map's; most names differ from a reserved one in
  // their first byte (no call to memcmp).
  auto before = [](std::string_view a, std::string_view b) {
    if (!a.empty() && !b.empty() && a[0] != b[0]) {
      return static_cast<unsigned char>(a[0]) < static_cast<unsigned char>(b[0]);
    }
    return a < b;
  };
  std::size_t r = 0;
  for (const auto& [name, value] : record.fields) {
    for (; r < std::size(kReserved) && before(kReserved[r], name); ++r) {
      reserved(kReserved[r]);
    }
    if (r < std::size(kReserved) && kReserved[r] == name) {
      continue;
    }
    PutKey(out, name, out.size() == 1);
    PutValue(out, value);
  }
  for (; r < std::size(kReserved); ++r) {
    reserved(kReserved[r]);
  }
  out.Put('}');
}

void FinishRecord(const PreparedRecord& prepared, std::uint64_t seq, std::string_view time,
                  std::string& out) {
  const std::string_view text = prepared.text;
  char digits[24];
  const auto [end, ec] = std::to_chars(std::begin(digits), std::end(digits), seq);
  out.reserve(out.size() + text.size() + static_cast<std::size_t>(end - digits) + time.size());
  out.append(text.substr(0, prepared.seq_at));
  out.append(digits, end);
  out.append(text.substr(prepared.seq_at, prepared.time_at - prepared.seq_at));
  out.append(time);
  out.append(text.substr(prepared.time_at));
}

std::string EncodeRecord(const AuditRecord& record, std::uint64_t seq, std::string_view time,
                         std::string_view instance) {
  std::string out;
  FinishRecord(PrepareRecord(record, instance), seq, time, out);
  return out;
}

base::Sha256 ChainHash(const base::Sha256& previous, std::string_view body) {
  return base::Sha256Of({base::AsBytes(previous), body});
}

std::string FormatTime(std::int64_t unix_micros) {
  // The date and time of day change once a second: each thread keeps the
  // last one formatted (the audit writer formats a time per group).
  thread_local std::int64_t cached_second = -1;
  thread_local std::string cached;
  const std::int64_t second = unix_micros / 1000000;
  if (second != cached_second) {
    const auto seconds = static_cast<std::time_t>(second);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buf[40];
    cached.assign(buf, std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc));
    cached_second = second;
  }
  std::string out;
  out.reserve(cached.size() + 8);
  out = cached;
  out.resize(out.size() + 8);
  char* frac = out.data() + out.size() - 8;
  frac[0] = '.';
  auto micros = static_cast<std::uint32_t>(unix_micros % 1000000);
  for (int i = 6; i >= 1; --i) {
    frac[i] = static_cast<char>('0' + micros % 10);
    micros /= 10;
  }
  frac[7] = 'Z';
  return out;
}

namespace {

// The end of the JSON value that starts at `at` (a string, an object, an
// array or a scalar); json.size() if it does not end.
std::size_t ValueEnd(std::string_view json, std::size_t at) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = at; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) {
          return i + 1;
        }
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) {
        return i;  // the end of the enclosing object: a scalar ends here
      }
      if (--depth == 0) {
        return i + 1;
      }
    } else if (c == ',' && depth == 0) {
      return i;
    }
  }
  return json.size();
}

}  // namespace

std::optional<std::string_view> TopLevelValue(std::string_view json, std::string_view key) {
  // Keys and values alternate at depth 1; inside strings a quote is always
  // escaped.
  if (json.empty() || json[0] != '{') {
    return std::nullopt;
  }
  std::size_t i = 1;
  while (i < json.size() && json[i] == '"') {
    const std::size_t key_end = ValueEnd(json, i);
    if (key_end >= json.size() || json[key_end] != ':') {
      return std::nullopt;
    }
    const std::size_t value_at = key_end + 1;
    const std::size_t value_end = ValueEnd(json, value_at);
    if (json.substr(i + 1, key_end - i - 2) == key) {
      return json.substr(value_at, value_end - value_at);
    }
    if (value_end >= json.size() || json[value_end] != ',') {
      return std::nullopt;
    }
    i = value_end + 1;
  }
  return std::nullopt;
}

std::optional<std::string_view> TopLevelString(std::string_view json, std::string_view key) {
  const std::optional<std::string_view> v = TopLevelValue(json, key);
  if (!v || v->size() < 2 || v->front() != '"' || v->back() != '"' ||
      v->find('\\') != std::string_view::npos) {
    return std::nullopt;
  }
  return v->substr(1, v->size() - 2);
}

std::optional<std::uint64_t> TopLevelNumber(std::string_view json, std::string_view key) {
  const std::optional<std::string_view> v = TopLevelValue(json, key);
  std::uint64_t n = 0;
  if (!v || v->empty() ||
      std::from_chars(v->data(), v->data() + v->size(), n).ptr != v->data() + v->size()) {
    return std::nullopt;
  }
  return n;
}

}  // namespace firebreak::audit
