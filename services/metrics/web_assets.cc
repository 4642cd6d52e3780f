#include "services/metrics/web_assets.h"

namespace outreach::metrics::web {

const WebAsset* FindAsset(std::string_view path) {
  for (const WebAsset& asset : EmbeddedAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

std::string_view MissingPageReason() {
#ifdef OUTREACH_DASHBOARD_PAGE_MISSING
  return OUTREACH_DASHBOARD_PAGE_MISSING;
#else
  return EmbeddedAssets().empty() ? "no page files were embedded" : "";
#endif
}

}  // namespace outreach::metrics::web
