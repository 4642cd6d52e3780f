#include "common/store_kit.h"

namespace outreach {

absl::Status RequireAbsent(db::Connection& c, absl::string_view table, absl::string_view force,
                           absl::string_view id, absl::string_view name) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement q,
      c.Prepare(absl::StrCat("SELECT 1 FROM ", table, " WHERE force = ? AND id = ?")));
  q.Bind(1, force).Bind(2, id);
  OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
  if (row) return AlreadyExists(name);
  return absl::OkStatus();
}

absl::Status DeleteRow(db::Connection& c, absl::string_view table, absl::string_view force,
                       absl::string_view id) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement q,
      c.Prepare(absl::StrCat("DELETE FROM ", table, " WHERE force = ? AND id = ?")));
  q.Bind(1, force).Bind(2, id);
  return q.Run();
}

absl::StatusOr<bool> RowExists(db::Connection& c, absl::string_view sql, absl::string_view force,
                               absl::string_view value) {
  OUTREACH_ASSIGN_OR_RETURN(db::Statement q, c.Prepare(sql));
  q.Bind(1, force).Bind(2, value);
  return q.Step();
}

}  // namespace outreach
