// Fuzz target: a policy file's text through the loader (parse, validate,
// build), then the policy it builds evaluated for each of its categories.
// Beyond not crashing (nor throwing: yaml-cpp's exceptions must stay
// inside the loader): a policy is built exactly when no error was
// reported, and every diagnostic has a message and a valid position (or none).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "check.h"
#include "firebreak/policy/loader.h"

namespace {

namespace policy = firebreak::policy;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The model file is not looked for: the target reads no file.
  const policy::LoadResult result =
      policy::LoadPolicyText(text, "/fuzz/policy.yaml", {.require_model_file = false});
  FB_FUZZ_CHECK(result.ok() == (result.ErrorCount() == 0), "a policy is built iff no error");
  for (const policy::Diagnostic& d : result.diagnostics) {
    FB_FUZZ_CHECK(!d.message.empty(), "a diagnostic says what is wrong");
    FB_FUZZ_CHECK((d.line >= 1 && d.column >= 1) || (d.line == 0 && d.column == 0),
                  "a diagnostic has a position in the file, or none");
  }
  if (!result.ok()) {
    return 0;
  }
  const policy::PolicySet& set = *result.policy;
  const std::map<std::string, std::string, std::less<>> principal = {{"clearance", "secret"},
                                                                     {"team", "intel"}};
  const std::size_t n = std::min<std::size_t>(set.categories().size(), 64);
  for (std::size_t i = 0; i <= n; ++i) {  // i == n: a category the policy does not have
    const policy::DetectedCategory detected{static_cast<std::uint16_t>(i), 0.9};
    for (const auto* who : {&principal, static_cast<decltype(&principal)>(nullptr)}) {
      const policy::Decision d = set.Evaluate({.detected = {&detected, 1},
                                               .principal = who,
                                               .model = "gpt-4o",
                                               .endpoint = "/v1/chat/completions"});
      FB_FUZZ_CHECK(!d.rules.empty() || d.by_default || d.verdict == policy::Verdict::kAllow,
                    "a restrictive verdict names its rule or the defaults");
      (void)d.RuleIds();
    }
  }
  const policy::Decision unknown = set.Evaluate({});
  FB_FUZZ_CHECK(unknown.by_default && unknown.verdict == set.defaults().decision,
                "unknown intent takes the defaults");
  return 0;
}
