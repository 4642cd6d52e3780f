#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/service_main.h"
#include "outreach/training/v1/training.grpc.pb.h"
#include "services/training/store.h"

namespace outreach::training {

// The gRPC face of the training service: parses and validates requests, calls the store and
// maps errors in one place (kHandlers.Run, domain "outreach.training.v1"). Sync API: handlers
// block on SQLite.
class TrainingServiceImpl final : public v1::TrainingService::Service {
 public:
  TrainingServiceImpl(const ServiceContext& context, std::unique_ptr<TrainingStore> store);

  grpc::Status GetCourse(grpc::ServerContext*, const v1::GetCourseRequest*, v1::Course*) override;
  grpc::Status ListCourses(grpc::ServerContext*, const v1::ListCoursesRequest*,
                           v1::ListCoursesResponse*) override;
  grpc::Status CreateCourse(grpc::ServerContext*, const v1::CreateCourseRequest*,
                            v1::Course*) override;
  grpc::Status UpdateCourse(grpc::ServerContext*, const v1::UpdateCourseRequest*,
                            v1::Course*) override;
  grpc::Status DeleteCourse(grpc::ServerContext*, const v1::DeleteCourseRequest*,
                            google::protobuf::Empty*) override;

  grpc::Status GetCourseVersion(grpc::ServerContext*, const v1::GetCourseVersionRequest*,
                                v1::CourseVersion*) override;
  grpc::Status ListCourseVersions(grpc::ServerContext*, const v1::ListCourseVersionsRequest*,
                                  v1::ListCourseVersionsResponse*) override;
  grpc::Status CreateCourseVersion(grpc::ServerContext*, const v1::CreateCourseVersionRequest*,
                                   v1::CourseVersion*) override;
  grpc::Status UpdateCourseVersion(grpc::ServerContext*, const v1::UpdateCourseVersionRequest*,
                                   v1::CourseVersion*) override;
  grpc::Status DeleteCourseVersion(grpc::ServerContext*, const v1::DeleteCourseVersionRequest*,
                                   google::protobuf::Empty*) override;
  grpc::Status PublishCourseVersion(grpc::ServerContext*, const v1::PublishCourseVersionRequest*,
                                    v1::CourseVersion*) override;
  grpc::Status RetireCourseVersion(grpc::ServerContext*, const v1::RetireCourseVersionRequest*,
                                   v1::CourseVersion*) override;

  grpc::Status GetOfficer(grpc::ServerContext*, const v1::GetOfficerRequest*,
                          v1::Officer*) override;
  grpc::Status ListOfficers(grpc::ServerContext*, const v1::ListOfficersRequest*,
                            v1::ListOfficersResponse*) override;
  grpc::Status CreateOfficer(grpc::ServerContext*, const v1::CreateOfficerRequest*,
                             v1::Officer*) override;
  grpc::Status UpdateOfficer(grpc::ServerContext*, const v1::UpdateOfficerRequest*,
                             v1::Officer*) override;
  grpc::Status DeleteOfficer(grpc::ServerContext*, const v1::DeleteOfficerRequest*,
                             google::protobuf::Empty*) override;

  grpc::Status GetEnrolment(grpc::ServerContext*, const v1::GetEnrolmentRequest*,
                            v1::Enrolment*) override;
  grpc::Status ListEnrolments(grpc::ServerContext*, const v1::ListEnrolmentsRequest*,
                              v1::ListEnrolmentsResponse*) override;
  grpc::Status EnrolOfficer(grpc::ServerContext*, const v1::EnrolOfficerRequest*,
                            v1::Enrolment*) override;
  grpc::Status UpdateEnrolment(grpc::ServerContext*, const v1::UpdateEnrolmentRequest*,
                               v1::Enrolment*) override;
  grpc::Status RecordModuleResult(grpc::ServerContext*, const v1::RecordModuleResultRequest*,
                                  v1::Enrolment*) override;
  grpc::Status WithdrawEnrolment(grpc::ServerContext*, const v1::WithdrawEnrolmentRequest*,
                                 v1::Enrolment*) override;

  grpc::Status ImportCompletions(grpc::ServerContext*, const v1::ImportCompletionsRequest*,
                                 v1::ImportCompletionsResponse*) override;
  grpc::Status StreamImportCompletions(
      grpc::ServerContext*, grpc::ServerReader<v1::StreamImportCompletionsRequest>* reader,
      v1::ImportCompletionsResponse*) override;

  grpc::Status GetComplianceReport(grpc::ServerContext*, const v1::GetComplianceReportRequest*,
                                   v1::ComplianceReport*) override;

 private:
  // Reads do not write, so expiry events of a force that only reads would wait for its next
  // write; at most once per kSweepInterval of clock time, a read first runs the sweep.
  void MaybeSweep(const std::string& force);
  absl::StatusOr<absl::Time> CompletedTime(bool has, const google::protobuf::Timestamp& t) const;
  absl::StatusOr<ComplianceScope> ScopeOf(const v1::GetComplianceReportRequest& r,
                                          std::optional<std::string>* course_force,
                                          std::string* course_id) const;

  const ServiceContext context_;
  std::unique_ptr<TrainingStore> store_;
  absl::Mutex sweep_mu_;
  std::map<std::string, absl::Time> last_sweep_ ABSL_GUARDED_BY(sweep_mu_);
};

// name "training", health "outreach.training.v1.TrainingService", ports 50052/9102.
ServiceSpec TrainingServiceSpec();

}  // namespace outreach::training
