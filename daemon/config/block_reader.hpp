// Typed, strict reading of one YAML map of the config file, with errors that carry
// file:line:col and the dotted path. The core reads every section with it, and connector
// validators (connector_registry.hpp) read their blocks with it. One load runs on one thread.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.hpp"

namespace omnitrail::config {

/// State shared by every reader during one load: the file name used in messages, the folder that
/// relative paths resolve against, the environment used for `${ENV}` secrets, and the collected
/// errors and warnings. Lives for the duration of one load; not thread-safe.
class LoadContext {
 public:
  /// Looks up an environment variable; nullopt when unset.
  using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

  /// `file` is printed in messages as given; `base_dir` must be absolute. A null `env` reads
  /// the process environment (getenv).
  LoadContext(std::string file, std::string base_dir, EnvLookup env = {});

  /// Records a problem (errors make the load fail; warnings do not).
  void error(SourceLocation where, std::string path, std::string message);
  void warning(SourceLocation where, std::string path, std::string message);

  /// The 1-based location of a yaml-cpp mark in this file (line 0 when the mark is null).
  SourceLocation location(const YAML::Mark& mark) const;

  /// `path` made absolute against base_dir() and normalised; an empty path stays empty.
  std::string resolve_path(std::string_view path) const;

  /// Value of environment variable `name`, or nullopt when unset.
  std::optional<std::string> env(const std::string& name) const;

  /// The config being loaded, as far as it is read (sections are read in order: server first,
  /// connectors after agents), for validators that check against another section; null outside
  /// a full load.
  const Config* config_so_far() const { return config_so_far_; }
  void set_config_so_far(const Config* config) { config_so_far_ = config; }

  const std::string& file() const { return file_; }
  const std::string& base_dir() const { return base_dir_; }
  const std::vector<ConfigError>& errors() const { return errors_; }
  const std::vector<ConfigError>& warnings() const { return warnings_; }
  std::vector<ConfigError> take_errors() { return std::move(errors_); }
  std::vector<ConfigError> take_warnings() { return std::move(warnings_); }

 private:
  const Config* config_so_far_ = nullptr;
  std::string file_;
  std::string base_dir_;
  EnvLookup env_;
  std::vector<ConfigError> errors_;
  std::vector<ConfigError> warnings_;
};

/// One string of a list together with where it was written, for checks that point at an item.
struct ListItem {
  std::string value;
  std::string path;  // e.g. "agents[1].extensions[0]"
  SourceLocation where;
};

/// Reads one YAML map strictly. Every getter marks its key as known; when the reader finishes
/// (finish() or destruction) each key of the map that no getter asked for is reported as
/// `unknown key "x" (did you mean "y"?)`, the candidates being the keys asked for. Getters never
/// throw: a bad value records an error (at the value's line:col) and the getter returns the
/// fallback. A null value (`key:` with nothing after it) counts as absent. Duplicate keys in
/// the map are errors. Move-only; nested readers share the fingerprint record of their root.
class BlockReader {
 public:
  /// Reads `node` whose dotted path is `path` ("" for the document root). A null node reads as an
  /// empty map; a list or scalar records `expected a map` and reads as empty.
  BlockReader(const YAML::Node& node, std::string path, LoadContext& context);
  BlockReader(BlockReader&& other) noexcept;
  BlockReader& operator=(BlockReader&&) = delete;
  BlockReader(const BlockReader&) = delete;
  BlockReader& operator=(const BlockReader&) = delete;
  ~BlockReader();

  /// The dotted path of this map ("connectors[2]") and of one of its keys ("connectors[2].url").
  const std::string& path() const { return path_; }
  std::string path_of(std::string_view key) const;

  /// Where the map starts, and where `key`'s value is (the map's location when absent).
  SourceLocation location() const;
  SourceLocation location(std::string_view key) const;

  /// True when `key` is present with a non-null value. Does not mark the key as known.
  bool has(std::string_view key) const;

  /// The keys present in the map, in file order (duplicates removed). Does not mark them.
  std::vector<std::string> keys() const;

  LoadContext& context() { return *context_; }

  /// A scalar as text. Absent -> `fallback`. A list or map -> error.
  std::string string(std::string_view key, std::string fallback = {});

  /// A scalar that must be present and non-empty; records `missing required key "k"` otherwise.
  std::string required_string(std::string_view key);

