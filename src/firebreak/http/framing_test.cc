#include "firebreak/http/framing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace firebreak::http {
namespace {

using ::testing::HasSubstr;

constexpr std::size_t kNone = std::string_view::npos;

TEST(FirstNonTextTest, AcceptsUtf8TextAndFindsTheFirstBadByte) {
  EXPECT_EQ(FirstNonText("plain ascii", false), kNone);
  EXPECT_EQ(FirstNonText("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", false), kNone);
  bool control = true;
  EXPECT_EQ(FirstNonText("ab\xFF", false, &control), 2u);
  EXPECT_FALSE(control);
  EXPECT_EQ(FirstNonText("ab\xC3", false), 2u);            // cut short
  EXPECT_EQ(FirstNonText("\xC0\xAF", false), 0u);          // overlong '/'
  EXPECT_EQ(FirstNonText("\xE0\x80\xAF", false), 0u);      // overlong
  EXPECT_EQ(FirstNonText("\xED\xA0\x80", false), 0u);      // a surrogate
  EXPECT_EQ(FirstNonText("\xF4\x90\x80\x80", false), 0u);  // past U+10FFFF
  EXPECT_EQ(FirstNonText("x\xE2\x82", false), 1u);         // truncated
  EXPECT_EQ(FirstNonText("x\xE2(\xAC", false), 1u);        // bad continuation
}

TEST(FirstNonTextTest, FindsControlCharactersButAllowsTabWhenAsked) {
  bool control = false;
  EXPECT_EQ(FirstNonText("a\x01", true, &control), 1u);
  EXPECT_TRUE(control);
  EXPECT_EQ(FirstNonText("a\x7F", true), 1u);
  EXPECT_EQ(FirstNonText("a\xC2\x85", true, &control), 1u);  // NEL, a C1 control
  EXPECT_TRUE(control);
  EXPECT_EQ(FirstNonText("a\xC2\xA0", true), kNone);  // NBSP is text
  EXPECT_EQ(FirstNonText("a\tb", true), kNone);
  EXPECT_EQ(FirstNonText("a\tb", false), 1u);
  EXPECT_EQ(FirstNonText("a\nb", true), 1u);
}

TEST(FindHeadEndTest, FindsTheEmptyLineAndRefusesBareLf) {
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(FindHeadEnd(head + "next").size, head.size());
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n").size, 0u);
  EXPECT_FALSE(FindHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n").bare_lf);
  EXPECT_TRUE(FindHeadEnd("GET / HTTP/1.1\nHost: a").bare_lf);
  EXPECT_TRUE(FindHeadEnd("GET / HTTP/1.1\r\nHost: a\n\n").bare_lf);
  EXPECT_TRUE(FindHeadEnd("\n").bare_lf);
  // Scanning on from where an earlier call stopped, across the CR LF.
  const std::string split = "GET / HTTP/1.1\r\nHost: a\r\n\r";
  EXPECT_EQ(FindHeadEnd(split, split.size()).size, 0u);
  EXPECT_EQ(FindHeadEnd(split + "\n", split.size()).size, head.size());
  EXPECT_TRUE(FindHeadEnd("GET / HTTP/1.1\r\nHost: a\r\nX\n", 26).bare_lf);
}

HeadRefusal Check(std::string_view fields) {
  return CheckHead("POST /v1/messages?x=1 HTTP/1.1\r\nHost: a\r\n" + std::string(fields) + "\r\n");
}

TEST(CheckHeadTest, AcceptsAnOrdinaryHead) {
  EXPECT_EQ(Check("Content-Length: 5\r\nX-Note: caf\xC3\xA9\tok\r\n").status, 0);
  EXPECT_EQ(Check("Transfer-Encoding: chunked\r\n").status, 0);
  EXPECT_EQ(Check("transfer-encoding: ChUnKeD \r\n").status, 0);
}

TEST(CheckHeadTest, RefusesTransferCodingsOtherThanChunkedWith501) {
  for (const char* coding : {"identity", "gzip", "xchunked", "chunked2", "gzip, chunked",
                             "chunked, gzip", "chunked,", "deflate;q=1"}) {
    const HeadRefusal r = Check(std::string("Transfer-Encoding: ") + coding + "\r\n");
    EXPECT_EQ(r.status, 501) << coding;
    EXPECT_THAT(r.message, HasSubstr("only chunked")) << coding;
    EXPECT_EQ(r.target, "/v1/messages?x=1") << coding;
  }
  EXPECT_EQ(Check("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n").status, 501);
  EXPECT_EQ(Check("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n").status, 501);
}

TEST(CheckHeadTest, RefusesTransferEncodingWithContentLengthWith400) {
  for (const char* fields : {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                             "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                             "Content-Length: 5\r\nTransfer-Encoding: gzip\r\n"}) {
    const HeadRefusal r = Check(fields);
    EXPECT_EQ(r.status, 400) << fields;
    EXPECT_THAT(r.message, HasSubstr("Content-Length")) << fields;
  }
}

TEST(CheckHeadTest, RefusesFieldValuesThatAreNotTextNamingTheHeader) {
  HeadRefusal r = Check("X-Trace: ab\xFF\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.message, HasSubstr("'X-Trace'"));
  EXPECT_THAT(r.message, HasSubstr("UTF-8"));
  r = Check("X-Trace: a\x01z\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.message, HasSubstr("'X-Trace' contains the control character U+0001"));
  r = Check("X-Trace: a\xC2\x85z\r\n");
  EXPECT_THAT(r.message, HasSubstr("U+0085"));
  r = Check("Authorization: Bearer \x7F\r\n");
  EXPECT_THAT(r.message, HasSubstr("'Authorization'"));
}

TEST(CheckHeadTest, RefusesFoldedFieldsAndBadNames) {
  HeadRefusal r = Check("X-Long: a\r\n b\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.message, HasSubstr("'X-Long' is folded"));
  EXPECT_EQ(Check("Bad Name: a\r\n").status, 400);
  EXPECT_EQ(Check("NoColon\r\n").status, 400);
}

TEST(CheckHeadTest, RefusesATargetThatIsNotUtf8) {
  const HeadRefusal r = CheckHead("GET /a\xFF HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.message, HasSubstr("target is not valid UTF-8"));
  EXPECT_EQ(CheckHead("GET /caf\xC3\xA9 HTTP/1.1\r\nHost: a\r\n\r\n").status, 0);
}

TEST(HasBareLfTest, FindsLfWithoutCr) {
  EXPECT_FALSE(HasBareLf(""));
  EXPECT_FALSE(HasBareLf("\r\n0\r\n\r"));
  EXPECT_FALSE(HasBareLf("1f"));
  EXPECT_TRUE(HasBareLf("0\n"));
  EXPECT_TRUE(HasBareLf("0\r\n\n"));
  EXPECT_TRUE(HasBareLf("\n"));
  EXPECT_TRUE(HasBareLf("\r\n5\n"));
}

}  // namespace
}  // namespace firebreak::http
