// Helpers shared by the config tests: a scratch folder for config and secret files, and
// error lists as printed text.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/config/config.hpp"

namespace omnitrail::config::test {

/// A fresh folder under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("omnitrail-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// Writes `content` to `name` inside the folder with `mode`; returns the absolute path.
  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    const auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    ::chmod(p.c_str(), mode);
    return p.string();
  }
  /// Where a config file named omnitrail.yaml in this folder would be.
  std::string config_path() const { return (path_ / "omnitrail.yaml").string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Every error as `file:line:col: path: message`.
inline std::vector<std::string> error_texts(const LoadResult& result) {
  std::vector<std::string> out;
  for (const auto& e : result.errors) out.push_back(e.to_string());
  return out;
}

/// Errors and warnings joined, one per line, for CAPTURE/INFO and substring checks.
inline std::string all_text(const LoadResult& result) {
  std::string out;
  for (const auto& e : result.errors) out += e.to_string() + "\n";
  for (const auto& e : result.warnings) out += "warning: " + e.to_string() + "\n";
  return out;
}

}  // namespace omnitrail::config::test
