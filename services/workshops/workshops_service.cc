#include "services/workshops/workshops_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/etag.h"
#include "common/field_mask.h"
#include "common/grpc_status.h"
#include "common/resource_name.h"
#include "common/security/interceptor.h"
#include "common/status_macros.h"
#include "common/store_support.h"

namespace outreach::workshops {
namespace {

const ServiceHandlers kHandlers{kDomain, "/outreach.workshops.v1.WorkshopsService/"};

struct Parsed {
  std::string force;
  std::string id;
};

absl::StatusOr<Parsed> ParseName(const ResourcePattern& pattern, absl::string_view field,
                                 absl::string_view name) {
  OUTREACH_ASSIGN_OR_RETURN(std::vector<std::string> ids, pattern.Parse(field, name));
  Parsed out;
  out.force = ids[0];
  if (ids.size() > 1) out.id = ids[1];
  return out;
}

// Shared checks of a Create: the optional id and request_id.
void ValidateCreateIds(const std::string& id, absl::string_view id_field,
                       const std::string& request_id, std::vector<FieldViolation>* out) {
  if (!id.empty() && !IsValidResourceId(id)) {
    out->push_back({std::string(id_field), "must match [a-z][a-z0-9-]{0,62}"});
  }
  AppendViolations(ValidateRequestId(request_id), out, "request_id");
}

absl::Status RequireReason(const std::string& reason) {
  std::vector<FieldViolation> v;
  CheckText(reason, kMaxFreeText, true, "reason", &v);
  return ViolationsToStatus(std::move(v));
}

// Names a workshop refers to must be of the call's force.
absl::Status CheckWorkshopRefs(const std::string& force, const wv1::Workshop& w) {
  OUTREACH_RETURN_IF_ERROR(CheckSameForce(force, w.venue()));
  for (const auto& t : w.topics()) OUTREACH_RETURN_IF_ERROR(CheckSameForce(force, t));
  for (const auto& p : w.presenters()) OUTREACH_RETURN_IF_ERROR(CheckSameForce(force, p));
  return absl::OkStatus();
}

}  // namespace

// --- venues ---------------------------------------------------------------------------------

grpc::Status WorkshopsServiceImpl::GetVenue(grpc::ServerContext* ctx,
                                            const wv1::GetVenueRequest* req, wv1::Venue* resp) {
  return kHandlers.Run(ctx, "GetVenue", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(VenuePattern(), "name", req->name()));
    OUTREACH_ASSIGN_OR_RETURN(*resp, store_->GetVenue(n.force, n.id));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::ListVenues(grpc::ServerContext* ctx,
                                              const wv1::ListVenuesRequest* req,
                                              wv1::ListVenuesResponse* resp) {
  return kHandlers.Run(ctx, "ListVenues", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(std::string force, ParseForce("parent", req->parent()));
    OUTREACH_ASSIGN_OR_RETURN(ListQuery q, ListQueryFor(*req, *page_tokens_));
    OUTREACH_ASSIGN_OR_RETURN(auto page, store_->ListVenues(force, q));
    for (auto& v : page.items) *resp->add_venues() = std::move(v);
    resp->set_total_size(page.total_size);
    resp->set_next_page_token(NextPageTokenFor(*req, *page_tokens_, page));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::CreateVenue(grpc::ServerContext* ctx,
                                               const wv1::CreateVenueRequest* req,
                                               wv1::Venue* resp) {
  return kHandlers.Run(ctx, "CreateVenue", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(std::string force, ParseForce("parent", req->parent()));
    std::vector<FieldViolation> v;
    ValidateCreateIds(req->venue_id(), "venue_id", req->request_id(), &v);
    ValidateVenue(req->venue(), "venue.", &v);
    OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(v)));
    const std::string id = req->venue_id().empty() ? GenerateResourceId("v") : req->venue_id();
    OUTREACH_ASSIGN_OR_RETURN(*resp,
                              store_->CreateVenue(force, id, req->venue(), RequestKeyOf(*req)));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::UpdateVenue(grpc::ServerContext* ctx,
                                               const wv1::UpdateVenueRequest* req,
                                               wv1::Venue* resp) {
  return kHandlers.Run(ctx, "UpdateVenue", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n,
                              ParseName(VenuePattern(), "venue.name", req->venue().name()));
    OUTREACH_ASSIGN_OR_RETURN(
        auto paths,
        ValidateUpdateMask(req->update_mask(), {"display_name", "kind", "area", "school_urn",
                                                "pupil_roll", "postcode"}));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("venue.etag", req->venue().etag()));
    OUTREACH_ASSIGN_OR_RETURN(*resp, store_->UpdateVenue(n.force, n.id, req->venue(), paths));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::DeleteVenue(grpc::ServerContext* ctx,
                                               const wv1::DeleteVenueRequest* req,
                                               google::protobuf::Empty*) {
  return kHandlers.Run(ctx, "DeleteVenue", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(VenuePattern(), "name", req->name()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", req->etag()));
    return store_->DeleteVenue(n.force, n.id, req->etag());
  });
}

// --- presenters -----------------------------------------------------------------------------

grpc::Status WorkshopsServiceImpl::GetPresenter(grpc::ServerContext* ctx,
                                                const wv1::GetPresenterRequest* req,
                                                wv1::Presenter* resp) {
  return kHandlers.Run(ctx, "GetPresenter", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(PresenterPattern(), "name", req->name()));
    OUTREACH_ASSIGN_OR_RETURN(*resp, store_->GetPresenter(n.force, n.id));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::ListPresenters(grpc::ServerContext* ctx,
                                                  const wv1::ListPresentersRequest* req,
                                                  wv1::ListPresentersResponse* resp) {
  return kHandlers.Run(ctx, "ListPresenters", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(std::string force, ParseForce("parent", req->parent()));
    OUTREACH_ASSIGN_OR_RETURN(ListQuery q, ListQueryFor(*req, *page_tokens_));
    OUTREACH_ASSIGN_OR_RETURN(auto page, store_->ListPresenters(force, q));
    for (auto& p : page.items) *resp->add_presenters() = std::move(p);
    resp->set_total_size(page.total_size);
    resp->set_next_page_token(NextPageTokenFor(*req, *page_tokens_, page));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::CreatePresenter(grpc::ServerContext* ctx,
                                                   const wv1::CreatePresenterRequest* req,
                                                   wv1::Presenter* resp) {
  return kHandlers.Run(ctx, "CreatePresenter", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(std::string force, ParseForce("parent", req->parent()));
    std::vector<FieldViolation> v;
    ValidateCreateIds(req->presenter_id(), "presenter_id", req->request_id(), &v);
    ValidatePresenter(req->presenter(), "presenter.", &v);
    OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(v)));
    const std::string id =
        req->presenter_id().empty() ? GenerateResourceId("p") : req->presenter_id();
    OUTREACH_ASSIGN_OR_RETURN(
        *resp, store_->CreatePresenter(force, id, req->presenter(), RequestKeyOf(*req)));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::UpdatePresenter(grpc::ServerContext* ctx,
                                                   const wv1::UpdatePresenterRequest* req,
                                                   wv1::Presenter* resp) {
  return kHandlers.Run(ctx, "UpdatePresenter", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(
        Parsed n, ParseName(PresenterPattern(), "presenter.name", req->presenter().name()));
    OUTREACH_ASSIGN_OR_RETURN(
        auto paths,
        ValidateUpdateMask(req->update_mask(), {"display_name", "team", "organisation"}));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("presenter.etag", req->presenter().etag()));
    OUTREACH_ASSIGN_OR_RETURN(*resp,
                              store_->UpdatePresenter(n.force, n.id, req->presenter(), paths));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::DeletePresenter(grpc::ServerContext* ctx,
                                                   const wv1::DeletePresenterRequest* req,
                                                   google::protobuf::Empty*) {
  return kHandlers.Run(ctx, "DeletePresenter", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(PresenterPattern(), "name", req->name()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", req->etag()));
    return store_->DeletePresenter(n.force, n.id, req->etag());
  });
}

grpc::Status WorkshopsServiceImpl::GrantAccreditation(grpc::ServerContext* ctx,
                                                      const wv1::GrantAccreditationRequest* req,
                                                      wv1::Presenter* resp) {
  return kHandlers.Run(ctx, "GrantAccreditation", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(PresenterPattern(), "name", req->name()));
    OUTREACH_RETURN_IF_ERROR(ValidateGrant(req->expire_time(), clock_->Now(), req->note()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", req->etag()));
    OUTREACH_ASSIGN_OR_RETURN(*resp, store_->GrantAccreditation(n.force, n.id, req->etag(),
                                                                req->expire_time(), req->note()));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::SuspendAccreditation(grpc::ServerContext* ctx,
                                                        const wv1::SuspendAccreditationRequest* req,
                                                        wv1::Presenter* resp) {
  return kHandlers.Run(ctx, "SuspendAccreditation", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(PresenterPattern(), "name", req->name()));
    OUTREACH_RETURN_IF_ERROR(RequireReason(req->reason()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", req->etag()));
    OUTREACH_ASSIGN_OR_RETURN(
        *resp, store_->SuspendAccreditation(n.force, n.id, req->etag(), req->reason()));
    return absl::OkStatus();
  });
}

// --- topics ---------------------------------------------------------------------------------

grpc::Status WorkshopsServiceImpl::GetTopic(grpc::ServerContext* ctx,
                                            const wv1::GetTopicRequest* req, wv1::Topic* resp) {
  return kHandlers.Run(ctx, "GetTopic", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(TopicPattern(), "name", req->name()));
    OUTREACH_ASSIGN_OR_RETURN(*resp, store_->GetTopic(n.force, n.id));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::ListTopics(grpc::ServerContext* ctx,
                                              const wv1::ListTopicsRequest* req,
                                              wv1::ListTopicsResponse* resp) {
  return kHandlers.Run(ctx, "ListTopics", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(std::string force, ParseForce("parent", req->parent()));
    OUTREACH_ASSIGN_OR_RETURN(ListQuery q, ListQueryFor(*req, *page_tokens_));
    OUTREACH_ASSIGN_OR_RETURN(auto page, store_->ListTopics(force, q));
    for (auto& t : page.items) *resp->add_topics() = std::move(t);
    resp->set_total_size(page.total_size);
    resp->set_next_page_token(NextPageTokenFor(*req, *page_tokens_, page));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::CreateTopic(grpc::ServerContext* ctx,
                                               const wv1::CreateTopicRequest* req,
                                               wv1::Topic* resp) {
  return kHandlers.Run(ctx, "CreateTopic", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(std::string force, ParseForce("parent", req->parent()));
    std::vector<FieldViolation> v;
    ValidateCreateIds(req->topic_id(), "topic_id", req->request_id(), &v);
    ValidateTopic(req->topic(), "topic.", &v);
    OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(v)));
    const std::string id = req->topic_id().empty() ? GenerateResourceId("t") : req->topic_id();
    OUTREACH_ASSIGN_OR_RETURN(*resp,
                              store_->CreateTopic(force, id, req->topic(), RequestKeyOf(*req)));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::UpdateTopic(grpc::ServerContext* ctx,
                                               const wv1::UpdateTopicRequest* req,
                                               wv1::Topic* resp) {
  return kHandlers.Run(ctx, "UpdateTopic", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n,
                              ParseName(TopicPattern(), "topic.name", req->topic().name()));
    OUTREACH_ASSIGN_OR_RETURN(
        auto paths, ValidateUpdateMask(req->update_mask(),
                                       {"display_name", "description", "category", "min_year_group",
                                        "max_year_group", "suitable_for_pupils",
                                        "suitable_for_adults", "version", "materials_uri"}));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("topic.etag", req->topic().etag()));
    OUTREACH_ASSIGN_OR_RETURN(*resp, store_->UpdateTopic(n.force, n.id, req->topic(), paths));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::DeleteTopic(grpc::ServerContext* ctx,
                                               const wv1::DeleteTopicRequest* req,
                                               google::protobuf::Empty*) {
  return kHandlers.Run(ctx, "DeleteTopic", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(TopicPattern(), "name", req->name()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", req->etag()));
    return store_->DeleteTopic(n.force, n.id, req->etag());
  });
}

grpc::Status WorkshopsServiceImpl::RetireTopic(grpc::ServerContext* ctx,
                                               const wv1::RetireTopicRequest* req,
                                               wv1::Topic* resp) {
  return kHandlers.Run(ctx, "RetireTopic", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(TopicPattern(), "name", req->name()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", req->etag()));
    OUTREACH_ASSIGN_OR_RETURN(*resp, store_->RetireTopic(n.force, n.id, req->etag()));
    return absl::OkStatus();
  });
}

// --- workshops ------------------------------------------------------------------------------

grpc::Status WorkshopsServiceImpl::GetWorkshop(grpc::ServerContext* ctx,
                                               const wv1::GetWorkshopRequest* req,
                                               wv1::Workshop* resp) {
  return kHandlers.Run(ctx, "GetWorkshop", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(WorkshopPattern(), "name", req->name()));
    OUTREACH_ASSIGN_OR_RETURN(*resp, store_->GetWorkshop(n.force, n.id));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::ListWorkshops(grpc::ServerContext* ctx,
                                                 const wv1::ListWorkshopsRequest* req,
                                                 wv1::ListWorkshopsResponse* resp) {
  return kHandlers.Run(ctx, "ListWorkshops", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(std::string force, ParseForce("parent", req->parent()));
    OUTREACH_ASSIGN_OR_RETURN(ListQuery q, ListQueryFor(*req, *page_tokens_));
    OUTREACH_ASSIGN_OR_RETURN(auto page, store_->ListWorkshops(force, q));
    for (auto& w : page.items) *resp->add_workshops() = std::move(w);
    resp->set_total_size(page.total_size);
    resp->set_next_page_token(NextPageTokenFor(*req, *page_tokens_, page));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::ScheduleWorkshop(grpc::ServerContext* ctx,
                                                    const wv1::ScheduleWorkshopRequest* req,
                                                    wv1::Workshop* resp) {
  return kHandlers.Run(ctx, "ScheduleWorkshop", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(std::string force, ParseForce("parent", req->parent()));
    std::vector<FieldViolation> v;
    ValidateCreateIds(req->workshop_id(), "workshop_id", req->request_id(), &v);
    ValidateWorkshop(req->workshop(), "workshop.", &v);
    OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(v)));
    OUTREACH_RETURN_IF_ERROR(CheckWorkshopRefs(force, req->workshop()));
    const std::string id =
        req->workshop_id().empty() ? GenerateResourceId("w") : req->workshop_id();
    OUTREACH_ASSIGN_OR_RETURN(
        *resp, store_->ScheduleWorkshop(force, id, req->workshop(), RequestKeyOf(*req)));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::UpdateWorkshop(grpc::ServerContext* ctx,
                                                  const wv1::UpdateWorkshopRequest* req,
                                                  wv1::Workshop* resp) {
  return kHandlers.Run(ctx, "UpdateWorkshop", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(
        Parsed n, ParseName(WorkshopPattern(), "workshop.name", req->workshop().name()));
    OUTREACH_ASSIGN_OR_RETURN(
        auto paths, ValidateUpdateMask(req->update_mask(), {"title", "description", "format",
                                                            "audiences", "year_groups", "topics",
                                                            "presenters", "partner_organisation"}));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("workshop.etag", req->workshop().etag()));
    OUTREACH_ASSIGN_OR_RETURN(*resp, store_->UpdateWorkshop(n.force, n.id, req->workshop(), paths));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::DeleteWorkshop(grpc::ServerContext* ctx,
                                                  const wv1::DeleteWorkshopRequest* req,
                                                  google::protobuf::Empty*) {
  return kHandlers.Run(ctx, "DeleteWorkshop", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(WorkshopPattern(), "name", req->name()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", req->etag()));
    return store_->DeleteWorkshop(n.force, n.id, req->etag());
  });
}

grpc::Status WorkshopsServiceImpl::RescheduleWorkshop(grpc::ServerContext* ctx,
                                                      const wv1::RescheduleWorkshopRequest* req,
                                                      wv1::Workshop* resp) {
  return kHandlers.Run(ctx, "RescheduleWorkshop", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(WorkshopPattern(), "name", req->name()));
    std::vector<FieldViolation> v;
    ValidateTimes(req->start_time(), req->end_time(), "start_time", "end_time", &v);
    if (!req->venue().empty() && !VenuePattern().Parse("venue", req->venue()).ok()) {
      v.push_back({"venue", "must look like forces/{force}/venues/{venue}"});
    }
    CheckText(req->reason(), kMaxFreeText, false, "reason", &v);
    if (req->etag().empty()) v.push_back({"etag", "is required: pass the etag you read"});
    OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(v)));
    if (!req->venue().empty()) OUTREACH_RETURN_IF_ERROR(CheckSameForce(n.force, req->venue()));
    OUTREACH_ASSIGN_OR_RETURN(
        *resp, store_->RescheduleWorkshop(n.force, n.id, req->etag(), req->start_time(),
                                          req->end_time(), req->venue(), req->reason()));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::PostponeWorkshop(grpc::ServerContext* ctx,
                                                    const wv1::PostponeWorkshopRequest* req,
                                                    wv1::Workshop* resp) {
  return kHandlers.Run(ctx, "PostponeWorkshop", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(WorkshopPattern(), "name", req->name()));
    OUTREACH_RETURN_IF_ERROR(RequireReason(req->reason()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", req->etag()));
    OUTREACH_ASSIGN_OR_RETURN(*resp,
                              store_->PostponeWorkshop(n.force, n.id, req->etag(), req->reason()));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::CancelWorkshop(grpc::ServerContext* ctx,
                                                  const wv1::CancelWorkshopRequest* req,
                                                  wv1::Workshop* resp) {
  return kHandlers.Run(ctx, "CancelWorkshop", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(WorkshopPattern(), "name", req->name()));
    OUTREACH_RETURN_IF_ERROR(RequireReason(req->reason()));
    OUTREACH_RETURN_IF_ERROR(RequireEtag("etag", req->etag()));
    OUTREACH_ASSIGN_OR_RETURN(*resp,
                              store_->CancelWorkshop(n.force, n.id, req->etag(), req->reason()));
    return absl::OkStatus();
  });
}

// A presenter records deliveries of their own workshops only (deploy/security/policy.json lets the
// role call DeliverWorkshop): a caller whose only role that may deliver is `presenter` must be
// one of the workshop's presenters, its token's `sub` being its presenter id in the force.
absl::Status WorkshopsServiceImpl::RequireOwnWorkshop(const std::string& force,
                                                      const std::string& id) const {
  const security::Caller* caller = security::CurrentCaller();
  if (caller == nullptr) return absl::OkStatus();  // the security layer already refused the call
  auto has = [&](absl::string_view role) {
    return std::find(caller->roles.begin(), caller->roles.end(), role) != caller->roles.end();
  };
  if (!has("presenter") || has("force_admin") || has("schools_coordinator")) {
    return absl::OkStatus();
  }
  OUTREACH_ASSIGN_OR_RETURN(wv1::Workshop workshop, store_->GetWorkshop(force, id));
  const std::string me = absl::StrCat("forces/", force, "/presenters/", caller->subject);
  if (std::find(workshop.presenters().begin(), workshop.presenters().end(), me) ==
      workshop.presenters().end()) {
    return PermissionDenied("NOT_OWN_WORKSHOP",
                            "a presenter records deliveries of their own workshops only");
  }
  return absl::OkStatus();
}

grpc::Status WorkshopsServiceImpl::DeliverWorkshop(grpc::ServerContext* ctx,
                                                   const wv1::DeliverWorkshopRequest* req,
                                                   wv1::Workshop* resp) {
  return kHandlers.Run(ctx, "DeliverWorkshop", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(WorkshopPattern(), "name", req->name()));
    std::vector<FieldViolation> v;
    ValidateCreateIds("", "", req->request_id(), &v);
    if (req->etag().empty()) v.push_back({"etag", "is required: pass the etag you read"});
    if (!req->has_delivery()) {
      v.push_back({"delivery", "is required"});
    } else {
      ValidateDelivery(req->delivery(), clock_->Now(), "delivery.", &v);
    }
    OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(v)));
    OUTREACH_RETURN_IF_ERROR(RequireOwnWorkshop(n.force, n.id));
    // A retry is recognised by request_id and body without the etag: the etag is not checked
    // when the request_id matches an earlier success (the client may have re-read meanwhile).
    wv1::DeliverWorkshopRequest body = *req;
    body.clear_etag();
    OUTREACH_ASSIGN_OR_RETURN(
        *resp, store_->DeliverWorkshop(n.force, n.id, req->etag(), req->delivery(),
                                       RequestKey{req->request_id(), RequestHash(body)}));
    return absl::OkStatus();
  });
}

grpc::Status WorkshopsServiceImpl::GetCoverage(grpc::ServerContext* ctx,
                                               const wv1::GetCoverageRequest* req,
                                               wv1::Coverage* resp) {
  return kHandlers.Run(ctx, "GetCoverage", [&]() -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(Parsed n, ParseName(CoveragePattern(), "name", req->name()));
    std::vector<FieldViolation> v;
    if (req->academic_year() < 2000 || req->academic_year() > 2100) {
      v.push_back({"academic_year", "must be 2000-2100"});
    }
    if (!req->area().empty() && !IsValidArea(req->area())) {
      v.push_back({"area", "must be 1-32 characters of [A-Za-z0-9-]"});
    }
    std::vector<cv1::VenueKind> kinds;
    for (int i = 0; i < req->venue_kinds().size(); ++i) {
      const int k = req->venue_kinds(i);
      if (!cv1::VenueKind_IsValid(k) || !IsSchoolKind(static_cast<cv1::VenueKind>(k))) {
        v.push_back({absl::StrCat("venue_kinds[", i, "]"), "must be a school kind"});
      } else {
        kinds.push_back(static_cast<cv1::VenueKind>(k));
      }
    }
    OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(v)));
    OUTREACH_ASSIGN_OR_RETURN(
        *resp, store_->GetCoverage(n.force, req->academic_year(), req->area(), kinds));
    return absl::OkStatus();
  });
}

ServiceSpec WorkshopsServiceSpec() {
  ServiceSpec spec;
  spec.name = "workshops";
  spec.health_name = "outreach.workshops.v1.WorkshopsService";
  spec.default_grpc_address = "127.0.0.1:50051";
  spec.default_http_address = "127.0.0.1:9101";
  spec.schema = WorkshopsSchema();
  spec.make_service = [](const ServiceContext& context) -> std::unique_ptr<grpc::Service> {
    return std::make_unique<WorkshopsServiceImpl>(NewSqlWorkshopsStore(context.db, context.clock),
                                                  context.clock, context.page_tokens);
  };
  return spec;
}

}  // namespace outreach::workshops
