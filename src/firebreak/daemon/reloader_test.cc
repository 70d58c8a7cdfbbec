// The reloader with a scripted file watch and clock, over a real instance
// (audit log, alert outbox) and copies of the shipped policy: a change is
// reloaded once the files have been quiet for the settle time, recorded
// before it takes effect; a refused candidate leaves the policy in force and
// is recorded with an alert; an unchanged policy is not swapped.
#include "firebreak/daemon/reloader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "firebreak/audit/verify.h"
#include "firebreak/base/test_dir.h"

namespace firebreak::daemon {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = Reloader::Clock;

// A watch the test says has changed.
class ScriptedWatch : public FileWatch {
 public:
  explicit ScriptedWatch(std::set<fs::path>* watched) : watched_(watched) {}
  int fd() const override { return -1; }
  void Watch(const std::set<fs::path>& files) override { *watched_ = files; }
  bool Changed() override { return std::exchange(changed, false); }
  bool changed = false;

 private:
  std::set<fs::path>* watched_;
};

class ReloaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = base::FreshTestDir("fb-reloader");
    const fs::path source = FIREBREAK_SOURCE_DIR;
    for (const char* f : {"defense-standard.yaml", "defense-standard.model"}) {
      fs::copy_file(source / "policies" / f, dir_ / f);
    }
    base::StatusOr<instance::LoadedPolicy> loaded =
        instance::LoadActivePolicy(policy_file(), {.allow_unsigned = true});
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    config::ServerConfig config;
    config.audit.db = dir_ / "audit.db";
    // Targets nobody answers at: what they are sent stays in the outbox.
    for (const char* target : {"trust_safety", "inspector_general", "legal_counsel"}) {
      config.alert_targets[target] = {target, "webhook", "http://127.0.0.1:9/", {}, {}};
    }
    config.system_alerts = {"trust_safety"};
    instance_ = instance::OpenInstance(config, policy_file().string(), *loaded, "test", {}, log_);
    ASSERT_NE(instance_, nullptr) << log_.str();
    auto watch = std::make_unique<ScriptedWatch>(&watched_);
    watch_ = watch.get();
    reloader_ = std::make_unique<Reloader>(
        Reloader::Options{.instance = instance_.get(),
                          .swap =
                              [this](std::shared_ptr<const exchange::ActivePolicy> p) {
                                swapped_.push_back(std::move(p));
                              },
                          .policy_file = policy_file(),
                          .trust = {.allow_unsigned = true},
                          .watch = std::move(watch),
                          .now = [this] { return now_; },
                          .err = &log_},
        std::move(loaded).value());
  }
  void TearDown() override {
    reloader_.reset();
    if (instance_ != nullptr) {
      instance::CloseInstance(*instance_, "test", log_);
      instance_.reset();
    }
    fs::remove_all(dir_);
  }

  fs::path policy_file() const { return dir_ / "defense-standard.yaml"; }

  void EditPolicy(std::string_view from, std::string_view to) {
    std::ifstream in(policy_file());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos);
    text.replace(at, from.size(), to);
    std::ofstream(policy_file(), std::ios::trunc) << text;
  }

  // The kinds of the records written so far.
  std::vector<std::string> Kinds() {
    EXPECT_TRUE(instance_->log->Flush().ok());
    std::vector<std::string> kinds;
    auto reader = std::move(audit::RecordReader::Open(dir_ / "audit.db")).value();
    reader->ReadAfter(0, [&](std::uint64_t, std::string_view body) {
      kinds.emplace_back(json::parse(body).at("kind").as_string());
    });
    return kinds;
  }

  fs::path dir_;
  std::ostringstream log_;
  std::unique_ptr<instance::Instance> instance_;
  std::set<fs::path> watched_;
  ScriptedWatch* watch_ = nullptr;
  Clock::time_point now_ = Clock::time_point(std::chrono::hours(1));
  std::vector<std::shared_ptr<const exchange::ActivePolicy>> swapped_;
  std::unique_ptr<Reloader> reloader_;
};

TEST_F(ReloaderTest, ItWatchesThePolicyItsSignaturesAndItsModel) {
  EXPECT_TRUE(watched_.contains(fs::absolute(policy_file())));
  EXPECT_TRUE(watched_.contains(fs::absolute(dir_ / "defense-standard.yaml.sig")));
  EXPECT_TRUE(watched_.contains(fs::absolute(dir_ / "defense-standard.model")));
}

TEST_F(ReloaderTest, AChangeIsReloadedOnceTheFilesHaveSettledAndRecordedBeforeTheSwap) {
  const std::string before = reloader_->current().digest;
  EditPolicy("version: \"", "version: \"9");
  watch_->changed = true;
  reloader_->OnWatchReadable();
  EXPECT_EQ(reloader_->PollTimeoutMillis(), 300);

  now_ += std::chrono::milliseconds(200);
  reloader_->Tick();
  EXPECT_TRUE(swapped_.empty());  // still settling
  EXPECT_EQ(reloader_->PollTimeoutMillis(), 100);

  now_ += std::chrono::milliseconds(100);
  reloader_->Tick();
  ASSERT_EQ(swapped_.size(), 1u);
  EXPECT_NE(swapped_[0]->digest, before);
  EXPECT_EQ(reloader_->current().digest, swapped_[0]->digest);
  EXPECT_EQ(reloader_->PollTimeoutMillis(), -1);
  EXPECT_EQ(Kinds().back(), "policy.reloaded");
  EXPECT_THAT(reloader_->Gauges(), HasSubstr("result=\"reloaded\"} 1"));
  EXPECT_THAT(reloader_->Gauges(), HasSubstr(swapped_[0]->digest));
}

TEST_F(ReloaderTest, ABrokenCandidateIsRefusedRecordedAndAlertedAndTheOldPolicyStays) {
  const std::string before = reloader_->current().digest;
  EditPolicy("decision: BLOCK", "decision: MAYBE");
  const proxy::ReloadResult result = reloader_->Reload("test");
  EXPECT_EQ(result.outcome, proxy::ReloadResult::Outcome::kRefused);
  EXPECT_EQ(result.digest, before);
  EXPECT_TRUE(swapped_.empty());
  EXPECT_EQ(reloader_->current().digest, before);
  EXPECT_EQ(Kinds().back(), "policy.refused");
  EXPECT_EQ(instance_->log->PendingAlerts().value(), 1);  // to alerts.system
  EXPECT_THAT(reloader_->Gauges(), HasSubstr("result=\"refused\"} 1"));
}

TEST_F(ReloaderTest, AnUnchangedPolicyIsNotSwappedNorRecorded) {
  const std::size_t records = Kinds().size();
  EXPECT_EQ(reloader_->Reload("test").outcome, proxy::ReloadResult::Outcome::kUnchanged);
  EXPECT_TRUE(swapped_.empty());
  EXPECT_EQ(Kinds().size(), records);
}

}  // namespace
}  // namespace firebreak::daemon
