// The embedded files of a build without the dashboard page (-DOUTREACH_DASHBOARD_PAGE=OFF, or
// no npm at configure time): none. The page's build generates this function instead.
#include "services/metrics/web_assets.h"

namespace outreach::metrics::web {

std::span<const WebAsset> EmbeddedAssets() { return {}; }

}  // namespace outreach::metrics::web
