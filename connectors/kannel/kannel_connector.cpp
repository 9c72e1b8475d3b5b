// kannel: config block, factory, the MO and DLR handlers and send(). The pure pieces (request
// parsing, sendsms URL and reply, text encodings) are in kannel_protocol / sms_text.
// Every answer that tells Kannel "stored" is sent only after the commit; before that a request
// is refused (403 / 400 / 422) or told to retry (503), which Kannel repeats when its smsbox has
// http-request-retry set.
#include <utility>  // Boost 1.74 + GCC 12: Asio's headers need std::exchange declared first.

#include "connectors/kannel/kannel_connector.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "connectors/kannel/kannel_protocol.hpp"
#include "connectors/kannel/sms_text.hpp"
#include "daemon/config/block_reader.hpp"
#include "daemon/config/connector_registry.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/net/http_client.hpp"
#include "daemon/util/hmac.hpp"
#include "daemon/util/log.hpp"

namespace omnitrail::connectors::kannel {
namespace asio = boost::asio;
using config::Duration;
using http::Request;
using http::Respond;
using http::Response;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kComponent = "kannel";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- settings ---------------------------------------------------------------------------------

struct KannelSettings : config::ConnectorSettings {
  std::string number;  // our number / short code / sender name: `from` of replies
  std::string sendsms_url = "http://127.0.0.1:13013/cgi-bin/sendsms";
  std::string username;
  config::Secret password;
  config::Secret secret;      // the MO URL's secret= and the key of the DLR signatures
  std::string callback_url;   // base URL Kannel calls back (dlr-url); empty: server.public_url
  std::vector<std::string> allow_from;
  int dlr_mask = 27;  // delivered | failed | SMSC submit | SMSC reject
  int max_segments = 10;
  std::string smsc;
  Duration timeout = 10s;
  Duration connect_timeout = 5s;
  std::string tls_ca_file;
};

bool is_loopback_url(std::string_view url) {
  auto rest = url.substr(url.find("//") + 2);
  return rest.rfind("127.", 0) == 0 || rest.rfind("localhost", 0) == 0 || rest.rfind("[::1]", 0) == 0;
}

// A base URL: http(s)://host[:port][/path], no query, fragment, '%', spaces or controls.
std::string check_url(const std::string& url, bool allow_query) {
  std::string_view rest;
  if (url.rfind("https://", 0) == 0) {
    rest = std::string_view(url).substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = std::string_view(url).substr(7);
  } else {
    return "must start with http:// or https://";
  }
  if (rest.empty() || rest.front() == '/' || rest.front() == '?') return "must name a host";
  for (char ch : url) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) return "must not contain spaces or control characters";
    if (ch == '#') return "must not contain a fragment ('#')";
    if (ch == '?' && !allow_query) return "must not contain a query ('?')";
    if (ch == '%' && !allow_query) return "must not contain '%' (Kannel reads it as an escape code in a dlr-url)";
  }
  if (rest.find('@') != std::string_view::npos && rest.find('@') < rest.find('/')) {
    return "must not contain user:password@ (use username and password_file)";
  }
  return {};
}

// Our number as Kannel's `from`: a number (+ and 3..15 digits), a short code, or an
// alphanumeric sender name (1..11 letters, digits and spaces, at least one letter).
std::string check_number(const std::string& number) {
  const std::string hint = " (e.g. \"+447700900999\", a short code \"60123\" or a sender name \"ACME\")";
  std::size_t digits = 0, letters = 0;
  for (std::size_t i = 0; i < number.size(); ++i) {
    char c = number[i];
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      ++letters;
    } else if (!(c == '+' && i == 0) && c != ' ') {
      return "is not a phone number, short code or sender name" + hint;
    }
  }
  if (letters == 0) {
    if (digits < 3 || digits > 15) return "must have 3 to 15 digits" + hint;
  } else if (number.front() == '+' || number.size() > 11) {
    return "a sender name has at most 11 letters, digits and spaces" + hint;
  }
  return {};
}

