// The judge step of an exchange (issue 20): whether the policy in force
// wants the judge asked about a decision, and the asking, after which the
// exchange is concluded on the judge's thread with what it said.
#include <algorithm>

#include "firebreak/proxy/pending.h"

namespace firebreak::proxy {

bool Proxy::JudgeWanted(const exchange::ActivePolicy& policy,
                        const exchange::Outcome& outcome) const {
  if (options_.judge == nullptr) {
    return false;
  }
  const policy::JudgeSpec& spec = policy.core->policy().classifier().judge;
  if (spec.mode == policy::JudgeSpec::Mode::kOff ||
      std::find(spec.models.begin(), spec.models.end(), options_.judge->model()) ==
          spec.models.end()) {
    return false;
  }
  return spec.mode == policy::JudgeSpec::Mode::kAlways ||
         !outcome.classification.uncertain.empty() || outcome.decision.by_default;
}

void Proxy::Judge(std::shared_ptr<Pending> p) {
  if (!JudgeWanted(*p->policy, p->decided->outcome)) {
    Conclude(std::move(p));
    return;
  }
  // The judge answers on a thread of its own; the exchange goes on there.
  Decided& d = *p->decided;
  std::vector<judge::Category> categories;
  for (const policy::Category& c : p->policy->core->policy().categories()) {
    categories.push_back(
        {c.id,
         c.description,
         {c.examples.begin(), c.examples.begin() + std::min<std::size_t>(c.examples.size(), 3)},
         c.hazards});
  }
  std::string digest = p->policy->digest;
  base::Conversation asked_about = d.conversation;
  options_.judge->Ask(
      std::move(digest), std::move(categories), std::move(asked_about),
      [this, p = std::move(p)](judge::Answer answer, judge::Asked asked) mutable {
        Decided& d = *p->decided;
        const exchange::DecisionCore& core = *p->policy->core;
        exchange::JudgeNote note{asked.model,
                                 answer.failure == judge::Failure::kNone
                                     ? std::string()
                                     : std::string(judge::FailureName(answer.failure)),
                                 answer.detail,
                                 {},
                                 asked.cache_hit,
                                 asked.seconds,
                                 answer.raw_sha256};
        for (const judge::Verdict& v : answer.verdicts) {
          if (std::optional<std::uint16_t> index = core.policy().CategoryIndex(v.category)) {
            note.verdicts.emplace_back(*index, v.confidence);
          }
        }
        d.outcome.judge = std::move(note);
        core.Reconsider(d.outcome, d.conversation,
                        {.principal = &d.principal->attributes,
                         .endpoint = RouteName(p->route, p->api->dialect())});
        Conclude(std::move(p));
      });
}

}  // namespace firebreak::proxy
