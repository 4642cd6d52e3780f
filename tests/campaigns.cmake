# Tests of the campaigns service (owned with services/campaigns). The unit tier links only the
# domain library: its rules run without gRPC or SQLite.
outreach_test(campaigns_domain_test LABEL unit SOURCES unit/campaigns_domain_test.cc
  LIBS outreach_campaigns_domain)
outreach_test(campaigns_operations_test LABEL unit SOURCES unit/campaigns_operations_test.cc
  LIBS outreach_campaigns_domain)
outreach_test(campaigns_service_test LABEL service SOURCES service/campaigns_service_test.cc
  LIBS outreach_campaigns outreach_test_pki BOTH_BACKENDS)
outreach_test(campaigns_process_test LABEL e2e SOURCES e2e/campaigns_process_test.cc
  LIBS outreach_campaigns outreach_test_pki
  ENV "OUTREACH_CAMPAIGNS_SERVER=$<TARGET_FILE:campaigns>;OUTREACH_CAMPAIGNS_DEMO=$<TARGET_FILE:campaigns_demo>")
add_dependencies(campaigns_process_test campaigns campaigns_demo)