std::shared_ptr<const config::ConnectorSettings> validate(config::BlockReader& block) {
  auto s = std::make_shared<KannelSettings>();
  s->number = block.required_string("number");
  if (!s->number.empty()) {
    if (auto problem = check_number(s->number); !problem.empty()) block.error("number", problem);
  }
  s->sendsms_url = block.string("sendsms_url", s->sendsms_url);
  if (auto problem = check_url(s->sendsms_url, true); !problem.empty()) {
    block.error("sendsms_url", problem + " (e.g. http://127.0.0.1:13013/cgi-bin/sendsms)");
  } else if (s->sendsms_url.rfind("http://", 0) == 0 && !is_loopback_url(s->sendsms_url)) {
    block.warning("sendsms_url", "sendsms over plain http sends the password in clear text across the network "
                                 "(use https, or run the connector next to smsbox)");
  }
  s->username = block.required_string("username");
  if (auto secret = block.secret("password", true)) s->password = *secret;
  if (auto secret = block.secret("secret", true)) {
    s->secret = *secret;
    if (s->secret.value.size() < 16) block.error("secret", "must be at least 16 characters (it guards the MO endpoint)");
  }
  s->dlr_mask = static_cast<int>(block.integer("dlr_mask", s->dlr_mask, 0, 31));
  s->callback_url = block.string("callback_url");
  if (!s->callback_url.empty()) {
    if (auto problem = check_url(s->callback_url, false); !problem.empty()) {
      block.error("callback_url", problem + " (the daemon's base URL as Kannel reaches it, e.g. http://10.0.0.5:8080)");
    }
  } else if (s->dlr_mask != 0) {
    const auto* so_far = block.context().config_so_far();
    if (so_far && so_far->server.public_url.empty()) {
      block.error("callback_url", "the URL Kannel calls with delivery reports is unknown: set callback_url (e.g. "
                                  "http://10.0.0.5:8080) or server.public_url, or dlr_mask: 0 for no reports");
    } else if (so_far && so_far->server.public_url.find('%') != std::string::npos) {
      block.error("callback_url", "server.public_url contains '%', which Kannel reads as an escape code in a "
                                  "dlr-url: set callback_url");
    }
  }
  AllowList allow;
  for (const auto& item : block.string_items("allow_from")) {
    if (auto problem = allow.add(item.value); !problem.empty()) {
      block.context().error(item.where, item.path, problem);
    } else {
      s->allow_from.push_back(item.value);
    }
  }
  s->max_segments = static_cast<int>(block.integer("max_segments", s->max_segments, 1, 255));
  s->smsc = block.string("smsc");
  if (!s->smsc.empty()) {
    for (char c : s->smsc) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
        block.error("smsc", "must be a Kannel smsc-id without spaces");
        break;
      }
    }
  }
  s->timeout = block.duration("timeout", s->timeout, 1s, 5min);
  s->connect_timeout = block.duration("connect_timeout", s->connect_timeout, 100ms, 1min);
  s->tls_ca_file = block.file_path("tls_ca_file", false, true);
  return s;
}

identity::NormalizeOptions site_options(const config::Config* config) {
  identity::NormalizeOptions options;
  if (!config) return options;
  options.default_region = config->identity.default_region;
  options.blocked_values = config->identity.blocked_values;
  options.own_numbers = config->identity.own_numbers;
  options.own_addresses = config->identity.own_addresses;
  for (const auto& agent : config->agents) {
    options.internal_extensions.insert(options.internal_extensions.end(), agent.extensions.begin(),
                                       agent.extensions.end());
  }
  return options;
}

// ---- state --------------------------------------------------------------------------------------

struct State : std::enable_shared_from_this<State> {
  State(const config::ConnectorConfig& c, Context& context, const KannelSettings& s, std::string callback)
      : io(context.io),
        metrics(context.metrics),
        ingest(context.ingest),
        report_delivery(context.report_delivery),
        name(c.name),
        queue(c.queue),
        region(c.region),
        settings(s),
        callback_url(std::move(callback)),
        base_path("/webhooks/" + c.name),
        normalizer(site_options(context.config.get())),
        keyer(identity::NormalizeOptions{context.config ? context.config->identity.default_region : std::string()}),
        client(context.io) {
    for (const auto& entry : s.allow_from) (void)allow.add(entry);
  }

