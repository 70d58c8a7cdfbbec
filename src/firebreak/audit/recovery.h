// Opening the audit log, before its threads start: the records the journal
// and the database both hold are checked against each other, what the
// journal holds beyond the database (a process killed earlier) is moved in,
// the head is checked against the last signed checkpoint and the readable
// witnesses, and the tail nothing signed vouches for is recorded.
#pragma once

#include "firebreak/audit/audit_log.h"
#include "firebreak/audit/store.h"
#include "firebreak/base/status.h"

namespace firebreak::audit {

// DataLoss when the journal, the checkpoint or a witness shows records
// deleted, rewritten or added while the log was closed; no record is written
// until everything is checked, so that a database the log refuses, and its
// journal, are left as they were found. Fills `report` (AuditLog::opened),
// and publishes the open head to the readable witnesses.
base::Status Recover(Store& store, const AuditOptions& options, OpenReport& report);

}  // namespace firebreak::audit
