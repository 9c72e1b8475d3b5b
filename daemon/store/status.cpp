// Status helpers; see status.hpp.
#include "daemon/store/status.hpp"

namespace omnitrail::store {

const char* to_string(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::ok: return "ok";
    case StatusCode::queue_full: return "queue_full";
    case StatusCode::stopped: return "stopped";
    case StatusCode::busy: return "busy";
    case StatusCode::constraint: return "constraint";
    case StatusCode::not_found: return "not_found";
    case StatusCode::schema_too_new: return "schema_too_new";
    case StatusCode::not_our_database: return "not_our_database";
    case StatusCode::corrupt: return "corrupt";
    case StatusCode::io_error: return "io_error";
    case StatusCode::invalid_argument: return "invalid_argument";
    case StatusCode::internal: return "internal";
  }
  return "internal";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(store::to_string(code_)) + ": " + message_;
}

}  // namespace omnitrail::store
