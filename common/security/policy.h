#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace outreach::security {

// One method's rule: who may call it and whether its calls are audited.
struct MethodRule {
  absl::flat_hash_set<std::string> roles;     // token roles
  absl::flat_hash_set<std::string> services;  // certificate identities
  bool write = false;          // changes state (not Get/List/Query/Watch/Verify): always audited
  bool personal_data = false;  // reads personal data: audited too
  bool audited() const { return write || personal_data; }
};

// The authorization policy: method → roles and service identities, default deny. Loaded from a
// JSON file (common/security/policy.proto in protobuf's JSON mapping; the shipped one is
// deploy/security/policy.json).
class Policy {
 public:
  // Refuses unknown fields, a role or service a rule names but the file does not declare, an
  // event kind that is not an OutreachEvent payload, and a method name not of the form
  // "/package.Service/Method".
  static absl::StatusOr<std::shared_ptr<const Policy>> Parse(absl::string_view json);
  static absl::StatusOr<std::shared_ptr<const Policy>> Load(const std::string& path);

  // The rule of a fully-qualified method ("/outreach.workshops.v1.WorkshopsService/GetVenue"),
  // or null when the method is not listed (the caller refuses it).
  const MethodRule* Find(absl::string_view method) const;
  // True when `service` (a certificate identity) may ingest events of `kind` (payload field name).
  bool MayIngest(absl::string_view service, absl::string_view kind) const;
  const absl::flat_hash_set<std::string>& roles() const { return roles_; }
  std::vector<std::string> Methods() const;

 private:
  absl::flat_hash_set<std::string> roles_;
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> event_kinds_;
  absl::flat_hash_map<std::string, MethodRule> methods_;
};

// True for the method names that only read: Get…, List…, Query…, Watch…, Verify….
bool IsReadMethod(absl::string_view method);

// A policy file re-read when its modification time or size changes, checked at most once per
// `check_every` on the calling thread. A file that no longer parses keeps the last good policy
// and logs one warning per change.
class PolicyFile {
 public:
  static absl::StatusOr<std::unique_ptr<PolicyFile>> Open(std::string path,
                                                          absl::Duration check_every);
  std::shared_ptr<const Policy> Current();

 private:
  PolicyFile(std::string path, absl::Duration check_every) noexcept
      : path_(std::move(path)), check_every_(check_every) {}
  void MaybeReload(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const absl::Duration check_every_;
  absl::Mutex mu_;
  std::shared_ptr<const Policy> current_ ABSL_GUARDED_BY(mu_);
  absl::Time next_check_ ABSL_GUARDED_BY(mu_);
  int64_t mtime_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t size_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace outreach::security
