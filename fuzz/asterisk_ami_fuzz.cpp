// Fuzzes the AMI framer and the call state machine: bytes in chunks of fuzzer-chosen sizes go
// through Parser; every message it yields goes to CallTracker (then a resync with the
// CoreShowChannel events seen, and an expiry). Checks: no crash, bounded buffers and call table.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "connectors/asterisk_ami/ami_parser.hpp"
#include "connectors/asterisk_ami/call_model.hpp"

namespace ami = omnitrail::connectors::ami;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // First byte: options and chunking seed; the rest is the stream.
  const std::uint8_t control = data[0];
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  ami::ParserLimits limits;
  limits.expect_banner = (control & 1) != 0;
  limits.max_line_bytes = 1024;
  limits.max_fields = 64;
  limits.max_buffered_bytes = 64 * 1024;
  ami::Parser parser(limits);

  ami::TrackerConfig config;
  config.source = "fuzz";
  config.internal_contexts = {"agents", "from-internal"};
  config.agent_by_extension = {{"6001", "alice"}, {"6002", "bob"}};
  config.max_calls = 16;
  config.call_expiry = std::chrono::seconds(30);
  std::int64_t now = 1795390255000;
  ami::CallTracker tracker(config, [&now] { return now; });

  std::vector<ami::Message> channels;
  std::size_t chunk = (control >> 1) + 1;
  std::uint32_t state = control;
  while (!bytes.empty()) {
    const auto take = std::min(chunk, bytes.size());
    parser.feed(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (parser.buffered_bytes() > limits.max_buffered_bytes + limits.max_line_bytes + 2) __builtin_trap();
    while (auto message = parser.next()) {
      now += 7;
      for (const auto& in : tracker.on_message(*message)) {
        if (in.external_id.empty() || in.source != "fuzz" || in.metadata_json.empty()) __builtin_trap();
      }
      if (message->event() == "CoreShowChannel" && channels.size() < 64) channels.push_back(std::move(*message));
    }
    if (tracker.active_calls() > config.max_calls) __builtin_trap();
    state = state * 1103515245u + 12345u;
    chunk = 1 + (state >> 16) % 97;
  }
  if (parser.failed() && parser.error().empty()) __builtin_trap();
  tracker.resync(channels);
  now += 60000;
  tracker.expire();
  if (tracker.active_calls() != 0) __builtin_trap();
  return 0;
}
