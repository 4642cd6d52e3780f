#pragma once

// Early-return helpers for absl::Status / absl::StatusOr inside the workshops service.

#define WS_CONCAT_INNER_(a, b) a##b
#define WS_CONCAT_(a, b) WS_CONCAT_INNER_(a, b)

#define WS_RETURN_IF_ERROR(expr)             \
  do {                                       \
    const absl::Status ws_status_ = (expr);  \
    if (!ws_status_.ok()) return ws_status_; \
  } while (0)

#define WS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(*tmp)

#define WS_ASSIGN_OR_RETURN(lhs, expr) \
  WS_ASSIGN_OR_RETURN_IMPL_(WS_CONCAT_(ws_statusor_, __LINE__), lhs, expr)
