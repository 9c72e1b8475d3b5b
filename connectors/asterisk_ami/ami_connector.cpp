// asterisk_ami connector: the Asio edge around the pure Parser (ami_parser.*) and CallTracker
// (call_model.*). One coroutine owns the connection: resolve, connect, banner, login, filter,
// CoreShowChannels resync, then read events until the link fails; a second one sends Ping.
// Every read has a deadline (ping_interval + action_timeout), so a silent peer is detected.
#include <utility>

#include "connectors/asterisk_ami/ami_connector.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <deque>
#include <map>
#include <random>

#include "connectors/asterisk_ami/ami_parser.hpp"
#include "connectors/asterisk_ami/call_model.hpp"
#include "daemon/config/block_reader.hpp"
#include "daemon/config/connector_registry.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/util/log.hpp"

namespace omnitrail::connectors::ami {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using config::Duration;

namespace {

constexpr std::size_t max_backlog = 10000;

struct AmiSettings : config::ConnectorSettings {
  std::string host;
  unsigned short port = 5038;
  std::string username;
  config::Secret secret;
  std::string auth = "md5";
  std::vector<std::string> internal_contexts;
  std::string extension_pattern{kDefaultExtensionPattern};
  Duration connect_timeout = std::chrono::seconds(10);
  Duration action_timeout = std::chrono::seconds(10);
  Duration ping_interval = std::chrono::seconds(20);
  Duration reconnect_min = std::chrono::seconds(1);
  Duration reconnect_max = std::chrono::seconds(60);
  Duration call_expiry = std::chrono::hours(4);
  bool tls = false;          // TLS to the manager port (Asterisk's tlsbindport, usually 5039)
  bool tls_verify = true;    // verify the certificate chain and the host name
  std::string tls_ca_file;   // CA bundle (PEM); empty: the system's CAs
  std::string originate_channel = "PJSIP/{extension}";  // the agent's device for click-to-call
  std::string originate_context = "from-internal";      // dialplan context that dials the customer
  Duration originate_timeout = std::chrono::seconds(30); // how long the agent's phone rings
};

std::shared_ptr<const config::ConnectorSettings> validate(config::BlockReader& block) {
  auto s = std::make_shared<AmiSettings>();
  s->host = block.required_string("host");
  s->port = static_cast<unsigned short>(block.integer("port", block.has("tls") ? 5039 : 5038, 1, 65535));
  s->username = block.required_string("username");
  if (auto secret = block.secret("secret", true)) s->secret = *secret;
  s->auth = block.choice("auth", {"md5", "plain"}, "md5");
  s->internal_contexts = block.string_list("internal_contexts");
  s->extension_pattern = block.string("extension_pattern", std::string(kDefaultExtensionPattern));
  if (auto problem = check_extension_pattern(s->extension_pattern); !problem.empty()) {
    block.error("extension_pattern", problem);
  }
  using std::chrono::hours;
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  s->connect_timeout = block.duration("connect_timeout", s->connect_timeout, milliseconds(100), seconds(300));
  s->action_timeout = block.duration("action_timeout", s->action_timeout, milliseconds(100), seconds(300));
  s->ping_interval = block.duration("ping_interval", s->ping_interval, milliseconds(100), hours(1));
  s->reconnect_min = block.duration("reconnect_min", s->reconnect_min, milliseconds(10), hours(1));
  s->reconnect_max = block.duration("reconnect_max", s->reconnect_max, milliseconds(10), hours(1));
  s->call_expiry = block.duration("call_expiry", s->call_expiry, seconds(10), hours(48));
  if (s->reconnect_max < s->reconnect_min) block.error("reconnect_max", "must not be shorter than reconnect_min");
  s->tls = block.boolean("tls", false);
  s->tls_verify = block.boolean("tls_verify", true);
  s->tls_ca_file = block.file_path("tls_ca_file", false, true);
  if (!s->tls && (block.has("tls_verify") || block.has("tls_ca_file"))) {
    block.error("tls", "tls_verify and tls_ca_file need tls: true");
  }
  s->originate_channel = block.string("originate_channel", s->originate_channel);
  if (s->originate_channel.find("{extension}") == std::string::npos) {
    block.error("originate_channel", "must contain {extension} (e.g. PJSIP/{extension})");
  }
  s->originate_context = block.string("originate_context", s->originate_context);
  s->originate_timeout = block.duration("originate_timeout", s->originate_timeout, seconds(5), seconds(300));
  return s;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct State : std::enable_shared_from_this<State> {
  State(const config::ConnectorConfig& c, Context& context, const AmiSettings& s, TrackerConfig tracker_config)
      : io(context.io),
        ingest(context.ingest),
        name(c.name),
        settings(s),
        tracker(std::move(tracker_config), now_ms),
        retry_timer(context.io),
        backoff_timer(context.io),
        ping_timer(context.io),
        events(context.metrics.counter("omnitrail_ami_events_total", "AMI messages received, by connector.",
                                       {{"connector", c.name}})),
        reconnects(context.metrics.counter("omnitrail_ami_reconnects_total", "AMI connection attempts after a failure.",
                                           {{"connector", c.name}})),
        dropped(context.metrics.counter("omnitrail_connector_backlog_dropped_total",
                                        "Interactions dropped because a connector's backlog was full.",
                                        {{"connector", c.name}})) {}

  asio::io_context& io;
  IngestFunction ingest;
  std::string name;
  AmiSettings settings;
  CallTracker tracker;
  // One of the two streams exists once a session started: the plain one, or the TLS one that
  // took it over after the TCP connect.
  std::unique_ptr<beast::tcp_stream> plain;
  std::shared_ptr<asio::ssl::context> tls_context;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_stream;

  beast::tcp_stream& lowest() { return tls_stream ? beast::get_lowest_layer(*tls_stream) : *plain; }

  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buffer, error_code& ec) {
    if (tls_stream) co_return co_await tls_stream->async_read_some(buffer, asio::redirect_error(asio::use_awaitable, ec));
    co_return co_await plain->async_read_some(buffer, asio::redirect_error(asio::use_awaitable, ec));
  }
  Parser parser;
  asio::steady_timer retry_timer;
  asio::steady_timer backoff_timer;
  asio::steady_timer ping_timer;
  metrics::Counter& events;
  metrics::Counter& reconnects;
  metrics::Counter& dropped;
  Health health;
  bool stopping = false;
  bool finished = false;
  bool connected = false;
  std::function<void()> on_stopped;
  std::deque<std::string> writes;
  bool writing = false;
  std::deque<timeline::Interaction> backlog;
  std::uint64_t action_counter = 0;
  std::vector<Message> resync_channels;
  std::string resync_action;
  struct PendingCall {
    std::function<void(CallProgress)> progress;
    std::unique_ptr<asio::steady_timer> deadline;
  };
  std::map<std::string, PendingCall> calls;  // Originate ActionID -> its requester
  std::mt19937 random{std::random_device{}()};

  std::string next_action_id(const char* prefix) { return std::string(prefix) + "-" + std::to_string(++action_counter); }

  // ---- writing ---------------------------------------------------------------------------
  void send(std::string bytes) {
    writes.push_back(std::move(bytes));
    if (!writing) {
      writing = true;
      asio::co_spawn(io, write_loop(shared_from_this()), asio::detached);
    }
  }

  static asio::awaitable<void> write_loop(std::shared_ptr<State> self) {
    error_code ec;
    while (!self->writes.empty() && self->connected) {
      std::string bytes = std::move(self->writes.front());
      self->writes.pop_front();
      if (self->tls_stream) {
        co_await asio::async_write(*self->tls_stream, asio::buffer(bytes), asio::redirect_error(asio::use_awaitable, ec));
      } else {
        co_await asio::async_write(self->plain->socket(), asio::buffer(bytes), asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec) {
        self->writes.clear();
        self->close_stream();
        break;
      }
    }
    self->writing = false;
  }

  void close_stream() {
    ping_timer.cancel();  // the pinger holds a reference: let it end now
    if (!plain && !tls_stream) return;
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  // ---- reading ---------------------------------------------------------------------------
  // The next complete message, reading with `deadline` per read; nullopt on error (set in `error`).
  asio::awaitable<std::optional<Message>> read_message(Duration deadline, std::string& error) {
    char buffer[8192];
    for (;;) {
      if (auto message = parser.next()) co_return message;
      if (parser.failed()) {
        error = "malformed AMI stream: " + parser.error();
        co_return std::nullopt;
      }
      lowest().expires_after(deadline);
      error_code ec;
      std::size_t n = co_await read_some(asio::buffer(buffer), ec);
      if (ec) {
        error = ec == beast::error::timeout ? "no data from Asterisk within " + std::to_string(deadline.count()) + " ms"
                                            : "connection lost: " + ec.message();
        co_return std::nullopt;
      }
      parser.feed(std::string_view(buffer, n));
    }
  }

  // Reads until the response to `action_id` (events in between are handled normally).
  asio::awaitable<std::optional<Message>> await_response(const std::string& action_id, std::string& error) {
    for (;;) {
      auto message = co_await read_message(settings.action_timeout, error);
      if (!message) co_return std::nullopt;
      if (message->is_response() && message->value("ActionID") == action_id) co_return message;
      handle(*message);
    }
  }

  // ---- one connection ----------------------------------------------------------------------
  asio::awaitable<bool> session(std::string& error) {
    parser.reset();
    tls_stream.reset();  // a fresh TCP stream for every attempt
    plain = std::make_unique<beast::tcp_stream>(io);
    error_code ec;
    tcp::resolver resolver(io);
    asio::steady_timer resolve_deadline(io, settings.connect_timeout);
    resolve_deadline.async_wait([&resolver](error_code e) {
      if (!e) resolver.cancel();
    });
    auto endpoints = co_await resolver.async_resolve(settings.host, std::to_string(settings.port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    resolve_deadline.cancel();
    if (ec) {
      error = "cannot resolve " + settings.host + ": " + ec.message();
      co_return false;
    }
    plain->expires_after(settings.connect_timeout);
    co_await plain->async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      error = "cannot connect to " + settings.host + ":" + std::to_string(settings.port) + ": " + ec.message();
      co_return false;
    }
    if (settings.tls) {
      tls_stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*plain), *tls_context);
      plain.reset();
      if (settings.tls_verify) {
        tls_stream->set_verify_mode(asio::ssl::verify_peer);
        tls_stream->set_verify_callback(asio::ssl::host_name_verification(settings.host));
      }
      if (!SSL_set_tlsext_host_name(tls_stream->native_handle(), settings.host.c_str())) {
        error = "cannot set the TLS server name";
        co_return false;
      }
      lowest().expires_after(settings.connect_timeout);
      co_await tls_stream->async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        error = "TLS handshake with " + settings.host + ":" + std::to_string(settings.port) + " failed: " + ec.message();
        co_return false;
      }
    }
    connected = true;
    // Banner: one line with no blank line after it, so read bytes until the parser has it.
    {
      char buffer[512];
      while (parser.banner().empty()) {
        if (parser.failed()) {
          error = "malformed AMI banner: " + parser.error();
          co_return false;
        }
        lowest().expires_after(settings.action_timeout);
        std::size_t n = co_await read_some(asio::buffer(buffer), ec);
        if (ec) {
          error = "no AMI banner: " + ec.message();
          co_return false;
        }
        parser.feed(std::string_view(buffer, n));
      }
    }
    log::info("ami", name, ": connected to ", settings.host, ":", settings.port, " (", parser.banner(), ")");
    // Login.
    std::string login_id = next_action_id("login");
    if (settings.auth == "md5") {
      std::string challenge_id = next_action_id("challenge");
      send(challenge_action(challenge_id));
      auto challenge = co_await await_response(challenge_id, error);
      if (!challenge) co_return false;
      if (challenge->value("Response") != "Success" || challenge->value("Challenge").empty()) {
        error = "MD5 challenge refused: " + std::string(challenge->value("Message"));
        co_return false;
      }
      send(login_md5_action(settings.username, md5_key(challenge->value("Challenge"), settings.secret.value), login_id));
    } else {
      send(login_action(settings.username, settings.secret.value, login_id));
    }
    auto login = co_await await_response(login_id, error);
    if (!login) co_return false;
    if (login->value("Response") != "Success") {
      // The message is Asterisk's ("Authentication failed"); the secret is never part of it.
      error = "login as " + settings.username + " refused: " + std::string(login->value("Message"));
      co_return false;
    }
    // Only the events the call model needs cross the wire.
    std::string filter_id = next_action_id("filter");
    send(filter_action(tracked_events_filter(), filter_id));
    auto filter = co_await await_response(filter_id, error);
    if (!filter) co_return false;
    if (filter->value("Response") != "Success") {
      log::warning("ami", name, ": event filter refused (", filter->value("Message"), "); receiving every event");
    }
    // Resynchronise calls in progress: no pop stays stuck, none is duplicated.
    tracker.begin_resync();
    resync_channels.clear();
    resync_action = next_action_id("resync");
    send(core_show_channels_action(resync_action));
    health = Health{Health::State::up, {}};
    log::info("ami", name, ": logged in as ", settings.username);
    asio::co_spawn(io, pinger(shared_from_this()), asio::detached);
    for (;;) {
      auto message = co_await read_message(settings.ping_interval + settings.action_timeout, error);
      if (!message) co_return true;
      handle(*message);
    }
  }

  static asio::awaitable<void> pinger(std::shared_ptr<State> self) {
    auto last_expire = std::chrono::steady_clock::now();
    while (self->connected && !self->stopping) {
      self->ping_timer.expires_after(self->settings.ping_interval);
      error_code ec;
      co_await self->ping_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!self->connected || self->stopping) break;
      // The read deadline catches a peer that stops answering; Ping keeps an idle link busy.
      self->send(ping_action(self->next_action_id("ping")));
      if (std::chrono::steady_clock::now() - last_expire > std::chrono::minutes(1)) {
        last_expire = std::chrono::steady_clock::now();
        self->submit(self->tracker.expire());
      }
    }
  }

