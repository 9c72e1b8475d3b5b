// Helpers shared by the AMI unit tests: the real captures and parsing them whole.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "connectors/asterisk_ami/ami_parser.hpp"

namespace ami_test {

/// The bytes of /work/shared/fixtures/ami/<name> (empty when missing: tests then fail on counts).
inline std::string fixture(const std::string& name) {
  std::ifstream in(std::string(OMNITRAIL_SHARED_DIR) + "/fixtures/ami/" + name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// Every message of `bytes` fed in one piece.
inline std::vector<omnitrail::connectors::ami::Message> parse_all(const std::string& bytes, bool banner = true) {
  omnitrail::connectors::ami::ParserLimits limits;
  limits.expect_banner = banner;
  omnitrail::connectors::ami::Parser parser(limits);
  parser.feed(bytes);
  std::vector<omnitrail::connectors::ami::Message> out;
  while (auto m = parser.next()) out.push_back(std::move(*m));
  return out;
}

}  // namespace ami_test
