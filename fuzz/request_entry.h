// The one call the request and translation targets make into the API
// module: a request body in one dialect -> its document and the
// conversation the classifier reads. When the request parser changes, this
// function is the only place of the fuzz targets to change.
#pragma once

#include <boost/json/value.hpp>
#include <string_view>
#include <utility>

#include "firebreak/api/request.h"
#include "firebreak/base/conversation.h"
#include "firebreak/base/status.h"

namespace firebreak::fuzz {

struct ParsedRequest {
  boost::json::value document;      // what would be forwarded or translated
  base::Conversation conversation;  // what is classified
};

// The production limits (config::ListenConfig's defaults).
inline base::StatusOr<ParsedRequest> ParseRequest(std::string_view body, api::Dialect dialect) {
  base::StatusOr<boost::json::value> document = api::ParseJson(body, api::ParseLimits{});
  if (!document.ok()) {
    return document.status();
  }
  base::StatusOr<base::Conversation> conversation = api::ConversationOf(*document, dialect);
  if (!conversation.ok()) {
    return conversation.status();
  }
  return ParsedRequest{std::move(document).value(), std::move(conversation).value()};
}

}  // namespace firebreak::fuzz
