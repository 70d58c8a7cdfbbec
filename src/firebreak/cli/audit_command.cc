
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <ostream>
#include <thread>

#include "firebreak/audit/verify.h"
#include "firebreak/base/digest.h"
#include "firebreak/base/signing.h"
#include "firebreak/cli/commands.h"

namespace firebreak::cli {
namespace {

namespace json = boost::json;

std::string Field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::uint64_t Number(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_int64() && v->get_int64() > 0 ? static_cast<std::uint64_t>(v->get_int64()) : 0;
}

base::StatusOr<audit::VerifyReport> VerifyExport(const std::string& path,
                                                 const std::string& trusted_pem,
                                                 const std::string& witness) {
  std::ifstream in(path);
  if (!in) {
    return base::NotFound("cannot open " + path);
  }
  std::string line;
  std::size_t number = 0;
  std::unique_ptr<audit::ChainVerifier> verifier;
  std::string key_source = "the key given";
  while (std::getline(in, line)) {
    ++number;
    const std::string where = path + ":" + std::to_string(number);
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      return base::InvalidArgument(where + ": not a JSON object");
    }
    const json::object& o = v.get_object();
    const std::string type = Field(o, "type");
    if (verifier == nullptr) {
      std::string previous;
      if (type != "header" || !base::HexDecode(Field(o, "previous_hash"), previous) ||
          previous.size() != 32) {
        return base::InvalidArgument(where + ": an export starts with its header line");
      }
      base::Sha256 start{};
      std::copy(previous.begin(), previous.end(), start.begin());
      std::string pem = trusted_pem;
      if (pem.empty()) {
        pem = Field(o, "public_key");
        key_source = "the key in the export (pass --pubkey to verify against a trusted copy)";
      }
      verifier = std::make_unique<audit::ChainVerifier>(Field(o, "instance"), pem,
                                                        Number(o, "first_seq"), start);
      if (!witness.empty()) {
        base::StatusOr<audit::WitnessHeads> heads =
            audit::ReadWitnessFile(witness, Field(o, "instance"));
        if (!heads.ok()) {
          return heads.status();
        }
        if (heads->heads.empty()) {
          verifier->Fail(
              0, "the witness " + witness + " holds no head of instance " + Field(o, "instance"));
        }
        verifier->ExpectWitness(std::move(heads).value());
      }
      continue;
    }
    std::string hash;
    if (!base::HexDecode(Field(o, "hash"), hash)) {
      return base::InvalidArgument(where + ": bad hash");
    }
    if (type == "record") {
      verifier->AddRecord(Number(o, "seq"), Field(o, "body"), hash);
    } else if (type == "checkpoint") {
      std::string signature;
      if (!base::HexDecode(Field(o, "signature"), signature)) {
        return base::InvalidArgument(where + ": bad signature encoding");
      }
      verifier->AddCheckpoint(Number(o, "seq"), hash, signature, Field(o, "time"));
    } else {
      return base::InvalidArgument(where + ": unknown line type '" + type + "'");
    }
  }
  if (verifier == nullptr) {
    return base::InvalidArgument(path + ": empty export");
  }
  audit::VerifyReport report = verifier->Finish();
  report.key_source = key_source;
  return report;
}

}  // namespace

int RunAuditVerify(const AuditVerifyOptions& options, std::ostream& out, std::ostream& err) {
  std::optional<std::string> pem;
  if (!options.pubkey.empty()) {
    base::StatusOr<std::string> key = base::ReadFile(options.pubkey);
    if (!key.ok()) {
      err << "firebreak audit verify: " << key.status().message() << '\n';
      return kExitUsage;
    }
    pem = *key;
  }
  base::StatusOr<audit::VerifyReport> report =
      options.db.empty() ? VerifyExport(options.jsonl, pem.value_or(""), options.witness)
                         : audit::VerifyDatabase(options.db, pem, options.witness);
  if (!report.ok()) {
    err << "firebreak audit verify: " << report.status().message() << '\n';
    return kExitUsage;
  }
  if (!report->ok) {
    out << "FAILED" << (report->bad_seq > 0 ? " at record " + std::to_string(report->bad_seq) : "")
        << ": " << report->problem << '\n';
    return kExitPolicyFailure;
  }
  out << "ok " << report->records << " records, " << report->checkpoints << " checkpoints";
  if (!options.witness.empty()) {
    out << ", " << report->witness_heads << " witness heads";
  }
  out << '\n';
  if (report->journaled > 0) {
    err << report->journaled
        << " of the records are in the journal only: the log moves them into the database "
           "as it runs, or when it is next opened\n";
  }
  if (report->last_seq > report->attested_seq) {
    err << "unattested: records " << report->attested_seq + 1 << ".." << report->last_seq
        << " come after the last signed head (record " << report->attested_seq << "): no checkpoint"
        << (options.witness.empty() ? "" : " or witness head")
        << " vouches for them yet (a running log signs them within its checkpoint interval; "
           "records added by someone who can edit the database would look the same)\n";
  }
  if (report->legacy_checkpoints > 0) {
    err << report->legacy_checkpoints
        << " checkpoints were signed before checkpoints signed their time: their time column is "
           "not checked\n";
  }
  if (!report->witness_other_instances.empty()) {
    err << "the witness also holds heads of " << report->witness_other_instances.size()
        << " other instances (other databases, or earlier chains of this one that were moved "
           "aside or replaced):";
    for (const std::string& other : report->witness_other_instances) {
      err << ' ' << other;
    }
    err << '\n';
  }
  if (!report->witness_other_lines.empty()) {
    err << "the witness has " << report->witness_other_lines.size()
        << " lines that are not signed heads (appends cut short by a crash), the first at line "
        << report->witness_other_lines.front() << '\n';
  }
  for (const std::string& tail : report->unsigned_tails) {
    err << "unsigned tail found at an open: " << tail << '\n';
  }
  if (options.witness.empty()) {
    err << "no --witness given: records deleted from the end together with their checkpoints "
           "cannot be detected\n";
  }
  err << "checkpoint signatures checked with " << report->key_source << '\n';
  return kExitOk;
}

int RunAuditExport(const AuditExportOptions& options, std::ostream& out, std::ostream& err) {
  if (base::Status s = audit::ExportJsonl(options.db, options.from, out); !s.ok()) {
    err << "firebreak audit export: " << s.message() << '\n';
    return kExitUsage;
  }
  return kExitOk;
}

int RunAuditPubkey(const std::string& key_path, std::ostream& out, std::ostream& err) {
  base::StatusOr<base::SigningKey> key = base::SigningKey::LoadPem(key_path);
  if (!key.ok()) {
    err << "firebreak audit pubkey: " << key.status().message() << '\n';
    return kExitUsage;
  }
  out << key->PublicPem();
  return kExitOk;
}

int RunAuditTail(const AuditTailOptions& options, std::ostream& out, std::ostream& err) {
  base::StatusOr<std::unique_ptr<audit::RecordReader>> reader =
      audit::RecordReader::Open(options.db);
  if (!reader.ok()) {
    err << "firebreak audit tail: " << reader.status().message() << '\n';
    return kExitUsage;
  }
  std::uint64_t after = options.from == 0 ? (*reader)->LastSeq() : options.from - 1;
  for (;;) {
    after = (*reader)->ReadAfter(
        after, [&](std::uint64_t, std::string_view body) { out << body << '\n'; });
    out.flush();
    if (!options.follow) {
      return kExitOk;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace firebreak::cli
