// Signed receipts: what Firebreak decided for one request, under which
// policy, at which place in the audit trail, signed by the instance's Ed25519
// key (the key that signs audit checkpoints). A caller keeps the
// x-firebreak-receipt header and can prove later, offline, what was decided:
// `firebreak verify-receipt RECEIPT --pubkey INSTANCE.pub`.
//
// Encoding: "fbr1." base64url(payload) "." base64url(signature), where the
// payload is JSON with sorted keys and the signature covers
// "firebreak-receipt/1\n" followed by the payload bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/base/signing.h"
#include "firebreak/base/status.h"

namespace firebreak::exchange {

struct Receipt {
  std::string instance;    // audit instance id
  std::string request_id;  // x-firebreak-request-id
  std::string decision;    // ALLOW, ALLOW_CONSTRAINED, BLOCK
  std::vector<std::string> rules;
  std::string policy;       // bundle digest
  std::uint64_t seq = 0;    // the decision record's audit sequence number
  std::string record_hash;  // its chain hash (hex)
};

std::string SignReceipt(const Receipt& receipt, const base::SigningKey& key);

// The receipt when the signature verifies against `public_pem`; otherwise
// InvalidArgument saying what is wrong (malformed, bad signature).
base::StatusOr<Receipt> VerifyReceipt(std::string_view token, std::string_view public_pem);

}  // namespace firebreak::exchange
