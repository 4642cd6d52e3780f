#pragma once

// The workshops store: an interface the gRPC service calls with validated input, and its SQLite
// implementation. Every state-changing method is one db.Write transaction holding the rule
// checks that depend on stored data (double-booking, accreditation, topic state, workshop
// state, etags), the change, the outbox event and the request_id ledger entry, so a rule that
// must hold under races (exactly one of two racing bookings wins) is decided while the writer
// is held.

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/pagination.h"
#include "common/store_support.h"
#include "services/workshops/domain.h"

namespace outreach::workshops {

class WorkshopsStore {
 public:
  virtual ~WorkshopsStore() = default;

  virtual absl::StatusOr<wv1::Venue> CreateVenue(const std::string& force, const std::string& id,
                                                 const wv1::Venue& venue,
                                                 const RequestKey& key) = 0;
  virtual absl::StatusOr<wv1::Venue> GetVenue(const std::string& force, const std::string& id) = 0;
  // `input` carries the name, etag and new values; only `paths` change.
  virtual absl::StatusOr<wv1::Venue> UpdateVenue(const std::string& force, const std::string& id,
                                                 const wv1::Venue& input,
                                                 const std::set<std::string>& paths) = 0;
  virtual absl::Status DeleteVenue(const std::string& force, const std::string& id,
                                   const std::string& etag) = 0;
  virtual absl::StatusOr<ListPage<wv1::Venue>> ListVenues(const std::string& force,
                                                          const ListQuery& query) = 0;

  virtual absl::StatusOr<wv1::Presenter> CreatePresenter(const std::string& force,
                                                         const std::string& id,
                                                         const wv1::Presenter& presenter,
                                                         const RequestKey& key) = 0;
  virtual absl::StatusOr<wv1::Presenter> GetPresenter(const std::string& force,
                                                      const std::string& id) = 0;
  virtual absl::StatusOr<wv1::Presenter> UpdatePresenter(const std::string& force,
                                                         const std::string& id,
                                                         const wv1::Presenter& input,
                                                         const std::set<std::string>& paths) = 0;
  virtual absl::Status DeletePresenter(const std::string& force, const std::string& id,
                                       const std::string& etag) = 0;
  virtual absl::StatusOr<ListPage<wv1::Presenter>> ListPresenters(const std::string& force,
                                                                  const ListQuery& query) = 0;
  virtual absl::StatusOr<wv1::Presenter> GrantAccreditation(
      const std::string& force, const std::string& id, const std::string& etag,
      const google::protobuf::Timestamp& expire_time, const std::string& note) = 0;
  virtual absl::StatusOr<wv1::Presenter> SuspendAccreditation(const std::string& force,
                                                              const std::string& id,
                                                              const std::string& etag,
                                                              const std::string& reason) = 0;

  virtual absl::StatusOr<wv1::Topic> CreateTopic(const std::string& force, const std::string& id,
                                                 const wv1::Topic& topic,
                                                 const RequestKey& key) = 0;
  virtual absl::StatusOr<wv1::Topic> GetTopic(const std::string& force, const std::string& id) = 0;
  virtual absl::StatusOr<wv1::Topic> UpdateTopic(const std::string& force, const std::string& id,
                                                 const wv1::Topic& input,
                                                 const std::set<std::string>& paths) = 0;
  virtual absl::Status DeleteTopic(const std::string& force, const std::string& id,
                                   const std::string& etag) = 0;
  virtual absl::StatusOr<ListPage<wv1::Topic>> ListTopics(const std::string& force,
                                                          const ListQuery& query) = 0;
  virtual absl::StatusOr<wv1::Topic> RetireTopic(const std::string& force, const std::string& id,
                                                 const std::string& etag) = 0;

  virtual absl::StatusOr<wv1::Workshop> ScheduleWorkshop(const std::string& force,
                                                         const std::string& id,
                                                         const wv1::Workshop& workshop,
                                                         const RequestKey& key) = 0;
  virtual absl::StatusOr<wv1::Workshop> GetWorkshop(const std::string& force,
                                                    const std::string& id) = 0;
  virtual absl::StatusOr<wv1::Workshop> UpdateWorkshop(const std::string& force,
                                                       const std::string& id,
                                                       const wv1::Workshop& input,
                                                       const std::set<std::string>& paths) = 0;
  virtual absl::Status DeleteWorkshop(const std::string& force, const std::string& id,
                                      const std::string& etag) = 0;
  virtual absl::StatusOr<ListPage<wv1::Workshop>> ListWorkshops(const std::string& force,
                                                                const ListQuery& query) = 0;
  // `venue` empty keeps the current venue.
  virtual absl::StatusOr<wv1::Workshop> RescheduleWorkshop(
      const std::string& force, const std::string& id, const std::string& etag,
      const google::protobuf::Timestamp& start, const google::protobuf::Timestamp& end,
      const std::string& venue, const std::string& reason) = 0;
  virtual absl::StatusOr<wv1::Workshop> PostponeWorkshop(const std::string& force,
                                                         const std::string& id,
                                                         const std::string& etag,
                                                         const std::string& reason) = 0;
  virtual absl::StatusOr<wv1::Workshop> CancelWorkshop(const std::string& force,
                                                       const std::string& id,
                                                       const std::string& etag,
                                                       const std::string& reason) = 0;
  virtual absl::StatusOr<wv1::Workshop> DeliverWorkshop(const std::string& force,
                                                        const std::string& id,
                                                        const std::string& etag,
                                                        const wv1::DeliveryRecord& delivery,
                                                        const RequestKey& key) = 0;

  // Schools (venues of school kinds) of the force, optionally one area and some kinds, with
  // the deliveries of the academic year.
  virtual absl::StatusOr<wv1::Coverage> GetCoverage(const std::string& force, int academic_year,
                                                    const std::string& area,
                                                    const std::vector<cv1::VenueKind>& kinds) = 0;
};

// Schema of the workshops store (common tables included).
std::vector<db::MigrationSet> WorkshopsSchema();

std::unique_ptr<WorkshopsStore> NewSqlWorkshopsStore(db::Database* db, const Clock* clock);

}  // namespace outreach::workshops
