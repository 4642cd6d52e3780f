# Replicas on PostgreSQL, end to end (tests/e2e/postgres_*.cc): real processes of every service,
# two of each, on databases of the `postgres` fixture's server (OUTREACH_TEST_POSTGRES_URL_FILE
# names the file holding its URL). Not registered when OUTREACH_TEST_POSTGRES is OFF.
if(DEFINED OUTREACH_TEST_POSTGRES AND NOT OUTREACH_TEST_POSTGRES)
  return()
endif()
if(NOT DEFINED OUTREACH_TEST_POSTGRES_DIR)
  set(OUTREACH_TEST_POSTGRES_DIR "${CMAKE_BINARY_DIR}/postgres-test-server")
endif()
if(NOT (TARGET workshops AND TARGET metrics AND TARGET training AND TARGET campaigns))
  return()
endif()
set(outreach_pg_e2e_env
  "OUTREACH_TEST_POSTGRES_URL_FILE=${OUTREACH_TEST_POSTGRES_DIR}/url"
  "OUTREACH_WORKSHOPS_BIN=$<TARGET_FILE:workshops>"
  "OUTREACH_TRAINING_BIN=$<TARGET_FILE:training>"
  "OUTREACH_CAMPAIGNS_BIN=$<TARGET_FILE:campaigns>"
  "OUTREACH_METRICS_BIN=$<TARGET_FILE:metrics>")

outreach_test(postgres_replicas_test LABEL e2e SOURCES e2e/postgres_replicas_test.cc TIMEOUT 120
  LIBS outreach_workshops_grpc outreach_training_grpc outreach_campaigns_grpc outreach_common
       outreach_test_pki PkgConfig::LIBPQ
  ENV "${outreach_pg_e2e_env}")
add_dependencies(postgres_replicas_test workshops training campaigns)

# Runs its own PostgreSQL server (it restarts it mid-scenario), so it needs no fixture.
outreach_test(postgres_suite_e2e_test LABEL e2e SOURCES e2e/postgres_suite_e2e_test.cc TIMEOUT 180
  LIBS outreach_workshops_grpc outreach_metrics_grpc outreach_training_grpc
       outreach_campaigns_grpc outreach_common outreach_test_pki PkgConfig::HTTPLIB
       PkgConfig::LIBPQ
  ENV "${outreach_pg_e2e_env}")
add_dependencies(postgres_suite_e2e_test workshops metrics training campaigns)
set_tests_properties(postgres_suite_e2e_test PROPERTIES LABELS "e2e;postgres")

# The demo data moved from SQLite to PostgreSQL by outreach-migrate; the suite then shows the same
# dashboards (tests/e2e/postgres_migrate_demo_test.cc).
if(TARGET outreach-migrate AND TARGET workshops_demo AND TARGET training_demo
   AND TARGET campaigns_demo)
  outreach_test(postgres_migrate_demo_test LABEL e2e SOURCES e2e/postgres_migrate_demo_test.cc
    TIMEOUT 180
    LIBS outreach_workshops_grpc outreach_metrics_grpc outreach_common outreach_test_pki
         PkgConfig::HTTPLIB PkgConfig::LIBPQ
    ENV "${outreach_pg_e2e_env}" "OUTREACH_MIGRATE_BIN=$<TARGET_FILE:outreach-migrate>"
        "OUTREACH_WORKSHOPS_DEMO=$<TARGET_FILE:workshops_demo>"
        "OUTREACH_TRAINING_DEMO=$<TARGET_FILE:training_demo>"
        "OUTREACH_CAMPAIGNS_DEMO=$<TARGET_FILE:campaigns_demo>")
  add_dependencies(postgres_migrate_demo_test workshops metrics training campaigns
    workshops_demo training_demo campaigns_demo outreach-migrate)
  set(outreach_pg_fixture_tests postgres_replicas_test postgres_migrate_demo_test)
else()
  set(outreach_pg_fixture_tests postgres_replicas_test)
endif()

foreach(test IN ITEMS ${outreach_pg_fixture_tests})
  set_tests_properties(${test} PROPERTIES FIXTURES_REQUIRED postgres
    LABELS "e2e;postgres")
endforeach()
