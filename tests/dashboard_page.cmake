# The dashboard page at / of metrics' HTTP port (services/metrics/web, README there), tested in
# a real browser: Debian's chromium, headless, driven by playwright-core (tests/browser).
# Registered only when this build embeds the page (OUTREACH_DASHBOARD_PAGE ON and npm found).

# playwright-core (tests/browser/package.json + its lock file), installed by a CTest fixture
# when tests/browser/node_modules lacks it, so `ctest` works from a fresh build directory.
add_test(NAME metrics_dashboard_page_npm_install
  COMMAND sh -c "[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund"
  WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/browser")
set_tests_properties(metrics_dashboard_page_npm_install PROPERTIES LABELS e2e TIMEOUT 300
  FIXTURES_SETUP npm_browser)

get_property(outreach_page_built GLOBAL PROPERTY OUTREACH_DASHBOARD_PAGE_BUILT)
if(outreach_page_built AND TARGET metrics AND TARGET workshops AND TARGET training
   AND TARGET campaigns AND TARGET workshops_demo AND TARGET training_demo
   AND TARGET campaigns_demo)
  find_program(OUTREACH_NODE node)
  if(NOT OUTREACH_NODE)
    set(OUTREACH_NODE node)  # the test then fails saying Node.js is needed
  endif()
  # The screenshot CI keeps as an artifact (the test prints its path).
  set(outreach_page_screenshot "${CMAKE_BINARY_DIR}/artifacts/dashboard_page.png")
  outreach_test(metrics_dashboard_page_test LABEL e2e TIMEOUT 180
    SOURCES e2e/metrics_dashboard_page_test.cc
    LIBS outreach_workshops_grpc outreach_metrics_grpc outreach_common outreach_test_pki
         PkgConfig::HTTPLIB
    ENV "OUTREACH_WORKSHOPS_BIN=$<TARGET_FILE:workshops>"
        "OUTREACH_METRICS_BIN=$<TARGET_FILE:metrics>"
        "OUTREACH_TRAINING_BIN=$<TARGET_FILE:training>"
        "OUTREACH_CAMPAIGNS_BIN=$<TARGET_FILE:campaigns>"
        "OUTREACH_WORKSHOPS_DEMO=$<TARGET_FILE:workshops_demo>"
        "OUTREACH_TRAINING_DEMO=$<TARGET_FILE:training_demo>"
        "OUTREACH_CAMPAIGNS_DEMO=$<TARGET_FILE:campaigns_demo>"
        "OUTREACH_NODE=${OUTREACH_NODE}"
        "OUTREACH_DASHBOARD_PAGE_SCRIPT=${CMAKE_CURRENT_SOURCE_DIR}/browser/dashboard_page.mjs"
        "OUTREACH_DASHBOARD_PAGE_SCREENSHOT=${outreach_page_screenshot}")
  add_dependencies(metrics_dashboard_page_test workshops metrics training campaigns
    workshops_demo training_demo campaigns_demo)
  set_tests_properties(metrics_dashboard_page_test PROPERTIES FIXTURES_REQUIRED npm_browser)
endif()
