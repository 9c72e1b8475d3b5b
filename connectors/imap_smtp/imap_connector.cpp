// imap_smtp connector (IMAP intake): one coroutine per connector polls every folder in turn:
//   STATUS "folder" (UIDVALIDITY UIDNEXT)      custom request, no mailbox selected for it
//   UID SEARCH UID <last+1>:*  [and ... UNSEEN] on imap://host/folder;UIDVALIDITY=v
//   fetch imap://host/folder;UIDVALIDITY=v/;UID=n for each new UID, in batches of batch_size
//   parse on the blocking pool, ingest + checkpoint in one transaction, then STORE / MOVE.
// libcurl's URL fetch always SELECTs and sends BODY[] (not BODY.PEEK[]), and a custom FETCH
// drops the literal, so with mark_seen: false the \Seen flag of a message that was unseen is
// removed again after the commit (see README.md, "Flags").
#include <utility>  // Boost 1.74 + GCC 12: Asio's headers need std::exchange declared first.

#include "connectors/imap_smtp/imap_connector.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "connectors/imap_smtp/email_interaction.hpp"
#include "connectors/imap_smtp/email_message.hpp"
#include "connectors/imap_smtp/imap_protocol.hpp"
#include "connectors/imap_smtp/reply_composer.hpp"
#include "connectors/imap_smtp/smtp_sender.hpp"
#include "daemon/config/block_reader.hpp"
#include "daemon/config/connector_registry.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/net/curl_multi.hpp"
#include "daemon/util/blocking_pool.hpp"
#include "daemon/util/log.hpp"

namespace omnitrail::connectors::imap_smtp {
namespace asio = boost::asio;
using boost::system::error_code;
using config::Duration;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kComponent = "imap";

struct ImapSettings : config::ConnectorSettings {
  std::string host;
  unsigned short port = 993;
  std::string tls = "imaps";  // imaps | starttls | none
  std::string username;
  config::Secret password;
  std::vector<std::string> folders{"INBOX"};
  Duration poll_interval = 30s;
  std::size_t batch_size = 50;
  bool mark_seen = false;
  std::string move_to;
  std::uint64_t max_message_bytes = 32 * 1024 * 1024;
  Duration timeout = 60s;          // one IMAP transfer (command or fetch)
  Duration connect_timeout = 10s;  // TCP connect + TLS + login
  Duration reconnect_max = 5min;   // back-off ceiling after connection/auth errors
  std::string tls_ca_file;
  // Replies (optional): the `smtp:` block, the From mailbox and the Message-ID domain.
  std::optional<SmtpSettings> smtp;
  Mailbox from;
  std::string message_id_domain;
};

bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "::1" || host == "[::1]"; }

// `smtp:` of an imap_smtp block: where replies are submitted.
std::optional<SmtpSettings> validate_smtp(config::BlockReader& block, const ImapSettings& imap) {
  auto nested = block.map("smtp");
  if (!nested) return std::nullopt;
  auto& b = *nested;
  SmtpSettings s;
  s.host = b.required_string("host");
  s.tls = b.choice("tls", {"smtps", "starttls", "none"}, "starttls");
  s.port = static_cast<unsigned short>(b.integer("port", s.tls == "smtps" ? 465 : s.tls == "starttls" ? 587 : 25, 1, 65535));
  if (s.tls == "none" && !s.host.empty() && !is_loopback(s.host)) {
    b.error("tls", "\"none\" sends mail (and any password) in clear text; it is allowed only for host 127.0.0.1 or ::1 "
                   "(use smtps or starttls)");
  }
  s.auth = b.boolean("auth", true);
  s.username = b.string("username", imap.username);
  if (auto secret = b.secret("password", false)) {
    s.password = *secret;
  } else {
    s.password = imap.password;  // the mailbox's own password, the usual case
  }
  if (!s.auth && (b.has("username") || b.has("password") || b.has("password_file"))) {
    b.error("auth", "is false, so username and password would not be used; remove them or set auth: true");
  }
  s.tls_ca_file = b.file_path("tls_ca_file", false, true);
  if (s.tls == "none" && b.has("tls_ca_file")) b.error("tls_ca_file", "needs tls: smtps or starttls");
  s.timeout = b.duration("timeout", 60s, 1s, 1h);
  s.connect_timeout = b.duration("connect_timeout", 10s, 100ms, 5min);
  return s;
}

