// omnitraild entry point: command line, --check-config, --version; then the Service.
#include <cstring>
#include <iostream>
#include <string>

#include "connectors/registry.hpp"
#include "daemon/config/config.hpp"
#include "daemon/service.hpp"
#include "daemon/util/log.hpp"
#include "omnitrail/version.hpp"

namespace {

constexpr int exit_usage = 64;   // EX_USAGE
constexpr int exit_config = 78;  // EX_CONFIG
constexpr const char* default_config = "/etc/omnitrail/omnitrail.yaml";

void print_usage(std::ostream& out) {
  out << "usage: omnitraild [--config FILE] [--check-config] [--version] [--help]\n"
         "  --config FILE    configuration file (default " << default_config << ")\n"
         "  --check-config   validate the configuration, print every error as\n"
         "                   file:line:col: path: message, exit 0 if valid, 78 if not\n"
         "  --version        print the version and exit\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = default_config;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" || arg == "-c") {
      if (i + 1 >= argc) {
        std::cerr << "omnitraild: --config needs a file name\n";
        print_usage(std::cerr);
        return exit_usage;
      }
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(std::strlen("--config="));
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--version" || arg == "-V") {
      std::cout << "omnitraild " << omnitrail::version_string << "\n";
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      print_usage(std::cout);
      return 0;
    } else {
      std::cerr << "omnitraild: unknown argument \"" << arg << "\"\n";
      print_usage(std::cerr);
      return exit_usage;
    }
  }

  omnitrail::connectors::register_all();
  auto loaded = omnitrail::config::load_file(config_path);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    std::cerr << "omnitraild: " << loaded.errors.size() << " error(s) in " << config_path << "\n";
    return exit_config;
  }
  for (const auto& w : loaded.warnings) std::cerr << w.to_string() << " (warning)\n";
  if (check_only) {
    std::cout << config_path << ": configuration is valid\n";
    return 0;
  }
  try {
    omnitrail::Service service(config_path, loaded.config);
    return service.run();
  } catch (const std::exception& e) {
    omnitrail::log::error("main", "fatal: ", e.what());
    return 1;
  }
}
