#pragma once

// The plumbing every service store shares, so a store's own code is its tables, its row
// mapping and the rules that need stored data. Resources live in tables of the layout
//   (force TEXT, id TEXT, <columns that filters, ordering and rules need>, body BLOB)
// keyed by (force, id), with the whole resource serialized in `body`, which reads return.

#include <optional>
#include <string>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/db.h"
#include "common/errors.h"
#include "common/etag.h"
#include "common/pagination.h"
#include "common/query.h"
#include "common/status_macros.h"
#include "common/store_support.h"
#include "google/protobuf/message.h"

namespace outreach {

// request_id idempotency of one create (AIP-155): the client's id (empty = none) and the hash
// of the request body, so the same id with another body is refused.
struct RequestKey {
  std::string request_id;
  std::string request_hash;
};
template <typename Request>
RequestKey RequestKeyOf(const Request& request) {
  return {request.request_id(), RequestHash(request)};
}

// Where a create runs: the force, the method (requests are scoped to both), its request key and
// the transaction's time.
struct CreateScope {
  absl::string_view force;
  absl::string_view method;
  const RequestKey& key;
  absl::Time now;
};

// The idempotent-create envelope, inside the caller's write transaction: a request seen before
// answers the response remembered for it; otherwise `create` runs and, when it succeeds, its
// response is remembered in the same transaction, so a crash never keeps one without the other.
template <typename M>
absl::StatusOr<M> CreateOnce(db::Connection& c, const CreateScope& scope,
                             absl::FunctionRef<absl::StatusOr<M>()> create) {
  if (scope.key.request_id.empty()) return create();
  OUTREACH_ASSIGN_OR_RETURN(std::optional<std::string> prior,
                            RequestLedger::Find(c, scope.force, scope.method, scope.key.request_id,
                                                scope.key.request_hash));
  if (prior) {
    M replayed;
    if (!replayed.ParseFromString(*prior)) {
      return absl::InternalError("stored response does not parse");
    }
    return replayed;
  }
  OUTREACH_ASSIGN_OR_RETURN(M created, create());
  OUTREACH_RETURN_IF_ERROR(RequestLedger::Remember(c, scope.force, scope.method,
                                                   scope.key.request_id, scope.key.request_hash,
                                                   created.SerializeAsString(), scope.now));
  return created;
}

// The stored body of (force, id) in `table`, or nullopt when there is no such row. A row that
// does not parse is an error (INTERNAL), never "absent".
template <typename M>
absl::StatusOr<std::optional<M>> LoadBody(db::Connection& c, absl::string_view table,
                                          absl::string_view force, absl::string_view id) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement q,
      c.Prepare(absl::StrCat("SELECT body FROM ", table, " WHERE force = ? AND id = ?")));
  q.Bind(1, force).Bind(2, id);
  OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<M>();
  M m;
  if (!m.ParseFromString(q.Blob(0))) {
    return absl::InternalError(absl::StrCat("stored row of ", table, " does not parse"));
  }
  return std::optional<M>(std::move(m));
}

// As LoadBody, NOT_FOUND naming `name` when absent.
template <typename M>
absl::StatusOr<M> MustLoad(db::Connection& c, absl::string_view table, absl::string_view force,
                           absl::string_view id, absl::string_view name) {
  OUTREACH_ASSIGN_OR_RETURN(std::optional<M> found, LoadBody<M>(c, table, force, id));
  if (!found) return NotFound(name);
  return std::move(*found);
}

// ALREADY_EXISTS naming `name` when (force, id) has a row in `table`; storage errors pass on.
absl::Status RequireAbsent(db::Connection& c, absl::string_view table, absl::string_view force,
                           absl::string_view id, absl::string_view name);

absl::Status DeleteRow(db::Connection& c, absl::string_view table, absl::string_view force,
                       absl::string_view id);

// Whether a query with (force, value) parameters finds a row.
absl::StatusOr<bool> RowExists(db::Connection& c, absl::string_view sql, absl::string_view force,
                               absl::string_view value);

// One page of a table's resources of `force`, filtered and ordered as `query` says through
// `schema` (the table is aliased `t`, as the schema's columns expect).
template <typename M>
absl::StatusOr<ListPage<M>> ListRows(db::Database* db, absl::string_view table,
                                     const QuerySchema& schema, absl::string_view default_order,
                                     absl::string_view force, const ListQuery& query) {
  OUTREACH_ASSIGN_OR_RETURN(SqlFragment where, schema.Where(query.filter));
  OUTREACH_ASSIGN_OR_RETURN(std::string order, schema.OrderBy(query.order_by, default_order));
  ListPage<M> page;
  OUTREACH_RETURN_IF_ERROR(db->Read([&](db::Connection& c) -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(
        RowPage rows,
        SelectRowPage(c, absl::StrCat(table, " t"), "t.body", "t.force = ?", {std::string(force)},
                      where, order, query.page_size, query.offset));
    page.total_size = rows.total_size;
    for (const std::string& body : rows.bodies) {
      M m;
      if (!m.ParseFromString(body)) {
        return absl::InternalError(absl::StrCat("stored row of ", table, " does not parse"));
      }
      page.items.push_back(std::move(m));
    }
    if (rows.more) page.next_offset = query.offset + static_cast<int64_t>(page.items.size());
    return absl::OkStatus();
  }));
  return page;
}

}  // namespace outreach
