// The policy table, enforced: every method of every service × every role, no credentials and
// each service identity × the caller's own force and another force. The expected outcome comes
// from the shipped policy (deploy/security/policy.json) and the proto descriptors, so a new
// method without a policy entry, or a handler that does not enforce the decision, fails here.
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/security/policy.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "outreach/audit/v1/audit.grpc.pb.h"
#include "outreach/campaigns/v1/campaigns.grpc.pb.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "outreach/training/v1/training.grpc.pb.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "services/campaigns/campaigns_service.h"
#include "services/metrics/metrics_service.h"
#include "services/training/training_service.h"
#include "services/workshops/workshops_service.h"
#include "tests/support/service_harness.h"

namespace outreach {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using testing::ReasonOf;
using testing::ServiceHarness;
using testing::TestCaller;

constexpr char kOwn[] = "derbyshire";
constexpr char kOther[] = "leicestershire";
const char* const kServiceIdentities[] = {"workshops", "training", "campaigns", "metrics"};

// Names `force` in every `name` and `parent` of the request and of its message fields, so the
// request is scoped to that force whatever else it holds.
void NameForce(Message& message, const std::string& force, int depth) {
  const Descriptor* d = message.GetDescriptor();
  const auto* reflection = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) continue;
    if (f->type() == FieldDescriptor::TYPE_STRING &&
        (f->name() == "name" || f->name() == "parent")) {
      reflection->SetString(&message, f,
                            f->name() == "parent" ? absl::StrCat("forces/", force)
                                                  : absl::StrCat("forces/", force, "/things/t-1"));
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && depth < 2 &&
               f->message_type()->full_name().rfind("outreach.", 0) == 0) {
      NameForce(*reflection->MutableMessage(&message, f), force, depth + 1);
    }
  }
}

// Completion-queue tags: the addresses of these, one per step of a call.
int tags[6];
void* Tag(int i) { return &tags[i]; }

// One call of any method (unary or streaming) with one request message, through the generic
// stub: the server sees exactly what a client of that method sends.
grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const Message& request, grpc::ClientContext* ctx) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  auto wait = [&cq]() {
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    return ok;
  };
  auto call = stub.PrepareCall(ctx, method, &cq);
  call->StartCall(Tag(1));
  wait();
  grpc::Slice slice(request.SerializeAsString());
  grpc::ByteBuffer out(&slice, 1);
  call->Write(out, Tag(2));
  wait();
  call->WritesDone(Tag(3));
  wait();
  grpc::ByteBuffer in;
  call->Read(&in, Tag(4));
  if (wait()) ctx->TryCancel();  // a stream that was allowed: one message is enough
  grpc::Status status;
  call->Finish(&status, Tag(5));
  wait();
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

struct Served {
  ServiceSpec spec;
  std::vector<const google::protobuf::ServiceDescriptor*> services;
};

class SecurityPolicyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto policy = security::Policy::Load(testing::PolicyFile());
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = new std::shared_ptr<const security::Policy>(*policy);
  }
  static void TearDownTestSuite() { delete policy_; }

  static std::vector<Served> AllServices() {
    auto find = [](const char* name) {
      return google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    };
    const auto* audit = find(audit::v1::AuditService::service_full_name());
    return {
        {workshops::WorkshopsServiceSpec(),
         {find(workshops::v1::WorkshopsService::service_full_name()), audit}},
        {training::TrainingServiceSpec(),
         {find(training::v1::TrainingService::service_full_name()), audit}},
        {campaigns::CampaignsServiceSpec(),
         {find(campaigns::v1::CampaignsService::service_full_name()), audit}},
        {metrics::MetricsServiceSpec(),
         {find(metrics::v1::MetricsService::service_full_name()), audit}},
    };
  }

  static std::shared_ptr<const security::Policy>* policy_;
};
std::shared_ptr<const security::Policy>* SecurityPolicyTest::policy_ = nullptr;

std::string MethodName(const google::protobuf::MethodDescriptor* m) {
  return absl::StrCat("/", m->service()->full_name(), "/", m->name());
}

TEST_F(SecurityPolicyTest, EveryMethodHasExactlyOnePolicyEntry) {
  std::set<std::string> methods;
  for (const auto& served : AllServices()) {
    for (const auto* service : served.services) {
      for (int i = 0; i < service->method_count(); ++i)
        methods.insert(MethodName(service->method(i)));
    }
  }
  for (const auto& method : methods) {
    EXPECT_NE((*policy_)->Find(method), nullptr) << method << " has no policy entry";
  }
  for (const auto& listed : (*policy_)->Methods()) {
    EXPECT_TRUE(methods.count(listed)) << listed << " is in the policy but is no method";
  }
}

