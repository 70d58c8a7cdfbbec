#include "firebreak/base/signing.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace firebreak::base {
namespace {

TEST(SigningTest, SignsAndVerifies) {
  SigningKey key = SigningKey::Generate().value();
  const std::string signature = key.Sign("checkpoint 42");
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_TRUE(VerifySignature(key.PublicPem(), "checkpoint 42", signature).value());
  EXPECT_FALSE(VerifySignature(key.PublicPem(), "checkpoint 43", signature).value());
  std::string bad = signature;
  bad[0] ^= 1;
  EXPECT_FALSE(VerifySignature(key.PublicPem(), "checkpoint 42", bad).value());
  SigningKey other = SigningKey::Generate().value();
  EXPECT_FALSE(VerifySignature(other.PublicPem(), "checkpoint 42", signature).value());
  EXPECT_FALSE(VerifySignature("not a key", "x", signature).ok());
}

TEST(SigningTest, SavesWithOwnerOnlyPermissionsAndLoads) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("fb-key-" + std::to_string(::getpid()) + ".pem");
  std::filesystem::remove(path);
  SigningKey key = SigningKey::Generate().value();
  ASSERT_TRUE(key.SavePem(path).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_FALSE(key.SavePem(path).ok());  // never overwrites a key
  SigningKey loaded = SigningKey::LoadPem(path).value();
  EXPECT_EQ(loaded.PublicPem(), key.PublicPem());
  EXPECT_TRUE(VerifySignature(key.PublicPem(), "m", loaded.Sign("m")).value());
  std::filesystem::remove(path);
  EXPECT_EQ(SigningKey::LoadPem(path).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace firebreak::base
