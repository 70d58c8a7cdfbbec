#include "firebreak/http/client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "firebreak/http/test_receiver.h"

namespace firebreak::http {
namespace {

using ::testing::HasSubstr;

TEST(ClientTest, PostsToARealServer) {
  TestReceiver receiver;
  const unsigned short port = receiver.Start();
  ASSERT_NE(port, 0);
  base::StatusOr<Response> r =
      Send({.method = "POST",
            .url = "http://127.0.0.1:" + std::to_string(port) + "/hook?x=1",
            .headers = {{"Content-Type", "application/json"}, {"Idempotency-Key", "abc-1"}},
            .body = R"({"a":1})"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  std::vector<ReceivedRequest> got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/hook?x=1");
  EXPECT_EQ(got[0].headers["idempotency-key"], "abc-1");
  EXPECT_EQ(got[0].body, R"({"a":1})");
}

TEST(ClientTest, StatusCodesAreResponsesNotErrors) {
  TestReceiver receiver;
  const unsigned short port = receiver.Start();
  receiver.set_status(503);
  base::StatusOr<Response> r = Send({.url = "http://127.0.0.1:" + std::to_string(port) + "/"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 503);
}

TEST(ClientTest, ConnectionRefusedIsUnavailable) {
  TestReceiver receiver;
  const unsigned short port = receiver.Start();
  receiver.Stop();
  base::StatusOr<Response> r = Send({.url = "http://127.0.0.1:" + std::to_string(port) + "/"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), base::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("refused"));
}

TEST(ClientTest, BadUrlsAreRejected) {
  EXPECT_EQ(Send({.url = "ftp://example.com/"}).status().code(),
            base::StatusCode::kInvalidArgument);
  EXPECT_EQ(Send({.url = "not a url"}).status().code(), base::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace firebreak::http
