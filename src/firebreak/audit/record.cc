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

// Whether any of 8 bytes is one a JSON string must escape: below 0x20, '"'
// or '\\' (exact: no false positives).
bool AnyEscaped(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101;
  constexpr std::uint64_t kHigh = 0x8080808080808080;
  const std::uint64_t quote = w ^ (kOnes * '"');
  const std::uint64_t backslash = w ^ (kOnes * '\\');
  return ((((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) |
           ((backslash - kOnes) & ~backslash)) &
          kHigh) != 0;
}

// Whether `s` holds a byte to escape: eight bytes at a time, the last few
// one by one (a short copy into a word and its load would stall the CPU's
// store forwarding).
bool NeedsEscaping(std::string_view s) {
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (AnyEscaped(w)) {
      return true;
    }
  }
  for (; i < s.size(); ++i) {
    if (kEscaped[static_cast<unsigned char>(s[i])]) {
      return true;
    }
  }
  return false;
}

void AppendString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (!NeedsEscaping(s)) {  // the common case
    out.push_back('"');
    out.append(s);
    out.push_back('"');
    return;
  }
  out.push_back('"');
  // Runs that need no escaping are appended whole.
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (!kEscaped[u]) {
      continue;
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (u) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out.push_back(kHex[u >> 4]);
        out.push_back(kHex[u & 0xf]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

}  // namespace

void Value::AppendCanonical(std::string& out) const {
  struct Visitor {
    std::string& out;
    void operator()(std::nullptr_t) const { out += "null"; }
    void operator()(bool b) const { out += b ? "true" : "false"; }
    void operator()(std::int64_t i) const { out += std::to_string(i); }
    void operator()(const std::string& s) const { AppendString(out, s); }
    void operator()(const Array& a) const {
      out.push_back('[');
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (i > 0) {
          out.push_back(',');
        }
        a[i].AppendCanonical(out);
      }
      out.push_back(']');
    }
    void operator()(const Object& o) const {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, value] : o) {  // std::map: sorted by byte order
        if (!first) {
          out.push_back(',');
        }
        first = false;
        AppendString(out, key);
        out.push_back(':');
        value.AppendCanonical(out);
      }
      out.push_back('}');
    }
  };
  std::visit(Visitor{out}, v_);
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
  std::string& out = prepared.text;
  out.clear();
  out.push_back('{');
  auto key = [&](std::string_view name) {
    if (out.size() > 1) {
      out.push_back(',');
    }
    AppendString(out, name);
    out.push_back(':');
  };
  auto reserved = [&](std::string_view name) {
    key(name);
    if (name == "instance") {
      AppendString(out, instance);
    } else if (name == "kind") {
      AppendString(out, record.kind);
    } else if (name == "seq") {
      prepared.seq_at = out.size();
    } else if (name == "time") {
      out += "\"\"";
      prepared.time_at = out.size() - 1;
    } else {
      out += std::to_string(kSchemaVersion);
    }
  };
  const std::string_view* r = std::begin(kReserved);
  for (const auto& [name, value] : record.fields) {
    for (; r != std::end(kReserved) && *r < name; ++r) {
      reserved(*r);
    }
    if (r != std::end(kReserved) && *r == name) {
      continue;
    }
    key(name);
    value.AppendCanonical(out);
  }
  for (; r != std::end(kReserved); ++r) {
    reserved(*r);
  }
  out.push_back('}');
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

}  // namespace firebreak::audit
