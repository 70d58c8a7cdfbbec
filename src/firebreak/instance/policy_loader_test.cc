// The policy loader on the shipped policy, its model and the demo trust: a
// signed bundle verifies; a bundle whose model changed after signing is
// refused for its signatures before anything of it is compiled; an unsigned
// policy loads only with --allow-unsigned.
#include "firebreak/instance/policy_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "firebreak/base/test_dir.h"

namespace firebreak::instance {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

const fs::path kSource = FIREBREAK_SOURCE_DIR;
const fs::path kTrust = kSource / "keys/demo/trust.yaml";

class PolicyLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = base::FreshTestDir("fb-loader");
    for (const char* f :
         {"defense-standard.yaml", "defense-standard.yaml.sig", "defense-standard.model"}) {
      fs::copy_file(kSource / "policies" / f, dir_ / f);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Overwrite(const char* file, std::string_view bytes) {
    std::ofstream(dir_ / file, std::ios::trunc | std::ios::binary) << bytes;
  }

  fs::path policy() const { return dir_ / "defense-standard.yaml"; }
  fs::path dir_;
};

TEST_F(PolicyLoaderTest, TheSignedBundleVerifiesAndIsCompiled) {
  base::StatusOr<LoadedPolicy> loaded = LoadActivePolicy(policy(), {.trust = kTrust});
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(loaded->active->verified);
  EXPECT_EQ(loaded->active->signers.size(), 2u);
  EXPECT_EQ(loaded->active->signer_keys.size(), 2u);
  EXPECT_EQ(loaded->active->digest.size(), 64u);
  EXPECT_EQ(fs::path(loaded->model_file).filename(), "defense-standard.model");
  ASSERT_NE(loaded->active->core, nullptr);
  EXPECT_FALSE(loaded->active->core->classifier().model_sha256().empty());
  EXPECT_THAT(SignerSummary(*loaded), HasSubstr("✓"));
}

TEST_F(PolicyLoaderTest, AModelChangedAfterSigningIsRefusedBeforeItIsCompiled) {
  // Not a model at all: compiling it would fail with "is not a Firebreak
  // linear model". The signatures are checked first, so that is never seen.
  Overwrite("defense-standard.model", "not a model");
  base::StatusOr<LoadedPolicy> loaded = LoadActivePolicy(policy(), {.trust = kTrust});
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("is signed by 0 of the 2 parties"));
  EXPECT_THAT(loaded.status().message(), Not(HasSubstr("linear model")));
}

TEST_F(PolicyLoaderTest, APolicyEditedAfterSigningIsRefused) {
  std::ifstream in(policy());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text += "\n# an edit after signing\n";
  Overwrite("defense-standard.yaml", text);
  base::StatusOr<LoadedPolicy> loaded = LoadActivePolicy(policy(), {.trust = kTrust});
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("firebreak sign"));
}

TEST_F(PolicyLoaderTest, WithoutTrustOnlyAllowUnsignedLoadsAndTheModelIsStillChecked) {
  base::StatusOr<LoadedPolicy> refused = LoadActivePolicy(policy(), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("no trust file"));

  base::StatusOr<LoadedPolicy> unsigned_policy =
      LoadActivePolicy(policy(), {.allow_unsigned = true});
  ASSERT_TRUE(unsigned_policy.ok()) << unsigned_policy.status().ToString();
  EXPECT_FALSE(unsigned_policy->active->verified);
  EXPECT_THAT(SignerSummary(*unsigned_policy), HasSubstr("UNSIGNED"));

  Overwrite("defense-standard.model", "not a model");
  base::StatusOr<LoadedPolicy> broken = LoadActivePolicy(policy(), {.allow_unsigned = true});
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.status().message(), HasSubstr("is not a Firebreak linear model"));
}

}  // namespace
}  // namespace firebreak::instance
