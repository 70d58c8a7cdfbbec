#include "firebreak/classify/classifier.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>

#include "firebreak/base/utf8.h"
#include "firebreak/classify/features.h"
#include "firebreak/classify/language.h"
#include "firebreak/classify/normalize.h"
#include "firebreak/classify/parts.h"

namespace firebreak::classify {
namespace {

constexpr double kReportFloor = 0.01;
constexpr int kMaxDecodeDepth = 2;
// Decoding: a sentence is "not language-like" below this share of common
// English words (among at least kMinWordsForShare words); a decoding is kept
// when its share reaches kDecodedShare and beats the text as written.
constexpr double kForeignShare = 0.15;
constexpr double kAskedShare = 0.5;  // when the request asks to decode
constexpr double kDecodedShare = 0.3;
constexpr std::uint32_t kMinWordsForShare = 3;
constexpr std::size_t kExcerptBytes = 160;
// A request part states the request's intent (CategoryScore::detected_whole)
// with a score at least this high: a long pasted report after "Summarize
// this:" no longer dilutes the request into unknown intent, while a fragment
// that only weakly resembles an allowed category cannot stand in for it.
constexpr double kPartIntentScore = 0.85;
// A request read without the context it has (the sentence before it may
// change what it means) counts only from this score: alone, requests that
// lean on their context score up to about 0.7 for a blocked category in the
// development sets.
constexpr double kContextFreeRequestScore = 0.75;
// A part that is no request (pasted narrative) counts only from this score.
// The model reads what a sentence is about: a report of surveillance ("the
// programme collected the call records of millions of Americans") reads as
// bulk surveillance at 0.98, and is summarised, not acted on. Only a
// sentence that reads as nothing else counts.
constexpr double kNarrativeScore = 0.995;

// What a probe of the RE2::Set finds: evidence for a category, or one of the
// classifier's own cues.
enum class Purpose : std::uint8_t { kCategory, kActRequest, kDecodeRequest };

struct Probe {
  std::uint16_t category;
  Evidence::Kind kind;
  std::string_view text;
  Purpose purpose;
};

// A request to act on a text rather than translate or describe it: "then do
// it", "carry out the request", "follow the instructions", "answer it", "do
// what it says". On normalised text.
constexpr std::string_view kActRequestPatterns[] = {
    R"(\b(do|carry out|execute|perform|complete|fulfil|fulfill|implement|obey|comply with|act on|action|follow|answer|respond to)( all)? (it|them|this|that|these|those)\b)",
    R"(\bcarry (it|them|this|that|these|those) out\b)",
    R"(\b(do|carry out|execute|perform|complete|fulfil|fulfill|implement|obey|comply with|act on|action|follow|answer|respond to) (the|its|their|his|her|this|that|these|those|any|all)( \w+)? (request|requests|instruction|instructions|task|tasks|tasking|order|orders|command|commands|directions|directive|directives|question|questions|steps)\b)",
    R"(\b(do|does|did|doing) (what|as|whatever) (it|this|that|they|he|she|the \w+)( \w+)? (says?|asks?|requests?|tells?|wants?|instructs?|demands?|orders?)\b)",
    R"(\bwhat (it|this|that|the \w+) (says|asks for|requests|tells you)\b)",
};

// A request to decode: ROT13, reversed or mirrored text, ciphers, leetspeak.
constexpr std::string_view kDecodeRequestPatterns[] = {
    R"(\b(rot ?-?13|rot ?-?47|caesar|cipher|ciphertext|decode|decoded|decoding|decipher|decrypt|unscramble|backwards?|reversed?|in reverse|mirror(ed)?|leet ?speak|1337|right to left)\b)",
};

std::string KeywordPattern(std::string_view normalized_keyword) {
  return "\\b" + RE2::QuoteMeta(normalized_keyword) + "\\b";
}

// The share of common English words among the alphabetic words of `text`
// (normalised), and how many words it has.
struct EnglishShare {
  std::uint32_t words = 0;
  std::uint32_t common = 0;
  double share() const { return words == 0 ? 0.0 : static_cast<double>(common) / words; }
};

EnglishShare MeasureEnglish(std::string_view text) {
  EnglishShare out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!(text[i] >= 'a' && text[i] <= 'z')) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && text[end] >= 'a' && text[end] <= 'z') {
      ++end;
    }
    ++out.words;
    out.common += IsCommonEnglishWord(ExactWordHash(text.substr(i, end - i))) ? 1 : 0;
    i = end;
  }
  return out;
}

