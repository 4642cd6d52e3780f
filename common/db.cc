#include "common/db.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace outreach::db {

int64_t ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t micros) { return absl::FromUnixMicros(micros); }

bool IsPostgresUrl(absl::string_view location) {
  return absl::StartsWith(location, "postgresql://") || absl::StartsWith(location, "postgres://");
}

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& location,
                                                         const std::vector<MigrationSet>& schema,
                                                         const Options& options) {
  if (IsPostgresUrl(location)) return OpenPostgres(location, schema, options);
  return OpenSqlite(location, schema, options);
}

absl::Status Database::Migrate(const std::vector<MigrationSet>& schema,
                               const std::function<std::string(absl::string_view)>& ddl) {
  absl::Status s = Write([&](Connection& c) {
    return c.Exec(
        ddl("CREATE TABLE IF NOT EXISTS schema_migrations ("
            " component TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,"
            " applied_time INTEGER NOT NULL, PRIMARY KEY (component, version))"));
  });
  if (!s.ok()) return s;
  for (const MigrationSet& set : schema) {
    absl::StatusOr<int> current = SchemaVersion(set.component);
    if (!current.ok()) return current.status();
    int latest = 0;
    for (const Migration& m : set.migrations) latest = std::max(latest, m.version);
    if (*current > latest) {
      return absl::FailedPreconditionError(
          absl::StrCat("database ", path_, " has schema version ", *current, " of ", set.component,
                       " but this binary knows only up to ", latest, "; run a newer binary"));
    }
    for (const Migration& m : set.migrations) {
      if (m.version <= *current) continue;
      s = Write([&](Connection& c) -> absl::Status {
        absl::Status applied = c.Exec(ddl(m.sql));
        if (!applied.ok()) return applied;
        auto insert = c.Prepare(
            "INSERT INTO schema_migrations (component, version, description, applied_time) "
            "VALUES (?, ?, ?, ?)");
        if (!insert.ok()) return insert.status();
        insert->Bind(1, set.component)
            .Bind(2, m.version)
            .Bind(3, m.description)
            .Bind(4, ToMicros(absl::Now()));
        return insert->Run();
      });
      if (!s.ok()) {
        return absl::InternalError(absl::StrCat("migration ", set.component, " v", m.version, " (",
                                                m.description, ") failed: ", s.message()));
      }
      OUTREACH_LOG(kInfo, "schema_migrated")
          .Kv("component", set.component)
          .Kv("version", m.version)
          .Kv("description", m.description);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Database::SchemaVersion(absl::string_view component) {
  int version = 0;
  absl::Status s = Read([&](Connection& c) -> absl::Status {
    auto q =
        c.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?");
    if (!q.ok()) return q.status();
    q->Bind(1, component);
    auto row = q->Step();
    if (!row.ok()) return row.status();
    version = static_cast<int>(q->Int64(0));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return version;
}

absl::Status Database::Ping() {
  return Read([](Connection& c) -> absl::Status {
    auto q = c.Prepare("SELECT COUNT(*) FROM schema_migrations");
    if (!q.ok()) return q.status();
    auto row = q->Step();
    return row.ok() ? absl::OkStatus() : row.status();
  });
}

void Database::SetCommitListener(std::function<void()> listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

void Database::NotifyCommitListener() {
  // Held while the listener runs, so that clearing it waits for this call to end.
  absl::MutexLock lock(&listener_mu_);
  if (listener_) listener_();
}

// --- ScopedCommitHook --------------------------------------------------------------------

namespace {
// The innermost hook constructed on this thread (armed or not); each hook links to the outer.
thread_local ScopedCommitHook* current_hook = nullptr;
}  // namespace

ScopedCommitHook::ScopedCommitHook(std::function<absl::Status(Connection&)> fn)
    : fn_(std::move(fn)), outer_(current_hook) {
  current_hook = this;
}

ScopedCommitHook::~ScopedCommitHook() { current_hook = outer_; }

ScopedCommitHook* Database::TakeCommitHook() {
  for (ScopedCommitHook* h = current_hook; h != nullptr; h = h->outer_) {
    if (h->armed_) {
      h->armed_ = false;
      return h;
    }
  }
  return nullptr;
}

absl::Status Database::RunCommitHook(ScopedCommitHook* hook, Connection& c) {
  return hook == nullptr ? absl::OkStatus() : hook->fn_(c);
}

void Database::MarkCommitted(ScopedCommitHook* hook) {
  if (hook != nullptr) hook->fired_ = true;
}

}  // namespace outreach::db
