#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

// SQLite's handles, declared here so that store interfaces (and everything that includes them)
// do not include <sqlite3.h>; only db.cc does.
struct sqlite3;
struct sqlite3_stmt;

namespace outreach::db {

// A thin, RAII wrapper over SQLite. Errors come back as absl::Status whose text is internal (it
// may quote SQL); errors.h keeps that text away from callers. Busy/locked/I/O failures map to
// UNAVAILABLE so that callers can retry; everything else is INTERNAL.
//
// SQL is kept portable (no SQLite-only syntax beyond `INSERT ... ON CONFLICT`, which PostgreSQL
// shares) so a PostgreSQL backend can replace this file later.

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  // Binds by 1-based position. Returns *this for chaining; a bind error surfaces on Step().
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, double value);
  Statement& Bind(int index, absl::string_view text);
  Statement& Bind(int index, const char* text) { return Bind(index, absl::string_view(text)); }
  Statement& Bind(int index, const std::string& text) {
    return Bind(index, absl::string_view(text));
  }
  Statement& BindBlob(int index, absl::string_view bytes);
  Statement& BindNull(int index);
  Statement& Bind(int index, std::optional<int64_t> value);

  // Advances: true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Runs to completion, ignoring rows.
  absl::Status Run();
  absl::Status Reset();

  bool IsNull(int column) const;
  int64_t Int64(int column) const;
  double Double(int column) const;
  std::string Text(int column) const;
  std::string Blob(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_error_ = 0;  // SQLITE_OK
};

// One connection. Not thread-safe; Database hands connections out one caller at a time.
class Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<Statement> Prepare(absl::string_view sql);
  int64_t Changes() const;
  int64_t LastInsertRowId() const;
  sqlite3* raw() const { return db_; }

 private:
  sqlite3* db_;
};

// A schema migration: `version` counts from 1 within its component; `sql` may hold several
// statements. Migrations run in order, each in its own transaction, at start-up.
struct Migration {
  int version;
  absl::string_view description;
  absl::string_view sql;
};
struct MigrationSet {
  std::string component;  // e.g. "common", "workshops"
  std::vector<Migration> migrations;
};

struct Options {
  // Connections for readers (WAL lets them run while one writer commits).
  int readers = 4;
  absl::Duration busy_timeout = absl::Seconds(5);
  // FULL: every acknowledged commit survives power loss (the WAL is fsynced at commit). NORMAL
  // would be ≈15% faster but can lose the last commits on power loss, which a caller that was
  // told "OK" must never see; see README "Storage".
  bool synchronous_full = true;
};

class Database {
 public:
  // Opens (creating if missing) the file at `path` and applies pending migrations. ":memory:" is
  // not supported (readers could not see the writer's data); tests use temporary files.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                        const std::vector<MigrationSet>& schema,
                                                        Options options = {});
  ~Database();

  // Runs `fn` in a write transaction (BEGIN IMMEDIATE): commits when it returns OK, rolls back
  // otherwise. Writers are serialized in-process. A ScopedCommitHook armed on this thread runs
  // after `fn`, just before COMMIT. There is no retry loop: one attempt, one COMMIT.
  absl::Status Write(absl::FunctionRef<absl::Status(Connection&)> fn);
  // Runs `fn` in a read transaction on a reader connection (a consistent snapshot).
  absl::Status Read(absl::FunctionRef<absl::Status(Connection&)> fn);
  // The store answers (a real query). Used by health checks.
  absl::Status Ping();
  // Schema version of `component` (0 when never migrated).
  absl::StatusOr<int> SchemaVersion(absl::string_view component);

  const std::string& path() const { return path_; }

 private:
  Database(std::string path, Options options) : path_(std::move(path)), options_(options) {}
  absl::StatusOr<std::unique_ptr<Connection>> OpenConnection();
  absl::Status Migrate(const std::vector<MigrationSet>& schema);

  const std::string path_;
  const Options options_;
  absl::Mutex write_mu_;
  std::unique_ptr<Connection> writer_ ABSL_GUARDED_BY(write_mu_);
  absl::Mutex read_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_ ABSL_GUARDED_BY(read_mu_);
  int open_readers_ ABSL_GUARDED_BY(read_mu_) = 0;
};

// A function run once inside the next Write transaction of this thread, just before COMMIT
// (after that Write's fn succeeded); if it fails the transaction rolls back and Write returns
// its status. The audit interceptor uses it so a write and its audit record commit together or
// not at all. The next Write consumes the hook whatever its outcome, so a later Write of the
// same call (e.g. one recording a failure) does not run it again. Hooks nest: the innermost
// armed one is used. Not thread-safe: construct, Write and ask fired() on one thread.
class ScopedCommitHook {
 public:
  explicit ScopedCommitHook(std::function<absl::Status(Connection&)> fn);
  ScopedCommitHook(const ScopedCommitHook&) = delete;
  ScopedCommitHook& operator=(const ScopedCommitHook&) = delete;
  ~ScopedCommitHook();

  // True only once the transaction the hook ran in has committed.
  bool fired() const { return fired_; }
  // True once a Write has taken the hook (whether or not it committed).
  bool consumed() const { return !armed_; }

 private:
  friend class Database;
  std::function<absl::Status(Connection&)> fn_;
  ScopedCommitHook* outer_;
  bool armed_ = true;
  bool fired_ = false;
};

// Maps a SQLite result code to a status (UNAVAILABLE for busy/locked/I/O, INTERNAL otherwise).
absl::Status SqliteError(int code, sqlite3* db, absl::string_view context);

// Time as stored: microseconds since the Unix epoch, UTC.
int64_t ToMicros(absl::Time t);
absl::Time FromMicros(int64_t micros);

}  // namespace outreach::db