// At most kExcerptBytes of `text`: its start, or its end (`tail`).
std::string Excerpt(std::string_view text, bool tail = false) {
  if (text.size() <= kExcerptBytes) {
    return std::string(text);
  }
  auto continuation = [&](std::size_t i) {
    return (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
  };
  if (tail) {
    std::size_t cut = text.size() - kExcerptBytes;
    while (cut < text.size() && continuation(cut)) {
      ++cut;  // keep whole UTF-8 sequences
    }
    return "..." + std::string(text.substr(cut));
  }
  return std::string(base::Utf8Prefix(text, kExcerptBytes)) + "...";
}

}  // namespace

struct Classifier::Compiled {
  std::unique_ptr<RE2::Set> set;  // category probes and the classifier's own cues
  std::vector<Probe> probes;
  std::optional<LinearModel> model;
  std::vector<int> model_label_to_category;  // -1 for labels that are no category
};

// One text or part to score: its normalised text and where it came from.
struct Classifier::Segment {
  std::string_view text;
  const float* sums = nullptr;  // model weight sums over its features (labels values)
  std::uint32_t features = 0;
  int message = -1;
  Decoding decoding = Decoding::kNone;
  bool part = false;
  bool with_context = false;  // a request after its context: the request is at the end
  Part::Reading reading = Part::Reading::kRequest;  // the others count only when strong
  // Whole-text probe hits; a part is scanned again only when they name a category.
  const std::vector<int>* whole_hits = nullptr;
  std::size_t text_index = 0;  // into Run::texts
  std::size_t begin = 0;       // the part's offsets in that text
  std::size_t end = 0;
  // What it detects can state the request's intent (see
  // CategoryScore::detected_whole).
  bool states_intent = false;
};

// The state of one Classify call.
struct Classifier::Run {
  std::vector<CategoryScore> best;
  struct Where {
    std::size_t text = 0;
    std::size_t begin = 0;
    std::size_t end = 0;
    bool part = false;
    bool with_context = false;
  };
  std::vector<Where> where;        // per category, the segment of its best score
  std::vector<double> whole_best;  // per category, the best score of a whole text as written
  std::deque<std::string> texts;   // every normalised text read (stable addresses)
  std::uint32_t languages = 0;     // bit per Language seen in text it cannot read
  bool act_requested = false;
};

std::string_view EvidenceKindName(Evidence::Kind kind) {
  switch (kind) {
    case Evidence::Kind::kPattern:
      return "pattern";
    case Evidence::Kind::kKeyword:
      return "keyword";
    case Evidence::Kind::kModel:
      return "model";
  }
  return "model";
}

bool Classification::AnyDetected() const {
  return std::any_of(scores.begin(), scores.end(),
                     [](const CategoryScore& s) { return s.detected; });
}

Classifier::Classifier(Config config, std::unique_ptr<Compiled> compiled)
    : config_(std::move(config)), compiled_(std::move(compiled)) {}

Classifier::~Classifier() = default;

