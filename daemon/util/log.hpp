// Logging to stderr with sd-daemon priority prefixes ("<6>...") so journald keeps the level.
// Any thread: each line is written with one write(2) call, lines never interleave.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace omnitrail::log {

enum class Level { debug = 0, info = 1, warning = 2, error = 3 };

/// Parses "debug" | "info" | "warning" | "error"; returns false on anything else.
bool parse_level(std::string_view text, Level& out);

/// Sets the minimum level written. Any thread.
void set_level(Level level);
Level level();

/// Writes one line: `<prio>component: message` under systemd (JOURNAL_STREAM set), else
/// `2026-11-24T13:00:00.123Z LEVEL component: message`. Newlines in the message are escaped
/// so one call is one journal entry. Never throws.
void write(Level level, std::string_view component, std::string_view message) noexcept;

template <typename... Parts>
void line(Level lvl, std::string_view component, const Parts&... parts) {
  if (lvl < level()) return;
  std::ostringstream out;
  (out << ... << parts);
  write(lvl, component, out.str());
}

template <typename... P> void debug(std::string_view c, const P&... p) { line(Level::debug, c, p...); }
template <typename... P> void info(std::string_view c, const P&... p) { line(Level::info, c, p...); }
template <typename... P> void warning(std::string_view c, const P&... p) { line(Level::warning, c, p...); }
template <typename... P> void error(std::string_view c, const P&... p) { line(Level::error, c, p...); }

}  // namespace omnitrail::log
