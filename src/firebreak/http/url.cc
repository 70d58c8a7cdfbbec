#include "firebreak/http/url.h"

#include <boost/url/parse.hpp>

namespace firebreak::http {

base::StatusOr<Url> ParseUrl(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return base::InvalidArgument("invalid URL '" + url + "': " + parsed.error().message());
  }
  const std::string scheme(parsed->scheme());
  if (scheme != "http" && scheme != "https") {
    return base::InvalidArgument("URL '" + url + "' must be http:// or https://");
  }
  Url u;
  u.tls = scheme == "https";
  u.host = std::string(parsed->host());
  if (u.host.empty()) {
    return base::InvalidArgument("URL '" + url + "' has no host");
  }
  u.port = parsed->has_port() ? std::string(parsed->port()) : (u.tls ? "443" : "80");
  u.path = std::string(parsed->encoded_target());
  if (u.path.empty()) {
    u.path = "/";
  }
  return u;
}

}  // namespace firebreak::http
