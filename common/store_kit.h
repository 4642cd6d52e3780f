#pragma once

// The plumbing every service store shares, so a store's own code is its tables, its row
// mapping and the rules that need stored data. Resources live in tables of the layout
//   (force TEXT, id TEXT, <columns that filters, ordering and rules need>, body BLOB)
// keyed by (force, id), with the whole resource serialized in `body`, which reads return.

#include <functional>
#include <optional>
#include <set>
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
#include "common/field_mask.h"
#include "common/pagination.h"
#include "common/query.h"
#include "common/resource_name.h"
#include "common/status_macros.h"
#include "common/store_support.h"
#include "google/protobuf/message.h"

namespace outreach {

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

// --- transactions that return a value ---------------------------------------------------
namespace store_kit_internal {
// Runs `fn` in the transaction `run` opens (Database::Write or ::Read) and returns its value.
template <typename T, typename Run>
absl::StatusOr<T> InTransaction(Run&& run,
                                absl::FunctionRef<absl::StatusOr<T>(db::Connection&)> fn) {
  std::optional<T> out;
  OUTREACH_RETURN_IF_ERROR(run([&](db::Connection& c) -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(out, fn(c));
    return absl::OkStatus();
  }));
  return std::move(*out);
}
}  // namespace store_kit_internal

template <typename T>
absl::StatusOr<T> WriteValue(db::Database* db,
                             absl::FunctionRef<absl::StatusOr<T>(db::Connection&)> fn) {
  return store_kit_internal::InTransaction<T>(
      [db](absl::FunctionRef<absl::Status(db::Connection&)> f) { return db->Write(f); }, fn);
}
template <typename T>
absl::StatusOr<T> ReadValue(db::Database* db,
                            absl::FunctionRef<absl::StatusOr<T>(db::Connection&)> fn) {
  return store_kit_internal::InTransaction<T>(
      [db](absl::FunctionRef<absl::Status(db::Connection&)> f) { return db->Read(f); }, fn);
}

// --- plain resources: the standard methods in one place -----------------------------------
// A resource kept in a (force, id, ..., body) table and named from {force, id} by `pattern`.
// `put` writes its row (insert or replace): the one place the store maps it to columns.
template <typename M>
struct ResourceTable {
  absl::string_view table;
  const ResourcePattern* pattern;
  std::function<absl::Status(db::Connection&, absl::string_view force, absl::string_view id,
                             const M&)>
      put;

  std::string Name(absl::string_view force, absl::string_view id) const {
    return pattern->Format({std::string(force), std::string(id)});
  }
};

// What a service adds to a standard method, inside its transaction: `check` runs the rules
// that depend on stored data (uniqueness, references in use) on the resource about to be
// written or deleted; `after` records what follows from the write (an outbox event).
template <typename M>
struct WriteHooks {
  std::function<absl::Status(db::Connection&, const M&)> check;
  std::function<absl::Status(db::Connection&, const M&, absl::Time now)> after;
};

namespace store_kit_internal {
template <typename M>
absl::Status RunHook(const std::function<absl::Status(db::Connection&, const M&)>& hook,
                     db::Connection& c, const M& m) {
  return hook ? hook(c, m) : absl::OkStatus();
}
template <typename M>
absl::Status RunAfter(const WriteHooks<M>& hooks, db::Connection& c, const M& m, absl::Time now) {
  return hooks.after ? hooks.after(c, m, now) : absl::OkStatus();
}
// The end of every edit of a stored resource: the data rules, stamp, write, then what follows.
template <typename M>
absl::StatusOr<M> WriteEdited(db::Connection& c, const ResourceTable<M>& table,
                              absl::string_view force, absl::string_view id, M out, absl::Time now,
                              const WriteHooks<M>& hooks) {
  OUTREACH_RETURN_IF_ERROR(RunHook(hooks.check, c, out));
  StampResource(&out, now, /*created=*/false);
  OUTREACH_RETURN_IF_ERROR(table.put(c, force, id, out));
  OUTREACH_RETURN_IF_ERROR(RunAfter(hooks, c, out, now));
  return out;
}
}  // namespace store_kit_internal