// A few rows pinned by hand, so a careless edit of the policy file is caught too.
TEST_F(SecurityPolicyTest, PolicyKeepsTheProductsRules) {
  auto allows = [&](const std::string& method, const std::string& role) {
    const auto* rule = (*policy_)->Find(method);
    return rule != nullptr && rule->roles.contains(role);
  };
  const std::string w = "/outreach.workshops.v1.WorkshopsService/";
  const std::string t = "/outreach.training.v1.TrainingService/";
  const std::string m = "/outreach.metrics.v1.MetricsService/";
  const std::string a = "/outreach.audit.v1.AuditService/";
  EXPECT_TRUE(allows(w + "DeliverWorkshop", "presenter"));
  EXPECT_FALSE(allows(w + "ScheduleWorkshop", "presenter"));
  EXPECT_FALSE(allows(w + "UpdateVenue", "analyst"));
  EXPECT_TRUE(allows(m + "GetDashboard", "analyst"));
  EXPECT_FALSE(allows(t + "ListOfficers", "analyst"));
  EXPECT_TRUE(allows(t + "ImportCompletions", "training_coordinator"));
  EXPECT_FALSE(allows(m + "UpdateForceSettings", "communications_officer"));
  EXPECT_TRUE(allows(a + "ListAuditRecords", "auditor"));
  EXPECT_FALSE(allows(a + "ListAuditRecords", "force_admin"));
  EXPECT_FALSE(allows(m + "IngestEvents", "force_admin"));
  EXPECT_TRUE((*policy_)->Find(m + "IngestEvents")->services.contains("workshops"));
  EXPECT_TRUE((*policy_)->Find(t + "ListOfficers")->audited());
  EXPECT_TRUE((*policy_)->MayIngest("workshops", "workshop_delivered"));
  EXPECT_FALSE((*policy_)->MayIngest("workshops", "enrolment_completed"));
}

TEST_F(SecurityPolicyTest, EveryMethodEveryCallerEveryForce) {
  int checked = 0;
  for (const auto& served : AllServices()) {
    ServiceHarness harness(served.spec, absl::Now());
    std::map<std::string, std::shared_ptr<grpc::Channel>> service_channels;
    for (const char* identity : kServiceIdentities) {
      service_channels[identity] = harness.ServiceChannel(identity);
    }
    std::map<std::string, std::string> tokens;
    for (const auto& role : (*policy_)->roles()) {
      tokens[role] = testing::TestToken(TestCaller{"policy-test", {kOwn}, {role}});
    }
    google::protobuf::DynamicMessageFactory factory;
    for (const auto* service : served.services) {
      for (int i = 0; i < service->method_count(); ++i) {
        const auto* method = service->method(i);
        const std::string name = MethodName(method);
        const security::MethodRule* rule = (*policy_)->Find(name);
        ASSERT_NE(rule, nullptr) << name;
        for (const char* force : {kOwn, kOther}) {
          std::unique_ptr<Message> request(factory.GetPrototype(method->input_type())->New());
          NameForce(*request, force, 0);
          const std::string where = absl::StrCat(name, " for forces/", force);
          // No credentials.
          {
            auto ctx = testing::AnonymousCtx();
            grpc::Status s = CallRaw(harness.channel(), name, *request, ctx.get());
            EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED) << where << " anonymous";
          }
          // Each role, with a token for the own force only.
          for (const auto& [role, token] : tokens) {
            auto ctx = testing::AnonymousCtx();
            ctx->AddMetadata("authorization", "Bearer " + token);
            grpc::Status s = CallRaw(harness.channel(), name, *request, ctx.get());
            const bool role_ok = rule->roles.contains(role);
            const bool allowed = role_ok && std::string(force) == kOwn;
            if (allowed) {
              EXPECT_NE(s.error_code(), grpc::PERMISSION_DENIED)
                  << where << " as " << role << ": " << s.error_message();
              EXPECT_NE(s.error_code(), grpc::UNAUTHENTICATED) << where << " as " << role;
            } else {
              EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED) << where << " as " << role;
              EXPECT_EQ(ReasonOf(s), role_ok ? "FORCE_NOT_PERMITTED" : "ROLE_NOT_PERMITTED")
                  << where << " as " << role;
            }
            ++checked;
          }
          // Each service identity, by its client certificate.
          for (const auto& [identity, channel] : service_channels) {
            auto ctx = testing::AnonymousCtx();
            grpc::Status s = CallRaw(channel, name, *request, ctx.get());
            if (rule->services.contains(identity)) {
              EXPECT_NE(s.error_code(), grpc::PERMISSION_DENIED) << where << " as " << identity;
              EXPECT_NE(s.error_code(), grpc::UNAUTHENTICATED) << where << " as " << identity;
            } else {
              EXPECT_EQ(s.error_code(), grpc::PERMISSION_DENIED) << where << " as " << identity;
              EXPECT_EQ(ReasonOf(s), "ROLE_NOT_PERMITTED") << where << " as " << identity;
            }
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 1500);
}

}  // namespace
}  // namespace outreach