  asio::io_context& io;
  metrics::Registry& metrics;
  IngestFunction ingest;
  DeliveryReportFunction report_delivery;
  std::string name, queue, region;
  KannelSettings settings;
  std::string callback_url;  // "" when no DLRs are asked for
  std::string base_path;
  identity::Normalizer normalizer;  // the site's rules: who can be texted
  identity::Normalizer keyer;       // only the default region: conversation keys
  AllowList allow;
  net::HttpClient client;
  Health health;
  bool stopping = false;
  bool send_error_shown = false;  // health.last_error is about a send
  std::size_t sends_in_flight = 0;
  std::function<void()> on_stopped;
  std::map<std::string, metrics::Counter*> counters;

  void count(const std::string& metric, const std::string& label, const std::string& value) {
    const std::string key = metric + "/" + value;
    auto it = counters.find(key);
    if (it == counters.end()) {
      const char* help = metric == "omnitrail_kannel_mo_total"    ? "MO requests from Kannel, by outcome."
                         : metric == "omnitrail_kannel_dlr_total" ? "Delivery report requests from Kannel, by outcome."
                                                                  : "sendsms attempts, by outcome.";
      auto& counter = metrics.counter(metric, help, {{"connector", name}, {label, value}});
      it = counters.emplace(key, &counter).first;
    }
    it->second->inc();
  }
  void count_mo(const std::string& result) { count("omnitrail_kannel_mo_total", "result", result); }
  void count_dlr(const std::string& result) { count("omnitrail_kannel_dlr_total", "result", result); }

  static Response unavailable(std::string_view message) {
    auto r = Response::error(503, "unavailable", message);
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }

  // A refused request: logged at warning with the reason only (never a secret or the text).
  void refuse(const char* endpoint, const Request& req, const std::string& reason) {
    health.last_error = std::string(endpoint) + " request refused: " + reason;
    log::warning(kComponent, name, ": refused a ", endpoint, " request from ", req.remote_address, ": ", reason);
  }

  // Source address and secret; returns a response to send when the request is not allowed.
  std::optional<Response> admit(const char* endpoint, const Request& req) {
    if (stopping) return unavailable("the connector is stopping; retry shortly");
    if (!allow.allows(req.remote_address)) {
      refuse(endpoint, req, "source address not in allow_from");
      return Response::error(403, "forbidden", "source address not allowed");
    }
    return std::nullopt;
  }

  // ---- MO -------------------------------------------------------------------------------------
  void handle_mo(Request&& req, Respond respond) {
    if (auto refused = admit("MO", req)) {
      count_mo(refused->status == 503 ? "unavailable" : "forbidden");
      return respond(std::move(*refused));
    }
    std::string error;
    auto params = parse_params(req.query, error, 64, 64 * 1024);
    if (!params) {
      count_mo("bad_request");
      refuse("MO", req, "invalid query: " + error);
      return respond(Response::error(400, "invalid_request", error));
    }
    const std::string* secret = find_param(*params, "secret");
    if (!secret || !util::constant_time_equal(*secret, settings.secret.value)) {
      count_mo("forbidden");
      refuse("MO", req, secret ? "wrong secret" : "no secret parameter");
      return respond(Response::error(403, "forbidden", "missing or wrong secret"));
    }
    MoRequest mo_request;
    mo_request.params = std::move(*params);
    if (req.method == "POST") {
      mo_request.body = &req.body;
      if (const std::string* ct = req.header("content-type")) mo_request.content_type = *ct;
      if (const std::string* coding = req.header("x-kannel-coding")) mo_request.coding_header = *coding;
    }
    const std::int64_t received = now_ms();
    auto mo = parse_mo(mo_request, received, error);
    if (!mo) {
      count_mo("bad_request");
      refuse("MO", req, error);
      return respond(Response::error(400, "invalid_argument", error));
    }
    MoOptions options;
    options.source = name;
    options.queue = queue;
    options.region = region;
    options.received_at_ms = received;
    auto interaction = mo_to_interaction(*mo, keyer, options);
    if (auto problem = timeline::validate(interaction); !problem.empty()) {
      count_mo("bad_request");
      refuse("MO", req, problem);
      return respond(Response::error(400, "invalid_argument", problem));
    }
    log::debug(kComponent, name, ": MO ", mo->id, " from ", mo->from, " (", mo->text.size(), " bytes, ", mo->charset,
               ")");
    auto shared = std::make_shared<Respond>(std::move(respond));
    auto weak = weak_from_this();
    const std::string id = mo->id;
    bool queued = ingest && ingest(std::move(interaction), req.received_at, [weak, shared, id](IngestResult r) {
                    auto self = weak.lock();
                    if (r.committed) {
                      if (self) self->count_mo(r.duplicate ? "duplicate" : "ok");
                      // An empty body: should the sms-service lack max-messages = 0, Kannel
                      // still has nothing to text back to the customer.
                      auto ok = Response::text(200, "");
                      ok.headers.emplace_back("X-Omnitrail-Interaction", r.interaction_id);
                      return (*shared)(std::move(ok));
                    }
                    if (r.retryable) {
                      if (self) self->count_mo("unavailable");
                      return (*shared)(unavailable("the store is busy; retry shortly"));
                    }
                    if (self) {
                      self->count_mo("refused");
                      self->health.last_error = "MO " + id + " refused: " + r.error;
                      log::warning(kComponent, self->name, ": MO ", id, " refused: ", r.error);
                    }
                    (*shared)(Response::error(422, "refused", r.error));
                  });
    if (!queued) {
      count_mo("unavailable");
      (*shared)(unavailable("the store queue is full; retry shortly"));
    }
  }

