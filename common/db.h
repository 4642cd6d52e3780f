#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace outreach::db {

// The stores' one interface to a database, with two backends behind it (docs/storage.md):
//   - SQLite (db_sqlite.cc): one file per service, the embedded default; one process.
//   - PostgreSQL (db_postgres.cc, libpq): several replicas of a service on one database.
// Database::Open picks the backend from the location: a `postgresql://` (or `postgres://`) URL
// opens PostgreSQL, anything else is a SQLite file path.
//
// SQL is written once, in the dialect both share (positional `?` binds, `INSERT ... ON CONFLICT
// (...) DO ...`, `excluded.`). The differences are kept to named places in db_postgres.cc:
// `?` → `$n`, migration DDL types (INTEGER → BIGINT, BLOB → BYTEA, AUTOINCREMENT → identity),
// and `instr()`. Errors come back as absl::Status whose text is internal (it may quote SQL);
// errors.h keeps that text away from callers. Busy, lost-connection and contention failures map
// to UNAVAILABLE so that callers can retry; everything else is INTERNAL.

enum class Backend { kSqlite, kPostgres };

// What a backend's prepared statement does; Statement forwards to it.
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void BindInt64(int index, int64_t value) = 0;
  virtual void BindDouble(int index, double value) = 0;
  virtual void BindText(int index, absl::string_view text) = 0;
  virtual void BindBlob(int index, absl::string_view bytes) = 0;
  virtual void BindNull(int index) = 0;
  virtual absl::StatusOr<bool> Step() = 0;
  virtual void Reset() = 0;
  virtual bool IsNull(int column) const = 0;
  virtual int64_t Int64(int column) const = 0;
  virtual double Double(int column) const = 0;
  virtual std::string Text(int column) const = 0;
  virtual std::string Blob(int column) const = 0;
};

class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementImpl> impl) : impl_(std::move(impl)) {}
  Statement(Statement&& other) noexcept = default;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement() = default;

  // Binds by 1-based position. Returns *this for chaining; a bind error surfaces on Step().
  Statement& Bind(int index, int64_t value) {
    impl_->BindInt64(index, value);
    return *this;
  }
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, double value) {
    impl_->BindDouble(index, value);
    return *this;
  }
  Statement& Bind(int index, absl::string_view text) {
    impl_->BindText(index, text);
    return *this;
  }
  Statement& Bind(int index, const char* text) { return Bind(index, absl::string_view(text)); }
  Statement& Bind(int index, const std::string& text) {
    return Bind(index, absl::string_view(text));
  }
  Statement& BindBlob(int index, absl::string_view bytes) {
    impl_->BindBlob(index, bytes);
    return *this;
  }
  Statement& BindNull(int index) {
    impl_->BindNull(index);
    return *this;
  }
  Statement& Bind(int index, std::optional<int64_t> value) {
    return value ? Bind(index, *value) : BindNull(index);
  }

  // Advances: true when a row is available, false when done.
  absl::StatusOr<bool> Step() { return impl_->Step(); }
  // Runs to completion, ignoring rows.
  absl::Status Run();
  // Ready to run again with new binds.
  absl::Status Reset() {
    impl_->Reset();
    return absl::OkStatus();
  }

  bool IsNull(int column) const { return impl_->IsNull(column); }
  int64_t Int64(int column) const { return impl_->Int64(column); }
  double Double(int column) const { return impl_->Double(column); }
  std::string Text(int column) const { return impl_->Text(column); }
  std::string Blob(int column) const { return impl_->Blob(column); }

 private:
  std::unique_ptr<StatementImpl> impl_;
};

// One connection inside a transaction. Not thread-safe; Database hands connections out one
// caller at a time.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  virtual ~Connection() = default;

  // Runs SQL without binds (it may hold several statements).
  virtual absl::Status Exec(absl::string_view sql) = 0;
  virtual absl::StatusOr<Statement> Prepare(absl::string_view sql) = 0;
  // Rows changed by the last INSERT/UPDATE/DELETE run on this connection.
  virtual int64_t Changes() const = 0;
  // Makes transactions that take the same key commit one after another, from this call to their
  // commit (PostgreSQL: a transaction-scoped advisory lock; SQLite: writers are already serial).
  // The outbox uses it so one force's events get sequence numbers in commit order.
  virtual absl::Status SerializeOn(absl::string_view key) = 0;
  virtual Backend backend() const = 0;

  // Asks the Database to run its commit listener (Database::SetCommitListener) once the current
  // Write transaction has committed. Outbox::Append does, so the outbox publisher wakes when an
  // event becomes readable, and never before. Dropped if the transaction rolls back; every Write
  // attempt starts without it (a retried attempt asks again when it appends again).
  void NotifyOnCommit() { notify_on_commit_ = true; }

 private:
  friend class Database;
  bool notify_on_commit_ = false;
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
  // SQLite: connections for readers (WAL lets them run while one writer commits).
  int readers = 4;
  absl::Duration busy_timeout = absl::Seconds(5);
  // SQLite FULL: every acknowledged commit survives power loss (the WAL is fsynced at commit).
  // NORMAL would be ≈15% faster but can lose the last commits on power loss, which a caller that
  // was told "OK" must never see; see README "Storage".
  bool synchronous_full = true;
  // PostgreSQL: the password (from --db-password-file; never in the URL in production), the
  // largest number of open connections, how long a connection attempt may take, and how many
  // times a write transaction is retried after a serialization failure.
  std::string password;
  int pool_size = 8;
  absl::Duration connect_timeout = absl::Seconds(5);
  int max_write_attempts = 40;
  // How long Open keeps trying while the server does not answer (a replica that starts before
  // its database, or during a PostgreSQL restart); then Open fails UNAVAILABLE.
  absl::Duration open_wait = absl::Seconds(30);
};

