// The training handlers in-process (tests/fuzz/service_fuzz.h): fuzzed requests of every method of
// TrainingServiceImpl against a fresh SQLite store.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "services/training/training_service.h"
#include "tests/fuzz/service_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using outreach::fuzz::Call;
  using outreach::training::TrainingServiceImpl;
  // Append new methods at the end: the method byte of the committed corpus indexes this table.
  static const auto* rpcs = new std::vector<outreach::fuzz::Rpc<TrainingServiceImpl>>{
      Call(&TrainingServiceImpl::GetCourse),
      Call(&TrainingServiceImpl::ListCourses),
      Call(&TrainingServiceImpl::CreateCourse),
      Call(&TrainingServiceImpl::UpdateCourse),
      Call(&TrainingServiceImpl::DeleteCourse),
      Call(&TrainingServiceImpl::GetCourseVersion),
      Call(&TrainingServiceImpl::ListCourseVersions),
      Call(&TrainingServiceImpl::CreateCourseVersion),
      Call(&TrainingServiceImpl::UpdateCourseVersion),
      Call(&TrainingServiceImpl::DeleteCourseVersion),
      Call(&TrainingServiceImpl::PublishCourseVersion),
      Call(&TrainingServiceImpl::RetireCourseVersion),
      Call(&TrainingServiceImpl::GetOfficer),
      Call(&TrainingServiceImpl::ListOfficers),
      Call(&TrainingServiceImpl::CreateOfficer),
      Call(&TrainingServiceImpl::UpdateOfficer),
      Call(&TrainingServiceImpl::DeleteOfficer),
      Call(&TrainingServiceImpl::GetEnrolment),
      Call(&TrainingServiceImpl::ListEnrolments),
      Call(&TrainingServiceImpl::EnrolOfficer),
      Call(&TrainingServiceImpl::UpdateEnrolment),
      Call(&TrainingServiceImpl::RecordModuleResult),
      Call(&TrainingServiceImpl::WithdrawEnrolment),
      Call(&TrainingServiceImpl::ImportCompletions),
      Call(&TrainingServiceImpl::GetComplianceReport),
  };
  static const auto* spec = new outreach::ServiceSpec(outreach::training::TrainingServiceSpec());
  outreach::fuzz::RunCalls(*spec, *rpcs, data, size);
  return 0;
}