  // ---- click-to-call ---------------------------------------------------------------------
  bool place_call(const CallRequest& request, std::function<void(CallProgress)> progress) {
    if (!connected || health.state != Health::State::up || calls.size() >= 100) return false;
    OriginateRequest originate;
    originate.channel = settings.originate_channel;
    originate.channel.replace(originate.channel.find("{extension}"), 11, request.extension);
    originate.exten = request.number;
    originate.context = settings.originate_context;
    originate.caller_id = request.extension;  // the agent's phone shows its own line, not a customer
    originate.timeout_ms = settings.originate_timeout.count();
    const auto id = next_action_id("call");
    auto bytes = originate_action(originate, id);
    if (bytes.empty()) return false;  // refused (CR/LF in a value)
    auto deadline = std::make_unique<asio::steady_timer>(io, settings.originate_timeout + settings.action_timeout);
    deadline->async_wait([weak = weak_from_this(), id](error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->finish_call(id, CallProgress{"failed", "no answer from Asterisk"});
    });
    calls[id] = PendingCall{std::move(progress), std::move(deadline)};
    send(std::move(bytes));
    log::info("ami", name, ": click-to-call for agent ", request.agent_id, " (", originate.channel, ")");
    return true;
  }

  void finish_call(const std::string& id, CallProgress progress) {
    auto it = calls.find(id);
    if (it == calls.end()) return;
    auto callback = std::move(it->second.progress);
    calls.erase(it);
    if (callback) callback(std::move(progress));
  }

