#include <utility>  // Boost 1.74 + GCC 12: before Asio

#include "connectors/imap_smtp/smtp_sender.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>
#include <map>

#include "daemon/net/curl_multi.hpp"

namespace omnitrail::connectors::imap_smtp {

namespace asio = boost::asio;

SmtpOutcome::Kind classify_smtp(bool transfer_ok, bool refused_in_transaction, long reply_code) {
  if (transfer_ok) return SmtpOutcome::Kind::accepted;
  if (refused_in_transaction && reply_code >= 500 && reply_code < 600) return SmtpOutcome::Kind::permanent;
  return SmtpOutcome::Kind::temporary;
}

namespace {

struct Upload {
  ~Upload() {
    if (recipients != nullptr) curl_slist_free_all(recipients);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
  CURL* easy = nullptr;
  curl_slist* recipients = nullptr;
  std::string message;
  std::string envelope_from;
  std::size_t offset = 0;
  char error_buffer[CURL_ERROR_SIZE] = {};
  std::function<void(SmtpOutcome)> done;
};

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  auto& u = *static_cast<Upload*>(user);
  const size_t room = size * count;
  const size_t n = std::min(room, u.message.size() - u.offset);
  std::memcpy(buffer, u.message.data() + u.offset, n);
  u.offset += n;
  return n;
}

// Swallows the server's replies (curl hands SMTP responses to the write callback only with
// CURLOPT_VERBOSE-like options; kept to be safe).
size_t on_write(char*, size_t size, size_t count, void*) { return size * count; }

}  // namespace

struct SmtpSender::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& context, SmtpSettings s) : io(context), settings(std::move(s)), multi(context) {
    const std::string scheme = settings.tls == "smtps" ? "smtps://" : "smtp://";
    const bool v6 = settings.host.find(':') != std::string::npos && settings.host.front() != '[';
    // The path names the EHLO domain curl announces; "localhost" is what curl uses by default.
    url = scheme + (v6 ? "[" + settings.host + "]" : settings.host) + ":" + std::to_string(settings.port) + "/";
  }

  asio::io_context& io;
  SmtpSettings settings;
  net::CurlMulti multi;
  std::string url;
  std::map<Upload*, std::shared_ptr<Upload>> uploads;
  std::function<void()> idle;
  bool stopped = false;

  void finish(const std::shared_ptr<Upload>& u, SmtpOutcome outcome) {
    uploads.erase(u.get());
    auto done = std::move(u->done);
    if (done) done(std::move(outcome));
    if (uploads.empty() && idle) asio::post(io, std::exchange(idle, {}));
  }

  void post_failure(std::function<void(SmtpOutcome)> done, std::string error) {
    asio::post(io, [done = std::move(done), error = std::move(error)] {
      SmtpOutcome o;
      o.kind = SmtpOutcome::Kind::temporary;
      o.error = error;
      done(std::move(o));
    });
  }
};

SmtpSender::SmtpSender(asio::io_context& io, SmtpSettings settings)
    : impl_(std::make_shared<Impl>(io, std::move(settings))) {}

SmtpSender::~SmtpSender() { stop(); }

void SmtpSender::send(std::string message, std::string envelope_from, std::vector<std::string> recipients,
                      std::function<void(SmtpOutcome)> done) {
  auto& impl = *impl_;
  if (impl.stopped) return impl.post_failure(std::move(done), "stopped");
  auto u = std::make_shared<Upload>();
  u->message = std::move(message);
  u->envelope_from = "<" + envelope_from + ">";
  u->done = std::move(done);
  u->easy = curl_easy_init();
  bool ok = u->easy != nullptr;
  auto set = [&](CURLoption option, auto value) { ok = ok && curl_easy_setopt(u->easy, option, value) == CURLE_OK; };
  for (const auto& r : recipients) {
    auto* grown = curl_slist_append(u->recipients, ("<" + r + ">").c_str());
    if (grown == nullptr) ok = false;
    else u->recipients = grown;
  }
  const auto& s = impl.settings;
  set(CURLOPT_URL, impl.url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500
  set(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
  set(CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
  if (s.auth) {
    set(CURLOPT_USERNAME, s.username.c_str());
    set(CURLOPT_PASSWORD, s.password.value.c_str());
  }
  if (s.tls == "starttls") set(CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  set(CURLOPT_SSL_VERIFYPEER, 1L);
  set(CURLOPT_SSL_VERIFYHOST, 2L);
  if (!s.tls_ca_file.empty()) set(CURLOPT_CAINFO, s.tls_ca_file.c_str());
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(s.connect_timeout.count()));
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(s.timeout.count()));
  set(CURLOPT_ERRORBUFFER, u->error_buffer);
  set(CURLOPT_MAIL_FROM, u->envelope_from.c_str());
  set(CURLOPT_MAIL_RCPT, u->recipients);
  set(CURLOPT_UPLOAD, 1L);
  set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(u->message.size()));
  set(CURLOPT_READFUNCTION, &on_read);
  set(CURLOPT_READDATA, static_cast<void*>(u.get()));
  set(CURLOPT_WRITEFUNCTION, &on_write);
  if (!ok || recipients.empty()) return impl.post_failure(std::move(u->done), "cannot set up an SMTP transfer");
  std::weak_ptr<Impl> weak = impl_;
  Upload* key = u.get();
  impl.uploads.emplace(key, u);
  bool started = impl.multi.start(u->easy, [weak, key](CURLcode code) {
    auto self = weak.lock();
    if (!self) return;
    auto it = self->uploads.find(key);
    if (it == self->uploads.end()) return;
    auto upload = it->second;
    long reply = 0;
    curl_easy_getinfo(upload->easy, CURLINFO_RESPONSE_CODE, &reply);
    SmtpOutcome o;
    o.reply_code = reply;
    // curl reports a refused MAIL FROM, RCPT TO or DATA as CURLE_SEND_ERROR and a refused
    // end of data as CURLE_WEIRD_SERVER_REPLY; a refused login is CURLE_LOGIN_DENIED (temporary).
    const bool in_transaction = code == CURLE_SEND_ERROR || code == CURLE_WEIRD_SERVER_REPLY;
    o.kind = classify_smtp(code == CURLE_OK, in_transaction, reply);
    if (code != CURLE_OK) {
      o.error = upload->error_buffer[0] != '\0' ? upload->error_buffer : curl_easy_strerror(code);
      if (code == CURLE_LOGIN_DENIED) o.error = "SMTP login refused (" + o.error + ")";
      if (reply > 0 && o.error.find(std::to_string(reply)) == std::string::npos) {
        o.error += " (reply " + std::to_string(reply) + ")";
      }
    }
    self->finish(upload, std::move(o));
  });
  if (!started) {
    impl.uploads.erase(key);
    impl.post_failure(std::move(u->done), "cannot start an SMTP transfer");
  }
}

void SmtpSender::when_idle(std::function<void()> idle) {
  auto& impl = *impl_;
  if (impl.uploads.empty()) return asio::post(impl.io, std::move(idle));
  impl.idle = std::move(idle);
}

void SmtpSender::stop() {
  auto& impl = *impl_;
  impl.idle = {};
  if (impl.stopped) return;
  impl.stopped = true;
  auto uploads = std::move(impl.uploads);
  impl.uploads.clear();
  impl.multi.stop();
  for (auto& [key, u] : uploads) {
    if (u->done) impl.post_failure(std::move(u->done), "stopped");
  }
}

std::size_t SmtpSender::in_flight() const { return impl_->uploads.size(); }

}  // namespace omnitrail::connectors::imap_smtp
