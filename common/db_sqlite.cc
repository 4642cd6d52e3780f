// The SQLite backend of common/db.h: one file, one writer connection serialized in-process (BEGIN
// IMMEDIATE), a small pool of reader connections (WAL lets them read while the writer commits).

#include <sqlite3.h>

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/db.h"
#include "common/log.h"

namespace outreach::db {
namespace {

// Maps a SQLite result code to a status (UNAVAILABLE for busy/locked/I/O, INTERNAL otherwise).
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

class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  void BindInt64(int index, int64_t value) override {
    Check(sqlite3_bind_int64(stmt_, index, value));
  }
  void BindDouble(int index, double value) override {
    Check(sqlite3_bind_double(stmt_, index, value));
  }
  void BindText(int index, absl::string_view text) override {
    Check(
        sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void BindBlob(int index, absl::string_view bytes) override {
    Check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
  }
  void BindNull(int index) override { Check(sqlite3_bind_null(stmt_, index)); }

  absl::StatusOr<bool> Step() override {
    if (bind_error_ != SQLITE_OK) return SqliteError(bind_error_, db_, "bind");
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(rc, db_, absl::StrCat("step: ", sqlite3_sql(stmt_)));
  }
  void Reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    bind_error_ = SQLITE_OK;
  }

  bool IsNull(int column) const override {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
  }
  int64_t Int64(int column) const override { return sqlite3_column_int64(stmt_, column); }
  double Double(int column) const override { return sqlite3_column_double(stmt_, column); }
  std::string Text(int column) const override {
    const auto* text = sqlite3_column_text(stmt_, column);
    if (text == nullptr) return "";
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  std::string Blob(int column) const override {
    const void* blob = sqlite3_column_blob(stmt_, column);
    if (blob == nullptr) return "";
    return std::string(static_cast<const char*>(blob),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK) bind_error_ = rc;
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_error_ = SQLITE_OK;
};

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override {
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  absl::Status Exec(absl::string_view sql) override {
    std::string copy(sql);
    char* error = nullptr;
    int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &error);
    if (error != nullptr) sqlite3_free(error);
    if (rc != SQLITE_OK) return SqliteError(rc, db_, absl::StrCat("exec: ", sql.substr(0, 200)));
    return absl::OkStatus();
  }
  absl::StatusOr<Statement> Prepare(absl::string_view sql) override {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
      if (stmt != nullptr) sqlite3_finalize(stmt);
      return SqliteError(rc, db_, absl::StrCat("prepare: ", sql.substr(0, 200)));
    }
    return Statement(std::make_unique<SqliteStatement>(db_, stmt));
  }
  int64_t Changes() const override { return sqlite3_changes64(db_); }
  // One writer at a time already (BEGIN IMMEDIATE + the in-process write mutex).
  absl::Status SerializeOn(absl::string_view /*key*/) override { return absl::OkStatus(); }
  Backend backend() const override { return Backend::kSqlite; }
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  sqlite3* db_;
};

class AlwaysHeld final : public Lease {
 public:
  bool Held() override { return true; }
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(const std::string& path, const Options& options)
      : Database(path), options_(options) {}
  ~SqliteDatabase() override;

  absl::Status Init(const std::vector<MigrationSet>& schema);
  absl::Status Write(absl::FunctionRef<absl::Status(Connection&)> fn) override;
  absl::Status Read(absl::FunctionRef<absl::Status(Connection&)> fn) override;
  absl::StatusOr<std::unique_ptr<Lease>> TryAcquireLease(absl::string_view /*name*/) override {
    return std::make_unique<AlwaysHeld>();
  }
  Backend backend() const override { return Backend::kSqlite; }

 private:
  absl::StatusOr<std::unique_ptr<SqliteConnection>> OpenConnection();
  // One Write under the write lock; `notify` tells whether it committed and asked to notify.
  absl::Status WriteLocked(absl::FunctionRef<absl::Status(Connection&)> fn, ScopedCommitHook* hook,
                           bool* notify);

  const Options options_;
  absl::Mutex write_mu_;
  std::unique_ptr<SqliteConnection> writer_ ABSL_GUARDED_BY(write_mu_);
  absl::Mutex read_mu_;
  std::vector<std::unique_ptr<SqliteConnection>> idle_readers_ ABSL_GUARDED_BY(read_mu_);
  int open_readers_ ABSL_GUARDED_BY(read_mu_) = 0;
};

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteDatabase::OpenConnection() {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path().c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  auto conn = std::make_unique<SqliteConnection>(raw);
  if (rc != SQLITE_OK) return SqliteError(rc, raw, absl::StrCat("open ", path()));
  sqlite3_busy_timeout(raw, static_cast<int>(absl::ToInt64Milliseconds(options_.busy_timeout)));
  sqlite3_extended_result_codes(raw, 1);
  absl::Status s = conn->Exec(
      absl::StrCat("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=",
                   options_.synchronous_full ? "FULL" : "NORMAL", ";"));
  if (!s.ok()) return s;
  return conn;
}

absl::Status SqliteDatabase::Init(const std::vector<MigrationSet>& schema) {
  {
    absl::MutexLock lock(&write_mu_);
    auto writer = OpenConnection();
    if (!writer.ok()) return writer.status();
    writer_ = std::move(*writer);
  }
  return Migrate(schema, [](absl::string_view sql) { return std::string(sql); });
}

SqliteDatabase::~SqliteDatabase() {
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

absl::Status SqliteDatabase::Write(absl::FunctionRef<absl::Status(Connection&)> fn) {
  // Taken before anything can fail, so this Write consumes the hook whatever happens.
  ScopedCommitHook* hook = TakeCommitHook();
  bool notify = false;
  absl::Status result = WriteLocked(fn, hook, &notify);
  // After the write lock is released: the listener may read, and the commit is visible to it.
  if (notify) NotifyCommitListener();
  return result;
}

absl::Status SqliteDatabase::WriteLocked(absl::FunctionRef<absl::Status(Connection&)> fn,
                                         ScopedCommitHook* hook, bool* notify) {
  absl::MutexLock lock(&write_mu_);
  if (writer_ == nullptr) return absl::UnavailableError("database closed");
  absl::Status s = writer_->Exec("BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  ClearNotifyRequest(*writer_);
  absl::Status result = fn(*writer_);
  if (result.ok()) result = RunCommitHook(hook, *writer_);
  if (result.ok()) {
    absl::Status committed = writer_->Exec("COMMIT");
    if (committed.ok()) {
      MarkCommitted(hook);
      *notify = TakeNotifyRequest(*writer_);
      return absl::OkStatus();
    }
    result = committed;
  }
  if (writer_->InTransaction()) {
    if (absl::Status rolled = writer_->Exec("ROLLBACK"); !rolled.ok()) {
      // The connection may still hold the transaction; the next BEGIN fails and says so.
      OUTREACH_LOG(kError, "db_rollback_failed")
          .Kv("detail", rolled.message())
          .Kv("cause", result.message());
    }
  }
  return result;
}

absl::Status SqliteDatabase::Read(absl::FunctionRef<absl::Status(Connection&)> fn) {
  std::unique_ptr<SqliteConnection> conn;
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

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                                     const std::vector<MigrationSet>& schema,
                                                     const Options& options) {
  if (path.empty() || path == ":memory:") {
    return absl::InvalidArgumentError("database path must name a file");
  }
  auto db = std::make_unique<SqliteDatabase>(path, options);
  if (absl::Status s = db->Init(schema); !s.ok()) return s;
  return db;
}

}  // namespace outreach::db
