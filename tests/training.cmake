# Tests of the training service (owned with services/training).
# The unit tier links only the domain target: its rules build without gRPC or SQLite.
outreach_test(training_domain_test LABEL unit SOURCES unit/training_domain_test.cc
  LIBS outreach_training_domain)

outreach_test(training_rules_test LABEL unit SOURCES unit/training_rules_test.cc
  LIBS outreach_training_domain)

outreach_test(training_service_test LABEL service SOURCES service/training_service_test.cc
  LIBS outreach_training outreach_test_pki BOTH_BACKENDS)

outreach_test(training_import_test LABEL service SOURCES service/training_import_test.cc
  LIBS outreach_training outreach_test_pki BOTH_BACKENDS)

outreach_test(training_process_test LABEL e2e SOURCES e2e/training_process_test.cc
  LIBS outreach_training outreach_test_pki
  ENV "TRAINING_BINARY=$<TARGET_FILE:training>;TRAINING_DEMO_BINARY=$<TARGET_FILE:training_demo>"
  TIMEOUT 120)
add_dependencies(training_process_test training training_demo)
