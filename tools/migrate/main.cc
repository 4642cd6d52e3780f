// outreach-migrate: copies ONE service's SQLite store into an empty PostgreSQL database.
//
//   outreach-migrate --service=workshops|training|campaigns|metrics --from=FILE.db
//       --to=postgresql://user@host:port/db?sslmode=verify-full [--to-password-file=F]
//
// Both sides are opened with the service's schema (an old file is migrated to it first; the
// target gets its tables), the target must be empty, every table is copied in batches, the
// target's sequences are moved past the copied values, and every table's row count and
// checksum are compared on both sides. The service must be stopped during the copy.
//
// Exit codes: 0 copied and verified; 1 failed or a table differs; 2 usage; 3 target not empty.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config.h"
#include "common/db.h"
#include "common/log.h"
#include "common/service_main.h"
#include "services/campaigns/campaigns_service.h"
#include "services/metrics/metrics_service.h"
#include "services/training/training_service.h"
#include "services/workshops/workshops_service.h"
#include "tools/migrate/migrate.h"

namespace outreach::migrate {
namespace {

constexpr int kFailed = 1;
constexpr int kNotEmpty = 3;

std::optional<std::vector<db::MigrationSet>> SchemaOf(const std::string& service) {
  if (service == "workshops") return workshops::WorkshopsServiceSpec().schema;
  if (service == "training") return training::TrainingServiceSpec().schema;
  if (service == "campaigns") return campaigns::CampaignsServiceSpec().schema;
  if (service == "metrics") return metrics::MetricsServiceSpec().schema;
  return std::nullopt;
}

struct Settings {
  std::string service, from, to, password;
  int64_t batch_rows = 1000;
};

Settings ParseSettings(int argc, char** argv) {
  Settings s;
  ConfigParser parser("outreach-migrate", "OUTREACH_MIGRATE_");
  parser.String("service", &s.service, std::nullopt,
                "whose store: workshops, training, campaigns or metrics",
                [](const std::string& v) -> absl::Status {
                  if (SchemaOf(v)) return absl::OkStatus();
                  return absl::InvalidArgumentError(
                      absl::StrCat("\"", v, "\" is not workshops, training, campaigns or metrics"));
                });
  parser.String("from", &s.from, std::nullopt, "the service's SQLite file (stop the service first)",
                [](const std::string& v) -> absl::Status {
                  if (db::IsPostgresUrl(v)) return absl::InvalidArgumentError("is not a file");
                  if (std::filesystem::is_regular_file(v)) return absl::OkStatus();
                  return absl::InvalidArgumentError(absl::StrCat("no such file: ", v));
                });
  parser.String("to", &s.to, std::nullopt,
                "the PostgreSQL database to fill, postgresql://user@host:port/db?sslmode=...",
                [](const std::string& v) -> absl::Status {
                  if (db::IsPostgresUrl(v)) return absl::OkStatus();
                  return absl::InvalidArgumentError("is not a postgresql:// URL");
                });
  parser.SecretFile("to-password-file", &s.password,
                    "file holding the PostgreSQL password (keep it out of --to)");
  parser.Int("batch-rows", &s.batch_rows, 1000, 1, 100000, "rows per write transaction");
  ParseConfigOrExit(parser, argc, argv);
  return s;
}

// A SQLite file made with the schema and nothing else: what an empty target may hold (rows
// the migrations seed). Removed with its directory.
class Pristine {
 public:
  absl::StatusOr<db::Database*> Open(const std::vector<db::MigrationSet>& schema) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "outreach-migrate-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError("cannot make a temporary directory");
    }
    dir_ = pattern;
    SetLogLevel(LogLevel::kWarn);  // its migrations are no news to the operator
    auto db = db::Database::Open(dir_ + "/pristine.db", schema);
    SetLogLevel(LogLevel::kInfo);
    if (!db.ok()) return db.status();
    db_ = std::move(*db);
    return db_.get();
  }
  ~Pristine() {
    db_.reset();
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

 private:
  std::string dir_;
  std::unique_ptr<db::Database> db_;
};

int Fail(absl::string_view what, const absl::Status& s) {
  std::fprintf(stderr, "outreach-migrate: %s: %s\n", std::string(what).c_str(),
               std::string(s.message()).c_str());
  return kFailed;
}

// Both sides at the same version of every component of the schema.
bool SameSchema(db::Database& source, db::Database& target,
                const std::vector<db::MigrationSet>& schema) {
  std::vector<std::string> versions;
  bool same = true;
  for (const db::MigrationSet& set : schema) {
    absl::StatusOr<int> a = source.SchemaVersion(set.component);
    absl::StatusOr<int> b = target.SchemaVersion(set.component);
    same = same && a.ok() && b.ok() && *a == *b;
    versions.push_back(absl::StrCat(set.component, " ", a.ok() ? absl::StrCat(*a) : "?", "/",
                                    b.ok() ? absl::StrCat(*b) : "?"));
  }
  std::printf("schema (source/target): %s%s\n", absl::StrJoin(versions, ", ").c_str(),
              same ? "" : "  MISMATCH");
  return same;
}

// Row count and checksum of every table on both sides, one line each. False on a difference.
absl::StatusOr<bool> Verify(db::Database& source, db::Database& target,
                            const std::vector<Table>& tables) {
  std::printf("%-32s %10s  %-64s  %s\n", "table", "rows", "sha256", "ok");
  bool all = true;
  for (const Table& t : tables) {
    absl::StatusOr<Digest> a = TableDigest(source, t);
    if (!a.ok()) return a.status();
    absl::StatusOr<Digest> b = TableDigest(target, t);
    if (!b.ok()) return b.status();
    const bool ok = *a == *b;
    all = all && ok;
    std::printf("%-32s %10lld  %-64s  %s\n", t.name.c_str(), static_cast<long long>(a->rows),
                a->sha256.c_str(), ok ? "ok" : "MISMATCH");
    if (!ok) {
      std::printf("%-32s %10lld  %-64s  (target)\n", "", static_cast<long long>(b->rows),
                  b->sha256.c_str());
    }
  }
  return all;
}

// Text on PostgreSQL should sort as SQLite's bytes do (pages, list order): say so if it won't.
void WarnOnCollation(db::Database& target) {
  std::string collation;
  absl::Status s = target.Read([&](db::Connection& c) -> absl::Status {
    auto q = c.Prepare("SELECT datcollate FROM pg_database WHERE datname = current_database()");
    if (!q.ok()) return q.status();
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (*row) collation = q->Text(0);
    return absl::OkStatus();
  });
  // glibc's C.UTF-8 orders by code point, which is UTF-8's byte order too.
  if (s.ok() && collation != "C" && collation != "POSIX" && collation != "C.UTF-8" &&
      collation != "C.utf8") {
    std::fprintf(stderr,
                 "outreach-migrate: warning: the target's collation is %s, not C: text will sort "
                 "differently from SQLite (create it with LC_COLLATE 'C', README)\n",
                 collation.c_str());
  }
}

int Run(const Settings& settings) {
  const std::vector<db::MigrationSet> schema = *SchemaOf(settings.service);
  db::Options source_options;
  source_options.readers = 2;
  auto source = db::Database::Open(settings.from, schema, source_options);
  if (!source.ok()) return Fail("opening the source", source.status());
  db::Options target_options;
  target_options.password = settings.password;
  target_options.pool_size = 2;
  auto target = db::Database::Open(settings.to, schema, target_options);
  if (!target.ok()) return Fail("opening the target", target.status());
  Pristine pristine;
  absl::StatusOr<db::Database*> fresh = pristine.Open(schema);
  if (!fresh.ok()) return Fail("making an empty store to compare with", fresh.status());

  absl::StatusOr<std::vector<Table>> tables = DescribeTables(**source, **target);
  if (!tables.ok()) return Fail("reading the tables", tables.status());
  if (absl::Status s = CheckTargetEmpty(**target, **fresh, *tables); !s.ok()) {
    if (s.code() != absl::StatusCode::kFailedPrecondition) return Fail("reading the target", s);
    std::fprintf(stderr, "outreach-migrate: %s; refusing to copy into it\n",
                 std::string(s.message()).c_str());
    return kNotEmpty;
  }
  WarnOnCollation(**target);

  CopyOptions copy;
  copy.batch_rows = static_cast<int>(settings.batch_rows);
  copy.progress = isatty(STDERR_FILENO) != 0;
  if (absl::Status s = CopyTables(**source, **target, *tables, copy); !s.ok()) {
    return Fail("copy failed (drop and recreate the target before another run)", s);
  }
  const bool schema_ok = SameSchema(**source, **target, schema);
  absl::StatusOr<bool> same = Verify(**source, **target, *tables);
  if (!same.ok()) return Fail("verifying", same.status());
  if (!*same || !schema_ok) {
    std::fprintf(stderr,
                 "outreach-migrate: the target differs from the source (was the service "
                 "stopped?)\n");
    return kFailed;
  }
  std::printf("copied %zu tables from %s to %s: verified\n", tables->size(), settings.from.c_str(),
              (*target)->path().c_str());
  return 0;
}

}  // namespace
}  // namespace outreach::migrate

int main(int argc, char** argv) {
  const outreach::migrate::Settings settings = outreach::migrate::ParseSettings(argc, argv);
  return outreach::migrate::Run(settings);
}
