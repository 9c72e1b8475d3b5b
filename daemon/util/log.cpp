#include "daemon/util/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>

namespace omnitrail::log {
namespace {

std::atomic<Level> g_level{Level::info};

bool under_journal() {
  static const bool value = std::getenv("JOURNAL_STREAM") != nullptr;
  return value;
}

const char* syslog_prefix(Level level) {
  switch (level) {
    case Level::debug: return "<7>";
    case Level::info: return "<6>";
    case Level::warning: return "<4>";
    case Level::error: return "<3>";
  }
  return "<6>";
}

const char* level_name(Level level) {
  switch (level) {
    case Level::debug: return "DEBUG";
    case Level::info: return "INFO ";
    case Level::warning: return "WARN ";
    case Level::error: return "ERROR";
  }
  return "INFO ";
}

void append_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[(c >> 4) & 0xF];
      out += hex[c & 0xF];
    } else {
      out += c;
    }
  }
}

}  // namespace

bool parse_level(std::string_view text, Level& out) {
  if (text == "debug") out = Level::debug;
  else if (text == "info") out = Level::info;
  else if (text == "warning") out = Level::warning;
  else if (text == "error") out = Level::error;
  else return false;
  return true;
}

void set_level(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void write(Level lvl, std::string_view component, std::string_view message) noexcept {
  try {
    std::string out;
    out.reserve(component.size() + message.size() + 48);
    if (under_journal()) {
      out += syslog_prefix(lvl);
    } else {
      auto now = std::chrono::system_clock::now();
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
      std::time_t secs = static_cast<std::time_t>(ms / 1000);
      std::tm tm{};
      gmtime_r(&secs, &tm);
      char stamp[96];
      std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    static_cast<int>(ms % 1000));
      out += stamp;
      out += level_name(lvl);
      out += ' ';
    }
    out.append(component);
    out += ": ";
    append_escaped(out, message);
    out += '\n';
    const char* data = out.data();
    std::size_t left = out.size();
    while (left > 0) {
      ssize_t n = ::write(STDERR_FILENO, data, left);
      if (n <= 0) break;
      data += n;
      left -= static_cast<std::size_t>(n);
    }
  } catch (...) {
    // Logging must never take the daemon down.
  }
}

}  // namespace omnitrail::log
