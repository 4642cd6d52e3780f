#include "common/audit_service.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/audit.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/pagination.h"
#include "common/resource_name.h"
#include "common/status_macros.h"
#include "common/validation.h"

namespace outreach::audit {
namespace {

const ServiceHandlers kHandlers{kDomain, "/outreach.audit.v1.AuditService/"};

// Filters are exact matches on what records hold; nothing real is longer than this.
constexpr size_t kMaxFilterBytes = 1024;

absl::StatusOr<std::optional<absl::Time>> OptTime(absl::string_view field, bool has,
                                                  const google::protobuf::Timestamp& t) {
  if (!has) return std::optional<absl::Time>();
  OUTREACH_ASSIGN_OR_RETURN(absl::Time time, FromProtoTime(field, t));
  return std::optional<absl::Time>(time);
}

void CheckFilter(absl::string_view field, const std::string& value,
                 std::vector<FieldViolation>* out) {
  if (value.size() > kMaxFilterBytes) {
    out->push_back(
        {std::string(field), absl::StrCat("must be at most ", kMaxFilterBytes, " bytes")});
  }
}

void Fill(const StoredRecord& in, v1::AuditRecord* out) {
  const Record& r = in.record;
  out->set_sequence(in.seq);
  if (!r.force.empty()) out->set_force(ForcePattern().Format({r.force}));
  out->set_subject(r.subject);
  for (const auto& role : r.roles) out->add_roles(role);
  out->set_peer(r.peer);
  out->set_method(r.method);
  for (const auto& name : r.resources) out->add_resources(name);
  for (const auto& path : r.field_paths) out->add_field_paths(path);
  out->set_justification(r.justification);
  *out->mutable_time() = ToProtoTime(r.time);
  out->set_code(r.code);
  out->set_hash(in.hash);
}

absl::Status BadToken() {
  return InvalidArgumentWithReason("INVALID_PAGE_TOKEN", "page_token",
                                   "is malformed; pass back next_page_token unchanged");
}

}  // namespace

grpc::Status AuditServiceImpl::ListAuditRecords(grpc::ServerContext* ctx,
                                                const v1::ListAuditRecordsRequest* r,
                                                v1::ListAuditRecordsResponse* out) {
  return kHandlers.Run(ctx, "ListAuditRecords", [&]() -> absl::Status {
    Query query;
    OUTREACH_ASSIGN_OR_RETURN(query.force, ParseForce("parent", r->parent()));
    std::vector<FieldViolation> v;
    CheckFilter("subject", r->subject(), &v);
    CheckFilter("resource", r->resource(), &v);
    CheckFilter("method", r->method(), &v);
    auto since = OptTime("start_time", r->has_start_time(), r->start_time());
    auto until = OptTime("end_time", r->has_end_time(), r->end_time());
    AppendViolations(since.status(), &v);
    AppendViolations(until.status(), &v);
    if (since.ok() && until.ok() && *since && *until && **until < **since) {
      v.push_back({"end_time", "must not be before start_time"});
    }
    OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(v)));
    query.subject = r->subject();
    query.resource = r->resource();
    query.method = r->method();
    query.since = *since;
    query.until = *until;
    OUTREACH_ASSIGN_OR_RETURN(query.page_size, NormalizePageSize(r->page_size()));
    // Tokens are bound to every filter; the cursor is the last seq returned (keyset paging,
    // so records appended meanwhile do not shift later pages).
    const std::string since_text = since->has_value() ? absl::StrCat(db::ToMicros(**since)) : "";
    const std::string until_text = until->has_value() ? absl::StrCat(db::ToMicros(**until)) : "";
    const std::string fingerprint =
        QueryFingerprint({r->GetDescriptor()->full_name(), r->parent(), r->subject(), r->resource(),
                          r->method(), since_text, until_text});
    OUTREACH_ASSIGN_OR_RETURN(PageCursor cursor,
                              context_.page_tokens->Decode(r->page_token(), fingerprint));
    if (!r->page_token().empty()) {
      if (cursor.last_key.size() != 1 || !absl::SimpleAtoi(cursor.last_key[0], &query.before_seq) ||
          query.before_seq <= 0) {
        return BadToken();
      }
    }
    Page page;
    OUTREACH_RETURN_IF_ERROR(context_.db->Read([&](db::Connection& c) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(page, List(c, query));
      return absl::OkStatus();
    }));
    for (const StoredRecord& record : page.records) Fill(record, out->add_audit_records());
    if (page.next_before_seq > 0) {
      out->set_next_page_token(context_.page_tokens->Encode(
          fingerprint, PageCursor{{absl::StrCat(page.next_before_seq)}, 0}));
    }
    return absl::OkStatus();
  });
}

grpc::Status AuditServiceImpl::VerifyAuditLog(grpc::ServerContext* ctx,
                                              const v1::VerifyAuditLogRequest* r,
                                              v1::VerifyAuditLogResponse* out) {
  return kHandlers.Run(ctx, "VerifyAuditLog", [&]() -> absl::Status {
    OUTREACH_RETURN_IF_ERROR(ParseForce("parent", r->parent()).status());
    VerifyResult result;
    OUTREACH_RETURN_IF_ERROR(context_.db->Read([&](db::Connection& c) -> absl::Status {
      OUTREACH_ASSIGN_OR_RETURN(result, Verify(c));
      return absl::OkStatus();
    }));
    out->set_ok(result.ok);
    out->set_records_checked(result.records_checked);
    out->set_first_bad_sequence(result.first_bad_seq);
    out->set_problem(result.problem);
    return absl::OkStatus();
  });
}

}  // namespace outreach::audit
