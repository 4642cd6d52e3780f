# Flags for code we own: C++20, every warning an error. Third-party and generated code is
# compiled without them.
function(outreach_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
endfunction()

# The throwaway PostgreSQL server of the `postgres` CTest fixture (scripts/pg-test-server.sh,
# started and stopped by tests/CMakeLists.txt); while it runs, its base URL is in DIR/url.
set(OUTREACH_TEST_POSTGRES_DIR "${CMAKE_BINARY_DIR}/postgres-test-server")

# outreach_test(<name> LABEL <unit|service|integration|e2e> SOURCES ... [LIBS ...] [TIMEOUT s]
#               [ENV ...] [BOTH_BACKENDS])
# One GoogleTest binary registered as one CTest test named after its component.
# BOTH_BACKENDS: the test opens stores (through TestDatabaseLocation, tests/support/
# test_database.h, which it links); it is registered a second time as `postgres_<name>`, the
# same binary on PostgreSQL (see outreach_postgres_test).
function(outreach_test name)
  cmake_parse_arguments(ARG "BOTH_BACKENDS" "LABEL;TIMEOUT" "SOURCES;LIBS;ENV" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  outreach_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABEL}" TIMEOUT ${ARG_TIMEOUT})
  if(ARG_ENV)
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "${ARG_ENV}")
  endif()
  if(ARG_BOTH_BACKENDS)
    target_link_libraries(${name} PRIVATE outreach_test_database)
    outreach_postgres_test(${name} LABEL ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT} ENV ${ARG_ENV})
  endif()
endfunction()

# outreach_postgres_test(<test> LABEL <label> [TIMEOUT s] [ENV ...])
# Registers the binary of the test <test> once more as `postgres_<test>`: labels `integration`,
# `postgres` and <label>, the `postgres` fixture (one server for the whole run), and
# OUTREACH_TEST_POSTGRES_URL_FILE naming the server's URL file, so its stores are databases on
# that server. `ctest -LE postgres` runs without them. Nothing is registered when
# OUTREACH_TEST_POSTGRES is OFF.
function(outreach_postgres_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "ENV" ${ARGN})
  if(NOT OUTREACH_TEST_POSTGRES)
    return()
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  set(env ${ARG_ENV})
  list(APPEND env "OUTREACH_TEST_POSTGRES_URL_FILE=${OUTREACH_TEST_POSTGRES_DIR}/url")
  add_test(NAME postgres_${name} COMMAND ${name})
  set_tests_properties(postgres_${name} PROPERTIES
    LABELS "integration;postgres;${ARG_LABEL}"
    TIMEOUT ${ARG_TIMEOUT}
    FIXTURES_REQUIRED postgres
    ENVIRONMENT "${env}")
endfunction()