  // ---- DLR ------------------------------------------------------------------------------------
  void handle_dlr(Request&& req, Respond respond) {
    if (auto refused = admit("DLR", req)) {
      count_dlr(refused->status == 503 ? "unavailable" : "forbidden");
      return respond(std::move(*refused));
    }
    std::string error;
    auto params = parse_params(req.query, error, 32, 4096);
    std::optional<DlrRequest> dlr;
    if (params) dlr = parse_dlr(*params, error);
    if (!dlr) {
      count_dlr("bad_request");
      refuse("DLR", req, error);
      return respond(Response::error(400, "invalid_argument", error));
    }
    if (!util::constant_time_equal(dlr->signature, dlr_signature(settings.secret.value, name, dlr->message_id))) {
      count_dlr("forbidden");
      refuse("DLR", req, "wrong signature for message " + dlr->message_id);
      return respond(Response::error(403, "forbidden", "wrong signature"));
    }
    auto report = delivery_report(*dlr, now_ms());
    if (report.status.empty()) {  // parse_dlr admits only types with a status; kept as a guard
      count_dlr("bad_request");
      return respond(Response::error(400, "invalid_argument", "type: reports no status"));
    }
    if (!report_delivery) {
      count_dlr("unavailable");
      return respond(unavailable("delivery reports are not available in this build"));
    }
    log::debug(kComponent, name, ": DLR ", dlr->type, " for ", dlr->message_id, " -> ", report.status);
    auto shared = std::make_shared<Respond>(std::move(respond));
    auto weak = weak_from_this();
    const std::string id = dlr->message_id;
    bool queued = report_delivery(std::move(report), [weak, shared, id](IngestResult r) {
      auto self = weak.lock();
      if (r.committed) {
        if (self) self->count_dlr("ok");
        return (*shared)(Response::text(200, ""));
      }
      if (r.retryable) {
        if (self) self->count_dlr("unavailable");
        return (*shared)(unavailable("the store is busy; retry shortly"));
      }
      if (self) {
        self->count_dlr("unknown");
        log::warning(kComponent, self->name, ": DLR for ", id, " dropped: ", r.error);
      }
      (*shared)(Response::error(404, "not_found", r.error));
    });
    if (!queued) {
      count_dlr("unavailable");
      (*shared)(unavailable("the store queue is full; retry shortly"));
    }
  }