  /// A scalar that must be one of `allowed`; the error lists them (and suggests the closest).
  std::string choice(std::string_view key, const std::vector<std::string>& allowed, std::string fallback);

  /// A decimal integer in [min, max].
  std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max);

  /// `true` or `false` (YAML 1.2 spelling only).
  bool boolean(std::string_view key, bool fallback);

  /// A duration ("500ms", "30s", "5m", "1h", "1d") in [min, max].
  Duration duration(std::string_view key, Duration fallback, Duration min = Duration::zero(),
                    Duration max = Duration::max());

  /// A byte size ("512", "64KiB", "1MiB", "1GB") in [min, max].
  std::uint64_t size(std::string_view key, std::uint64_t fallback, std::uint64_t min = 0,
                     std::uint64_t max = UINT64_MAX);

  /// A list of scalars (absent -> empty). Each item must be a non-empty scalar.
  std::vector<std::string> string_list(std::string_view key);

  /// Same, with each item's path and location (for cross-checks that point at one item).
  std::vector<ListItem> string_items(std::string_view key);

  /// A list whose items must each be one of `allowed`; duplicates are errors.
  std::vector<std::string> choice_list(std::string_view key, const std::vector<std::string>& allowed);

  /// A file path resolved against the config file's folder (absent -> ""). With `must_exist`,
  /// a path that is not a readable regular file is an error.
  std::string file_path(std::string_view key, bool required = false, bool must_exist = false);

  /// A secret named `key`, taken from `key_file: /path` (the file's content minus trailing
  /// newlines; relative paths resolve against the config folder) or from `key: ${ENV_NAME}`.
  /// Any other `key: value` is an inline secret and an error, as are a missing/empty/unreadable
  /// file, an unset/empty variable, `${...}` in `key_file`, and both keys set at once. A
  /// world-readable file is a warning. Absent -> nullopt (an error when `required`). The value
  /// never appears in any message; the fingerprint holds a keyed digest of it.
  std::optional<Secret> secret(std::string_view key, bool required);

  /// A list of secret files (e.g. server.admin_token_files), each read as secret() reads `key_file`.
  std::vector<Secret> secret_file_list(std::string_view key);

  /// A nested map (nullopt when absent or not a map; the latter records an error).
  std::optional<BlockReader> map(std::string_view key);

  /// A list of maps, e.g. agents; items that are not maps record an error and are skipped.
  std::vector<BlockReader> map_list(std::string_view key);

  /// The raw node (null when absent), marked as known, for shapes the getters do not cover. The
  /// fingerprint records its canonical text, so never use it for secrets.
  YAML::Node raw(std::string_view key);

  /// Records an error / warning at `key`'s value (the map itself when absent), with path_of(key).
  void error(std::string_view key, std::string message);
  void warning(std::string_view key, std::string message);
  /// Records an error at the map itself, with path().
  void error(std::string message);

  /// Reports unread keys as unknown. Idempotent; called by the destructor. Call ignore_unknown()
  /// first to skip it (e.g. when the block's type is unknown and its keys cannot be judged).
  void finish();
  void ignore_unknown() { ignore_unknown_ = true; }

  /// Canonical text of every value read through this reader and its nested readers, defaults
  /// included ("key=value" lines sorted by key; durations in ms, sizes in bytes, secrets as a
  /// keyed digest). Equal fingerprints mean equal effective settings.
  std::string fingerprint() const;

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
    bool used = false;
  };
  using Record = std::map<std::string, std::string>;

  BlockReader(const YAML::Node& node, std::string path, LoadContext& context,
              std::shared_ptr<Record> record, std::string record_prefix);
  Entry* find(std::string_view key);
  const Entry* find(std::string_view key) const;
  // Marks `key` as asked-for and returns its entry when present and non-null.
  Entry* take(std::string_view key);
  // The scalar at `key`, or nullptr (absent, or not a scalar -> error).
  const YAML::Node* scalar(std::string_view key);
  void record(std::string_view key, std::string canonical);
  std::string child_path(std::string_view key) const;

  YAML::Node node_;
  std::string path_;
  LoadContext* context_;
  std::vector<Entry> entries_;
  std::vector<std::string> asked_;
  std::shared_ptr<Record> record_;
  std::string record_prefix_;
  bool finished_ = false;
  bool ignore_unknown_ = false;
};

/// A short description of a node's kind for messages: "a map", "a list", "a string", "null".
std::string describe_kind(const YAML::Node& node);

}  // namespace omnitrail::config
