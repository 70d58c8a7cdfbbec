#include "firebreak/classify/parts.h"

#include <algorithm>

#include "firebreak/classify/features.h"
#include "firebreak/classify/language.h"
#include "firebreak/classify/linear_model.h"

namespace firebreak::classify {
namespace {

// Word classes, looked up once per token (by exact word).
enum WordClass : std::uint64_t {
  kFiller = 1u << 0,            // opens a step without saying what it does
  kStepVerb = 1u << 1,          // a verb that opens a request or a new step
  kRequestOpener = 1u << 2,     // other words that open a request
  kPreambleSubject = 1u << 3,   // "i", "we", "you" (before a modal)
  kPreambleModal = 1u << 4,     // "need", "can", "would", "'d", ...
  kPreambleWord = 1u << 5,      // the rest of a preamble: "like", "you", "to", ...
  kAddress = 1u << 6,           // addresses the reader: "you", "please", ...
  kNeedWant = 1u << 7,          // after "i"/"we": a request ("I need ...")
  kMeUs = 1u << 8,              // after "help": a request ("help me ...")
  kIWe = 1u << 9,
  kHelp = 1u << 10,
  kLet = 1u << 11,
  kS = 1u << 12,                // "let's" is "let" "s"
  kAndOr = 1u << 13,            // "and", "but", "or"
  kAnd = 1u << 14,
  kThen = 1u << 15,
  kAlso = 1u << 16,
  kSequenceAdverb = 1u << 17,   // "additionally", "afterwards", "finally", ...
  kAfterOnce = 1u << 18,        // "after", "once", "before" (+ "that", "done")
  kThatDone = 1u << 19,
  kAs = 1u << 20,
  kArticle = 1u << 21,
  kOrdinal = 1u << 22,          // "as a second output"
  kIn = 1u << 23,
  kAddition = 1u << 24,
  kPlusNext = 1u << 25,         // after a comma
  kUse = 1u << 26,              // "and use them to": a step of its own
  kPleaseNow = 1u << 27,
  kNotStepBeforeThen = 1u << 28,  // "since then", "by then"
  kStrongAfterAnd = 1u << 29,   // "and then", "and also", "and use", ...
  kYou = 1u << 30,
  kBe = 1u << 31,               // after "you": a role, not a task ("you are an analyst")
};

struct ClassList {
  std::uint64_t bits;
  std::initializer_list<std::string_view> words;
};

const WordSet& Classes() {
  static const WordSet* classes = [] {
    auto* set = new WordSet();
    const ClassList lists[] = {
        {kFiller,
         {"and", "then", "also", "please", "pls", "now", "next", "finally", "additionally",
          "lastly", "afterwards", "afterward", "plus", "so", "ok", "okay", "kindly", "just",
          "after", "that", "this", "once", "done", "as", "a", "an", "second", "third",
          "separate", "further", "final", "additional", "extra", "output", "step", "task",
          "deliverable", "go", "ahead", "in", "addition", "secondly", "thirdly", "moreover",
          "furthermore", "0", "00", "000", "b", "c", "d", "e", "f", "g", "h"}},
        {kStepVerb,
         {"generate", "create", "build", "make", "compile", "produce", "prepare", "draft",
          "write", "list", "identify", "find", "locate", "track", "trace", "map", "monitor",
          "watch", "follow", "collect", "gather", "pull", "scrape", "harvest", "match", "cross",
          "correlate", "compare", "rank", "pick", "choose", "select", "designate", "nominate",
          "flag", "mark", "tag", "strike", "engage", "hit", "attack", "eliminate", "kill",
          "target", "fire", "launch", "release", "destroy", "predict", "reconstruct", "work",
          "figure", "determine", "estimate", "assess", "analyze", "analyse", "evaluate",
          "recommend", "summarize", "summarise", "translate", "decode", "decipher", "reverse",
          "answer", "respond", "reply", "give", "tell", "send", "show", "provide", "use", "put",
          "turn", "convert", "plot", "draw", "extract", "pinpoint", "geolocate", "triangulate",
          "intercept", "record", "log", "keep", "note", "highlight", "add", "include", "name",
          "sort", "filter", "cluster", "link", "connect", "profile", "dox", "expose", "publish",
          "post", "share", "forward", "deliver", "notify", "alert", "report", "schedule",
          "plan", "calculate", "compute", "optimize", "check", "verify", "review", "search",
          "look", "scan", "sweep", "ingest", "aggregate", "run", "execute", "carry", "do",
          "perform", "complete", "implement", "deploy", "hack", "break", "exfiltrate", "wipe",
          "plant", "infiltrate", "capture", "tap", "observe", "shadow", "stalk", "photograph",
          "recap", "outline", "condense", "shorten", "format", "explain", "describe", "detail",
          "append", "attach", "cite", "quote", "assign", "set", "get", "obtain", "establish",
          "reveal", "uncover", "unmask", "let", "have", "chart", "sketch", "infer", "deduce",
          "isolate", "enumerate", "tally", "itemize", "itemise", "geotag", "surveil",
          "authorize", "authorise", "greenlight", "prioritize", "prioritise", "reconcile",
          "overlay", "dispatch", "allocate"}},
        {kRequestOpener, {"let", "have", "help", "ensure", "tell", "show"}},
        {kPreambleSubject, {"i", "we", "you"}},
        {kPreambleModal,
         {"need", "want", "d", "ll", "would", "will", "must", "should", "can", "could", "shall"}},
        {kPreambleWord,
         {"need", "want", "d", "ll", "would", "will", "must", "should", "can", "could", "shall",
          "like", "you", "to", "please", "kindly", "also", "now", "just"}},
        {kAddress, {"you", "your", "yourself", "please", "pls", "plz", "kindly"}},
        {kNeedWant, {"need", "want"}},
        {kMeUs, {"me", "us"}},
        {kIWe, {"i", "we"}},
        {kHelp, {"help"}},
        {kLet, {"let"}},
        {kS, {"s"}},
        {kAndOr, {"and", "but", "or"}},
        {kAnd, {"and"}},
        {kThen, {"then"}},
        {kAlso, {"also"}},
        {kSequenceAdverb,
         {"additionally", "afterwards", "afterward", "finally", "lastly", "secondly", "thirdly",
          "furthermore", "moreover"}},
        {kAfterOnce, {"after", "once", "before"}},
        {kThatDone, {"that", "this", "which", "done", "finished"}},
        {kAs, {"as"}},
        {kArticle, {"a", "an", "the"}},
        {kOrdinal,
         {"second", "third", "fourth", "separate", "further", "final", "additional", "extra",
          "bonus", "side", "follow"}},
        {kIn, {"in"}},
        {kAddition, {"addition"}},
        {kPlusNext, {"plus", "next"}},
        {kUse, {"use"}},
        {kPleaseNow, {"please", "now"}},
        {kNotStepBeforeThen,
         {"and", "since", "by", "until", "till", "from", "back", "just", "only", "even", "but",
          "if", "now"}},
        {kStrongAfterAnd, {"then", "also", "afterwards", "finally", "additionally", "use"}},
        {kYou, {"you"}},
        {kBe, {"are", "re", "were", "act", "serve", "work"}},
    };
    for (const ClassList& list : lists) {
      for (std::string_view w : list.words) {
        set->Add(w, list.bits);
      }
    }
    AddLanguageWords(*set);
    return set;
  }();
  return *classes;
}

bool IsAlpha(std::string_view word) {
  return !word.empty() &&
         std::all_of(word.begin(), word.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

}  // namespace


void PartScanner::Opening::Add(std::uint64_t word_classes) {
  if (count < std::size(classes)) {
    classes[count++] = word_classes;
  }
  // "you" addresses the reader unless a role follows ("You are an analyst's
  // assistant": the system prompt's persona, not a task).
  const bool you = (word_classes & kYou) != 0;
  marker = marker || ((word_classes & kAddress) != 0 && !you) ||
           ((last & kYou) != 0 && (word_classes & kBe) == 0) ||
           ((last & kIWe) != 0 && (word_classes & kNeedWant) != 0) ||
           ((last & kHelp) != 0 && (word_classes & kMeUs) != 0) ||
           ((last & kLet) != 0 && (word_classes & kS) != 0);
  last = word_classes;
}

// The first word after fillers ("and then", "please") and a request preamble
// ("can you", "I need you to", "we'd like you to").
std::size_t PartScanner::Opening::FirstWord() const {
  std::size_t w = 0;
  while (w < count && (classes[w] & kFiller) != 0) {
    ++w;
  }
  const bool subject = w + 1 < count && (classes[w] & kPreambleSubject) != 0 &&
                       (classes[w + 1] & kPreambleModal) != 0;
  if (subject || (w < count && (classes[w] & kPreambleModal) != 0)) {
    w += subject ? 2 : 1;
    while (w < count && (classes[w] & kPreambleWord) != 0) {
      ++w;
    }
  }
  return w;
}

bool PartScanner::Opening::IsRequest() const {
  const std::size_t w = FirstWord();
  return marker || (w < count && (classes[w] & (kStepVerb | kRequestOpener)) != 0);
}

PartScanner::PartScanner(std::string_view text, std::span<const std::uint32_t> line_breaks,
                         std::size_t row_width, PartSink& sink)
    : text_(text),
      line_breaks_(line_breaks),
      labels_(row_width),
      sink_(sink),
      rows_(kRing * std::max<std::size_t>(row_width, 1), 0.0f),
      sums_(6 * row_width, 0.0f) {
  float* next = sums_.data();
  for (Span* span : {&whole_, &sentence_, &step_, &previous_, &pair_}) {
    span->sums = next;
    next += row_width;
  }
  sentence_join_ = next;
}

void PartScanner::AddRow(Span& span, const float* row, std::size_t labels) {
  AddWeights(span.sums, row, labels);
}

void PartScanner::AddSpan(Span& to, const Span& from, std::size_t labels) {
  if (from.tokens == 0) {
    return;
  }
  AddWeights(to.sums, from.sums, labels);
  to.features += from.features;
  to.tokens += from.tokens;
  to.end = from.end;
}

float* PartScanner::NextOwnRow() {
  if (pending_ == kRing) {
    Process();
  }
  return &rows_[(head_ + pending_) % kRing * labels_];
}

void PartScanner::Add(const PartToken& token, const float* own, const float* bigram) {
  if (pending_ == kRing) {
    Process();
  }
  const std::size_t slot = (head_ + pending_) % kRing;
  Pending& p = ring_[slot];
  p.token = token;
  p.own = own;
  p.bigram = bigram;
  p.classes = Classes().Find(token.exact_hash);
  p.alpha = IsAlpha(token.word);
  if (!p.alpha) {
    const std::string_view w = token.word;
    any_non_ascii_ = any_non_ascii_ || std::any_of(w.begin(), w.end(), [](char c) {
                       return (static_cast<unsigned char>(c) & 0x80) != 0;
                     });
    maybe_leetspeak_ = maybe_leetspeak_ ||
                       (w.find('0') != std::string_view::npos &&
                        std::any_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; }));
  }
  if (!maybe_leetspeak_) {
    auto symbol = [&](std::size_t i) {
      const char c = i < text_.size() ? text_[i] : ' ';
      return c == '@' || c == '$' || c == '|' ||
             (c == '!' && i + 1 < text_.size() && text_[i + 1] >= 'a' && text_[i + 1] <= 'z');
    };
    maybe_leetspeak_ = (token.begin > 0 && symbol(token.begin - 1)) || symbol(token.end);
  }
  const std::string_view w = token.word;
  p.number = w.size() <= 2 && w[0] == '0' && w.back() == '0';
  p.item_marker_word = p.number || (w.size() == 1 && w[0] >= 'a' && w[0] <= 'h');
  p.bullet = w.size() == 3 && static_cast<unsigned char>(w[0]) == 0xE2 &&
             (w == "\u2022" || w == "\u25e6" || w == "\u25aa" || w == "\u25cf" ||
              w == "\u2023");
  p.token.word = {};  // borrowed from the tokenizer for this call only
  ++pending_;
}

PartScanner::Boundary PartScanner::BoundaryBefore(const Pending& p) {
  const PartToken& t = p.token;
  const std::string_view separator = text_.substr(last_end_, t.begin - last_end_);
  while (next_break_ < line_breaks_.size() && line_breaks_[next_break_] <= last_end_) {
    ++next_break_;
  }
  const bool line_break = next_break_ < line_breaks_.size() && line_breaks_[next_break_] <= t.begin;
  bool full_stop = false;
  for (std::size_t i = 0; i + 1 < separator.size(); ++i) {
    const char c = separator[i];
    const char n = separator[i + 1];
    if ((c == '.' || c == '!' || c == '?' || c == ';' || c == ':') &&
        (n == ' ' || n == '"' || n == '\'' || n == ')')) {
      full_stop = true;
    }
  }
  auto ahead = [&](std::size_t k) -> const Pending* {
    return k < pending_ ? &ring_[(head_ + k) % kRing] : nullptr;
  };
  // "2) ...", "(b) ...", "3. ..." within a line: a list item starts.
  bool item_marker = false;
  if (p.item_marker_word && ahead(1) != nullptr) {
    const std::string_view after = text_.substr(t.end, ahead(1)->token.begin - t.end);
    item_marker = (after.starts_with(")") && (separator.ends_with(" ") || separator.ends_with("("))) ||
                  (after.starts_with(". ") && p.number && separator.ends_with(" "));
  }
  if (full_stop || line_break || item_marker || p.bullet) {
    return Boundary::kSentence;
  }
  const bool comma = separator.find(',') != std::string_view::npos;
  const std::uint64_t word = p.classes;
  const std::uint64_t next = ahead(1) != nullptr ? ahead(1)->classes : 0;
  const std::uint64_t after_next = ahead(2) != nullptr ? ahead(2)->classes : 0;
  if ((word & kAndOr) != 0) {
    // "and then", "and also", "and use them to": a step of its own; "and
    // <verb>" a weak one, when what precedes is itself a request
    // ("summarise X and generate Y").
    if ((next & kStrongAfterAnd) != 0) {
      return Boundary::kStep;
    }
    if (step_opening_.IsRequest() &&
        ((next & kStepVerb) != 0 || ((next & kPleaseNow) != 0 && (after_next & kStepVerb) != 0))) {
      return Boundary::kWeakStep;
    }
    return Boundary::kNone;
  }
  if ((word & kThen) != 0) {
    return (last_classes_ & kNotStepBeforeThen) == 0 ? Boundary::kStep : Boundary::kNone;
  }
  if ((word & kAlso) != 0) {
    return (comma || (next & kStepVerb) != 0) && (last_classes_ & kAnd) == 0 ? Boundary::kStep
                                                                             : Boundary::kNone;
  }
  if ((word & kSequenceAdverb) != 0) {
    return (last_classes_ & kAnd) == 0 ? Boundary::kStep : Boundary::kNone;
  }
  if ((word & kAfterOnce) != 0) {
    return (next & kThatDone) != 0 ? Boundary::kStep : Boundary::kNone;
  }
  if ((word & kAs) != 0) {
    return (next & kArticle) != 0 && (after_next & kOrdinal) != 0 ? Boundary::kStep
                                                                   : Boundary::kNone;
  }
  if ((word & kIn) != 0) {
    return (next & kAddition) != 0 ? Boundary::kStep : Boundary::kNone;
  }
  if ((word & kPlusNext) != 0) {
    return comma ? Boundary::kStep : Boundary::kNone;
  }
  if (comma && (word & kStepVerb) != 0) {
    // A new step after a request; after a context clause ("With the
    // warrant, identify ..."), that clause's request.
    if (step_opening_.IsRequest()) {
      return (word & kUse) != 0 ? Boundary::kStep : Boundary::kWeakStep;
    }
    step_opening_.marker = true;
    sentence_opening_.marker = true;
  }
  return Boundary::kNone;
}

void PartScanner::Process() {
  const Pending& p = ring_[head_];
  const PartToken& t = p.token;
  const float* own = p.own;
  const float* bigram = p.bigram;

  Boundary boundary = first_token_ ? Boundary::kNone : BoundaryBefore(p);
  if (boundary == Boundary::kSentence && sentence_.tokens + step_.tokens < kMinPartTokens) {
    // A label ("1.", "Also:", "Note:") opens the sentence after it, whose
    // own words say whether it is a request.
    step_opening_ = Opening();
    sentence_opening_ = Opening();
    boundary = Boundary::kNone;
  }
  if (boundary != Boundary::kNone) {
    FinishStep(boundary == Boundary::kSentence);
    if (boundary == Boundary::kSentence) {
      FinishSentence(false);  // takes the step, and resets the sentence
      sentence_.begin = t.begin;
    } else {
      AddSpan(sentence_, step_, labels_);  // the finished step joins its sentence
    }
    step_leans_ = boundary == Boundary::kWeakStep && step_.tokens <= kMaxContextTokens;
    std::fill(step_.sums, step_.sums + labels_, 0.0f);
    step_.features = step_.tokens = 0;
    step_.begin = t.begin;
    step_opening_ = Opening();
  }
  if (first_token_) {
    whole_.begin = sentence_.begin = step_.begin = t.begin;
  }
  if (step_.tokens == 0) {
    ++steps_in_sentence_;
  }
  // The token joins its step; the bigram joining it to the token before
  // belongs to the step, or (opening one) to the sentence, or (opening a
  // sentence) to the whole text and the pair with the previous sentence.
  if (labels_ > 0) {
    AddRow(step_, own, labels_);
  }
  step_.features += t.features;
  if (t.has_bigram) {
    if (step_.tokens > 0) {
      if (labels_ > 0) {
        AddRow(step_, bigram, labels_);
      }
      ++step_.features;
    } else if (sentence_.tokens > 0) {
      if (labels_ > 0) {
        AddRow(sentence_, bigram, labels_);
      }
      ++sentence_.features;
    } else {
      if (labels_ > 0) {
        AddRow(whole_, bigram, labels_);
        std::copy(bigram, bigram + labels_, sentence_join_);
      }
      ++whole_.features;
    }
  }
  ++step_.tokens;
  step_.end = t.end;
  step_opening_.Add(p.classes);
  sentence_opening_.Add(p.classes);
  // Language cues.
  if (p.alpha) {
    ++cues_.words;
    if ((p.classes & kCommonEnglishBit) != 0) {
      ++cues_.common;
    } else if ((p.classes & kLanguageBits) != 0) {
      cues_.rot13 += (p.classes & kRot13EnglishBit) != 0 ? 1 : 0;
      cues_.reversed += (p.classes & kReversedEnglishBit) != 0 ? 1 : 0;
      for (int l = 0; l < kStopwordLanguageCount; ++l) {
        if ((p.classes & LanguageBit(l)) == 0) {
          continue;
        }
        stopword_hits_[l] = static_cast<std::uint8_t>(std::min(255, stopword_hits_[l] + 1));
        if (stopword_first_[l] == 0) {
          stopword_first_[l] = t.exact_hash;
        } else if (stopword_first_[l] != t.exact_hash) {
          stopword_kinds_[l] = true;
        }
      }
    }
  }
  last_classes_ = p.classes;
  last_end_ = t.end;
  first_token_ = false;
  head_ = (head_ + 1) % kRing;
  --pending_;
}

bool PartScanner::QuestionAfter(const Span& span) const {
  const std::size_t q = text_.find_first_not_of(' ', span.end);
  return q != std::string_view::npos && text_[q] == '?';
}

void PartScanner::Emit(Part::Kind kind, const Span& span, Part::Reading reading) {
  sink_.OnPart({kind, span.begin, span.end, span.sums, span.features, reading});
}

void PartScanner::FinishStep(bool last_in_sentence) {
  // A sentence of one step is read as the sentence; a step that leans on a
  // short clause before it, in its sentence.
  if (step_.tokens == 0 || (last_in_sentence && steps_in_sentence_ <= 1) || step_leans_) {
    return;
  }
  if (step_.tokens >= kMinPartTokens) {
    const bool request = step_opening_.IsRequest() || QuestionAfter(step_);
    asks_ = asks_ || request;
    Emit(Part::Kind::kStep, step_,
         request ? Part::Reading::kRequest : Part::Reading::kNarrative);
  }
}

void PartScanner::FinishSentence(bool last) {
  AddSpan(sentence_, step_, labels_);  // its last step
  if (sentence_.tokens == 0) {
    return;
  }
  const bool is_whole = last && sentences_ == 0;
  const bool request = sentence_opening_.IsRequest() || QuestionAfter(sentence_);
  asks_ = asks_ || request;
  // A request is read with the sentence before it when that sentence can be
  // its context ("The judge authorised a wiretap. Identify the calls."), and
  // alone when it opens the text, follows another request, or follows a
  // sentence too long to be its context. Any other sentence (narrative, or a
  // request that has its context) is read alone strictly.
  const bool with_context = has_previous_ && previous_.tokens <= kMaxContextTokens;
  if (!is_whole && sentence_.tokens >= kMinPartTokens) {
    Part::Reading reading = Part::Reading::kNarrative;
    if (request) {
      reading = with_context && !previous_request_ ? Part::Reading::kRequestWithoutContext
                                                   : Part::Reading::kRequest;
    }
    Emit(Part::Kind::kSentence, sentence_, reading);
  }
  if (request && with_context && !(last && previous_is_first_)) {
    for (std::size_t j = 0; j < labels_; ++j) {
      pair_.sums[j] = previous_.sums[j] + sentence_join_[j] + sentence_.sums[j];
    }
    pair_.features = previous_.features + sentence_.features + 1;
    pair_.tokens = previous_.tokens + sentence_.tokens;
    pair_.begin = previous_.begin;
    pair_.end = sentence_.end;
    Emit(Part::Kind::kWithContext, pair_, Part::Reading::kRequest);
  }
  // Language cues.
  cues_.begin = sentence_.begin;
  cues_.end = sentence_.end;
  cues_.language = -1;
  for (int l = 0; l < kStopwordLanguageCount; ++l) {
    if (StopwordsShow(stopword_hits_[l], stopword_kinds_[l] ? 2 : 1,
                      static_cast<int>(cues_.common)) &&
        (cues_.language < 0 || stopword_hits_[l] > stopword_hits_[cues_.language])) {
      cues_.language = l;
    }
  }
  sink_.OnSentence(cues_);
  cues_ = SentenceCues();
  std::fill(std::begin(stopword_hits_), std::end(stopword_hits_), 0);
  std::fill(std::begin(stopword_first_), std::end(stopword_first_), 0);
  std::fill(std::begin(stopword_kinds_), std::end(stopword_kinds_), false);

  // The sentence joins the whole text and becomes the previous one.
  AddSpan(whole_, sentence_, labels_);
  std::swap(previous_, sentence_);
  previous_request_ = request;
  previous_is_first_ = sentences_ == 0;
  has_previous_ = true;
  ++sentences_;
  std::fill(sentence_.sums, sentence_.sums + labels_, 0.0f);
  sentence_.features = sentence_.tokens = 0;
  steps_in_sentence_ = 0;
  sentence_opening_ = Opening();
}

void PartScanner::Finish() {
  while (pending_ > 0) {
    Process();
  }
  FinishStep(true);
  FinishSentence(true);
}

}  // namespace firebreak::classify
