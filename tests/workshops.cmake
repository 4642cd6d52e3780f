# Tests of the workshops service (included from tests/CMakeLists.txt).
outreach_test(workshops_domain_test LABEL unit SOURCES unit/workshops_domain_test.cc
  LIBS outreach_workshops outreach_test_support)
outreach_test(workshops_service_test LABEL service SOURCES service/workshops_service_test.cc
  LIBS outreach_workshops outreach_test_pki BOTH_BACKENDS)
outreach_test(workshops_process_test LABEL e2e SOURCES e2e/workshops_process_test.cc
  LIBS outreach_workshops outreach_health_grpc outreach_test_pki
  ENV "OUTREACH_WORKSHOPS=$<TARGET_FILE:workshops>;OUTREACH_WORKSHOPS_DEMO=$<TARGET_FILE:workshops_demo>")
add_dependencies(workshops_process_test workshops workshops_demo)
# The staffing rules against a fake lookup: no database.
outreach_test(workshops_staffing_test LABEL unit SOURCES unit/workshops_staffing_test.cc
  LIBS outreach_workshops_domain outreach_test_support)
# 200 concurrent maximum-size lists against the real binary: answered, within the memory limit.
outreach_test(workshops_overload_test LABEL e2e SOURCES e2e/workshops_overload_test.cc
  LIBS outreach_workshops outreach_test_pki TIMEOUT 120
  ENV "OUTREACH_WORKSHOPS=$<TARGET_FILE:workshops>")
add_dependencies(workshops_overload_test workshops)
