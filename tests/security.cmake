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
  TIMEOUT 120)
