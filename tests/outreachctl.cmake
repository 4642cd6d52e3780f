# outreachctl (tools/outreachctl): unit tests of its parts, and the CLI end to end against the
# real services with TLS and tokens, README's "Operators' CLI" examples included.
if(NOT TARGET outreachctl)
  return()
endif()
outreach_test(outreachctl_csv_test LABEL unit SOURCES unit/outreachctl_csv_test.cc
  LIBS outreachctl_lib)
outreach_test(outreachctl_table_test LABEL unit SOURCES unit/outreachctl_table_test.cc
  LIBS outreachctl_lib)
outreach_test(outreachctl_args_test LABEL unit SOURCES unit/outreachctl_args_test.cc
  LIBS outreachctl_lib)

if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/e2e/outreachctl_e2e_test.cc"
   AND TARGET workshops AND TARGET training AND TARGET campaigns AND TARGET metrics
   AND TARGET workshops_demo AND TARGET training_demo AND TARGET campaigns_demo)
  outreach_test(outreachctl_e2e_test LABEL e2e SOURCES e2e/outreachctl_e2e_test.cc TIMEOUT 180
    LIBS outreachctl_lib outreach_common outreach_test_pki PkgConfig::HTTPLIB
    ENV "OUTREACHCTL_BIN=$<TARGET_FILE:outreachctl>"
        "OUTREACH_README=${CMAKE_SOURCE_DIR}/README.md"
        "OUTREACH_WORKSHOPS_BIN=$<TARGET_FILE:workshops>"
        "OUTREACH_TRAINING_BIN=$<TARGET_FILE:training>"
        "OUTREACH_CAMPAIGNS_BIN=$<TARGET_FILE:campaigns>"
        "OUTREACH_METRICS_BIN=$<TARGET_FILE:metrics>"
        "OUTREACH_WORKSHOPS_DEMO=$<TARGET_FILE:workshops_demo>"
        "OUTREACH_TRAINING_DEMO=$<TARGET_FILE:training_demo>"
        "OUTREACH_CAMPAIGNS_DEMO=$<TARGET_FILE:campaigns_demo>")
  add_dependencies(outreachctl_e2e_test outreachctl workshops training campaigns metrics
    workshops_demo training_demo campaigns_demo)
endif()
