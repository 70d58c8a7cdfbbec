#include "firebreak/classify/linear_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "firebreak/base/digest.h"
#include "firebreak/classify/features.h"
#include "firebreak/classify/normalize.h"
#include "firebreak/classify/word_vectors.h"

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

// A word vector file (scripts/convert-vectors.mjs's layout) of `words`, each
// vector scaled to unit length and quantised to 8 bits.
std::filesystem::path WriteVectors(
    const std::string& name,
    const std::vector<std::pair<std::string, std::vector<double>>>& words) {
  std::string bytes = "FBVECTRS";
  auto u32 = [&](std::uint32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); };
  u32(1);
  u32(static_cast<std::uint32_t>(words.front().second.size()));
  u32(static_cast<std::uint32_t>(words.size()));
  for (const auto& [word, v] : words) {
    bytes += static_cast<char>(word.size());
    bytes += word;
  }
  for (const auto& [word, v] : words) {
    double norm = 0;
    for (double x : v) {
      norm += x * x;
    }
    for (double x : v) {
      bytes += static_cast<char>(static_cast<std::int8_t>(std::lround(x / std::sqrt(norm) * 127)));
    }
  }
  const std::filesystem::path path = TempPath(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

TEST(WordVectorsTest, LoadsTheConvertedFileAndRefusesACorruptOne) {
  const std::filesystem::path path =
      WriteVectors("vectors", {{"rifle", {1, 0, 0}}, {"cake", {0, 3, 4}}});
  base::StatusOr<WordVectors> vectors = WordVectors::Load(path);
  ASSERT_TRUE(vectors.ok()) << vectors.status().ToString();
  EXPECT_EQ(vectors->dimensions(), 3u);
  EXPECT_EQ(vectors->Find("cake"), 1);
  EXPECT_EQ(vectors->Find("pie"), -1);
  double sum[3] = {0, 0, 0};
  vectors->AddTo(1, 2.0, sum);
  EXPECT_NEAR(sum[1], 1.2, 0.02);
  EXPECT_NEAR(sum[2], 1.6, 0.02);
  EXPECT_LT(WordVectors::Weight(0), 0.02);  // "the" weighs little
  EXPECT_GT(WordVectors::Weight(50'000), 0.99);

  std::string bytes = *base::ReadFile(path);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 1);
  EXPECT_THAT(WordVectors::Load(path).status().message(), HasSubstr("bytes of vectors"));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "NOTVECTORS" + bytes;
  EXPECT_THAT(WordVectors::Load(path).status().message(), HasSubstr("not a Firebreak word vector"));
  std::filesystem::remove(path);
}

// Words the examples never use are read through their vectors: "rifle" is
// near "gun" and "pistol", "pie" near "cake" and "bread". The vectors share
// a common direction (the last), as pretrained ones do; it is removed.
TEST(LinearModelTest, WordVectorsCarryWhatTheExamplesNeverSaid) {
  const std::filesystem::path path = WriteVectors(
      "similar", {{"gun", {1, 0.2, 0, 0, 1}},
                  {"pistol", {0.9, 0.3, 0, 0, 1}},
                  {"rifle", {0.95, 0.25, 0, 0, 1}},
                  {"cake", {0, 0, 1, 0.2, 1}},
                  {"bread", {0, 0, 0.9, 0.3, 1}},
                  {"pie", {0, 0, 0.95, 0.25, 1}}});
  base::StatusOr<WordVectors> vectors = WordVectors::Load(path);
  ASSERT_TRUE(vectors.ok());
  const std::vector<TrainingExample> examples = {
      {"get me a gun", "weapons"},     {"order a pistol", "weapons"},
      {"bring the gun", "weapons"},    {"a pistol please", "weapons"},
      {"get me a cake", "baking"},     {"order some bread", "baking"},
      {"bring the cake", "baking"},    {"some bread please", "baking"},
  };
  TrainOptions options;
  options.hash_bits = 14;
  options.vectors = &*vectors;
  options.vector_scale = 300;  // the test's words rank first: their SIF weights are tiny
  base::StatusOr<LinearModel> model = LinearModel::Train(examples, options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->words(), 6u);
  EXPECT_NE(model->WordRow(ExactWordHash("rifle")), nullptr);
  EXPECT_EQ(model->WordRow(ExactWordHash("cannon")), nullptr);
  const auto weapons = static_cast<std::size_t>(
      std::find(model->labels().begin(), model->labels().end(), "weapons") -
      model->labels().begin());
  std::vector<std::uint32_t> features;
  std::vector<double> rifle;
  std::vector<double> pie;
  model->Predict("fetch a rifle", features, rifle);
  model->Predict("fetch a pie", features, pie);
  EXPECT_GT(rifle[weapons], 0.6);
  EXPECT_LT(pie[weapons], 0.4);

  // Without the vectors, neither word means anything.
  options.vectors = nullptr;
  base::StatusOr<LinearModel> plain = LinearModel::Train(examples, options);
  std::vector<double> p;
  plain->Predict("fetch a rifle", features, p);
  EXPECT_LT(p[weapons], rifle[weapons] - 0.1);

  // The word rows are saved and loaded with the model.
  const std::filesystem::path saved = TempPath("with-vectors");
  ASSERT_TRUE(model->Save(saved).ok());
  base::StatusOr<LinearModel> loaded = LinearModel::Load(saved);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->words(), 6u);
  loaded->Predict("fetch a rifle", features, p);
  EXPECT_DOUBLE_EQ(p[weapons], rifle[weapons]);
  std::filesystem::remove(path);
  std::filesystem::remove(saved);
}

}  // namespace
}  // namespace firebreak::classify
