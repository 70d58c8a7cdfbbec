#include "firebreak/classify/language.h"

#include <utf8proc.h>

#include <cstdlib>

#include "firebreak/classify/features.h"
#include "firebreak/classify/normalize.h"

namespace firebreak::classify {
namespace {

// The most common English words (function words first, then frequent
// content words), normalised as the classifier sees them.
// How many of the first words of kCommonEnglish count for ROT13 and reversed
// text.
constexpr std::size_t kEncodedSample = 120;

constexpr std::string_view kCommonEnglish[] = {
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on",
    "are", "with", "as", "i", "his", "they", "be", "at", "one", "have", "this", "from", "or",
    "had", "by", "not", "but", "what", "some", "we", "can", "out", "other", "were", "all",
    "there", "when", "up", "use", "your", "how", "said", "an", "each", "she", "which", "do",
    "their", "time", "if", "will", "way", "about", "many", "then", "them", "would", "like", "so",
    "these", "her", "long", "make", "thing", "see", "him", "two", "has", "look", "more", "day",
    "could", "go", "come", "did", "no", "most", "people", "my", "over", "know", "than", "call",
    "first", "who", "may", "down", "side", "been", "now", "find", "any", "new", "work", "part",
    "take", "get", "place", "made", "live", "where", "after", "back", "little", "only", "man",
    "year", "came", "show", "every", "good", "me", "give", "our", "under", "name", "very",
    "through", "just", "great", "think", "say", "help", "line", "turn", "much", "mean",
    "before", "move", "right", "old", "too", "same", "tell", "does", "set", "three", "want",
    "well", "also", "small", "end", "put", "home", "read", "hand", "large", "add", "even",
    "here", "must", "big", "high", "such", "follow", "act", "why", "ask", "men", "change",
    "went", "light", "kind", "off", "need", "house", "try", "us", "again", "point", "world",
    "near", "build", "own", "should", "country", "found", "answer", "still", "last", "let",
    "city", "start", "might", "saw", "far", "left", "late", "run", "while", "close",
    "night", "real", "life", "few", "stop", "open", "seem", "together", "next", "begin", "got",
    "walk", "always", "both", "often", "until", "children", "side", "feet", "car", "mile",
    "along", "might", "something", "thought", "head", "under", "story", "saw", "left", "few",
    "while", "along", "might", "close", "hard", "area", "report", "reports", "please",
    "week", "group", "number", "state", "between", "during", "without", "against", "into",
    "its", "those", "because", "any", "since", "being", "another", "around", "however", "upon",
    "why", "whom", "whose", "am", "shall", "yes", "yet", "nor", "per", "via", "across",
    "within", "among", "above", "below", "behind", "beyond", "toward", "towards", "onto",
    "about", "again", "already", "although", "anyone", "anything", "became", "become",
    "cannot", "done", "either", "else", "enough", "ever", "everyone", "everything", "few",
    "given", "going", "here", "herself", "himself", "itself", "less", "made", "making",
    "might", "mine", "more", "much", "myself", "neither", "never", "nothing", "once", "other",
    "others", "otherwise", "ours", "out", "rather", "really", "same", "several", "should",
    "since", "someone", "sometimes", "soon", "still", "such", "than", "theirs",
    "themselves", "therefore", "though", "thus", "today", "tomorrow", "too",
    "under", "unless", "until", "us", "used", "using", "various", "whether", "while", "whole",
    "will", "with", "would", "yesterday", "yours", "yourself", "day", "days", "hour", "hours", "minute", "morning",
    "evening", "today", "information", "list", "summary", "message", "messages", "text",
    "translate", "summarize", "summarise", "write", "short", "brief", "following", "below",
    "attached", "document", "data", "based", "keep", "team", "include", "important", "key",
    "main", "local", "government", "public", "order", "support", "force", "forces", "military",
    "security", "phone", "every", "where", "who", "goes", "meets", "sleeps", "leaves", "when",
    "target", "targets", "people", "person", "time", "times", "place", "places", "work", "works",
    "office", "family", "friend", "friends", "school", "money", "water", "food", "road", "way",
    "side", "news", "case", "problem", "question", "fact", "system", "program", "power",
    "service", "level", "result", "results", "process", "plan", "plans", "member", "members",
    "law", "war", "party", "national", "international", "president", "minister", "region",
    "border", "attack", "operation", "operations", "unit", "units", "equipment", "ago",
    "yet", "ok", "okay", "thanks", "thank", "hello", "hi",
};

// Function words of the Latin-script languages the classifier does not read,
// normalised (lower case, no diacritics). Words that are also common English
// words, or codes in English text ("tu", "am"), are left out.
constexpr std::string_view kFrench[] = {
    "le", "la", "les", "des", "du", "une", "et", "est", "dans", "pour", "qui", "que", "qu",
    "sur", "avec", "pas", "ce", "cette", "ces", "il", "elle", "elles", "ils", "nous", "vous",
    "sont", "au", "aux", "sa", "ses", "leur", "leurs", "mais", "ou", "chaque", "tous", "toutes",
    "tout", "je", "ne", "se", "lui", "quand", "depuis", "apres", "avant", "etre", "avoir",
    "fait", "tres", "sans", "dont", "ont", "ete", "comme", "aussi", "quelle", "quel", "quels",
    "notre", "votre", "nos", "vos", "mes", "cet", "entre", "sous", "chez", "vers", "donc",
    "alors", "ici", "celui", "celle", "peut", "doit", "faire", "selon", "contre", "ainsi",
    "encore", "toujours", "jamais", "rien", "aucun", "aucune", "puis", "leurs", "moi", "toi",
    "soir", "jour", "chaque", "ou", "des", "sera", "seront", "etait", "avait",
};
constexpr std::string_view kSpanish[] = {
    "el", "los", "las", "del", "es", "en", "una", "por", "para", "con", "que", "se", "su",
    "sus", "al", "lo", "como", "mas", "pero", "este", "esta", "estos", "estas", "esa", "ese",
    "esos", "todos", "todas", "cada", "donde", "cuando", "sin", "sobre", "tambien", "muy",
    "hay", "ser", "fue", "le", "les", "yo", "nos", "ella", "ellos", "ellas", "quien",
    "quienes", "cual", "porque", "desde", "hasta", "entre", "segun", "hacia", "contra",
    "nuestro", "nuestra", "tiene", "tienen", "hace", "haz", "puede", "debe", "sea", "han",
    "estan", "era", "eran", "nada", "nadie", "siempre", "nunca", "aqui", "alli", "asi",
    "tras", "durante", "mediante", "ninguna", "ninguno", "ya", "dia",
};
constexpr std::string_view kPortuguese[] = {
    "os", "das", "dos", "da", "em", "um", "uma", "para", "com", "nao", "que", "se", "por",
    "mais", "mas", "como", "ele", "ela", "eles", "elas", "seu", "sua", "seus", "suas",
    "todos", "todas", "cada", "onde", "quando", "sem", "ser", "esta", "isso", "isto", "este",
    "esse", "essa", "aquele", "tambem", "muito", "ja", "ainda", "entre", "sobre", "depois",
    "antes", "pelo", "pela", "pelos", "pelas", "ao", "aos", "na", "nos", "nas", "voce", "eu",
    "nosso", "nossa", "foi", "sao", "tem", "tinha", "sido", "nenhuma", "nenhum", "dia",
};
constexpr std::string_view kItalian[] = {
    "il", "lo", "gli", "della", "delle", "degli", "dello", "di", "che", "non", "con", "una",
    "un", "sono", "del", "dei", "nel", "nella", "nelle", "negli", "alla", "alle", "agli",
    "allo", "anche", "questo", "questa", "questi", "queste", "tutti", "tutte", "ogni", "dove",
    "quando", "senza", "essere", "hanno", "ha", "sua", "suo", "suoi", "loro", "lui", "lei",
    "noi", "voi", "mio", "mia", "perche", "cosa", "molto", "piu", "sempre", "gia", "ancora",
    "tra", "fra", "sul", "sulla", "dal", "dalla", "dai", "ci", "ne", "nessuna", "nessun",
    "giorno", "ogni",
};
constexpr std::string_view kGerman[] = {
    "der", "die", "das", "und", "ist", "nicht", "mit", "den", "dem", "des", "ein", "eine",
    "einen", "einem", "einer", "zu", "von", "auf", "fur", "sich", "auch", "im", "sie", "wir",
    "ich", "er", "aber", "oder", "wenn", "nach", "bei", "werden", "wird", "sind", "haben",
    "noch", "nur", "alle", "jeden", "jede", "jeder", "uber", "wo", "wann", "wie", "dass",
    "durch", "unter", "gegen", "ohne", "zwischen", "seine", "ihre", "ihr", "unser", "diese",
    "dieser", "dieses", "kein", "keine", "sein", "waren", "wurde", "wurden", "schon", "sehr",
    "immer", "hier", "dort", "heute", "jetzt", "bitte", "um", "vom", "zum", "zur", "es",
    "jeden", "tag",
};
constexpr std::string_view kDutch[] = {
    "het", "een", "en", "van", "ik", "je", "niet", "dat", "die", "met", "voor", "zijn", "aan",
    "er", "maar", "om", "ook", "als", "bij", "wordt", "worden", "naar", "uit", "wat", "nog",
    "hij", "zij", "wij", "jullie", "deze", "dit", "hun", "kan", "moet", "door", "tegen",
    "zonder", "alle", "elke", "waar", "wanneer", "hebben", "heeft", "zal", "mijn", "onze",
    "geen", "wel", "dag",
};

const WordSet& Words() {
  static const WordSet* words = [] {
    auto* set = new WordSet();
    AddLanguageWords(*set);
    return set;
  }();
  return *words;
}

Language ScriptOf(char32_t c) {
  if (c >= 0x0400 && c <= 0x052F) return Language::kCyrillic;
  if (c >= 0x0370 && c <= 0x03FF) return Language::kGreek;
  if ((c >= 0x0600 && c <= 0x06FF) || (c >= 0x0750 && c <= 0x077F) ||
      (c >= 0x08A0 && c <= 0x08FF) || (c >= 0xFB50 && c <= 0xFDFF) ||
      (c >= 0xFE70 && c <= 0xFEFF)) {
    return Language::kArabic;
  }
  if (c >= 0x0590 && c <= 0x05FF) return Language::kHebrew;
  if ((c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
      (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FA1F)) {
    return Language::kChinese;
  }
  if (c >= 0x3040 && c <= 0x30FF) return Language::kJapanese;
  if ((c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x1100 && c <= 0x11FF) ||
      (c >= 0x3130 && c <= 0x318F)) {
    return Language::kKorean;
  }
  if (c >= 0x0900 && c <= 0x097F) return Language::kDevanagari;
  if (c >= 0x0E00 && c <= 0x0E7F) return Language::kThai;
  return Language::kOtherScript;
}

}  // namespace

std::string_view LanguageName(Language language) {
  switch (language) {
    case Language::kFrench:
      return "French";
    case Language::kSpanish:
      return "Spanish";
    case Language::kPortuguese:
      return "Portuguese";
    case Language::kItalian:
      return "Italian";
    case Language::kGerman:
      return "German";
    case Language::kDutch:
      return "Dutch";
    case Language::kCyrillic:
      return "Cyrillic script";
    case Language::kGreek:
      return "Greek";
    case Language::kArabic:
      return "Arabic script";
    case Language::kHebrew:
      return "Hebrew";
    case Language::kChinese:
      return "Chinese characters";
    case Language::kJapanese:
      return "Japanese kana";
    case Language::kKorean:
      return "Korean";
    case Language::kDevanagari:
      return "Devanagari script";
    case Language::kThai:
      return "Thai";
    case Language::kOtherScript:
      return "a non-Latin script";
  }
  return "a non-Latin script";
}

void AddLanguageWords(WordSet& set) {
  for (std::string_view w : kCommonEnglish) {
    set.Add(w, kCommonEnglishBit);
  }
  const std::pair<const std::string_view*, std::size_t> lists[] = {
      {kFrench, std::size(kFrench)},         {kSpanish, std::size(kSpanish)},
      {kPortuguese, std::size(kPortuguese)}, {kItalian, std::size(kItalian)},
      {kGerman, std::size(kGerman)},         {kDutch, std::size(kDutch)},
  };
  for (std::size_t l = 0; l < std::size(lists); ++l) {
    for (std::size_t i = 0; i < lists[l].second; ++i) {
      set.Add(lists[l].first[i], LanguageBit(static_cast<int>(l)));
    }
  }
  // A common English word counts as English only.
  set.Restrict(kCommonEnglishBit, ~kLanguageBits | kCommonEnglishBit);
  // Encoded spellings of the most frequent words (the first of the list).
  for (std::size_t i = 0; i < kEncodedSample; ++i) {
    const std::string_view w = kCommonEnglish[i];
    for (const auto& [encoded, bit] : {std::pair{Rot13(w), kRot13EnglishBit},
                                       std::pair{Reversed(w), kReversedEnglishBit}}) {
      if (encoded.size() >= 2 && (set.Find(ExactWordHash(encoded)) & kCommonEnglishBit) == 0) {
        set.Add(encoded, bit);
      }
    }
  }
}

std::uint64_t WordLanguages(std::uint64_t word_hash) {
  return Words().Find(word_hash) & kLanguageBits;
}

void WordSet::Add(std::string_view word, std::uint64_t bits) {
  const std::uint64_t hash = ExactWordHash(word);
  for (std::size_t i = hash & kMask;; i = (i + 1) & kMask) {
    if (slots_[i].hash == hash) {
      slots_[i].bits |= bits;
      return;
    }
    if (slots_[i].hash == 0) {
      if (++used_ > kSize / 2) {
        std::abort();  // a programming error: the word lists outgrew the table
      }
      slots_[i] = {hash, bits};
      return;
    }
  }
}

void WordSet::Restrict(std::uint64_t if_any, std::uint64_t bits) {
  for (Slot& slot : slots_) {
    if ((slot.bits & if_any) != 0) {
      slot.bits &= bits;
    }
  }
}

ScriptCounts CountScripts(std::string_view normalized) {
  ScriptCounts counts;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(normalized.data());
  std::size_t i = 0;
  while (i < normalized.size()) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t n =
        utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(normalized.size() - i), &c);
    if (n <= 0) {
      n = 1;
    }
    i += static_cast<std::size_t>(n);
    const utf8proc_category_t category = utf8proc_category(c);
    if (category < UTF8PROC_CATEGORY_LU || category > UTF8PROC_CATEGORY_LO) {
      continue;  // not a letter
    }
    if (c < 0x0250) {
      continue;  // Latin (diacritics are already stripped)
    }
    counts.any = true;
    ++counts.letters[static_cast<int>(ScriptOf(static_cast<char32_t>(c)))];
  }
  return counts;
}

bool ScriptShows(const ScriptCounts& counts, Language language) {
  const std::uint32_t n = counts.letters[static_cast<int>(language)];
  switch (language) {
    case Language::kChinese:
    case Language::kJapanese:
    case Language::kKorean:
      return n >= 4;  // a character is about a word
    default:
      return n >= 8;  // two words or so
  }
}

bool StopwordsShow(int hits, int kinds, int english_hits) {
  return hits >= 3 && kinds >= 2 && hits > english_hits;
}

}  // namespace firebreak::classify