  // Responses and OriginateResponse events of click-to-call actions; true when it was one.
  bool handle_call_reply(const Message& message) {
    if (calls.empty()) return false;
    const std::string id(message.value("ActionID"));
    auto it = calls.find(id);
    if (it == calls.end()) return false;
    if (message.is_event()) {
      if (message.event() != "OriginateResponse") return false;
      if (message.value("Response") == "Success") {
        finish_call(id, CallProgress{"answered", {}});
      } else {
        finish_call(id, CallProgress{"failed", "the call could not be placed (reason " +
                                                   std::string(message.value("Reason")) + ")"});
      }
      return true;
    }
    if (message.value("Response") == "Success") {
      if (it->second.progress) it->second.progress(CallProgress{"queued", {}});
    } else {
      finish_call(id, CallProgress{"failed", "Asterisk refused: " + std::string(message.value("Message"))});
    }
    return true;
  }

  void fail_calls(const std::string& reason) {
    while (!calls.empty()) finish_call(calls.begin()->first, CallProgress{"failed", reason});
  }

  void handle(const Message& message) {
    events.inc();
    if (handle_call_reply(message)) return;
    if (message.is_event()) {
      auto event = message.event();
      if (event == "CoreShowChannel" && message.value("ActionID") == resync_action) {
        resync_channels.push_back(message);
        return;
      }
      if (event == "CoreShowChannelsComplete" && message.value("ActionID") == resync_action) {
        auto ended = tracker.resync(resync_channels);
        if (!ended.empty()) log::info("ami", name, ": resync ended ", ended.size(), " call(s) missed while disconnected");
        resync_channels.clear();
        submit(std::move(ended));
        return;
      }
      if (event == "Shutdown") {
        log::warning("ami", name, ": Asterisk is shutting down (", message.value("Shutdown"),
                     message.value("Restart") == "True" ? ", restarting" : "", ")");
      }
    }
    submit(tracker.on_message(message));
  }

