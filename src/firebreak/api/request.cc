#include "firebreak/api/request.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <cmath>
#include <memory>
#include <unordered_set>
#include <vector>

#include "firebreak/base/utf8.h"

namespace firebreak::api {
namespace {

namespace json = boost::json;

std::string Location(std::string_view body, std::size_t offset) {
  offset = std::min(offset, body.size());
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (body[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "at byte " + std::to_string(offset) + " (line " + std::to_string(line) + ", column " +
         std::to_string(column) + ")";
}

// Boost.JSON's own handler (a value_stack) with the checks a security proxy
// needs on top: a duplicate key at any level is refused (parsers disagree on
// which one wins, so the classifier and the upstream could read different
// requests), and nesting is limited.
class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  // `temp` (optional) spares the value stack its first allocations.
  StrictHandler(std::size_t max_depth, unsigned char* temp, std::size_t size)
      : stack_(json::storage_ptr(), temp, size), max_depth_(max_depth) {}

  const std::string& problem() const { return problem_; }
  json::value Release() { return stack_.release(); }

  bool on_document_begin(boost::system::error_code&) {
    stack_.reset();
    return true;
  }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code& ec) {
    objects_.push_back({keys_.size(), nullptr});
    return Enter(ec);
  }
  bool on_object_end(std::size_t n, boost::system::error_code&) {
    keys_.resize(objects_.back().first_key);
    objects_.pop_back();
    --depth_;
    stack_.push_object(n);
    return true;
  }
  bool on_array_begin(boost::system::error_code& ec) { return Enter(ec); }
  bool on_array_end(std::size_t n, boost::system::error_code&) {
    --depth_;
    stack_.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    stack_.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, boost::system::error_code& ec) {
    const bool whole = key_.empty();  // else it came in parts (escapes)
    if (!whole) {
      key_.append(s.data(), s.size());
    }
    const std::string_view key = whole ? std::string_view(s.data(), s.size()) : key_;
    if (!Insert(key)) {
      problem_ = "duplicate key \"" + std::string(key) + "\" (each key may appear once per object)";
      ec = json::error::syntax;
      return false;
    }
    key_.clear();
    stack_.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, boost::system::error_code&) {
    stack_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, boost::system::error_code&) {
    stack_.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, boost::system::error_code&) {
    stack_.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, boost::system::error_code&) {
    stack_.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, boost::system::error_code& ec) {
    // A number past a double's range reads as infinity, which Boost.JSON
    // writes back as `Infinity`: a re-serialised request (a constraint
    // injected, a translation) would not be JSON.
    if (!std::isfinite(d)) {
      problem_ = "a number is too large (past the range of a double)";
      ec = json::error::exponent_overflow;
      return false;
    }
    stack_.push_double(d);
    return true;
  }
  bool on_bool(bool b, boost::system::error_code&) {
    stack_.push_bool(b);
    return true;
  }
  bool on_null(boost::system::error_code&) {
    stack_.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }

 private:
  // Adds `key` to the innermost open object's keys; false if it has it. The
  // keys of all open objects are one list; an object's are scanned linearly
  // while few, and hashed once many (an object of many keys must not cost
  // n^2).
  bool Insert(std::string_view key) {
    OpenObject& object = objects_.back();
    if (object.large != nullptr) {
      return object.large->emplace(key).second;
    }
    const auto first = keys_.begin() + static_cast<std::ptrdiff_t>(object.first_key);
    if (std::find(first, keys_.end(), key) != keys_.end()) {
      return false;
    }
    keys_.emplace_back(key);
    if (keys_.size() - object.first_key > kLinear) {
      object.large = std::make_unique<std::unordered_set<std::string>>(
          std::make_move_iterator(keys_.begin() + static_cast<std::ptrdiff_t>(object.first_key)),
          std::make_move_iterator(keys_.end()));
      keys_.resize(object.first_key);
    }
    return true;
  }

  static constexpr std::size_t kLinear = 32;
  struct OpenObject {
    std::size_t first_key;  // into keys_
    std::unique_ptr<std::unordered_set<std::string>> large;
  };

  bool Enter(boost::system::error_code& ec) {
    if (++depth_ > max_depth_) {
      problem_ = "the JSON body nests deeper than " + std::to_string(max_depth_) + " levels";
      ec = json::error::too_deep;
      return false;
    }
    return true;
  }

  json::value_stack stack_;
  std::size_t max_depth_;
  std::size_t depth_ = 0;
  std::vector<OpenObject> objects_;
  std::vector<std::string> keys_;
  std::string key_;
  std::string problem_;
};

}  // namespace

std::string_view DialectName(Dialect dialect) {
  static constexpr std::string_view kNames[kDialectCount] = {"openai", "anthropic", "gemini"};
  return kNames[static_cast<int>(dialect)];
}

base::StatusOr<json::value> ParseJson(std::string_view body, const ParseLimits& limits) {
  if (body.empty()) {
    return base::InvalidArgument("the request body is empty; expected a JSON object");
  }
  json::parse_options options;
  options.max_depth = limits.max_depth + 1;  // StrictHandler counts, to say what went wrong
  unsigned char temp[4096];
  json::basic_parser<StrictHandler> parser(options, limits.max_depth, temp, sizeof(temp));
  boost::system::error_code ec;
  const std::size_t consumed = parser.write_some(false, body.data(), body.size(), ec);
  if (!ec && parser.done()) {
    const std::size_t rest = body.find_first_not_of(" \t\r\n", consumed);
    if (rest != std::string_view::npos) {
      return base::InvalidArgument("unexpected data after the JSON document " +
                                   Location(body, rest));
    }
  }
  if (ec || !parser.done()) {
    // Boost.JSON validates UTF-8 as it reads strings; where it failed, say
    // so precisely (and only then: bad UTF-8 past where the parser stopped
    // is not why it stopped).
    if (const std::size_t bad = base::InvalidUtf8Offset(body.substr(0, consumed + 1));
        bad != std::string_view::npos) {
      return base::InvalidArgument("the request body is not valid UTF-8 " + Location(body, bad));
    }
    const std::string& problem = parser.handler().problem();
    const std::size_t offset = ec == json::error::incomplete ? body.size() : consumed;
    if (!problem.empty()) {
      return base::InvalidArgument(problem + " " + Location(body, offset));
    }
    return base::InvalidArgument("malformed JSON " + Location(body, offset) + ": " +
                                 (ec ? ec.message() : std::string("incomplete document")));
  }
  return parser.handler().Release();
}

std::string OpenAIErrorBody(std::string_view message, std::string_view type,
                            std::string_view code) {
  return json::serialize(json::object{
      {"error",
       json::object{{"message", message}, {"type", type}, {"code", code}, {"param", nullptr}}}});
}

std::string AnthropicErrorBody(std::string_view type, std::string_view message) {
  return json::serialize(json::object{
      {"type", "error"}, {"error", json::object{{"type", type}, {"message", message}}}});
}

std::string_view AnthropicErrorType(int status) {
  switch (status) {
    case 400:
    case 405:
    case 411:
    case 415:
    case 422:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 408:
    case 504:
      return "timeout_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return "api_error";
  }
}

}  // namespace firebreak::api