  // ---- MT -------------------------------------------------------------------------------------
  std::string prepare(OutboundMessage& message) {
    if (message.to.empty()) return "to: no phone number to text (give to, or reply to an SMS)";
    auto to = normalizer.phone(message.to, region);
    if (!to.ok()) {
      return "to: \"" + printable(message.to, 64) + "\" is not a number this connector can text: " + to.text();
    }
    const std::string& key = to.identifier().key;
    if (key.find(';') != std::string::npos) return "to: a number with an extension cannot receive SMS";
    message.to = key;
    // A reply to an SMS that came in through this connector leaves from the number the customer
    // texted (a short code, or another of our numbers on the same Kannel); else from `number`.
    message.from = settings.number;
    const json& parent = message.parent;
    if (parent.is_object() && parent.value("source", json()) == name && parent.value("channel", json()) == "sms" &&
        parent.value("direction", json()) == "inbound") {
      const json to_field = parent.value("to", json());
      if (to_field.is_object() && to_field.value("raw", json()).is_string()) {
        std::string raw = to_field["raw"].get<std::string>();
        if (!raw.empty() && check_number(raw).empty()) message.from = raw;
      }
    }
    if (!timeline::is_valid_utf8(message.text)) return "text: not valid UTF-8";
    auto encoding = sms_encoding(message.text);
    if (encoding.segments == 0) return "text: empty";
    if (encoding.segments > static_cast<std::size_t>(settings.max_segments)) {
      return "text: needs " + std::to_string(encoding.segments) + " SMS parts (" + std::to_string(encoding.units) +
             (encoding.coding == Coding::gsm7 ? " GSM characters" : " UCS-2 characters") + "); this connector sends at most " +
             std::to_string(settings.max_segments) + " (max_segments)";
    }
    message.external_id = message.id;
    message.conversation_key = conversation_key(keyer, message.to, message.from, region);
    message.metadata["kannel"] = json{{"coding", static_cast<int>(encoding.coding)},
                                      {"segments", encoding.segments},
                                      {"dlr_mask", callback_url.empty() ? 0 : settings.dlr_mask}};
    return {};
  }

  void send(const OutboundMessage& message, std::function<void(SendResult)> done) {
    auto retry_later = [this, &done](std::string reason) {
      SendResult r;
      r.outcome = SendResult::Outcome::retry;
      r.error = std::move(reason);
      asio::post(io, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
    };
    if (stopping) return retry_later("stopping");
    Sendsms s;
    s.base_url = settings.sendsms_url;
    s.username = settings.username;
    s.password = settings.password.value;
    s.from = message.from.empty() ? settings.number : message.from;
    s.to = message.to;
    s.text = message.text;
    s.smsc = settings.smsc;
    s.coding = sms_encoding(message.text).coding;
    if (!callback_url.empty() && settings.dlr_mask > 0) {
      s.dlr_mask = settings.dlr_mask;
      s.dlr_url = dlr_url(callback_url, base_path + "/dlr", message.id,
                          dlr_signature(settings.secret.value, name, message.id));
    }
    net::HttpRequest request;
    request.method = "GET";
    request.url = sendsms_url(s);
    request.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings.timeout);
    request.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings.connect_timeout);
    request.max_response_bytes = 4096;
    request.ca_file = settings.tls_ca_file;
    auto weak = weak_from_this();
    const std::string id = message.id;
    const std::string password = settings.password.value;
    auto completion = [weak, id, password, done](net::HttpResponse response) {
      SendResult result;
      if (!response.ok()) {
        result.outcome = SendResult::Outcome::retry;
        std::string reason = response.error;
        scrub(reason, password);
        result.error = response.error == "stopped" ? "stopping" : "sendsms: " + reason;
      } else {
        result = sendsms_result(response.status, response.body, password);
      }
      if (auto self = weak.lock()) self->finish_send(id, result);
      done(std::move(result));
    };
    ++sends_in_flight;
    if (!client.request(std::move(request), std::move(completion))) {
      --sends_in_flight;
      return retry_later("sendsms: too many messages in flight");
    }
  }

  void finish_send(const std::string& id, const SendResult& result) {
    if (sends_in_flight > 0) --sends_in_flight;
    switch (result.outcome) {
      // The state stays `up` whatever sendsms does: /readyz going 503 would take the daemon, and
      // the MO endpoint with it, out of a load balancer, while Kannel can still deliver MO
      // messages. last_error says what failed; the outbox's queue gauges show the backlog.
      case SendResult::Outcome::sent:
        count("omnitrail_kannel_sendsms_total", "outcome", "sent");
        log::debug(kComponent, name, ": ", id, " accepted by Kannel");
        if (send_error_shown) {
          health.last_error.clear();
          send_error_shown = false;
        }
        break;
      case SendResult::Outcome::retry:
        count("omnitrail_kannel_sendsms_total", "outcome", "retry");
        log::warning(kComponent, name, ": ", id, " not sent, will retry: ", result.error);
        health.last_error = "message " + id + ": " + result.error;
        send_error_shown = true;
        break;
      case SendResult::Outcome::failed:
        count("omnitrail_kannel_sendsms_total", "outcome", "failed");
        log::warning(kComponent, name, ": ", id, " refused by Kannel: ", result.error);
        health.last_error = "message " + id + ": " + result.error;
        send_error_shown = true;
        break;
    }
    if (stopping && sends_in_flight == 0 && on_stopped) {
      // Posted: this runs inside the client's completion, which must not stop the client itself.
      asio::post(io, [self = shared_from_this()] {
        self->client.stop();
        if (auto stopped = std::exchange(self->on_stopped, nullptr)) stopped();
      });
    }
  }
};