  // ---- ingest --------------------------------------------------------------------------------
  void submit(std::vector<timeline::Interaction> interactions) {
    for (auto& in : interactions) {
      if (backlog.size() >= max_backlog) {
        backlog.pop_front();
        dropped.inc();
        log::error("ami", name, ": backlog full, dropped the oldest interaction");
      }
      backlog.push_back(std::move(in));
    }
    drain();
  }

  // Hands the backlog to the store in order; stops at the first refusal (queue full) and retries.
  void drain() {
    while (!backlog.empty()) {
      auto in = backlog.front();
      auto weak = weak_from_this();
      bool queued = ingest && ingest(in, std::chrono::steady_clock::now(), [weak, in](IngestResult result) {
        auto self = weak.lock();
        if (!self || result.committed) return;
        if (result.retryable) {
          self->backlog.push_front(in);
          self->schedule_retry();
        } else {
          log::error("ami", self->name, ": interaction ", in.external_id, " refused: ", result.error);
        }
      });
      if (!queued) return schedule_retry();
      backlog.pop_front();
    }
  }

  void schedule_retry() {
    retry_timer.expires_after(std::chrono::milliseconds(200));
    retry_timer.async_wait([weak = weak_from_this()](error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->drain();
    });
  }

  // ---- lifetime ----------------------------------------------------------------------------
  static asio::awaitable<void> run(std::shared_ptr<State> self) {
    auto delay = self->settings.reconnect_min;
    while (!self->stopping) {
      std::string error;
      bool was_up = false;
      try {
        was_up = co_await self->session(error);
      } catch (const std::exception& e) {
        error = std::string("internal error: ") + e.what();
      }
      self->connected = false;
      self->close_stream();
      self->fail_calls("connection to Asterisk lost");
      if (self->stopping) break;
      self->health = Health{Health::State::down, error};
      log::warning("ami", self->name, ": ", error);
      if (was_up) delay = self->settings.reconnect_min;
      // Exponential back-off with jitter (50-100 % of the delay) so a PBX restart is not met by
      // every client at once.
      std::uniform_real_distribution<double> jitter(0.5, 1.0);
      auto wait = std::chrono::duration_cast<Duration>(delay * jitter(self->random));
      self->backoff_timer.expires_after(wait);
      error_code ec;
      co_await self->backoff_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      delay = std::min(delay * 2, self->settings.reconnect_max);
      self->reconnects.inc();
    }
    self->health = Health{Health::State::stopped, {}};
    self->finished = true;
    if (self->on_stopped) {
      auto done = std::move(self->on_stopped);
      self->on_stopped = nullptr;
      done();
    }
  }
};

class AmiConnector : public Connector {
 public:
  explicit AmiConnector(std::shared_ptr<State> state) : state_(std::move(state)) {}