base::StatusOr<std::unique_ptr<Classifier>> Classifier::Create(Config config_in) {
  // Build in place: the probes borrow strings owned by the classifier's config.
  auto classifier = std::unique_ptr<Classifier>(
      new Classifier(std::move(config_in), std::make_unique<Compiled>()));
  const Config& config = classifier->config_;
  Compiled* compiled = classifier->compiled_.get();
  RE2::Options options;
  options.set_log_errors(false);
  options.set_case_sensitive(false);
  options.set_max_mem(64 << 20);
  compiled->set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  std::size_t pattern_count = 0;
  std::size_t keyword_count = 0;
  if (config.use_patterns) {
    for (std::size_t i = 0; i < config.categories.size(); ++i) {
      const CategoryConfig& c = config.categories[i];
      const auto index = static_cast<std::uint16_t>(i);
      for (const std::string& p : c.patterns) {
        std::string error;
        if (compiled->set->Add(p, &error) < 0) {
          return base::InvalidArgument("category '" + c.id + "': invalid pattern '" + p +
                                       "': " + error);
        }
        compiled->probes.push_back({index, Evidence::Kind::kPattern, p, Purpose::kCategory});
        ++pattern_count;
      }
      for (const std::string& k : c.keywords) {
        // Keywords match the text as every stage sees it: normalised.
        base::StatusOr<std::string> normalized = Normalize(k);
        if (!normalized.ok() || normalized->empty()) {
          return base::InvalidArgument("category '" + c.id + "': keyword '" + k +
                                       "' is empty or not UTF-8 after normalisation");
        }
        std::string error;
        if (compiled->set->Add(KeywordPattern(*normalized), &error) < 0) {
          return base::InvalidArgument("category '" + c.id + "': invalid keyword '" + k +
                                       "': " + error);
        }
        compiled->probes.push_back({index, Evidence::Kind::kKeyword, k, Purpose::kCategory});
        ++keyword_count;
      }
    }
  }
  auto add_cues = [&](const auto& patterns, Purpose purpose) {
    for (std::string_view p : patterns) {
      std::string error;
      if (compiled->set->Add(p, &error) < 0) {
        return base::Internal("classifier cue '" + std::string(p) + "': " + error);
      }
      compiled->probes.push_back({0, Evidence::Kind::kPattern, p, purpose});
    }
    return base::Status();
  };
  if (base::Status s = add_cues(kActRequestPatterns, Purpose::kActRequest); !s.ok()) {
    return s;
  }
  if (base::Status s = add_cues(kDecodeRequestPatterns, Purpose::kDecodeRequest); !s.ok()) {
    return s;
  }
  if (!compiled->set->Compile()) {
    return base::FailedPrecondition("patterns are too large to compile together");
  }

  std::string model_version = "none";
  if (config.use_model && !config.model_file.empty()) {
    base::StatusOr<LinearModel> model =
        config.model_bytes != nullptr ? LinearModel::Parse(*config.model_bytes, config.model_file)
                                      : LinearModel::Load(config.model_file);
    if (!model.ok()) {
      return model.status();
    }
    for (const std::string& label : model->labels()) {
      int category = -1;
      for (std::size_t i = 0; i < config.categories.size(); ++i) {
        if (config.categories[i].id == label) {
          category = static_cast<int>(i);
        }
      }
      if (category < 0 && !IsNoneLabel(label)) {
        return base::FailedPrecondition("model file " + config.model_file.string() +
                                        " knows category '" + label +
                                        "' that the policy does not define; retrain it");
      }
      compiled->model_label_to_category.push_back(category);
    }
    model_version = "linear:" + model->sha256().substr(0, 12);
    compiled->model = std::move(model).value();
  }
  classifier->version_ = "firebreak-local/2 patterns=" + std::to_string(pattern_count) +
                         " keywords=" + std::to_string(keyword_count) + " model=" + model_version;
  classifier->config_.model_bytes.reset();  // parsed: the file's bytes are not kept
  return classifier;
}

const std::string& Classifier::model_sha256() const {
  static const std::string kNone;
  return compiled_->model ? compiled_->model->sha256() : kNone;
}

