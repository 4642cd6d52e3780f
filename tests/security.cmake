# Tests of common/security/ (included from tests/CMakeLists.txt).
# Tokens: every refusal, rotation and the cache on a FakeClock; keys are made in the test.
outreach_test(security_jwt_test LABEL unit SOURCES unit/security_jwt_test.cc
  LIBS outreach_security_tokens outreach_test_support)
if(TARGET outreach-token)
  # The real outreach-token binary: keygen, jwks, mint -> inspect -> verify.
  outreach_test(security_token_tool_test LABEL e2e SOURCES e2e/security_token_tool_test.cc
    LIBS outreach_security_tokens outreach_test_support
    ENV "OUTREACH_TOKEN_BIN=$<TARGET_FILE:outreach-token>")
  add_dependencies(security_token_tool_test outreach-token)
endif()
