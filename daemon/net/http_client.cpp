// HttpClient: HTTP(S) requests as curl easy handles run by CurlMulti (curl_multi.hpp, the one curl
// multi socket <-> Asio glue), with a bounded queue in front.
#include <utility>  // Boost 1.74 + GCC 12: Asio's headers need std::exchange declared first.

#include "daemon/net/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cctype>
#include <deque>
#include <string_view>
#include <unordered_map>

#include "daemon/net/curl_multi.hpp"

namespace omnitrail::net {
namespace {

namespace asio = boost::asio;
// Response header bytes accepted per transfer (curl has its own per-line limit too).
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

bool is_token_char(unsigned char c) {
  if (std::isalnum(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](char c) { return is_token_char(static_cast<unsigned char>(c)); });
}

bool has_line_break_or_nul(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

bool starts_with_scheme(std::string_view url, std::string_view scheme) {
  return url.size() > scheme.size() && lower(url.substr(0, scheme.size())) == scheme;
}

/// Returns why the request cannot be sent, or "" when it can.
std::string validate(const HttpRequest& request) {
  if (!is_token(request.method)) return "invalid method";
  if (!starts_with_scheme(request.url, "http://") && !starts_with_scheme(request.url, "https://")) {
    return "unsupported URL scheme (http:// or https:// only)";
  }
  if (has_line_break_or_nul(request.url) || request.url.find(' ') != std::string::npos) {
    return "invalid URL";
  }
  for (const auto& [name, value] : request.headers) {
    if (!is_token(name)) return "invalid header name";
    if (has_line_break_or_nul(value)) return "invalid header value (CR, LF or NUL)";
  }
  if (has_line_break_or_nul(request.basic_auth_user) ||
      has_line_break_or_nul(request.basic_auth_password)) {
    return "invalid basic auth credentials (CR, LF or NUL)";
  }
  if (has_line_break_or_nul(request.ca_file)) return "invalid ca_file";
  return "";
}

/// The userinfo part of a URL ("user:pass" in https://user:pass@host/), or "".
std::string_view url_userinfo(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const auto authority = url.substr(scheme_end + 3);
  const auto authority_end = authority.find_first_of("/?#");
  const auto at = authority.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos) return {};
  return authority.substr(0, at);
}

void scrub(std::string& text, std::string_view secret) {
  if (secret.empty()) return;
  for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3)) {
    text.replace(pos, secret.size(), "***");
  }
}

bool is_connect_error(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
      return true;
    default:
      return false;
  }
}

}  // namespace

const std::string* HttpResponse::header(const std::string& lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return &value;
  }
  return nullptr;
}

class HttpClient::Impl : public std::enable_shared_from_this<HttpClient::Impl> {
 public:
  Impl(asio::io_context& io, HttpClientOptions options)
      : io_(io),
        options_(std::move(options)),
        multi_(io, std::max<std::size_t>(options_.max_in_flight, 1)) {
    options_.max_in_flight = std::max<std::size_t>(options_.max_in_flight, 1);
  }

  ~Impl() { shutdown(false); }

  bool request(HttpRequest request, std::function<void(HttpResponse)> done) {
    if (stopped_) return false;
    if (active_.size() >= options_.max_in_flight && waiting_.size() >= options_.max_queued) {
      return false;
    }
    if (auto reason = validate(request); !reason.empty()) {
      HttpResponse response;
      response.error = std::move(reason);
      complete(std::move(done), std::move(response));
      return true;
    }
    waiting_.push_back(Waiting{std::move(request), std::move(done)});
    start_waiting();
    return true;
  }

  void stop() {
    if (stopped_) return;
    shutdown(true);
  }

  std::size_t in_flight() const { return active_.size(); }
  std::size_t queued() const { return waiting_.size(); }

 private:
  struct Waiting {
    HttpRequest request;
    std::function<void(HttpResponse)> done;
  };

  // One transfer in flight. Heap-allocated and never moved: curl holds pointers into it.
  struct Transfer {
    HttpRequest request;
    std::function<void(HttpResponse)> done;
    CURL* easy = nullptr;
    curl_slist* header_list = nullptr;
    HttpResponse response;
    std::size_t header_bytes = 0;
    bool body_too_large = false;
    bool headers_too_large = false;
    char error_buffer[CURL_ERROR_SIZE] = {};

    ~Transfer() {
      if (easy != nullptr) curl_easy_cleanup(easy);
      if (header_list != nullptr) curl_slist_free_all(header_list);
    }
  };

  // --- requests and completions -------------------------------------------------------------

