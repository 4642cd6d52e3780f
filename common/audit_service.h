#pragma once

#include "common/service_main.h"
#include "outreach/audit/v1/audit.grpc.pb.h"

namespace outreach::audit {

inline constexpr absl::string_view kDomain = "outreach.audit.v1";
inline constexpr absl::string_view kHealthName = "outreach.audit.v1.AuditService";

// The gRPC face of the audit log (common/audit.h) over one service's store. RunServiceMain adds
// it to every service binary; who may call it (the auditor role) is the security policy's
// decision, not this class's. Sync API: handlers block on SQLite like every service's.
class AuditServiceImpl final : public v1::AuditService::Service {
 public:
  explicit AuditServiceImpl(const ServiceContext& context) : context_(context) {}

  grpc::Status ListAuditRecords(grpc::ServerContext*, const v1::ListAuditRecordsRequest*,
                                v1::ListAuditRecordsResponse*) override;
  grpc::Status VerifyAuditLog(grpc::ServerContext*, const v1::VerifyAuditLogRequest*,
                              v1::VerifyAuditLogResponse*) override;

 private:
  const ServiceContext context_;
};

}  // namespace outreach::audit
