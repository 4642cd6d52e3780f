#include "common/grpc_status.h"

#include <string>

#include "common/errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace outreach {

grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view domain,
                          absl::string_view method) {
  if (status.ok()) return grpc::Status::OK;
  const PublicError view = PublicView(status, method);
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(view.code));
  rich.set_message(view.message);
  // ErrorInfo first: clients that read only the first detail get the reason.
  google::rpc::ErrorInfo info;
  info.set_reason(view.reason);
  info.set_domain(std::string(domain));
  for (const auto& [key, value] : view.metadata) (*info.mutable_metadata())[key] = value;
  rich.add_details()->PackFrom(info);
  if (!view.violations.empty()) {
    google::rpc::BadRequest bad_request;
    for (const auto& v : view.violations) {
      auto* fv = bad_request.add_field_violations();
      fv->set_field(v.field);
      fv->set_description(v.description);
    }
    rich.add_details()->PackFrom(bad_request);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(view.code), view.message,
                      rich.SerializeAsString());
}

grpc::Status ServerDraining(absl::string_view domain) {
  google::rpc::Status rich;
  rich.set_code(grpc::StatusCode::UNAVAILABLE);
  rich.set_message("the server is shutting down; reconnect and continue");
  google::rpc::ErrorInfo info;
  info.set_reason("SERVER_DRAINING");
  info.set_domain(std::string(domain));
  rich.add_details()->PackFrom(info);
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, rich.message(), rich.SerializeAsString());
}

}  // namespace outreach
