# The tests of common/security/ (issue 11), one block per library.

# --- outreach_security_tls: real handshakes against a gRPC server on port 0, certificates from
# the test PKI (tests/support/pki.h) and scripts/dev-pki.sh; a raw OpenSSL client for the TLS
# version checks.
outreach_test(security_tls_test LABEL service SOURCES service/security_tls_test.cc
  LIBS outreach_security_tls outreach_test_pki outreach_health_grpc OpenSSL::SSL TIMEOUT 120
  ENV "OUTREACH_DEV_PKI=${CMAKE_SOURCE_DIR}/scripts/dev-pki.sh")
# --- end outreach_security_tls

# --- the policy, enforced: every method × role × force against the four real services.
outreach_test(security_policy_test LABEL service SOURCES service/security_policy_test.cc
  LIBS outreach_workshops outreach_training outreach_campaigns outreach_metrics outreach_test_pki
  TIMEOUT 120 BOTH_BACKENDS)

# --- outreach_security_tokens
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

# --- the attacks the issue found, replayed against real servers; the audit trail afterwards.
outreach_test(security_attacks_test LABEL service SOURCES service/security_attacks_test.cc
  LIBS outreach_workshops outreach_training outreach_metrics outreach_test_pki
       PkgConfig::HTTPLIB OpenSSL::Crypto BOTH_BACKENDS)

# --- the policy file: refusals at load, a change picked up without a restart.
outreach_test(security_policy_file_test LABEL unit SOURCES unit/security_policy_file_test.cc
  LIBS outreach_common outreach_test_support)
