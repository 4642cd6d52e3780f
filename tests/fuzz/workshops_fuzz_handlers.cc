// The workshops handlers in-process (tests/fuzz/service_fuzz.h): fuzzed requests of every method of
// WorkshopsServiceImpl against a fresh SQLite store.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "services/workshops/workshops_service.h"
#include "tests/fuzz/service_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using outreach::fuzz::Call;
  using outreach::workshops::WorkshopsServiceImpl;
  // Append new methods at the end: the method byte of the committed corpus indexes this table.
  static const auto* rpcs = new std::vector<outreach::fuzz::Rpc<WorkshopsServiceImpl>>{
      Call(&WorkshopsServiceImpl::GetVenue),
      Call(&WorkshopsServiceImpl::ListVenues),
      Call(&WorkshopsServiceImpl::CreateVenue),
      Call(&WorkshopsServiceImpl::UpdateVenue),
      Call(&WorkshopsServiceImpl::DeleteVenue),
      Call(&WorkshopsServiceImpl::GetPresenter),
      Call(&WorkshopsServiceImpl::ListPresenters),
      Call(&WorkshopsServiceImpl::CreatePresenter),
      Call(&WorkshopsServiceImpl::UpdatePresenter),
      Call(&WorkshopsServiceImpl::DeletePresenter),
      Call(&WorkshopsServiceImpl::GrantAccreditation),
      Call(&WorkshopsServiceImpl::SuspendAccreditation),
      Call(&WorkshopsServiceImpl::GetTopic),
      Call(&WorkshopsServiceImpl::ListTopics),
      Call(&WorkshopsServiceImpl::CreateTopic),
      Call(&WorkshopsServiceImpl::UpdateTopic),
      Call(&WorkshopsServiceImpl::DeleteTopic),
      Call(&WorkshopsServiceImpl::RetireTopic),
      Call(&WorkshopsServiceImpl::GetWorkshop),
      Call(&WorkshopsServiceImpl::ListWorkshops),
      Call(&WorkshopsServiceImpl::ScheduleWorkshop),
      Call(&WorkshopsServiceImpl::UpdateWorkshop),
      Call(&WorkshopsServiceImpl::DeleteWorkshop),
      Call(&WorkshopsServiceImpl::RescheduleWorkshop),
      Call(&WorkshopsServiceImpl::PostponeWorkshop),
      Call(&WorkshopsServiceImpl::CancelWorkshop),
      Call(&WorkshopsServiceImpl::DeliverWorkshop),
      Call(&WorkshopsServiceImpl::GetCoverage),
  };
  static const auto* spec = new outreach::ServiceSpec(outreach::workshops::WorkshopsServiceSpec());
  outreach::fuzz::RunCalls(*spec, *rpcs, data, size);
  return 0;
}
