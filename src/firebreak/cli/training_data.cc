#include "firebreak/cli/training_data.h"

#include <algorithm>
#include <boost/json.hpp>
#include <functional>
#include <map>

#include "firebreak/base/digest.h"

namespace firebreak::cli {
namespace {

namespace json = boost::json;
using classify::TrainingExample;

// Calls `visit` with each non-blank line of JSONL `text` (a JSON object) and
// its "path:line" location; stops at the first error.
base::Status ForEachJsonObject(
    std::string_view text, const std::string& path,
    const std::function<base::Status(const json::object&, const std::string&)>& visit) {
  return ForEachLine(text, [&](std::string_view row, int line) {
    const std::string where = path + ":" + std::to_string(line);
    boost::system::error_code ec;
    json::value v = json::parse(row, ec);
    if (ec || !v.is_object()) {
      return base::InvalidArgument(where + ": not a JSON object");
    }
    return visit(v.get_object(), where);
  });
}

// Splits CSV text into rows of fields (RFC 4180: quoted fields, "" escapes,
// newlines inside quotes).
std::vector<std::vector<std::string>> ParseCsv(std::string_view text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
        ++i;
      }
      rows.back().push_back(std::move(field));
      field.clear();
      rows.emplace_back();
    } else {
      field.push_back(c);
    }
  }
  if (!field.empty() || !rows.back().empty()) {
    rows.back().push_back(std::move(field));
  } else {
    rows.pop_back();
  }
  return rows;
}

}  // namespace

base::Status ForEachLine(std::string_view text,
                         const std::function<base::Status(std::string_view, int)>& visit) {
  std::size_t start = 0;
  int line = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    ++line;
    const std::string_view row = text.substr(start, end - start);
    start = end + 1;
    if (row.find_first_not_of(" \t\r") == std::string_view::npos) {
      continue;
    }
    FB_RETURN_IF_ERROR(visit(row, line));
  }
  return base::Status::Ok();
}

base::StatusOr<std::vector<std::string>> ReadPrompts(const std::string& path) {
  base::StatusOr<std::string> text = base::ReadFile(path);
  if (!text.ok()) {
    return text.status();
  }
  std::vector<std::string> prompts;
  if (path.ends_with(".csv")) {
    std::vector<std::vector<std::string>> rows = ParseCsv(*text);
    if (rows.empty()) {
      return base::InvalidArgument(path + ": empty CSV file");
    }
    std::size_t column = rows[0].size();
    for (std::string_view name : {"goal", "Behavior", "forbidden_prompt", "prompt", "text"}) {
      auto it = std::find(rows[0].begin(), rows[0].end(), name);
      if (it != rows[0].end()) {
        column = static_cast<std::size_t>(it - rows[0].begin());
        break;
      }
    }
    if (column == rows[0].size()) {
      return base::InvalidArgument(path +
                                   ": no goal, Behavior, forbidden_prompt, prompt or text column");
    }
    for (std::size_t r = 1; r < rows.size(); ++r) {
      if (column < rows[r].size() && !rows[r][column].empty()) {
        prompts.push_back(rows[r][column]);
      }
    }
    return prompts;
  }
  base::Status status =
      ForEachJsonObject(*text, path, [&](const json::object& o, const std::string& where) {
        const json::value* found = nullptr;
        for (std::string_view key : {"prompt", "text", "question"}) {
          if (const json::value* f = o.if_contains(key); f && f->is_string()) {
            found = f;
            break;
          }
        }
        if (found == nullptr) {
          if (const json::value* t = o.if_contains("turns");
              t && t->is_array() && !t->get_array().empty() && t->get_array()[0].is_string()) {
            found = &t->get_array()[0];
          }
        }
        if (found == nullptr) {
          return base::InvalidArgument(where + ": no prompt, text, question or turns field");
        }
        prompts.emplace_back(found->get_string());
        return base::Status::Ok();
      });
  if (!status.ok()) {
    return status;
  }
  return prompts;
}

base::Status ReadLabelled(const std::string& path, std::vector<TrainingExample>& out) {
  base::StatusOr<std::string> text = base::ReadFile(path);
  if (!text.ok()) {
    return text.status();
  }
  return ForEachJsonObject(*text, path, [&](const json::object& o, const std::string& where) {
    const json::value* t = o.if_contains("text");
    const json::value* l = o.if_contains("label");
    if (!t || !l || !t->is_string() || !l->is_string()) {
      return base::InvalidArgument(where + ": expected {\"text\": ..., \"label\": ...}");
    }
    out.push_back({std::string(t->get_string()), std::string(l->get_string())});
    return base::Status::Ok();
  });
}

std::vector<TrainingExample> PolicyExamples(const policy::PolicySet& policy) {
  std::vector<TrainingExample> out;
  std::map<std::string, std::string> claimed;
  for (const policy::Category& c : policy.categories()) {
    for (const std::string& e : c.examples) {
      out.push_back({e, c.id});
      claimed.emplace(e, c.id);
    }
  }
  for (const policy::Category& c : policy.categories()) {
    for (const std::string& e : c.counter_examples) {
      if (!claimed.contains(e)) {
        out.push_back({e, std::string(classify::kNoneLabel)});
        claimed.emplace(e, classify::kNoneLabel);
      }
    }
  }
  return out;
}

}  // namespace firebreak::cli