void Classifier::ScoreSegment(const Segment& segment, Run& run) const {
  struct Found {
    std::size_t category;
    Evidence evidence;
  };
  // Per category, the model's probability and the pattern and keyword
  // evidence combine noisy-OR: 1 - (1-model)(1-pattern)(1-keyword)^hits.
  thread_local std::vector<double> miss;
  thread_local std::vector<Found> found;
  thread_local std::vector<double> probabilities;
  thread_local std::vector<int> part_hits;
  miss.assign(config_.categories.size(), 1.0);
  found.clear();

  if (compiled_->model) {
    compiled_->model->Probabilities(segment.sums, segment.features, probabilities);
    for (std::size_t j = 0; j < probabilities.size(); ++j) {
      const int c = compiled_->model_label_to_category[j];
      if (c >= 0 && probabilities[j] >= kReportFloor) {
        miss[static_cast<std::size_t>(c)] *= 1.0 - probabilities[j];
        found.push_back({static_cast<std::size_t>(c),
                         {Evidence::Kind::kModel, compiled_->model->labels()[j], probabilities[j],
                          segment.message, segment.decoding, segment.part}});
      }
    }
  }
  // A part can only match what its whole text matched: scan it again only then.
  const std::vector<int>* hits = segment.whole_hits;
  bool category_hit = false;
  for (int h : *hits) {
    category_hit = category_hit ||
                   compiled_->probes[static_cast<std::size_t>(h)].purpose == Purpose::kCategory;
  }
  if (segment.part && category_hit) {
    part_hits.clear();
    compiled_->set->Match(segment.text, &part_hits);
    std::sort(part_hits.begin(), part_hits.end());
    hits = &part_hits;
  }
  if (category_hit) {
    for (int h : *hits) {
      const Probe& probe = compiled_->probes[static_cast<std::size_t>(h)];
      if (probe.purpose != Purpose::kCategory) {
        continue;
      }
      const double s =
          probe.kind == Evidence::Kind::kPattern ? config_.pattern_score : config_.keyword_score;
      miss[probe.category] *= 1.0 - s;
      found.push_back(
          {probe.category,
           {probe.kind, probe.text, s, segment.message, segment.decoding, segment.part}});
    }
  }

  for (std::size_t c = 0; c < miss.size(); ++c) {
    const double score = 1.0 - miss[c];
    if ((segment.reading == Part::Reading::kRequestWithoutContext &&
         score < kContextFreeRequestScore) ||
        (segment.reading == Part::Reading::kNarrative && score < kNarrativeScore)) {
      continue;
    }
    if (segment.states_intent && segment.reading == Part::Reading::kRequest &&
        (!segment.part || score >= kPartIntentScore)) {
      run.whole_best[c] = std::max(run.whole_best[c], score);
    }
    if (score <= run.best[c].score) {
      continue;
    }
    run.best[c].score = score;
    run.best[c].evidence.clear();
    for (const Found& f : found) {
      if (f.category == c) {
        run.best[c].evidence.push_back(f.evidence);
      }
    }
    run.where[c] = {segment.text_index, segment.begin, segment.end, segment.part,
                    segment.with_context};
  }
}

