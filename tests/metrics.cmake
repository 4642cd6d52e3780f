# Tests of the metrics service (owned with services/metrics).
set(metrics_test_libs outreach_metrics outreach_test_pki)
outreach_test(metrics_domain_test LABEL unit SOURCES unit/metrics_domain_test.cc
  LIBS ${metrics_test_libs})
outreach_test(metrics_store_test LABEL unit SOURCES unit/metrics_store_test.cc
  LIBS ${metrics_test_libs} BOTH_BACKENDS)
outreach_test(metrics_service_test LABEL service SOURCES service/metrics_service_test.cc
  LIBS ${metrics_test_libs} BOTH_BACKENDS)
# Against a real redis-server the fixture starts on a free loopback port.
outreach_test(metrics_redis_test LABEL integration SOURCES integration/metrics_redis_test.cc
  LIBS ${metrics_test_libs} PkgConfig::HTTPLIB TIMEOUT 120 BOTH_BACKENDS)
outreach_test(metrics_process_test LABEL e2e SOURCES e2e/metrics_process_test.cc
  LIBS ${metrics_test_libs} ENV "METRICS_BINARY=$<TARGET_FILE:metrics>")
add_dependencies(metrics_process_test metrics)
# The metrics domain without a database (catalogue, projection, series and KPI arithmetic).
outreach_test(metrics_projection_test LABEL unit SOURCES unit/metrics_projection_test.cc
  LIBS outreach_metrics_domain outreach_test_support)
# The Grafana dashboard and the alert rules against the /metrics of the running suite (every
# service a real process, the demo loaded): deploy/tools/dashboard_check.py --metrics.
if(TARGET workshops AND TARGET training AND TARGET campaigns AND TARGET workshops_demo
   AND TARGET training_demo AND TARGET campaigns_demo)
  outreach_test(metrics_grafana_dashboard_test LABEL e2e
    SOURCES e2e/metrics_grafana_dashboard_test.cc TIMEOUT 120
    LIBS outreach_common outreach_test_pki PkgConfig::HTTPLIB
    ENV "OUTREACH_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
        "OUTREACH_METRICS_BIN=$<TARGET_FILE:metrics>"
        "OUTREACH_WORKSHOPS_BIN=$<TARGET_FILE:workshops>"
        "OUTREACH_TRAINING_BIN=$<TARGET_FILE:training>"
        "OUTREACH_CAMPAIGNS_BIN=$<TARGET_FILE:campaigns>"
        "OUTREACH_WORKSHOPS_DEMO=$<TARGET_FILE:workshops_demo>"
        "OUTREACH_TRAINING_DEMO=$<TARGET_FILE:training_demo>"
        "OUTREACH_CAMPAIGNS_DEMO=$<TARGET_FILE:campaigns_demo>")
  add_dependencies(metrics_grafana_dashboard_test metrics workshops training campaigns
    workshops_demo training_demo campaigns_demo)
endif()
