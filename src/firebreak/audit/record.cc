#include "firebreak/audit/record.h"

#include <ctime>

namespace firebreak::audit {
namespace {

void AppendString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  // Runs that need no escaping are appended whole.
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && c != '"' && c != '\\') {
      continue;
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
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
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xf]);
        }
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

std::string EncodeRecord(const AuditRecord& record, std::uint64_t seq, std::string_view time,
                         std::string_view instance) {
  // The fields and the reserved names, merged in key order without copying
  // the fields (a reserved name in the fields is overwritten).
  const Value::Object reserved{{"instance", instance},
                               {"kind", record.kind},
                               {"seq", seq},
                               {"time", time},
                               {"v", kSchemaVersion}};
  std::string out;
  out.reserve(1024);
  out.push_back('{');
  bool first = true;
  auto append = [&](const std::string& key, const Value& value) {
    out += first ? "" : ",";
    first = false;
    AppendString(out, key);
    out.push_back(':');
    value.AppendCanonical(out);
  };
  auto r = reserved.begin();
  for (const auto& [key, value] : record.fields) {
    for (; r != reserved.end() && r->first < key; ++r) {
      append(r->first, r->second);
    }
    if (r != reserved.end() && r->first == key) {
      continue;
    }
    append(key, value);
  }
  for (; r != reserved.end(); ++r) {
    append(r->first, r->second);
  }
  out.push_back('}');
  return out;
}

base::Sha256 ChainHash(const base::Sha256& previous, std::string_view body) {
  std::string bytes(base::AsBytes(previous));
  bytes.append(body);
  return base::Sha256Of(bytes);
}

std::string FormatTime(std::int64_t unix_micros) {
  const std::time_t seconds = static_cast<std::time_t>(unix_micros / 1000000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  char frac[16];
  std::snprintf(frac, sizeof(frac), ".%06lldZ", static_cast<long long>(unix_micros % 1000000));
  return std::string(buf, n) + frac;
}

}  // namespace firebreak::audit
