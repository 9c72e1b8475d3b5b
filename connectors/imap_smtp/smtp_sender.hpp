// SMTP submission of composed replies with libcurl (smtp:// / smtps://) through the daemon's one
// curl <-> Asio glue (net::CurlMulti): nothing blocks the io thread, every transfer is bounded by
// connect_timeout and timeout, connections are reused between messages.
// Thread contract: io thread only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config/config.hpp"

namespace boost::asio {
class io_context;
}

namespace omnitrail::connectors::imap_smtp {

struct SmtpSettings {
  std::string host;
  unsigned short port = 587;
  std::string tls = "starttls";  // smtps | starttls | none (loopback only)
  bool auth = true;              // false: no AUTH (a local relay that trusts the host)
  std::string username;
  config::Secret password;
  std::string tls_ca_file;
  std::chrono::milliseconds timeout{60000};
  std::chrono::milliseconds connect_timeout{10000};
};

/// One submission's outcome.
struct SmtpOutcome {
  enum class Kind { accepted, temporary, permanent };
  Kind kind = Kind::temporary;
  long reply_code = 0;  // the server's last reply code (250, 451, 550 ...), 0 when none came
  std::string error;    // empty when accepted; never holds the password
};

/// Classifies a finished transfer: CURLE_OK -> accepted; a 5xx reply to the envelope or the
/// message (`refused_in_transaction`: curl's MAIL / RCPT / DATA / end-of-data errors) ->
/// permanent (the server refused this message or recipient); anything else (4xx, no reply:
/// refused connection, timeout, TLS, STARTTLS or login failures, a 5xx to AUTH or the greeting,
/// all of which an operator can fix) -> temporary. Pure.
SmtpOutcome::Kind classify_smtp(bool transfer_ok, bool refused_in_transaction, long reply_code);

class SmtpSender {
 public:
  SmtpSender(boost::asio::io_context& io, SmtpSettings settings);
  ~SmtpSender();
  SmtpSender(const SmtpSender&) = delete;
  SmtpSender& operator=(const SmtpSender&) = delete;

  /// Submits `message` (CRLF lines, complete) from `envelope_from` to `recipients`. `done` is called
  /// exactly once on the io thread, never inline (with "stopped" after stop()).
  void send(std::string message, std::string envelope_from, std::vector<std::string> recipients,
            std::function<void(SmtpOutcome)> done);

  /// Calls `idle` (io thread, never inline) once no submission is in flight: at once when none is,
  /// else after the last one's done. A graceful stop waits for it so that a message the server is
  /// accepting is not cut off (and resent later). Replaces an earlier callback; dropped by stop().
  void when_idle(std::function<void()> idle);

  /// Aborts transfers in flight (their done gets a temporary "stopped"). Idempotent.
  void stop();

  std::size_t in_flight() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace omnitrail::connectors::imap_smtp
