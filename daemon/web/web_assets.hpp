// The agent console (web/console/*, plain HTML/CSS/JS) embedded in the binary and served at
// /console. No CDN, no files on disk at run time. Any thread (immutable data).
#pragma once

#include <string_view>
#include <vector>

#include "daemon/http/router.hpp"

namespace omnitrail::web {

struct Asset {
  std::string_view name;     // file name, e.g. "console.js"
  std::string_view content;  // the bytes
};

/// Every embedded file (generated at build time).
const std::vector<Asset>& assets();

/// The content type for a file name, by extension.
std::string_view content_type(std::string_view name);

/// Serves /console (index.html), /console/ and /console/{file} with a strict
/// Content-Security-Policy (no inline script or style, same-origin connections only).
void add_console_routes(http::Router& router);

}  // namespace omnitrail::web
