#pragma once

// Early return for absl::Status / absl::StatusOr, the same in every service.
//   OUTREACH_RETURN_IF_ERROR(store.Check(x));
//   OUTREACH_ASSIGN_OR_RETURN(Venue venue, store.GetVenue(force, id));

#define OUTREACH_CONCAT_INNER_(a, b) a##b
#define OUTREACH_CONCAT_(a, b) OUTREACH_CONCAT_INNER_(a, b)

#define OUTREACH_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::absl::Status outreach_status_ = (expr);            \
    if (!outreach_status_.ok()) return outreach_status_; \
  } while (0)

// `lhs` may be a declaration ("Venue v"), so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define OUTREACH_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return tmp.status();                   \
  lhs = std::move(*tmp)
// NOLINTEND(bugprone-macro-parentheses)

#define OUTREACH_ASSIGN_OR_RETURN(lhs, expr) \
  OUTREACH_ASSIGN_OR_RETURN_IMPL_(OUTREACH_CONCAT_(outreach_statusor_, __LINE__), lhs, expr)