  void start() override { asio::co_spawn(state_->io, State::run(state_), asio::detached); }

  void stop(std::function<void()> done) override {
    state_->stopping = true;
    state_->retry_timer.cancel();
    state_->backoff_timer.cancel();
    state_->close_stream();
    if (state_->finished) return asio::post(state_->io, std::move(done));
    state_->on_stopped = std::move(done);
  }

  Health health() const override { return state_->health; }

  bool place_call(const CallRequest& request, std::function<void(CallProgress)> progress) override {
    return state_->place_call(request, std::move(progress));
  }

 private:
  std::shared_ptr<State> state_;
};

std::unique_ptr<Connector> make(const config::ConnectorConfig& c, Context& context, std::string& error) {
  const auto* settings = dynamic_cast<const AmiSettings*>(c.settings.get());
  if (!settings) {
    error = "invalid settings";
    return nullptr;
  }
  TrackerConfig tracker;
  tracker.source = c.name;
  tracker.region = c.region;
  tracker.internal_contexts = settings->internal_contexts;
  tracker.extension_pattern = settings->extension_pattern;
  tracker.call_expiry = settings->call_expiry;
  if (context.config) {
    for (const auto& agent : context.config->agents) {
      for (const auto& ext : agent.extensions) tracker.agent_by_extension.emplace(ext, agent.id);
    }
  }
  auto state = std::make_shared<State>(c, context, *settings, std::move(tracker));
  if (settings->tls) {
    state->tls_context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    error_code ec;
    state->tls_context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                                        asio::ssl::context::no_tlsv1_1,
                                    ec);
    if (settings->tls_ca_file.empty()) {
      state->tls_context->set_default_verify_paths(ec);
    } else {
      state->tls_context->load_verify_file(settings->tls_ca_file, ec);
    }
    if (ec) {
      error = "cannot load the TLS trust store" +
              (settings->tls_ca_file.empty() ? std::string() : " from " + settings->tls_ca_file) + ": " + ec.message();
      return nullptr;
    }
  }
  if (!state->tracker.config_error().empty()) {
    error = state->tracker.config_error();
    return nullptr;
  }
  return std::make_unique<AmiConnector>(std::move(state));
}

}  // namespace

void register_asterisk_ami() {
  config::register_connector_type("asterisk_ami", validate);
  register_factory("asterisk_ami", make);
}

}  // namespace omnitrail::connectors::ami
