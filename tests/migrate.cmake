# outreach-migrate (tools/migrate) against a real PostgreSQL server: the `postgres` fixture's
# when this build has it (tests/CMakeLists.txt, scripts/pg-test-server.sh), else a throwaway
# server the test starts and stops itself (needs PostgreSQL 15's server binaries).
# Not registered when the PostgreSQL tests are switched off (-DOUTREACH_TEST_POSTGRES=OFF).
if(TARGET outreach-migrate AND (NOT DEFINED OUTREACH_TEST_POSTGRES OR OUTREACH_TEST_POSTGRES))
  outreach_test(postgres_migrate_tool_test LABEL integration TIMEOUT 120
    SOURCES e2e/postgres_migrate_tool_test.cc
    LIBS outreach_migrate outreach_workshops_service outreach_training_service
         outreach_campaigns_service outreach_metrics_service outreach_test_support
         PkgConfig::LIBPQ
    ENV "OUTREACH_MIGRATE_BIN=$<TARGET_FILE:outreach-migrate>")
  add_dependencies(postgres_migrate_tool_test outreach-migrate)
  # `ctest -LE postgres` leaves it out with the other PostgreSQL tests.
  set_tests_properties(postgres_migrate_tool_test PROPERTIES LABELS "integration;postgres")
  if(TEST postgres_server_start)
    set_tests_properties(postgres_migrate_tool_test PROPERTIES FIXTURES_REQUIRED postgres
      ENVIRONMENT "OUTREACH_MIGRATE_BIN=$<TARGET_FILE:outreach-migrate>;OUTREACH_TEST_POSTGRES_URL_FILE=${OUTREACH_TEST_POSTGRES_DIR}/url")
  endif()
endif()
