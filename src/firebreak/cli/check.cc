#include <ostream>

#include "firebreak/cli/commands.h"
#include "firebreak/cli/report.h"

namespace firebreak::cli {

// The diagnostics are this command's output: they go to stdout, "ok" last.
int RunCheck(const CheckOptions& options, std::ostream& out) {
  if (LoadDecisionCore(options.policy, out) == nullptr) {
    return kExitPolicyFailure;
  }
  out << "ok\n";
  return kExitOk;
}

}  // namespace firebreak::cli
