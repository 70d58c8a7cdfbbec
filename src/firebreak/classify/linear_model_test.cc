#include "firebreak/classify/linear_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "firebreak/base/digest.h"
#include "firebreak/classify/normalize.h"

namespace firebreak::classify {
namespace {

using ::testing::HasSubstr;

std::vector<TrainingExample> Examples() {
  return {
      {"summarize the report", "summaries"},
      {"give me a short summary of this cable", "summaries"},
      {"condense these notes into bullet points", "summaries"},
      {"translate this text into english", "translation"},
      {"what does this russian sentence mean in english", "translation"},
      {"render the french note in english", "translation"},
      {"write a poem about the sea", std::string(kNoneLabel)},
      {"what is the capital of france", std::string(kNoneLabel)},
      {"give me a recipe for soup", std::string(kNoneLabel)},
  };
}

std::filesystem::path TempPath(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         (name + "-" + std::to_string(::getpid()) + ".model");
}

int Best(const LinearModel& model, std::string_view text) {
  std::vector<std::uint32_t> features;
  std::vector<double> p;
  model.Predict(*Normalize(text), features, p);
  return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
}

TEST(LinearModelTest, LearnsTheExamples) {
  TrainOptions options;
  options.hash_bits = 14;
  base::StatusOr<LinearModel> model = LinearModel::Train(Examples(), options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_EQ(model->labels().size(), 3u);
  EXPECT_EQ(model->labels()[static_cast<std::size_t>(Best(*model, "Summarize the cable"))],
            "summaries");
  EXPECT_EQ(model->labels()[static_cast<std::size_t>(Best(*model, "Translate this Russian note"))],
            "translation");
  std::vector<std::uint32_t> features;
  std::vector<double> p;
  model->Predict("summarize the report", features, p);
  double total = 0;
  for (double v : p) {
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 1.0);
    total += v;
  }
  EXPECT_NEAR(total, 1.0, 1e-9);
}

TEST(LinearModelTest, TrainingIsDeterministicAndReportsProgress) {
  TrainOptions options;
  options.hash_bits = 14;
  int calls = 0;
  options.progress = [&](int done, int total) {
    ++calls;
    EXPECT_LE(done, total);
  };
  const std::filesystem::path a = TempPath("a");
  const std::filesystem::path b = TempPath("b");
  ASSERT_TRUE(LinearModel::Train(Examples(), options)->Save(a).ok());
  ASSERT_TRUE(LinearModel::Train(Examples(), options)->Save(b).ok());
  EXPECT_EQ(calls, 6);  // three labels, twice
  EXPECT_EQ(*base::Sha256HexOfFile(a), *base::Sha256HexOfFile(b));
  std::filesystem::remove(a);
  std::filesystem::remove(b);
}

TEST(LinearModelTest, SaveLoadRoundTripPredictsTheSame) {
  TrainOptions options;
  options.hash_bits = 14;
  LinearModel model = *LinearModel::Train(Examples(), options);
  const std::filesystem::path path = TempPath("roundtrip");
  ASSERT_TRUE(model.Save(path).ok());
  base::StatusOr<LinearModel> loaded = LinearModel::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->labels(), model.labels());
  std::vector<std::uint32_t> features;
  std::vector<double> p1;
  std::vector<double> p2;
  model.Predict("summarize this please", features, p1);
  loaded->Predict("summarize this please", features, p2);
  EXPECT_EQ(p1, p2);
  std::filesystem::remove(path);
}

TEST(LinearModelTest, CorruptFilesAreRejected) {
  TrainOptions options;
  options.hash_bits = 14;
  const std::filesystem::path path = TempPath("corrupt");
  ASSERT_TRUE(LinearModel::Train(Examples(), options)->Save(path).ok());
  std::string bytes = *base::ReadFile(path);

  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 3);
  EXPECT_THAT(LinearModel::Load(path).status().message(), HasSubstr("truncated"));

  std::ofstream(path, std::ios::binary | std::ios::trunc) << "NOTAMODEL" + bytes;
  EXPECT_THAT(LinearModel::Load(path).status().message(),
              HasSubstr("is not a Firebreak linear model"));

  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes + "x";
  EXPECT_THAT(LinearModel::Load(path).status().message(), HasSubstr("trailing bytes"));

  EXPECT_EQ(LinearModel::Load("/nonexistent.model").status().code(), base::StatusCode::kNotFound);
  std::filesystem::remove(path);
}

TEST(LinearModelTest, NeedsTwoLabels) {
  std::vector<TrainingExample> one = {{"a b c", "x"}, {"d e f", "x"}};
  EXPECT_FALSE(LinearModel::Train(one, {}).ok());
}

}  // namespace
}  // namespace firebreak::classify