void Classifier::ScoreText(std::string normalized_in, std::vector<std::uint32_t> line_breaks,
                           int message, Decoding decoding, int depth, Turn turn,
                           Run& run) const {
  const bool whole_only = turn == Turn::kConversation;
  const std::size_t text_index = run.texts.size();
  run.texts.push_back(std::move(normalized_in));
  const std::string_view text = run.texts.back();

  std::vector<int> whole_hits;
  compiled_->set->Match(text, &whole_hits);
  std::sort(whole_hits.begin(), whole_hits.end());
  bool asks_decode = false;
  for (int h : whole_hits) {
    const Purpose purpose = compiled_->probes[static_cast<std::size_t>(h)].purpose;
    run.act_requested = run.act_requested || purpose == Purpose::kActRequest;
    asks_decode = asks_decode || purpose == Purpose::kDecodeRequest;
  }

  const LinearModel* model = compiled_->model ? &*compiled_->model : nullptr;
  const std::size_t width = model != nullptr ? model->row_stride() : 0;

  // Scores each request part as the scanner finds it; collects the sentences
  // to decode (runs of adjacent ones) from their language cues.
  struct Sink final : PartSink {
    const Classifier& classifier;
    Run& run;
    Segment segment;  // the fields every part shares
    bool whole_only;
    bool may_decode;
    bool asks_decode;
    std::vector<std::pair<std::size_t, std::size_t>> decode_runs;

    Sink(const Classifier& c, Run& r) : classifier(c), run(r) {}
    void OnPart(const Part& part) override {
      if (whole_only) {
        return;
      }
      Segment s = segment;
      s.text = segment.text.substr(part.begin, part.end - part.begin);
      s.sums = part.sums;
      s.features = part.features;
      s.part = true;
      s.with_context = part.kind == Part::Kind::kWithContext;
      s.reading = part.reading;
      s.begin = part.begin;
      s.end = part.end;
      classifier.ScoreSegment(s, run);
    }
    void OnSentence(const SentenceCues& cues) override {
      if (whole_only || cues.words < kMinWordsForShare) {
        return;
      }
      if (cues.language >= 0) {
        run.languages |= 1u << cues.language;
      }
      const double share = cues.EnglishShare();
      if (may_decode && (share < kForeignShare || (asks_decode && share < kAskedShare) ||
                         cues.rot13 >= 2 || cues.reversed >= 2)) {
        if (!decode_runs.empty() && decode_runs.back().second + 2 >= cues.begin) {
          decode_runs.back().second = cues.end;
        } else {
          decode_runs.emplace_back(cues.begin, cues.end);
        }
      }
    }
  } sink(*this, run);
  sink.segment.text = text;
  sink.segment.message = message;
  sink.segment.decoding = decoding;
  sink.segment.whole_hits = &whole_hits;
  sink.segment.text_index = text_index;
  sink.segment.states_intent = decoding == Decoding::kNone;
  sink.whole_only = whole_only;
  sink.may_decode = depth < kMaxDecodeDepth;
  sink.asks_decode = asks_decode;

  // One pass: the model weights of each token's features, summed per token
  // and fed to the scanner with the token.
  PartScanner scanner(text, line_breaks, width, sink);
  FeatureTokens tokens(text, model != nullptr ? model->hash_bits() : 18);
  while (tokens.Next()) {
    const std::span<const std::uint32_t> features = tokens.own();
    const std::uint64_t exact_hash = tokens.exact_hash();
    const float* own = nullptr;
    const float* bigram = nullptr;
    if (model != nullptr) {
      // The unigram's row, its grams' and its word vector's, summed.
      own = model->Weights(features[0]);
      const float* word = model->WordRow(exact_hash);
      if (features.size() > 1 || word != nullptr) {
        float* sum = scanner.NextOwnRow();
        SumWeights(sum, own, features.size() > 1 ? model->Weights(features[1]) : word, width);
        for (std::size_t i = 2; i < features.size(); ++i) {
          AddWeights(sum, model->Weights(features[i]), width);
        }
        if (features.size() > 1 && word != nullptr) {
          AddWeights(sum, word, width);
        }
        own = sum;
      }
      if (tokens.has_bigram()) {
        bigram = model->Weights(tokens.bigram());
      }
    }
    scanner.Add({tokens.begin(), tokens.end(), exact_hash, tokens.word(),
                 static_cast<std::uint32_t>(features.size()), tokens.has_bigram()},
                own, bigram);
  }
  scanner.Finish();

  // The whole text.
  Segment whole = sink.segment;
  whole.sums = scanner.whole_sums();
  whole.features = scanner.whole_features();
  whole.end = text.size();
  // An earlier user turn that asks for nothing is context: like a request
  // read without its context, it counts only when strong. The conversation,
  // read whole, still reads it with the turns after it.
  if (turn == Turn::kEarlierUserTurn && !scanner.asks()) {
    whole.reading = Part::Reading::kRequestWithoutContext;
  }
  ScoreSegment(whole, run);

  if (whole_only) {
    return;
  }
  // Text in a script the classifier cannot read.
  const ScriptCounts scripts = scanner.any_non_ascii() ? CountScripts(text) : ScriptCounts();
  if (scripts.any) {
    for (int l = kStopwordLanguageCount; l < kLanguageCount; ++l) {
      if (ScriptShows(scripts, static_cast<Language>(l))) {
        run.languages |= 1u << l;
      }
    }
  }
  if (depth >= kMaxDecodeDepth) {
    return;
  }
  // Leetspeak; ROT13 and reversed text of the sentences that do not read as
  // English (or, when the request asks to decode, that read poorly), kept
  // when the decoding reads as English and better than the text as written.
  std::optional<std::string> leet;
  if (scanner.maybe_leetspeak() && (leet = DecodeLeetspeak(text))) {
    ScoreText(std::move(*leet), std::move(line_breaks), message, Decoding::kLeetspeak, depth + 1,
              turn, run);
  }
  for (const auto& [begin, end] : sink.decode_runs) {
    const std::string_view span =
        std::string_view(run.texts[text_index]).substr(begin, end - begin);
    const double before = MeasureEnglish(span).share();
    for (Decoding d : {Decoding::kRot13, Decoding::kReversed}) {
      std::string decoded = d == Decoding::kRot13 ? Rot13(span) : Reversed(span);
      const EnglishShare after = MeasureEnglish(decoded);
      if (after.common >= 2 && after.share() >= kDecodedShare && after.share() > before) {
        ScoreText(std::move(decoded), {}, message, d, depth + 1, turn, run);
      }
    }
  }
}

