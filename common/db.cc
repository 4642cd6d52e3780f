#include "common/db.h"

#include <sqlite3.h>

#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace outreach::db {

absl::Status SqliteError(int code, sqlite3* db, absl::string_view context) {
  const std::string detail =
      absl::StrCat(context, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code),
                   " (sqlite ", code, ")");
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
      return absl::UnavailableError(detail);
    default:
      return absl::InternalError(detail);
  }
}

int64_t ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t micros) { return absl::FromUnixMicros(micros); }

// --- Statement ---------------------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), bind_error_(other.bind_error_) {}

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement& Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::Bind(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::Bind(int index, absl::string_view text) {
  int rc =
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::BindBlob(int index, absl::string_view bytes) {
  int rc = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::Bind(int index, std::optional<int64_t> value) {
  return value ? Bind(index, *value) : BindNull(index);
}

absl::StatusOr<bool> Statement::Step() {
  if (bind_error_ != SQLITE_OK) return SqliteError(bind_error_, db_, "bind");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(rc, db_, absl::StrCat("step: ", sqlite3_sql(stmt_)));
}

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

absl::Status Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = SQLITE_OK;
  return absl::OkStatus();
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
int64_t Statement::Int64(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }
std::string Statement::Text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}
std::string Statement::Blob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  if (blob == nullptr) return "";
  return std::string(static_cast<const char*>(blob),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

// --- Connection --------------------------------------------------------------------------

Connection::~Connection() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

absl::Status Connection::Exec(absl::string_view sql) {
  std::string copy(sql);
  char* error = nullptr;
  int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &error);
  if (error != nullptr) sqlite3_free(error);
  if (rc != SQLITE_OK) return SqliteError(rc, db_, absl::StrCat("exec: ", sql.substr(0, 200)));
  return absl::OkStatus();
}

absl::StatusOr<Statement> Connection::Prepare(absl::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    if (stmt != nullptr) sqlite3_finalize(stmt);
    return SqliteError(rc, db_, absl::StrCat("prepare: ", sql.substr(0, 200)));
  }
  return Statement(db_, stmt);
}

int64_t Connection::Changes() const { return sqlite3_changes64(db_); }
int64_t Connection::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

// --- Database ----------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Connection>> Database::OpenConnection() {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path_.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  auto conn = std::make_unique<Connection>(raw);
  if (rc != SQLITE_OK) return SqliteError(rc, raw, absl::StrCat("open ", path_));
  sqlite3_busy_timeout(raw, static_cast<int>(absl::ToInt64Milliseconds(options_.busy_timeout)));
  sqlite3_extended_result_codes(raw, 1);
  absl::Status s = conn->Exec(
      absl::StrCat("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=",
                   options_.synchronous_full ? "FULL" : "NORMAL", ";"));
  if (!s.ok()) return s;
  return conn;
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                         const std::vector<MigrationSet>& schema,
                                                         Options options) {
  if (path.empty() || path == ":memory:") {
    return absl::InvalidArgumentError("database path must name a file");
  }
  std::unique_ptr<Database> db(new Database(path, options));
  {
    absl::MutexLock lock(&db->write_mu_);
    auto writer = db->OpenConnection();
    if (!writer.ok()) return writer.status();
    db->writer_ = std::move(*writer);
  }
  absl::Status migrated = db->Migrate(schema);
  if (!migrated.ok()) return migrated;
  return db;
}

Database::~Database() {
  absl::MutexLock wl(&write_mu_);
  absl::MutexLock rl(&read_mu_);
  idle_readers_.clear();
  if (writer_ != nullptr) {
    // Fold the WAL back into the main file on a clean close.
    if (absl::Status s = writer_->Exec("PRAGMA wal_checkpoint(TRUNCATE);"); !s.ok()) {
      OUTREACH_LOG(kWarn, "db_checkpoint_failed").Kv("detail", s.message());
    }
    writer_.reset();
  }
}

absl::Status Database::Migrate(const std::vector<MigrationSet>& schema) {
  absl::Status s = Write([](Connection& c) {
    return c.Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " component TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,"
        " applied_time INTEGER NOT NULL, PRIMARY KEY (component, version))");
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
        absl::Status applied = c.Exec(m.sql);
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

absl::Status Database::Write(absl::FunctionRef<absl::Status(Connection&)> fn) {
  // Taken before anything can fail, so this Write consumes the hook whatever happens.
  ScopedCommitHook* hook = nullptr;
  for (ScopedCommitHook* h = current_hook; h != nullptr; h = h->outer_) {
    if (h->armed_) {
      hook = h;
      hook->armed_ = false;
      break;
    }
  }
  absl::MutexLock lock(&write_mu_);
  if (writer_ == nullptr) return absl::UnavailableError("database closed");
  absl::Status s = writer_->Exec("BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  absl::Status result = fn(*writer_);
  if (result.ok() && hook != nullptr) result = hook->fn_(*writer_);
  if (result.ok()) {
    absl::Status committed = writer_->Exec("COMMIT");
    if (committed.ok()) {
      if (hook != nullptr) hook->fired_ = true;
      return absl::OkStatus();
    }
    result = committed;
  }
  if (!sqlite3_get_autocommit(writer_->raw())) {
    if (absl::Status rolled = writer_->Exec("ROLLBACK"); !rolled.ok()) {
      // The connection may still hold the transaction; the next BEGIN fails and says so.
      OUTREACH_LOG(kError, "db_rollback_failed")
          .Kv("detail", rolled.message())
          .Kv("cause", result.message());
    }
  }
  return result;
}

absl::Status Database::Read(absl::FunctionRef<absl::Status(Connection&)> fn) {
  std::unique_ptr<Connection> conn;
  {
    absl::MutexLock lock(&read_mu_);
    const auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_) {
      return !idle_readers_.empty() || open_readers_ < options_.readers;
    };
    read_mu_.Await(absl::Condition(&available));
    if (!idle_readers_.empty()) {
      conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    } else {
      ++open_readers_;
    }
  }
  if (conn == nullptr) {
    auto opened = OpenConnection();
    if (!opened.ok()) {
      absl::MutexLock lock(&read_mu_);
      --open_readers_;
      return opened.status();
    }
    conn = std::move(*opened);
  }
  bool reusable = true;
  auto give_back = absl::MakeCleanup([&] {
    absl::MutexLock lock(&read_mu_);
    if (reusable) {
      idle_readers_.push_back(std::move(conn));
    } else {
      conn.reset();  // its state is unknown: close it; the pool opens a fresh one when needed
      --open_readers_;
    }
  });
  absl::Status s = conn->Exec("BEGIN");
  if (!s.ok()) {
    reusable = false;
    return s;
  }
  absl::Status result = fn(*conn);
  if (absl::Status ended = conn->Exec(result.ok() ? "COMMIT" : "ROLLBACK"); !ended.ok()) {
    OUTREACH_LOG(kWarn, "db_read_end_failed").Kv("detail", ended.message());
    reusable = false;
    if (result.ok()) return ended;
  }
  return result;
}

absl::Status Database::Ping() {
  return Read([](Connection& c) -> absl::Status {
    auto q = c.Prepare("SELECT COUNT(*) FROM schema_migrations");
    if (!q.ok()) return q.status();
    auto row = q->Step();
    return row.ok() ? absl::OkStatus() : row.status();
  });
}

}  // namespace outreach::db
