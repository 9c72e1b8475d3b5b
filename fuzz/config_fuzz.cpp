// libFuzzer target: any bytes through load_text must give a result (config or errors), never a
// crash, hang or sanitizer report. A "fuzz" connector type exercises every BlockReader getter.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "daemon/config/config.hpp"
#include "daemon/config/connector_registry.hpp"

namespace {

struct FuzzSettings : omnitrail::config::ConnectorSettings {};

std::shared_ptr<const omnitrail::config::ConnectorSettings> validate_fuzz(omnitrail::config::BlockReader& block) {
  using namespace std::chrono_literals;
  (void)block.required_string("host");
  (void)block.string("label", "x");
  (void)block.choice("mode", {"a", "b"}, "a");
  (void)block.integer("port", 1, 1, 65535);
  (void)block.boolean("tls", false);
  (void)block.duration("poll_interval", 30s, 1s, 24h);
  (void)block.size("max_frame", 1024, 1, 1 << 20);
  (void)block.string_list("list");
  (void)block.choice_list("channels", {"phone", "email"});
  (void)block.file_path("ca_file");
  (void)block.secret("password", false);
  (void)block.secret_file_list("keys");
  (void)block.raw("extra");
  if (auto nested = block.map("nested")) (void)nested->integer("n", 0, 0, 10);
  for (auto& item : block.map_list("items")) (void)item.string("v");
  return std::make_shared<FuzzSettings>();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  omnitrail::config::register_connector_type("fuzz", validate_fuzz);
  ::setenv("OMNITRAIL_FUZZ_SECRET", "fuzz-secret", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto result = omnitrail::config::load_text(text, "/nonexistent-omnitrail-fuzz/omnitrail.yaml");
  // The contract: a config exactly when there are no errors; every error prints.
  if (static_cast<bool>(result.config) == !result.errors.empty()) std::abort();
  for (const auto& e : result.errors) (void)e.to_string();
  return 0;
}
