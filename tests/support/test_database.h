#pragma once

#include <string>
#include <string_view>

#include "tests/support/temp_dir.h"

namespace outreach {

// Where a test keeps a store, on the backend this run tests (README "Tests").
//
// Every test that opens a store is registered twice in CTest (cmake/OutreachTarget.cmake):
// `<name>` on SQLite and `postgres_<name>` on the throwaway PostgreSQL server of the `postgres`
// fixture (scripts/pg-test-server.sh), whose base URL is in the file named by
// OUTREACH_TEST_POSTGRES_URL_FILE.
//
// Without that variable: the SQLite file `dir.File(name + ".db")`, as the tests always used.
// With it: a new database on that server (UTF8, C collation, from template0, so text sorts as
// SQLite's bytes do), named after the running test, and its URL. The same (dir, name) gives
// the same location again, so a test can reopen its store. Databases are dropped when their
// directory is gone (at a later call) and at exit, best effort: a crashed test leaves them to
// the fixture's server, which is removed at the end of the run.
std::string TestDatabaseLocation(const TempDir& dir, std::string_view name);

// True when this process tests PostgreSQL (OUTREACH_TEST_POSTGRES_URL_FILE is set), for the
// few cases that only mean something on one backend (they GTEST_SKIP with a reason).
bool TestingOnPostgres();

}  // namespace outreach
