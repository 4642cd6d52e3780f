#include "common/security/policy.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/security/policy.pb.h"
#include "google/protobuf/util/json_util.h"
#include "outreach/events/v1/events.pb.h"

namespace outreach::security {
namespace {

bool IsEventKind(absl::string_view kind) {
  const auto* oneof = events::v1::OutreachEvent::descriptor()->FindOneofByName("payload");
  for (int i = 0; i < oneof->field_count(); ++i) {
    if (oneof->field(i)->name() == kind) return true;
  }
  return false;
}

bool WellFormedMethod(absl::string_view method) {
  if (!absl::ConsumePrefix(&method, "/")) return false;
  const size_t slash = method.find('/');
  return slash != absl::string_view::npos && slash > 0 && slash + 1 < method.size() &&
         method.find('/', slash + 1) == absl::string_view::npos &&
         method.substr(0, slash).find('.') != absl::string_view::npos;
}

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("policy: ", what));
}

struct FileStamp {
  int64_t mtime_ns = 0;
  int64_t size = -1;
};

FileStamp StampOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {};
  return {static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_size)};
}

}  // namespace

bool IsReadMethod(absl::string_view method) {
  const size_t slash = method.rfind('/');
  const absl::string_view name =
      slash == absl::string_view::npos ? method : method.substr(slash + 1);
  for (absl::string_view prefix : {"Get", "List", "Query", "Watch", "Verify"}) {
    if (absl::StartsWith(name, prefix)) return true;
  }
  return false;
}

absl::StatusOr<std::shared_ptr<const Policy>> Policy::Parse(absl::string_view json) {
  v1::Policy file;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (auto s = google::protobuf::util::JsonStringToMessage(std::string(json), &file, options);
      !s.ok()) {
    return Bad(absl::StrCat("not a valid policy document: ", s.message().as_string()));
  }
  auto policy = std::make_shared<Policy>();
  for (const auto& role : file.roles()) {
    if (role.empty()) return Bad("an empty role name");
    policy->roles_.insert(role);
  }
  for (const auto& [service, identity] : file.services()) {
    auto& kinds = policy->event_kinds_[service];
    for (const auto& kind : identity.event_kinds()) {
      if (!IsEventKind(kind)) {
        return Bad(absl::StrCat("service \"", service, "\": \"", kind, "\" is not an event kind"));
      }
      kinds.insert(kind);
    }
  }
  for (const auto& [method, rule] : file.methods()) {
    if (!WellFormedMethod(method)) {
      return Bad(absl::StrCat("\"", method, "\" is not /package.Service/Method"));
    }
    MethodRule out;
    for (const auto& role : rule.roles()) {
      if (!policy->roles_.contains(role)) {
        return Bad(absl::StrCat(method, ": role \"", role, "\" is not declared in \"roles\""));
      }
      out.roles.insert(role);
    }
    for (const auto& service : rule.services()) {
      if (!policy->event_kinds_.contains(service)) {
        return Bad(
            absl::StrCat(method, ": service \"", service, "\" is not declared in \"services\""));
      }
      out.services.insert(service);
    }
    out.write = !IsReadMethod(method);
    out.personal_data = rule.personal_data();
    policy->methods_.emplace(method, std::move(out));
  }
  return std::shared_ptr<const Policy>(std::move(policy));
}

absl::StatusOr<std::shared_ptr<const Policy>> Policy::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("policy: cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  auto policy = Parse(text.str());
  if (!policy.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", policy.status().message()));
  }
  return policy;
}

const MethodRule* Policy::Find(absl::string_view method) const {
  auto it = methods_.find(method);
  return it == methods_.end() ? nullptr : &it->second;
}

bool Policy::MayIngest(absl::string_view service, absl::string_view kind) const {
  auto it = event_kinds_.find(service);
  return it != event_kinds_.end() && it->second.contains(kind);
}

std::vector<std::string> Policy::Methods() const {
  std::vector<std::string> out;
  out.reserve(methods_.size());
  for (const auto& [method, rule] : methods_) out.push_back(method);
  return out;
}

absl::StatusOr<std::unique_ptr<PolicyFile>> PolicyFile::Open(std::string path,
                                                             absl::Duration check_every) {
  const FileStamp stamp = StampOf(path);
  auto policy = Policy::Load(path);
  if (!policy.ok()) return policy.status();
  std::unique_ptr<PolicyFile> file(new PolicyFile(std::move(path), check_every));
  absl::MutexLock lock(&file->mu_);
  file->current_ = std::move(*policy);
  file->mtime_ns_ = stamp.mtime_ns;
  file->size_ = stamp.size;
  file->next_check_ = absl::Now() + check_every;
  return file;
}

std::shared_ptr<const Policy> PolicyFile::Current() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (now >= next_check_) MaybeReload(now);
  return current_;
}

void PolicyFile::MaybeReload(absl::Time now) {
  next_check_ = now + check_every_;
  const FileStamp stamp = StampOf(path_);
  if (stamp.mtime_ns == mtime_ns_ && stamp.size == size_) return;
  mtime_ns_ = stamp.mtime_ns;
  size_ = stamp.size;
  auto policy = Policy::Load(path_);
  if (!policy.ok()) {
    OUTREACH_LOG(kWarn, "policy_reload_failed")
        .Kv("path", path_)
        .Kv("detail", policy.status().message())
        .Kv("kept", "previous policy");
    return;
  }
  current_ = std::move(*policy);
  OUTREACH_LOG(kInfo, "policy_reloaded").Kv("path", path_);
}

}  // namespace outreach::security
