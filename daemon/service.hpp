// The omnitraild process: owns the io_context and every component, handles signals
// (TERM/INT: drain and exit, HUP: reload) and talks to systemd (sd_notify).
// Thread contract: construct and run() on the main thread; run() drives the io thread.
#pragma once

#include <memory>
#include <string>

#include "daemon/config/config.hpp"

namespace omnitrail {

class Service {
 public:
  /// `config_path` is re-read on SIGHUP; `initial` is its already validated content.
  Service(std::string config_path, std::shared_ptr<const config::Config> initial);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  /// Starts everything, serves until SIGTERM/SIGINT, drains, and returns the process exit code
  /// (0 after a clean stop).
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace omnitrail