std::string address_domain(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? std::string() : address.substr(at + 1);
}

std::shared_ptr<const config::ConnectorSettings> validate(config::BlockReader& block) {
  auto s = std::make_shared<ImapSettings>();
  s->host = block.required_string("host");
  s->tls = block.choice("tls", {"imaps", "starttls", "none"}, "imaps");
  s->port = static_cast<unsigned short>(block.integer("port", s->tls == "imaps" ? 993 : 143, 1, 65535));
  if (s->tls == "none" && !s->host.empty() && !is_loopback(s->host)) {
    block.error("tls", "\"none\" sends the password in clear text; it is allowed only for host 127.0.0.1 or ::1 "
                       "(use imaps or starttls)");
  }
  s->username = block.required_string("username");
  if (auto secret = block.secret("password", true)) s->password = *secret;
  if (block.has("folders")) {
    s->folders.clear();
    std::set<std::string> seen;
    for (const auto& item : block.string_items("folders")) {
      if (!valid_folder_name(item.value)) {
        block.context().error(item.where, item.path,
                              "\"" + item.value + "\" is not a folder name this connector can use (printable ASCII, "
                              "no \", \\, * or %, at most 255 bytes)");
      } else if (!seen.insert(item.value).second) {
        block.context().error(item.where, item.path, "folder \"" + item.value + "\" is listed twice");
      } else {
        s->folders.push_back(item.value);
      }
    }
    if (s->folders.empty() && seen.empty()) block.error("folders", "must list at least one folder (e.g. [INBOX])");
  }
  s->poll_interval = block.duration("poll_interval", s->poll_interval, 1s, 24h);
  s->batch_size = static_cast<std::size_t>(block.integer("batch_size", 50, 1, 1000));
  s->mark_seen = block.boolean("mark_seen", false);
  s->move_to = block.string("move_to");
  if (!s->move_to.empty()) {
    if (!valid_folder_name(s->move_to)) {
      block.error("move_to", "\"" + s->move_to + "\" is not a folder name this connector can use");
    } else if (std::find(s->folders.begin(), s->folders.end(), s->move_to) != s->folders.end()) {
      block.error("move_to", "must not be one of the polled folders");
    }
  }
  s->max_message_bytes = block.size("max_message_bytes", s->max_message_bytes, 1024, 256ull * 1024 * 1024);
  s->timeout = block.duration("timeout", s->timeout, 1s, 1h);
  s->connect_timeout = block.duration("connect_timeout", s->connect_timeout, 100ms, 5min);
  s->reconnect_max = block.duration("reconnect_max", s->reconnect_max, 1s, 24h);
  s->tls_ca_file = block.file_path("tls_ca_file", false, true);
  if (s->tls == "none" && block.has("tls_ca_file")) block.error("tls_ca_file", "needs tls: imaps or starttls");
  s->smtp = validate_smtp(block, *s);
  if (s->smtp) {
    const std::string fallback = s->username.find('@') != std::string::npos ? s->username : std::string();
    s->from.address = block.string("from", fallback);
    s->from.display_name = block.string("from_name");
    if (s->from.address.empty()) {
      block.error("from", "required with smtp: the address replies are sent from (e.g. support@example.com)");
    } else if (s->from.address.find('@') == std::string::npos || s->from.address.find_first_of(" <>\"\r\n") != std::string::npos) {
      block.error("from", "must be a plain address (local@domain), without a display name (use from_name)");
    }
    if (s->from.display_name.find_first_of("\r\n") != std::string::npos) block.error("from_name", "must be one line");
    s->message_id_domain = block.string("message_id_domain", address_domain(s->from.address));
  } else {
    for (const char* key : {"from", "from_name", "message_id_domain"}) {
      if (block.has(key)) block.error(key, "is only used for replies: add an smtp: block");
    }
  }
  return s;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A one-shot value handed from a callback to the coroutine waiting for it (io thread only).
template <class T>
struct Slot {
  explicit Slot(asio::io_context& io) : signal(io, asio::steady_timer::time_point::max()) {}
  void set(T v) {
    value = std::move(v);
    signal.cancel();
  }
  asio::awaitable<void> wait() {
    error_code ec;
    if (!value) co_await signal.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  asio::steady_timer signal;
  std::optional<T> value;
};

/// The outcome of one IMAP transfer.
struct Reply {
  CURLcode code = CURLE_OK;
  std::string body;        // the literal (fetch) or the untagged lines (custom commands)
  bool too_large = false;  // the body passed the limit: aborted
  std::string error;       // empty when code == CURLE_OK; never holds the password
  bool ok() const { return code == CURLE_OK; }
};

struct Transfer {
  explicit Transfer(asio::io_context& io) : done(io) {}
  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
  CURL* easy = nullptr;
  std::string body;
  std::size_t limit = 0;
  bool too_large = false;
  char error_buffer[CURL_ERROR_SIZE] = {};
  Slot<CURLcode> done;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (t.body.size() + bytes > t.limit) {
    t.too_large = true;
    return 0;  // CURLE_WRITE_ERROR: curl drops the connection
  }
  try {
    t.body.append(data, bytes);
  } catch (...) {  // never throw through curl
    return 0;
  }
  return bytes;
}

struct State : std::enable_shared_from_this<State> {
  State(const config::ConnectorConfig& c, Context& context, const ImapSettings& s)
      : io(context.io),
        name(c.name),
        queue(c.queue),
        settings(s),
        ingest_with_checkpoint(context.ingest_with_checkpoint),
        save_checkpoints(context.save_checkpoints),
        load_checkpoints(context.load_checkpoints),
        blocking(context.blocking),
        multi(context.io),
        wait_timer(context.io),
        fetched(context.metrics.counter("omnitrail_imap_messages_total", "Email messages fetched and committed, by connector.",
                                        {{"connector", c.name}})),
        refused(context.metrics.counter("omnitrail_imap_refused_total",
                                        "Email messages skipped because they were refused (too large, unparsable), by connector.",
                                        {{"connector", c.name}})),
        poll_errors(context.metrics.counter("omnitrail_imap_poll_errors_total",
                                            "IMAP polls that failed (connection, login, server errors), by connector.",
                                            {{"connector", c.name}})),
        resyncs(context.metrics.counter("omnitrail_imap_uidvalidity_resets_total",
                                        "Folders re-read because their UIDVALIDITY changed, by connector.",
                                        {{"connector", c.name}})) {
    const std::string scheme = settings.tls == "imaps" ? "imaps://" : "imap://";
    const bool v6 = settings.host.find(':') != std::string::npos && settings.host.front() != '[';
    base_url = scheme + (v6 ? "[" + settings.host + "]" : settings.host) + ":" + std::to_string(settings.port) + "/";
  }

  asio::io_context& io;
  std::string name;
  std::string queue;
  ImapSettings settings;
  CheckpointedIngestFunction ingest_with_checkpoint;
  CheckpointSaveFunction save_checkpoints;
  CheckpointLoadFunction load_checkpoints;
  util::BlockingPool* blocking;
  net::CurlMulti multi;
  asio::steady_timer wait_timer;
  metrics::Counter& fetched;
  metrics::Counter& refused;
  metrics::Counter& poll_errors;
  metrics::Counter& resyncs;
  std::string base_url;
  std::vector<std::string> own_addresses;  // identity.own_addresses: never a customer
  std::map<std::string, FolderCheckpoint> checkpoints;  // folder -> committed checkpoint
  Health health;
  bool stopping = false;
  bool finished = false;
  std::function<void()> on_stopped;
  std::shared_ptr<Transfer> current;  // the transfer in flight (one at a time)
  std::mt19937 random{std::random_device{}()};

  // ---- one IMAP transfer ----------------------------------------------------------------------
  // `path` follows the base URL ("INBOX;UIDVALIDITY=7/;UID=5", or "" for no mailbox); `custom`
  // is a custom request ("" for a fetch).
  asio::awaitable<Reply> imap(const std::string& path, const std::string& custom, std::size_t limit) {
    Reply reply;
    if (stopping) {
      reply.code = CURLE_ABORTED_BY_CALLBACK;
      reply.error = "stopped";
      co_return reply;
    }
    auto t = std::make_shared<Transfer>(io);
    t->limit = limit;
    t->easy = curl_easy_init();
    const std::string url = base_url + path;
    bool ok = t->easy != nullptr;
    auto set = [&](CURLoption option, auto value) { ok = ok && curl_easy_setopt(t->easy, option, value) == CURLE_OK; };
    set(CURLOPT_URL, url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500
    set(CURLOPT_PROTOCOLS_STR, "imap,imaps");
#else
    set(CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_IMAP | CURLPROTO_IMAPS));
#endif
    set(CURLOPT_USERNAME, settings.username.c_str());
    set(CURLOPT_PASSWORD, settings.password.value.c_str());
    if (settings.tls == "starttls") set(CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (!settings.tls_ca_file.empty()) set(CURLOPT_CAINFO, settings.tls_ca_file.c_str());
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings.connect_timeout.count()));
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(settings.timeout.count()));
    set(CURLOPT_ERRORBUFFER, t->error_buffer);
    set(CURLOPT_WRITEFUNCTION, &on_body);
    set(CURLOPT_WRITEDATA, static_cast<void*>(t.get()));
    if (!custom.empty()) set(CURLOPT_CUSTOMREQUEST, custom.c_str());
    if (!ok) {
      reply.code = CURLE_FAILED_INIT;
      reply.error = "cannot set up a curl transfer";
      co_return reply;
    }
    if (!multi.start(t->easy, [t](CURLcode code) { t->done.set(code); })) {
      reply.code = CURLE_FAILED_INIT;
      reply.error = "cannot start a curl transfer";
      co_return reply;
    }
    current = t;
    co_await t->done.wait();
    current.reset();
    if (!t->done.value) {
      reply.code = CURLE_ABORTED_BY_CALLBACK;
      reply.error = "stopped";
      co_return reply;
    }
    reply.code = *t->done.value;
    reply.too_large = t->too_large;
    if (reply.code != CURLE_OK) {
      reply.error = t->error_buffer[0] != '\0' ? t->error_buffer : curl_easy_strerror(reply.code);
      if (reply.code == CURLE_LOGIN_DENIED) reply.error = "login as " + settings.username + " refused (" + reply.error + ")";
    }
    reply.body = std::move(t->body);
    co_return reply;
  }

  void cancel_current() {
    if (!current) return;
    multi.cancel(current->easy);
    current->done.signal.cancel();  // the waiting coroutine sees no value: "stopped"
  }

  // ---- store hand-offs ---------------------------------------------------------------------
  asio::awaitable<bool> sleep(Duration d) {
    wait_timer.expires_after(d);
    error_code ec;
    co_await wait_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return !stopping;
  }

  // Loads the folders' checkpoints, retrying while the store is busy. False when stopping.
  asio::awaitable<bool> load() {
    std::vector<std::string> keys;
    for (const auto& folder : settings.folders) keys.push_back(checkpoint_key(folder));
    for (;;) {
      auto slot = std::make_shared<Slot<std::pair<std::map<std::string, std::string>, std::string>>>(io);
      if (load_checkpoints(keys, [slot](std::map<std::string, std::string> values, std::string error) {
            slot->set({std::move(values), std::move(error)});
          })) {
        co_await slot->wait();
        if (stopping) co_return false;
        if (slot->value && slot->value->second.empty()) {
          for (const auto& folder : settings.folders) {
            auto found = slot->value->first.find(checkpoint_key(folder));
            if (found == slot->value->first.end()) continue;
            if (auto checkpoint = parse_checkpoint(found->second)) {
              checkpoints[folder] = *checkpoint;
            } else {
              log::warning(kComponent, name, ": checkpoint of folder ", folder, " is damaged; reading the folder again");
            }
          }
          co_return true;
        }
        if (slot->value) log::warning(kComponent, name, ": cannot read checkpoints: ", slot->value->second);
      }
      if (!co_await sleep(500ms)) co_return false;
    }
  }

  // Ingests one message with its checkpoint; retries while the store is busy. Returns false when
  // stopping before it was committed; a refusal by ingest is logged and the checkpoint saved alone.
  asio::awaitable<bool> commit(timeline::Interaction in, const std::string& folder, FolderCheckpoint at) {
    Checkpoint checkpoint{checkpoint_key(folder), format_checkpoint(at)};
    const auto received = std::chrono::steady_clock::now();
    for (;;) {
      auto slot = std::make_shared<Slot<IngestResult>>(io);
      if (ingest_with_checkpoint(in, checkpoint, received, [slot](IngestResult r) { slot->set(std::move(r)); })) {
        co_await slot->wait();
        if (slot->value && slot->value->committed) {
          if (!slot->value->duplicate) fetched.inc();
          co_return true;
        }
        if (slot->value && !slot->value->retryable) {
          refused.inc();
          log::error(kComponent, name, ": ", folder, " UID ", at.last_uid, " refused by ingest (", slot->value->error,
                     "); skipped");
          co_return co_await save(folder, at);
        }
      }
      if (stopping || !co_await sleep(200ms)) co_return false;
    }
  }

  // Saves a checkpoint alone (a refused message); retries while the store is busy.
  asio::awaitable<bool> save(const std::string& folder, FolderCheckpoint at) {
    for (;;) {
      auto slot = std::make_shared<Slot<IngestResult>>(io);
      if (save_checkpoints({Checkpoint{checkpoint_key(folder), format_checkpoint(at)}},
                           [slot](IngestResult r) { slot->set(std::move(r)); })) {
        co_await slot->wait();
        if (slot->value && slot->value->committed) co_return true;
        if (slot->value && !slot->value->retryable) {
          log::error(kComponent, name, ": cannot save the checkpoint of ", folder, ": ", slot->value->error);
        }
      }
      if (stopping || !co_await sleep(200ms)) co_return false;
    }
  }

  // Parses on the blocking pool (GMime costs CPU in proportion to the message).
  asio::awaitable<std::optional<Result<ParsedEmail>>> parse(std::shared_ptr<const std::string> raw) {
    ParseLimits limits;
    limits.max_message_bytes = settings.max_message_bytes;
    const auto received = now_ms();
    for (;;) {
      auto slot = std::make_shared<Slot<Result<ParsedEmail>>>(io);
      auto& io_ref = io;
      if (blocking->submit([slot, raw, limits, received, &io_ref] {
            auto result = parse_message(*raw, limits, received);
            asio::post(io_ref, [slot, result = std::move(result)]() mutable { slot->set(std::move(result)); });
          })) {
        co_await slot->wait();
        co_return std::move(slot->value);
      }
      if (!co_await sleep(100ms)) co_return std::nullopt;
    }
  }

  // ---- one folder ------------------------------------------------------------------------------
  // Polls `folder`; returns "" or the error that ended the poll (the checkpoint keeps what was
  // committed).
  asio::awaitable<std::string> poll_folder(const std::string& folder) {
    auto status_reply = co_await imap("", "STATUS " + quote_folder(folder) + " (UIDVALIDITY UIDNEXT)", 64 * 1024);
    if (!status_reply.ok()) co_return "STATUS " + folder + ": " + status_reply.error;
    auto status = parse_folder_status(status_reply.body);
    if (!status) co_return "STATUS " + folder + ": no UIDVALIDITY in the answer";
    std::optional<FolderCheckpoint> stored;
    if (auto found = checkpoints.find(folder); found != checkpoints.end()) stored = found->second;
    auto start = plan_poll(stored, *status);
    if (start.uidvalidity_changed) {
      resyncs.inc();
      log::warning(kComponent, name, ": ", folder, " UIDVALIDITY changed from ", stored->uidvalidity, " to ",
                   status->uidvalidity, "; reading the folder again (Message-IDs dedupe what is stored)");
    }
    FolderCheckpoint at = start.from;
    const std::string mailbox = url_encode_folder(folder) + ";UIDVALIDITY=" + std::to_string(at.uidvalidity);
    for (;;) {  // one batch per round
      const std::string range = "UID SEARCH UID " + std::to_string(at.last_uid + 1) + ":*";
      auto search = co_await imap(mailbox, range, 16 * 1024 * 1024);
      if (!search.ok()) co_return "UID SEARCH in " + folder + ": " + search.error;
      auto batch = new_uids(parse_search(search.body), at.last_uid, settings.batch_size);
      if (batch.empty()) co_return "";
      std::set<std::uint64_t> unseen;
      if (!settings.mark_seen) {
        auto unseen_reply = co_await imap(mailbox, range + " UNSEEN", 16 * 1024 * 1024);
        if (!unseen_reply.ok()) co_return "UID SEARCH UNSEEN in " + folder + ": " + unseen_reply.error;
        for (auto uid : parse_search(unseen_reply.body)) unseen.insert(uid);
      }
      std::vector<std::uint64_t> done;        // committed (or skipped) in this batch
      std::vector<std::uint64_t> mark_unseen; // fetched while unseen: flag restored after the commit
      std::string error;
      for (auto uid : batch) {
        auto message = co_await imap(mailbox + "/;UID=" + std::to_string(uid), "", settings.max_message_bytes);
        FolderCheckpoint next{at.uidvalidity, uid};
        if (message.too_large || (message.ok() && message.body.size() > settings.max_message_bytes)) {
          refused.inc();
          log::warning(kComponent, name, ": ", folder, " UID ", uid, " skipped: larger than max_message_bytes (",
                       settings.max_message_bytes, ")");
          if (!co_await save(folder, next)) co_return "stopped";
        } else if (message.code == CURLE_REMOTE_FILE_NOT_FOUND) {
          // Expunged since the search (or the folder was renumbered: the next STATUS resets).
          log::info(kComponent, name, ": ", folder, " UID ", uid, " is gone; skipped");
          if (!co_await save(folder, next)) co_return "stopped";
        } else if (!message.ok()) {
          error = "fetching UID " + std::to_string(uid) + " of " + folder + ": " + message.error;
          break;
        } else {
          if (unseen.count(uid) != 0) mark_unseen.push_back(uid);
          auto raw = std::make_shared<const std::string>(std::move(message.body));
          auto parsed = co_await parse(raw);
          if (!parsed) co_return "stopped";
          if (!parsed->ok()) {
            refused.inc();
            log::warning(kComponent, name, ": ", folder, " UID ", uid, " refused: ", parsed->error(), "; skipped");
            if (!co_await save(folder, next)) co_return "stopped";
          } else {
            InteractionOptions options;
            options.queue = queue;
            options.own_addresses = own_addresses;
            MailboxPosition position{folder, at.uidvalidity, uid};
            if (!co_await commit(to_interaction(parsed->value(), name, position, options), folder, next)) {
              co_return "stopped";
            }
          }
        }
        at = next;
        checkpoints[folder] = at;
        done.push_back(uid);
      }
      // After the commit only: flags and move. A failure here is logged; the messages are stored.
      if (!done.empty() && !stopping) co_await after_commit(folder, mailbox, done, mark_unseen);
      if (!error.empty()) co_return error;
      if (batch.size() < settings.batch_size) co_return "";
    }
  }

  asio::awaitable<void> after_commit(const std::string& folder, const std::string& mailbox,
                                     const std::vector<std::uint64_t>& done, const std::vector<std::uint64_t>& mark_unseen) {
    if (!settings.mark_seen && !mark_unseen.empty()) {
      auto r = co_await imap(mailbox, "UID STORE " + uid_set(mark_unseen) + " -FLAGS.SILENT (\\Seen)", 1024 * 1024);
      if (!r.ok()) log::warning(kComponent, name, ": ", folder, ": cannot restore the unseen flag: ", r.error);
    }
    if (settings.mark_seen) {
      auto r = co_await imap(mailbox, "UID STORE " + uid_set(done) + " +FLAGS.SILENT (\\Seen)", 1024 * 1024);
      if (!r.ok()) log::warning(kComponent, name, ": ", folder, ": cannot mark messages \\Seen: ", r.error);
    }
    if (!settings.move_to.empty()) {
      auto r = co_await imap(mailbox, "UID MOVE " + uid_set(done) + " " + quote_folder(settings.move_to), 1024 * 1024);
      if (!r.ok()) log::warning(kComponent, name, ": ", folder, ": cannot move messages to ", settings.move_to, ": ", r.error);
    }
  }

  // ---- lifetime ----------------------------------------------------------------------------
  static asio::awaitable<void> run(std::shared_ptr<State> self) {
    try {
      if (co_await self->load()) co_await self->poll_loop();
    } catch (const std::exception& e) {
      log::error(kComponent, self->name, ": internal error: ", e.what());
      self->health = Health{Health::State::down, std::string("internal error: ") + e.what()};
    }
    self->multi.stop();
    self->health = Health{Health::State::stopped, {}};
    self->finished = true;
    if (self->on_stopped) {
      auto done = std::move(self->on_stopped);
      self->on_stopped = nullptr;
      done();
    }
  }

  asio::awaitable<void> poll_loop() {
    Duration delay = 1s;
    while (!stopping) {
      std::string error;
      for (const auto& folder : settings.folders) {
        error = co_await poll_folder(folder);
        if (!error.empty() || stopping) break;
      }
      if (stopping) break;
      if (error.empty()) {
        if (health.state != Health::State::up) log::info(kComponent, name, ": polling ", settings.host, ":", settings.port, " as ", settings.username);
        health = Health{Health::State::up, {}};
        delay = 1s;
        if (!co_await sleep(settings.poll_interval)) break;
        continue;
      }
      poll_errors.inc();
      health = Health{Health::State::down, error};
      // Exponential back-off with jitter (50-100 %), so a server restart is not met by every
      // client at once; never sooner than the poll interval would have been.
      std::uniform_real_distribution<double> jitter(0.5, 1.0);
      auto wait = std::chrono::duration_cast<Duration>(delay * jitter(random));
      log::warning(kComponent, name, ": ", error, "; retrying in ", wait.count(), " ms");
      if (!co_await sleep(wait)) break;
      delay = std::min<Duration>(delay * 2, settings.reconnect_max);
    }
  }
};