// Create (AIP-133) with request_id replay: refuses an existing id (ALREADY_EXISTS), names and
// stamps the resource, writes it and runs the hooks, all in the caller's write transaction.
template <typename M>
absl::StatusOr<M> CreateResource(db::Connection& c, const ResourceTable<M>& table,
                                 const CreateScope& scope, absl::string_view id, const M& input,
                                 const WriteHooks<M>& hooks = {}) {
  return CreateOnce<M>(c, scope, [&]() -> absl::StatusOr<M> {
    const std::string name = table.Name(scope.force, id);
    OUTREACH_RETURN_IF_ERROR(RequireAbsent(c, table.table, scope.force, id, name));
    M out = input;
    out.set_name(name);
    OUTREACH_RETURN_IF_ERROR(store_kit_internal::RunHook(hooks.check, c, out));
    StampResource(&out, scope.now, /*created=*/true);
    OUTREACH_RETURN_IF_ERROR(table.put(c, scope.force, id, out));
    OUTREACH_RETURN_IF_ERROR(store_kit_internal::RunAfter(hooks, c, out, scope.now));
    return out;
  });
}

// Update (AIP-134): loads the stored resource, checks `input`'s etag (the error names
// `etag_field`), copies the masked fields, re-validates the merged whole with `validate`, runs
// the hooks and writes it.
template <typename M>
absl::StatusOr<M> UpdateResource(db::Connection& c, const ResourceTable<M>& table,
                                 absl::string_view force, absl::string_view id, const M& input,
                                 const std::set<std::string>& paths, absl::string_view etag_field,
                                 absl::Time now,
                                 const std::function<absl::Status(const M&)>& validate,
                                 const WriteHooks<M>& hooks = {}) {
  const std::string name = table.Name(force, id);
  OUTREACH_ASSIGN_OR_RETURN(M out, MustLoad<M>(c, table.table, force, id, name));
  OUTREACH_RETURN_IF_ERROR(CheckEtag(etag_field, name, input.etag(), out.etag()));
  MergeMasked(input, paths, &out);
  if (validate) OUTREACH_RETURN_IF_ERROR(validate(out));
  return store_kit_internal::WriteEdited(c, table, force, id, std::move(out), now, hooks);
}

// A state change or other whole-resource edit: loads, checks `etag` (field "etag"), lets
// `change` edit the resource (returning a domain error refuses it), then stamps and writes it.
template <typename M>
absl::StatusOr<M> ChangeResource(db::Connection& c, const ResourceTable<M>& table,
                                 absl::string_view force, absl::string_view id,
                                 absl::string_view etag, absl::Time now,
                                 absl::FunctionRef<absl::Status(M&)> change,
                                 const WriteHooks<M>& hooks = {}) {
  const std::string name = table.Name(force, id);
  OUTREACH_ASSIGN_OR_RETURN(M out, MustLoad<M>(c, table.table, force, id, name));
  OUTREACH_RETURN_IF_ERROR(CheckEtag("etag", name, etag, out.etag()));
  OUTREACH_RETURN_IF_ERROR(change(out));
  return store_kit_internal::WriteEdited(c, table, force, id, std::move(out), now, hooks);
}

// Delete (AIP-135): loads, checks `etag` (field "etag"), runs `check` on the stored resource
// (e.g. FAILED_PRECONDITION while it is referenced), deletes the row and runs `after`.
template <typename M>
absl::Status DeleteResource(db::Connection& c, const ResourceTable<M>& table,
                            absl::string_view force, absl::string_view id, absl::string_view etag,
                            absl::Time now, const WriteHooks<M>& hooks = {}) {
  const std::string name = table.Name(force, id);
  OUTREACH_ASSIGN_OR_RETURN(M stored, MustLoad<M>(c, table.table, force, id, name));
  OUTREACH_RETURN_IF_ERROR(CheckEtag("etag", name, etag, stored.etag()));
  OUTREACH_RETURN_IF_ERROR(store_kit_internal::RunHook(hooks.check, c, stored));
  OUTREACH_RETURN_IF_ERROR(DeleteRow(c, table.table, force, id));
  return store_kit_internal::RunAfter(hooks, c, stored, now);
}

// Get (AIP-131) in its own read transaction.
template <typename M>
absl::StatusOr<M> GetResource(db::Database* db, const ResourceTable<M>& table,
                              absl::string_view force, absl::string_view id) {
  return ReadValue<M>(db, [&](db::Connection& c) {
    return MustLoad<M>(c, table.table, force, id, table.Name(force, id));
  });
}

}  // namespace outreach