// A named lock held across every process that shares the database, for as long as the Lease
// lives (PostgreSQL: a session advisory lock on a connection of its own, released by the server
// when the holder dies; SQLite: one process per file, so always granted).
class Lease {
 public:
  virtual ~Lease() = default;
  // False once the lock was lost (the connection that held it broke); drop it and acquire again.
  virtual bool Held() = 0;
};

class Database {
 public:
  // Opens the database at `location` (a SQLite file, created if missing, or a PostgreSQL URL)
  // and applies pending migrations. ":memory:" is not supported (readers could not see the
  // writer's data); tests use temporary files or a throwaway PostgreSQL server.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& location,
                                                        const std::vector<MigrationSet>& schema,
                                                        const Options& options = {});
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  virtual ~Database() = default;

  // Runs `fn` in a write transaction: commits when it returns OK, rolls back otherwise. A
  // ScopedCommitHook armed on this thread runs after `fn`, just before COMMIT; the commit
  // listener runs after COMMIT when `fn` asked for it (Connection::NotifyOnCommit).
  //   SQLite: BEGIN IMMEDIATE, writers serialized in-process, one attempt.
  //   PostgreSQL: SERIALIZABLE; a serialization failure (another replica's transaction
  //   conflicted) rolls back and runs `fn` (and the hook) again, so `fn` must only assign its
  //   results, never accumulate them across attempts.
  virtual absl::Status Write(absl::FunctionRef<absl::Status(Connection&)> fn) = 0;
  // Runs `fn` in a read-only transaction that sees one consistent snapshot.
  virtual absl::Status Read(absl::FunctionRef<absl::Status(Connection&)> fn) = 0;
  // Tries to take the lease `name`; nullptr (no error) when another holder has it.
  virtual absl::StatusOr<std::unique_ptr<Lease>> TryAcquireLease(absl::string_view name) = 0;
  virtual Backend backend() const = 0;

  // The store answers (a real query). Used by health checks.
  absl::Status Ping();
  // Schema version of `component` (0 when never migrated).
  absl::StatusOr<int> SchemaVersion(absl::string_view component);

  // The location, without any password: a file path or a PostgreSQL URL.
  const std::string& path() const { return path_; }

  // Sets the function run after each Write of this process whose transaction asked for it with
  // Connection::NotifyOnCommit, once COMMIT has succeeded (so a Read it triggers sees the
  // change); empty clears it. One listener per Database (the outbox publisher's); setting
  // another replaces it. It runs on the committing thread with no database lock held, so it may
  // read but should be quick: signal another thread. Clearing waits for a call in progress, so
  // once SetCommitListener({}) returns the old listener is never called again. Commits of other
  // processes (PostgreSQL replicas) are not seen here.
  void SetCommitListener(std::function<void()> listener);

 protected:
  explicit Database(std::string path) : path_(std::move(path)) {}
  // Applies pending migrations, translating each migration's SQL with `ddl` first. The backend
  // makes concurrent start-ups safe (PostgreSQL holds an advisory lock around this call).
  absl::Status Migrate(const std::vector<MigrationSet>& schema,
                       const std::function<std::string(absl::string_view)>& ddl);

  // The hook a Write of this thread must run (nullptr if none); taking it consumes it.
  static class ScopedCommitHook* TakeCommitHook();
  static absl::Status RunCommitHook(ScopedCommitHook* hook, Connection& c);
  static void MarkCommitted(ScopedCommitHook* hook);

  // For the backends' Write: forget a request left on `c` by an earlier transaction (call at
  // BEGIN), and, after COMMIT, take it (true when the transaction asked to notify).
  static void ClearNotifyRequest(Connection& c) { c.notify_on_commit_ = false; }
  static bool TakeNotifyRequest(Connection& c) { return std::exchange(c.notify_on_commit_, false); }
  // Runs the commit listener, if any. Call with no connection or database lock held.
  void NotifyCommitListener();

 private:
  const std::string path_;
  absl::Mutex listener_mu_;
  std::function<void()> listener_ ABSL_GUARDED_BY(listener_mu_);
};

// A function run once inside the next Write transaction of this thread, just before COMMIT
// (after that Write's fn succeeded); if it fails the transaction rolls back and Write returns
// its status. The audit interceptor uses it so a write and its audit record commit together or
// not at all. The next Write consumes the hook whatever its outcome, so a later Write of the
// same call (e.g. one recording a failure) does not run it again; a Write that retries after a
// serialization failure runs it again in the new attempt. Hooks nest: the innermost armed one is
// used. Not thread-safe: construct, Write and ask fired() on one thread.
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

// Backends (db_sqlite.cc, db_postgres.cc); use Database::Open.
absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                                     const std::vector<MigrationSet>& schema,
                                                     const Options& options);
absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(const std::string& url,
                                                       const std::vector<MigrationSet>& schema,
                                                       const Options& options);
bool IsPostgresUrl(absl::string_view location);

// Time as stored: microseconds since the Unix epoch, UTC.
int64_t ToMicros(absl::Time t);
absl::Time FromMicros(int64_t micros);

}  // namespace outreach::db