// Builds the reply of `m` (prepared or being prepared): threading from the parent email, From and
// Message-ID domain from the settings, Message-ID token = the message id (stable on retries).
Result<ReplyRequest> reply_request(const ImapSettings& settings, const std::string& connector, const OutboundMessage& m) {
  using nlohmann::json;
  ReplyRequest r;
  r.from = settings.from;
  r.message_id_domain = settings.message_id_domain;
  r.message_id_token = m.id;
  r.date_ms = m.created_at_ms;
  r.text = m.text;
  Mailbox to{"", m.to};
  const json& parent = m.parent;
  const bool email_parent = parent.is_object() && parent.value("channel", "") == "email";
  if (email_parent) {
    const json meta = parent.value("metadata", json::object());
    auto text = [&](const char* key) {
      auto it = meta.find(key);
      return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    // Auto-replies and bounces are flagged at intake and never answered (mail loops).
    if (meta.value("auto_reply", false) || meta.value("bounce", false)) {
      return Result<ReplyRequest>::failure(
          "in_reply_to: that email is an automatic reply or a bounce; it is never answered (write a new message)");
    }
    r.parent_message_id = text("message_id");
    r.parent_in_reply_to = text("in_reply_to");
    if (auto it = meta.find("references"); it != meta.end() && it->is_array()) {
      for (const auto& ref : *it) {
        if (ref.is_string()) r.parent_references.push_back(ref.get<std::string>());
      }
    }
    // Answering the customer's own message: honour its Reply-To, as mail clients do.
    const json from_key = parent.contains("from") ? parent["from"].value("key", json()) : json();
    if (parent.value("direction", "") == "inbound" && from_key.is_string() && from_key.get<std::string>() == m.to) {
      if (auto it = meta.find("reply_to"); it != meta.end() && it->is_array() && !it->empty() && (*it)[0].is_object()) {
        to = Mailbox{(*it)[0].value("name", ""), (*it)[0].value("address", "")};
      }
    }
    if (m.subject.empty() && parent.contains("subject") && parent["subject"].is_string()) {
      r.parent_subject = parent["subject"].get<std::string>();
    }
  }
  (void)connector;
  if (!m.subject.empty()) {
    r.parent_subject = m.subject;
    r.subject_as_is = true;
  } else if (!email_parent) {
    return Result<ReplyRequest>::failure("subject: required for an email that does not answer one");
  }
  r.to.push_back(std::move(to));
  return r;
}

class ImapConnector : public Connector {
 public:
  ImapConnector(std::shared_ptr<State> state, std::string name, std::shared_ptr<SmtpSender> smtp)
      : state_(std::move(state)), name_(std::move(name)), smtp_(std::move(smtp)) {}

  void start() override { asio::co_spawn(state_->io, State::run(state_), asio::detached); }

  std::string outbound_channel() const override { return smtp_ ? "email" : ""; }

  std::string prepare(OutboundMessage& m) override {
    if (!smtp_) return "this connector has no smtp: block, so it sends no email";
    auto request = reply_request(state_->settings, name_, m);
    if (!request) return request.error();
    auto composed = compose_reply(*request);
    if (!composed) return composed.error();
    auto in = to_sent_interaction(*request, *composed, name_, m.agent, m.customer_id);
    m.from = in.from;
    m.to = request->to.front().address;  // the bare address (send() builds the mailbox from it again)
    m.subject = composed->subject;
    m.external_id = in.external_id;
    m.conversation_key = in.conversation_key;
    m.metadata = nlohmann::json::parse(in.metadata_json, nullptr, false);
    if (!m.metadata.is_object()) m.metadata = nlohmann::json::object();
    // The reply joins the parent's conversation when the parent came through this connector.
    const auto& parent = m.parent;
    if (parent.is_object() && parent.value("source", "") == name_ && parent.value("channel", "") == "email" &&
        parent.contains("conversation_key") && parent["conversation_key"].is_string()) {
      m.conversation_key = parent["conversation_key"].get<std::string>();
    }
    return {};
  }

  void send(const OutboundMessage& m, std::function<void(SendResult)> done) override {
    auto fail = [&](SendResult::Outcome outcome, std::string error) {
      SendResult r;
      r.outcome = outcome;
      r.error = std::move(error);
      asio::post(state_->io, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
    };
    if (!smtp_) return fail(SendResult::Outcome::failed, "this connector has no smtp: block");
    if (state_->stopping) return fail(SendResult::Outcome::retry, "stopping");
    auto request = reply_request(state_->settings, name_, m);
    if (!request) return fail(SendResult::Outcome::failed, request.error());
    auto composed = compose_reply(*request);
    if (!composed) return fail(SendResult::Outcome::failed, composed.error());
    const auto message_id = composed->message_id;
    smtp_->send(std::move(composed->message), composed->envelope_from, composed->recipients,
                [done = std::move(done), message_id](SmtpOutcome o) {
                  SendResult r;
                  r.provider_id = message_id;
                  r.provider_code = static_cast<int>(o.reply_code);
                  r.error = o.error;
                  r.outcome = o.kind == SmtpOutcome::Kind::accepted    ? SendResult::Outcome::sent
                              : o.kind == SmtpOutcome::Kind::permanent ? SendResult::Outcome::failed
                                                                       : SendResult::Outcome::retry;
                  done(std::move(r));
                });
  }

  void stop(std::function<void()> done) override {
    // Replies being submitted finish (each bounded by smtp.timeout; the service's deadline is on
    // top) and record their outcome, rather than being cut off and sent again after the restart.
    // New sends are refused meanwhile ("stopping": retried after the restart).
    if (smtp_) {
      done = [weak = std::weak_ptr<SmtpSender>(smtp_), done = std::move(done)]() mutable {
        if (auto smtp = weak.lock()) return smtp->when_idle(std::move(done));
        done();  // the connector is gone already (the service's deadline passed)
      };
    }
    state_->stopping = true;
    state_->wait_timer.cancel();
    state_->cancel_current();
    if (state_->finished) return asio::post(state_->io, std::move(done));
    state_->on_stopped = std::move(done);
  }

  Health health() const override { return state_->health; }

 private:
  std::shared_ptr<State> state_;
  std::string name_;
  std::shared_ptr<SmtpSender> smtp_;  // shared only so that a stop callback can hold it weakly
};

std::unique_ptr<Connector> make(const config::ConnectorConfig& c, Context& context, std::string& error) {
  const auto* settings = dynamic_cast<const ImapSettings*>(c.settings.get());
  if (!settings) {
    error = "invalid settings";
    return nullptr;
  }
  if (!context.ingest_with_checkpoint || !context.save_checkpoints || !context.load_checkpoints || !context.blocking) {
    error = "this build's core provides no checkpoint store or blocking pool to connectors";
    return nullptr;
  }
  auto state = std::make_shared<State>(c, context, *settings);
  if (context.config) state->own_addresses = context.config->identity.own_addresses;
  std::shared_ptr<SmtpSender> smtp;
  if (settings->smtp) smtp = std::make_shared<SmtpSender>(context.io, *settings->smtp);
  return std::make_unique<ImapConnector>(std::move(state), c.name, std::move(smtp));
}

}  // namespace

void register_imap_smtp() {
  config::register_connector_type("imap_smtp", validate);
  register_factory("imap_smtp", make);
}

}  // namespace omnitrail::connectors::imap_smtp
