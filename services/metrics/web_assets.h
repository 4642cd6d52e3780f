#pragma once

// The dashboard page's static files (services/metrics/web), embedded in the metrics binary at
// build time (cmake/OutreachEmbed.cmake, services/metrics/CMakeLists.txt): no CDN and no files
// on disk, so the page works offline and is the version of the binary that serves it. A build
// with -DOUTREACH_DASHBOARD_PAGE=OFF (or without npm) has no files and says why.
#include <span>
#include <string_view>

namespace outreach::metrics::web {

struct WebAsset {
  std::string_view path;          // URL path, e.g. "/" or "/assets/dashboard.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

// Every embedded file; empty when this build has no page.
std::span<const WebAsset> EmbeddedAssets();

// The file served at `path`, or null.
const WebAsset* FindAsset(std::string_view path);

// Empty when the page is built in; else why not (one line, for the 404 at /).
std::string_view MissingPageReason();

}  // namespace outreach::metrics::web