  void complete(std::function<void(HttpResponse)> done, HttpResponse response) {
    asio::post(io_, [weak = weak_from_this(), done = std::move(done),
                     response = std::move(response)]() mutable {
      if (weak.expired()) return;  // the client is gone: its callbacks are not called
      done(std::move(response));
    });
  }

  void start_waiting() {
    while (!stopped_ && active_.size() < options_.max_in_flight && !waiting_.empty()) {
      Waiting next = std::move(waiting_.front());
      waiting_.pop_front();
      start(std::move(next));
    }
  }

  void start(Waiting waiting) {
    auto transfer = std::make_unique<Transfer>();
    transfer->request = std::move(waiting.request);
    transfer->done = std::move(waiting.done);
    if (auto reason = configure(*transfer); !reason.empty()) {
      transfer->response.error = std::move(reason);
      complete(std::move(transfer->done), std::move(transfer->response));
      return;
    }
    CURL* easy = transfer->easy;
    if (!multi_.start(easy, [this, easy](CURLcode code) { on_done(easy, code); })) {
      transfer->response.error = "cannot start the transfer";
      complete(std::move(transfer->done), std::move(transfer->response));
      return;
    }
    active_.emplace(easy, std::move(transfer));
  }

  /// Sets up the easy handle; returns "" or why it cannot be.
  std::string configure(Transfer& t) {
    t.easy = curl_easy_init();
    if (t.easy == nullptr) return "curl_easy_init failed";
    const HttpRequest& r = t.request;
    CURL* e = t.easy;
    bool ok = true;
    auto set = [&](CURLoption option, auto value) { ok = ok && curl_easy_setopt(e, option, value) == CURLE_OK; };

    set(CURLOPT_PRIVATE, static_cast<void*>(&t));
    set(CURLOPT_ERRORBUFFER, t.error_buffer);
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_URL, r.url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85: the string form; the bitmask is deprecated
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    set(CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    set(CURLOPT_REDIR_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    // CAINFO replaces the bundle file; the system CA directory (CAPATH) stays in use.
    if (!r.ca_file.empty()) set(CURLOPT_CAINFO, r.ca_file.c_str());
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<long long>(r.timeout.count(), 1)));
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::max<long long>(r.connect_timeout.count(), 1)));
    set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(r.max_response_bytes));
    set(CURLOPT_USERAGENT, options_.user_agent.c_str());
    set(CURLOPT_WRITEFUNCTION, &Impl::on_body);
    set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
    set(CURLOPT_HEADERFUNCTION, &Impl::on_header);
    set(CURLOPT_HEADERDATA, static_cast<void*>(&t));
    if (!r.basic_auth_user.empty() || !r.basic_auth_password.empty()) {
      set(CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      set(CURLOPT_USERNAME, r.basic_auth_user.c_str());
      set(CURLOPT_PASSWORD, r.basic_auth_password.c_str());
    }

    if (r.method == "HEAD") {
      set(CURLOPT_NOBODY, 1L);
    } else if (r.method == "GET" && r.body.empty()) {
      set(CURLOPT_HTTPGET, 1L);
    } else {
      set(CURLOPT_POST, 1L);
      set(CURLOPT_POSTFIELDS, r.body.data());
      set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      if (r.method != "POST") set(CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }

    bool has_expect = false;
    bool has_content_type = false;
    for (const auto& [name, value] : r.headers) {
      const std::string lower_name = lower(name);
      has_expect = has_expect || lower_name == "expect";
      has_content_type = has_content_type || lower_name == "content-type";
      // "Name;" is curl's way to send a header with an empty value ("Name:" would remove it).
      const std::string line = value.empty() ? name + ";" : name + ": " + value;
      curl_slist* appended = curl_slist_append(t.header_list, line.c_str());
      if (appended == nullptr) return "out of memory";
      t.header_list = appended;
    }
    // No "Expect: 100-continue" round trip for larger bodies, no guessed form content type.
    for (const char* extra : {has_expect ? nullptr : "Expect:",
                              has_content_type ? nullptr : "Content-Type:"}) {
      if (extra == nullptr) continue;
      curl_slist* appended = curl_slist_append(t.header_list, extra);
      if (appended == nullptr) return "out of memory";
      t.header_list = appended;
    }
    if (t.header_list != nullptr) set(CURLOPT_HTTPHEADER, t.header_list);
    if (!ok) return "curl_easy_setopt failed";
    return "";
  }

  static size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    const size_t bytes = size * count;
    if (t.response.body.size() + bytes > t.request.max_response_bytes) {
      t.body_too_large = true;
      return 0;  // CURLE_WRITE_ERROR
    }
    try {
      t.response.body.append(data, bytes);
    } catch (...) {  // out of memory: never throw through curl
      return 0;
    }
    return bytes;
  }

  static size_t on_header(char* data, size_t size, size_t count, void* user) {
    try {
      return store_header(*static_cast<Transfer*>(user), std::string_view(data, size * count));
    } catch (...) {  // out of memory: never throw through curl
      return 0;
    }
  }

  static size_t store_header(Transfer& t, std::string_view line) {
    const size_t bytes = line.size();
    t.header_bytes += bytes;
    if (t.header_bytes > kMaxHeaderBytes) {
      t.headers_too_large = true;
      return 0;
    }
    if (line.substr(0, 5) == "HTTP/") {
      t.response.headers.clear();  // a new response (after 100 Continue, or a proxy's CONNECT reply)
      return bytes;
    }
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {  // obsolete line folding
      if (!t.response.headers.empty()) {
        auto& value = t.response.headers.back().second;
        value += ' ';
        value += trim(line);
      }
      return bytes;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return bytes;  // the blank line ending the headers
    t.response.headers.emplace_back(lower(trim(line.substr(0, colon))),
                                    std::string(trim(line.substr(colon + 1))));
    return bytes;
  }

  /// A transfer ended. CurlMulti runs this in a posted handler (never inside curl) and never
  /// after it is destroyed, so `done` may be called here directly; it is called last because it
  /// may destroy the client.
  void on_done(CURL* easy, CURLcode code) {
    auto found = active_.find(easy);
    if (found == active_.end()) return;
    std::unique_ptr<Transfer> transfer = std::move(found->second);
    active_.erase(found);
    finish(*transfer, code);
    auto done = std::move(transfer->done);
    HttpResponse response = std::move(transfer->response);
    transfer.reset();  // frees the easy handle before the next transfer looks for a connection
    start_waiting();
    done(std::move(response));
  }

  void finish(Transfer& t, CURLcode code) {
    HttpResponse& response = t.response;
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
    if (code == CURLE_OK) return;

    if (t.body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
      response.error = "response body larger than " + std::to_string(t.request.max_response_bytes) + " bytes";
    } else if (t.headers_too_large) {
      response.error = "response headers larger than " + std::to_string(kMaxHeaderBytes) + " bytes";
    } else {
      response.error = t.error_buffer[0] != '\0' ? t.error_buffer : curl_easy_strerror(code);
    }
    scrub(response.error, url_userinfo(t.request.url));
    scrub(response.error, t.request.basic_auth_password);
    response.body.clear();
    response.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    if (is_connect_error(code)) {
      response.connect_failed = true;
    } else if (response.timed_out && status == 0) {
      // Timed out before the connection (and TLS) was up and before any request byte went out.
      curl_off_t connected_at = 0;
      const bool tls = starts_with_scheme(t.request.url, "https://");
      curl_easy_getinfo(t.easy, tls ? CURLINFO_APPCONNECT_TIME_T : CURLINFO_CONNECT_TIME_T, &connected_at);
      long request_bytes = 0;
      curl_easy_getinfo(t.easy, CURLINFO_REQUEST_SIZE, &request_bytes);
      response.connect_failed = connected_at == 0 && request_bytes == 0;
    }
  }

  // --- teardown -------------------------------------------------------------------------------

  /// Aborts all transfers, frees curl and every socket and timer; posts "stopped" when asked.
  void shutdown(bool post_stopped) {
    stopped_ = true;
    auto active = std::move(active_);
    active_.clear();
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& [easy, transfer] : active) {
      multi_.cancel(easy);
      if (post_stopped) {
        transfer->response = HttpResponse{};
        transfer->response.error = "stopped";
        complete(std::move(transfer->done), std::move(transfer->response));
      }
    }
    active.clear();
    if (post_stopped) {
      for (auto& w : waiting) {
        HttpResponse response;
        response.error = "stopped";
        complete(std::move(w.done), std::move(response));
      }
    }
    multi_.stop();  // frees the multi handle, cached connections, sockets and timer
  }

  asio::io_context& io_;
  HttpClientOptions options_;
  bool stopped_ = false;
  std::deque<Waiting> waiting_;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> active_;
  CurlMulti multi_;  // last: destroyed first, so no transfer callback runs into a dying Impl
};

HttpClient::HttpClient(boost::asio::io_context& io, HttpClientOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

HttpClient::~HttpClient() = default;

bool HttpClient::request(HttpRequest request, std::function<void(HttpResponse)> done) {
  return impl_->request(std::move(request), std::move(done));
}

void HttpClient::stop() { impl_->stop(); }

std::size_t HttpClient::in_flight() const { return impl_->in_flight(); }

std::size_t HttpClient::queued() const { return impl_->queued(); }

}  // namespace omnitrail::net