class KannelConnector : public Connector {
 public:
  explicit KannelConnector(std::shared_ptr<State> state) : state_(std::move(state)) {}

  void start() override {
    state_->stopping = false;
    state_->health = Health{Health::State::up, {}};
    log::info(kComponent, state_->name, ": accepting MO on ", state_->base_path, "/mo, sending through ",
              state_->settings.sendsms_url.substr(0, state_->settings.sendsms_url.find('?')),
              state_->callback_url.empty() ? " (no delivery reports)" : "");
  }

  void stop(std::function<void()> done) override {
    // Sends in flight are let finish (each bounded by `timeout`): cutting one off after Kannel
    // took it would make the outbox send it again.
    state_->stopping = true;
    state_->health = Health{Health::State::stopped, {}};
    if (state_->sends_in_flight == 0) {
      state_->client.stop();
      return asio::post(state_->io, std::move(done));
    }
    state_->on_stopped = std::move(done);
  }

  Health health() const override { return state_->health; }

  void add_routes(http::Router& router) override {
    auto mo = [state = state_](Request&& req, Respond respond) { state->handle_mo(std::move(req), std::move(respond)); };
    router.add("GET", state_->base_path + "/mo", mo);
    router.add("POST", state_->base_path + "/mo", mo);
    router.add("GET", state_->base_path + "/dlr", [state = state_](Request&& req, Respond respond) {
      state->handle_dlr(std::move(req), std::move(respond));
    });
  }

  std::string outbound_channel() const override { return "sms"; }
  std::string prepare(OutboundMessage& message) override { return state_->prepare(message); }
  void send(const OutboundMessage& message, std::function<void(SendResult)> done) override {
    state_->send(message, std::move(done));
  }

 private:
  std::shared_ptr<State> state_;
};

std::unique_ptr<Connector> make(const config::ConnectorConfig& c, Context& context, std::string& error) {
  const auto* settings = dynamic_cast<const KannelSettings*>(c.settings.get());
  if (!settings) {
    error = "invalid settings";
    return nullptr;
  }
  std::string callback;
  if (settings->dlr_mask > 0) {
    callback = settings->callback_url;
    if (callback.empty() && context.config) callback = context.config->server.public_url;
    if (callback.empty()) {
      error = "the URL Kannel calls with delivery reports is unknown: set callback_url or server.public_url, or "
              "dlr_mask: 0";
      return nullptr;
    }
    if (callback.find('%') != std::string::npos) {
      error = "the callback URL contains '%', which Kannel reads as an escape code: set callback_url";
      return nullptr;
    }
  }
  auto state = std::make_shared<State>(c, context, *settings, std::move(callback));
  return std::make_unique<KannelConnector>(std::move(state));
}

}  // namespace

void register_kannel() {
  config::register_connector_type("kannel", validate);
  register_factory("kannel", make);
}

}  // namespace omnitrail::connectors::kannel