base::StatusOr<Classification> Classifier::Classify(const base::Conversation& conversation) const {
  Run run;
  run.best.resize(config_.categories.size());
  run.where.resize(config_.categories.size());
  run.whole_best.assign(config_.categories.size(), 0.0);
  for (std::size_t c = 0; c < run.best.size(); ++c) {
    run.best[c].category = static_cast<std::uint16_t>(c);
  }

  std::size_t with_text = 0;
  std::size_t last = 0;
  for (std::size_t i = 0; i < conversation.messages.size(); ++i) {
    last = conversation.messages[i].text.empty() ? last : i;
  }
  for (std::size_t i = 0; i < conversation.messages.size(); ++i) {
    const std::string& raw = conversation.messages[i].text;
    if (raw.empty()) {
      continue;
    }
    ++with_text;
    const Turn turn = i != last && conversation.messages[i].role == base::Role::kUser
                          ? Turn::kEarlierUserTurn
                          : Turn::kMessage;
    std::vector<std::uint32_t> line_breaks;
    base::StatusOr<std::string> normalized = Normalize(raw, &line_breaks);
    if (!normalized.ok()) {
      return normalized.status().WithContext("message " + std::to_string(i));
    }
    const int message = static_cast<int>(i);
    ScoreText(std::move(normalized).value(), std::move(line_breaks), message, Decoding::kNone, 0,
              turn, run);
    for (DecodedPayload& payload : DecodeEmbeddedPayloads(raw)) {
      std::vector<std::uint32_t> breaks;
      base::StatusOr<std::string> decoded = Normalize(payload.text, &breaks);
      if (decoded.ok()) {  // LooksLikeText() checked it is UTF-8
        ScoreText(std::move(decoded).value(), std::move(breaks), message, payload.decoding, 1,
                  turn, run);
      }
    }
  }
  // Intent split across turns: the whole conversation, read whole, once more.
  if (with_text > 1) {
    std::string joined;
    for (const base::Message& m : conversation.messages) {
      joined += m.text;
      joined += '\n';
    }
    base::StatusOr<std::string> normalized = Normalize(joined);
    if (!normalized.ok()) {
      return normalized.status().WithContext("conversation");
    }
    ScoreText(std::move(normalized).value(), {}, -1, Decoding::kNone, 0, Turn::kConversation,
              run);
  }

  Classification result;
  result.version = version_;
  for (std::size_t c = 0; c < run.best.size(); ++c) {
    CategoryScore& s = run.best[c];
    const double threshold = config_.categories[c].threshold;
    const double distance = std::abs((s.score < kReportFloor ? 0.0 : s.score) - threshold);
    if (distance < result.margin) {
      result.margin = distance;
      result.closest = config_.categories[c].id;
    }
    if (s.score < kReportFloor) {
      continue;
    }
    s.detected = s.score >= threshold;
    s.detected_whole = run.whole_best[c] >= threshold;
    if (s.detected && run.where[c].part) {
      const Run::Where& w = run.where[c];
      s.part = Excerpt(std::string_view(run.texts[w.text]).substr(w.begin, w.end - w.begin),
                       w.with_context);
    }
    result.scores.push_back(std::move(s));
  }
  std::stable_sort(
      result.scores.begin(), result.scores.end(),
      [](const CategoryScore& a, const CategoryScore& b) { return a.score > b.score; });

  if (run.act_requested && run.languages != 0) {
    std::string names;
    for (int l = 0; l < kLanguageCount; ++l) {
      if ((run.languages & (1u << l)) != 0) {
        names += names.empty() ? "" : " and ";
        names += LanguageName(static_cast<Language>(l));
      }
    }
    result.uncertain.push_back("asked to act on text in " + names + ", which the local " +
                               "classifier does not read");
  }
  if (result.margin < config_.uncertain_margin) {
    char reason[160];
    std::snprintf(reason, sizeof(reason),
                  "%.*s scored within %.2f of its threshold, inside the policy's uncertain "
                  "margin %.2f",
                  static_cast<int>(result.closest.size()), result.closest.data(), result.margin,
                  config_.uncertain_margin);
    result.uncertain.emplace_back(reason);
  }
  return result;
}

}  // namespace firebreak::classify
