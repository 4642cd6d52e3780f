#pragma once

// Small SQL helpers of the metrics store and read model: positional binding of plain values
// and row loops.

#include <optional>
#include <string>
#include <type_traits>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/db.h"
#include "common/status_macros.h"

namespace outreach::metrics::sql {

using db::Connection;
using db::Statement;

// A BLOB value (serialized protobuf): bound as bytes, not text (PostgreSQL's BYTEA takes no text).
struct Bytes {
  absl::string_view data;
};

inline void BindAll(Statement&, int) {}
template <typename T, typename... Rest>
void BindAll(Statement& st, int i, const T& v, const Rest&... rest) {
  if constexpr (std::is_same_v<T, Bytes>) {
    st.BindBlob(i, v.data);
  } else if constexpr (std::is_same_v<T, bool>) {
    st.Bind(i, static_cast<int64_t>(v ? 1 : 0));
  } else if constexpr (std::is_same_v<T, std::optional<std::string>>) {
    if (v.has_value()) {
      st.Bind(i, *v);
    } else {
      st.BindNull(i);
    }
  } else if constexpr (std::is_enum_v<T> || (std::is_integral_v<T> && !std::is_same_v<T, int64_t> &&
                                             !std::is_same_v<T, int>)) {
    st.Bind(i, static_cast<int64_t>(v));
  } else {
    st.Bind(i, v);
  }
  BindAll(st, i + 1, rest...);
}

template <typename... Args>
absl::StatusOr<Statement> Query(Connection& tx, absl::string_view sql, const Args&... args) {
  auto st = tx.Prepare(sql);
  if (!st.ok()) return st.status();
  BindAll(*st, 1, args...);
  return std::move(*st);
}

// Calls `row(st)` for every row of `st`.
template <typename Fn>
absl::Status ForEachRow(Statement& st, Fn&& row) {
  for (;;) {
    OUTREACH_ASSIGN_OR_RETURN(bool more, st.Step());
    if (!more) return absl::OkStatus();
    row(st);
  }
}

// One integer from a single-row query (0 when no row or NULL).
template <typename... Args>
absl::StatusOr<int64_t> QueryInt(Connection& tx, absl::string_view sql, const Args&... args) {
  OUTREACH_ASSIGN_OR_RETURN(Statement st, Query(tx, sql, args...));
  OUTREACH_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found || st.IsNull(0)) return 0;
  return st.Int64(0);
}

}  // namespace outreach::metrics::sql
