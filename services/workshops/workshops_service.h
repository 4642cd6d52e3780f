#pragma once

#include <memory>

#include "common/clock.h"
#include "common/pagination.h"
#include "common/service_main.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "services/workshops/store.h"

namespace outreach::workshops {

// The gRPC face of the workshops service (sync API: handlers block on SQLite, see README):
// parses names, validates input with the domain functions, calls the store, and maps every
// error with ToGrpcStatus.
class WorkshopsServiceImpl final : public wv1::WorkshopsService::Service {
 public:
  WorkshopsServiceImpl(std::unique_ptr<WorkshopsStore> store, const Clock* clock,
                       const PageTokenCodec* page_tokens)
      : store_(std::move(store)), clock_(clock), page_tokens_(page_tokens) {}

  grpc::Status GetVenue(grpc::ServerContext*, const wv1::GetVenueRequest*, wv1::Venue*) override;
  grpc::Status ListVenues(grpc::ServerContext*, const wv1::ListVenuesRequest*,
                          wv1::ListVenuesResponse*) override;
  grpc::Status CreateVenue(grpc::ServerContext*, const wv1::CreateVenueRequest*,
                           wv1::Venue*) override;
  grpc::Status UpdateVenue(grpc::ServerContext*, const wv1::UpdateVenueRequest*,
                           wv1::Venue*) override;
  grpc::Status DeleteVenue(grpc::ServerContext*, const wv1::DeleteVenueRequest*,
                           google::protobuf::Empty*) override;

  grpc::Status GetPresenter(grpc::ServerContext*, const wv1::GetPresenterRequest*,
                            wv1::Presenter*) override;
  grpc::Status ListPresenters(grpc::ServerContext*, const wv1::ListPresentersRequest*,
                              wv1::ListPresentersResponse*) override;
  grpc::Status CreatePresenter(grpc::ServerContext*, const wv1::CreatePresenterRequest*,
                               wv1::Presenter*) override;
  grpc::Status UpdatePresenter(grpc::ServerContext*, const wv1::UpdatePresenterRequest*,
                               wv1::Presenter*) override;
  grpc::Status DeletePresenter(grpc::ServerContext*, const wv1::DeletePresenterRequest*,
                               google::protobuf::Empty*) override;
  grpc::Status GrantAccreditation(grpc::ServerContext*, const wv1::GrantAccreditationRequest*,
                                  wv1::Presenter*) override;
  grpc::Status SuspendAccreditation(grpc::ServerContext*, const wv1::SuspendAccreditationRequest*,
                                    wv1::Presenter*) override;

  grpc::Status GetTopic(grpc::ServerContext*, const wv1::GetTopicRequest*, wv1::Topic*) override;
  grpc::Status ListTopics(grpc::ServerContext*, const wv1::ListTopicsRequest*,
                          wv1::ListTopicsResponse*) override;
  grpc::Status CreateTopic(grpc::ServerContext*, const wv1::CreateTopicRequest*,
                           wv1::Topic*) override;
  grpc::Status UpdateTopic(grpc::ServerContext*, const wv1::UpdateTopicRequest*,
                           wv1::Topic*) override;
  grpc::Status DeleteTopic(grpc::ServerContext*, const wv1::DeleteTopicRequest*,
                           google::protobuf::Empty*) override;
  grpc::Status RetireTopic(grpc::ServerContext*, const wv1::RetireTopicRequest*,
                           wv1::Topic*) override;

  grpc::Status GetWorkshop(grpc::ServerContext*, const wv1::GetWorkshopRequest*,
                           wv1::Workshop*) override;
  grpc::Status ListWorkshops(grpc::ServerContext*, const wv1::ListWorkshopsRequest*,
                             wv1::ListWorkshopsResponse*) override;
  grpc::Status ScheduleWorkshop(grpc::ServerContext*, const wv1::ScheduleWorkshopRequest*,
                                wv1::Workshop*) override;
  grpc::Status UpdateWorkshop(grpc::ServerContext*, const wv1::UpdateWorkshopRequest*,
                              wv1::Workshop*) override;
  grpc::Status DeleteWorkshop(grpc::ServerContext*, const wv1::DeleteWorkshopRequest*,
                              google::protobuf::Empty*) override;
  grpc::Status RescheduleWorkshop(grpc::ServerContext*, const wv1::RescheduleWorkshopRequest*,
                                  wv1::Workshop*) override;
  grpc::Status PostponeWorkshop(grpc::ServerContext*, const wv1::PostponeWorkshopRequest*,
                                wv1::Workshop*) override;
  grpc::Status CancelWorkshop(grpc::ServerContext*, const wv1::CancelWorkshopRequest*,
                              wv1::Workshop*) override;
  grpc::Status DeliverWorkshop(grpc::ServerContext*, const wv1::DeliverWorkshopRequest*,
                               wv1::Workshop*) override;

  grpc::Status GetCoverage(grpc::ServerContext*, const wv1::GetCoverageRequest*,
                           wv1::Coverage*) override;

 private:
  absl::Status RequireOwnWorkshop(const std::string& force, const std::string& id) const;

  std::unique_ptr<WorkshopsStore> store_;
  const Clock* clock_;
  const PageTokenCodec* page_tokens_;
};

// name "workshops", health "outreach.workshops.v1.WorkshopsService", ports 50051 / 9101.
ServiceSpec WorkshopsServiceSpec();

}  // namespace outreach::workshops
