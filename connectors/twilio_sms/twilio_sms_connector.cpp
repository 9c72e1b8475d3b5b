// twilio_sms: the config block, the factory and the Asio edge around the pure layer
// (twilio_sms_protocol.hpp). Webhooks are answered "stored" only after the commit; sends are one
// HTTP request per attempt (plus a lookup first when an earlier attempt may have reached Twilio),
// bounded by the configured timeouts; stop() lets requests in flight finish so that none is cut
// off between "sent to Twilio" and "recorded".
#include <utility>  // Boost 1.74 + GCC 12: Asio's headers need std::exchange declared first.

#include "connectors/twilio_sms/twilio_sms_connector.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "connectors/twilio_sms/twilio_sms_protocol.hpp"
#include "connectors/webhooks/forms.hpp"
#include "connectors/webhooks/public_url.hpp"
#include "connectors/webhooks/signatures.hpp"
#include "daemon/config/block_reader.hpp"
#include "daemon/config/connector_registry.hpp"
#include "daemon/identity/normalizer.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/net/http_client.hpp"
#include "daemon/util/log.hpp"

namespace omnitrail::connectors::twilio_sms {
namespace asio = boost::asio;
using config::Duration;
using http::Request;
using http::Respond;
using http::Response;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kComponent = "twilio_sms";
// Memory of message ids / sids kept for the resend check (each entry < 100 bytes).
constexpr std::size_t kMemory = 10000;
// Twilio's date_created has second resolution and its clock is not ours.
constexpr std::int64_t kLookupSlackMs = 5000;

const char* kEmptyTwiml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n";

struct Settings : config::ConnectorSettings {
  std::string account_sid;
  config::Secret auth_token;
  std::string from;
  std::string messaging_service_sid;
  std::string public_url;  // empty: server.public_url + /webhooks/<name>
  std::string api_base_url = "https://api.twilio.com";
  Duration timeout = 15s;
  Duration connect_timeout = 5s;
  bool status_callbacks = true;
};

// The authority of an http(s) URL ("host:port", "[::1]:8080").
std::string_view authority_of(std::string_view url) {
  std::size_t start = url.find("://");
  if (start == std::string_view::npos) return {};
  start += 3;
  std::size_t end = url.find_first_of("/?#", start);
  return url.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

bool loopback_host(std::string_view authority) {
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::string check_api_base_url(const std::string& url) {
  const std::string hint = " (https://api.twilio.com, or an http:// stand-in on 127.0.0.1 for tests)";
  const bool https = url.rfind("https://", 0) == 0;
  if (!https && url.rfind("http://", 0) != 0) return "must start with https://" + hint;
  std::string_view authority = authority_of(url);
  if (authority.empty()) return "must name a host" + hint;
  if (!https && !loopback_host(authority)) {
    return "http:// would send the auth token in clear text; it is allowed only for 127.0.0.1, [::1] or localhost" + hint;
  }
  for (char ch : url) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) return "must not contain spaces or control characters";
    if (ch == '?' || ch == '#') return "must not contain a query or fragment";
  }
  if (url.find('@') != std::string::npos) return "must not carry credentials (the auth token comes from auth_token_file)";
  return {};
}

std::shared_ptr<const config::ConnectorSettings> validate(config::BlockReader& block) {
  auto s = std::make_shared<Settings>();
  s->account_sid = block.required_string("account_sid");
  if (!s->account_sid.empty() && !is_sid(s->account_sid, "AC")) {
    block.error("account_sid", "must be AC followed by 32 hex digits (the Account SID in the Twilio console)");
  }
  if (auto token = block.secret("auth_token", true)) s->auth_token = *token;
  s->from = block.string("from");
  if (!s->from.empty() && !is_e164(s->from)) {
    block.error("from", "must be our Twilio number in E.164 form, e.g. +441632960000");
  }
  s->messaging_service_sid = block.string("messaging_service_sid");
  if (!s->messaging_service_sid.empty() && !is_sid(s->messaging_service_sid, "MG")) {
    block.error("messaging_service_sid", "must be MG followed by 32 hex digits (the Messaging Service SID)");
  }
  if (s->from.empty() && s->messaging_service_sid.empty()) {
    block.error("from", "replies need a sender: set from (our number, E.164) or messaging_service_sid (MG...)");
  }
  s->public_url = block.string("public_url");
  if (s->public_url.empty()) {
    const auto* so_far = block.context().config_so_far();
    if (so_far && so_far->server.public_url.empty()) {
      block.error("public_url", "the URL Twilio signs is unknown: set server.public_url (e.g. https://cc.example.com) "
                                "or public_url in this block");
    }
  } else if (auto problem = webhooks::check_public_url(s->public_url); !problem.empty()) {
    block.error("public_url", problem);
  }
  s->api_base_url = block.string("api_base_url", s->api_base_url);
  while (!s->api_base_url.empty() && s->api_base_url.back() == '/') s->api_base_url.pop_back();
  if (auto problem = check_api_base_url(s->api_base_url); !problem.empty()) block.error("api_base_url", problem);
  s->timeout = block.duration("timeout", s->timeout, 1s, 2min);
  s->connect_timeout = block.duration("connect_timeout", s->connect_timeout, 100ms, 1min);
  s->status_callbacks = block.boolean("status_callbacks", true);
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
    options.internal_extensions.insert(options.internal_extensions.end(), agent.extensions.begin(), agent.extensions.end());
  }
  return options;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A bounded set with first-in-first-out eviction (io thread).
class RecentSet {
 public:
  void add(const std::string& key) {
    if (!set_.insert(key).second) return;
    order_.push_back(key);
    if (order_.size() > kMemory) {
      set_.erase(order_.front());
      order_.pop_front();
    }
  }
  void erase(const std::string& key) { set_.erase(key); }  // its order_ entry ages out harmlessly
  bool contains(const std::string& key) const { return set_.count(key) != 0; }

 private:
  std::unordered_set<std::string> set_;
  std::deque<std::string> order_;
};

struct State : std::enable_shared_from_this<State> {
  State(const config::ConnectorConfig& c, Context& context, const Settings& s, std::string inbound, std::string status)
      : io(context.io),
        metrics(context.metrics),
        ingest(context.ingest),
        report_delivery(context.report_delivery),
        name(c.name),
        queue(c.queue),
        region(c.region),
        inbound_path("/webhooks/" + c.name),
        status_path(inbound_path + "/status"),
        inbound_url(std::move(inbound)),
        status_url(std::move(status)),
        account_sid(s.account_sid),
        auth_token(s.auth_token.value),
        messaging_service_sid(s.messaging_service_sid),
        normalizer(site_options(context.config.get())),
        client(std::make_unique<net::HttpClient>(context.io)) {
    send_options.api_base_url = s.api_base_url;
    send_options.account_sid = s.account_sid;
    send_options.auth_token = s.auth_token.value;
    send_options.from = s.from;
    send_options.messaging_service_sid = s.messaging_service_sid;
    send_options.status_callback_url = s.status_callbacks ? status_url : std::string();
    send_options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(s.timeout);
    send_options.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(s.connect_timeout);
  }

  asio::io_context& io;
  metrics::Registry& metrics;
  IngestFunction ingest;
  DeliveryReportFunction report_delivery;
  std::string name;
  std::string queue;
  std::string region;
  std::string inbound_path;
  std::string status_path;
  std::string inbound_url;  // what Twilio signs (without the query)
  std::string status_url;
  std::string account_sid;
  std::string auth_token;
  std::string messaging_service_sid;
  SendOptions send_options;
  identity::Normalizer normalizer;
  std::unique_ptr<net::HttpClient> client;
  Health health;
  bool stopping = false;
  std::size_t sends_in_flight = 0;
  std::function<void()> on_stopped;
  // Messages whose last attempt is known not to have reached Twilio (refused connection, 429,
  // not started): their next attempt needs no lookup. Every other retry looks first, so a
  // restart (which forgets this set) costs a lookup, never a duplicate.
  RecentSet known_unsent;
  // Sids Twilio gave this connector's messages: a lookup never claims one for another message.
  RecentSet own_sids;
  std::map<std::string, metrics::Counter*> counters;

  metrics::Counter& counter(const std::string& metric, const std::string& help, const std::string& label,
                            const std::string& value) {
    const std::string key = metric + "\n" + value;
    auto it = counters.find(key);
    if (it == counters.end()) {
      it = counters.emplace(key, &metrics.counter(metric, help, {{"connector", name}, {label, value}})).first;
    }
    return *it->second;
  }
  void count(const std::string& result) {
    counter("omnitrail_webhook_requests_total", "Webhook requests received by a connector, by outcome.", "result", result)
        .inc();
  }
  void count_send(const std::string& outcome) {
    counter("omnitrail_twilio_sms_send_attempts_total", "Twilio Messages API send attempts, by outcome.", "outcome",
            outcome)
        .inc();
  }

  void refuse(const std::string& result, const std::string& reason, const Request& req) {
    count(result);
    health.last_error = reason;
    log::warning(kComponent, name, ": refused a request from ", req.remote_address, ": ", reason);
  }

  static Response unavailable(std::string_view message) {
    auto r = Response::error(503, "unavailable", message);
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }

  // The checks both endpoints share: form body, signature, account. nullopt: already answered.
  std::optional<FormParams> authenticated_form(const Request& req, const std::string& signed_base, Respond& respond) {
    if (stopping) {
      count("unavailable");
      respond(unavailable("the connector is stopping; retry shortly"));
      return std::nullopt;
    }
    const std::string* content_type = req.header("content-type");
    if (!content_type || content_type->rfind("application/x-www-form-urlencoded", 0) != 0) {
      refuse("bad_request", "not a form body (Content-Type application/x-www-form-urlencoded expected)", req);
      respond(Response::error(415, "unsupported_media_type", "expected Content-Type: application/x-www-form-urlencoded"));
      return std::nullopt;
    }
    std::string error;
    auto params = webhooks::parse_form(req.body, error);
    if (!params) {
      refuse("bad_request", "invalid form body: " + error, req);
      respond(Response::error(400, "invalid_form", error));
      return std::nullopt;
    }
    const std::string* signature = req.header("x-twilio-signature");
    if (!signature || !webhooks::twilio_valid(auth_token, request_url(signed_base, req.query), *params, *signature)) {
      refuse("forbidden", signature ? "X-Twilio-Signature mismatch" : "X-Twilio-Signature missing", req);
      respond(Response::error(403, "forbidden", "invalid X-Twilio-Signature"));
      return std::nullopt;
    }
    const std::string* account = webhooks::form_value(*params, "AccountSid");
    if (!account || *account != account_sid) {
      refuse("forbidden", "AccountSid is not the connector's account_sid", req);
      respond(Response::error(403, "forbidden", "AccountSid: not accepted by this connector"));
      return std::nullopt;
    }
    return params;
  }

  // ---- inbound messages --------------------------------------------------------------------
  void handle_inbound(Request&& req, Respond respond) {
    auto params = authenticated_form(req, inbound_url, respond);
    if (!params) return;
    InboundOptions options;
    options.account_sid = account_sid;
    options.messaging_service_sid = messaging_service_sid;
    options.queue = queue;
    options.region = region;
    options.received_at_ms = now_ms();
    options.normalizer = &normalizer;
    std::string error;
    auto interaction = inbound_to_interaction(*params, name, error, options);
    if (interaction) {
      if (auto problem = timeline::validate(*interaction); !problem.empty()) {
        interaction.reset();
        error = problem;
      }
    }
    if (!interaction) {
      refuse("bad_request", "invalid message: " + error, req);
      return respond(Response::error(400, "invalid_argument", error));
    }
    auto shared = std::make_shared<Respond>(std::move(respond));
    auto weak = weak_from_this();
    std::string sid = interaction->external_id;
    bool queued = ingest && ingest(std::move(*interaction), req.received_at, [weak, shared, sid](IngestResult r) {
                    auto self = weak.lock();
                    if (r.committed) {
                      if (self) self->count(r.duplicate ? "duplicate" : "ok");
                      return (*shared)(Response::text(200, kEmptyTwiml, "text/xml"));
                    }
                    if (r.retryable) {
                      if (self) self->count("unavailable");
                      return (*shared)(unavailable("the store is busy; retry shortly"));
                    }
                    if (self) {
                      self->count("refused");
                      self->health.last_error = "message " + sid + " refused: " + r.error;
                      log::warning(kComponent, self->name, ": message ", sid, " refused: ", r.error);
                    }
                    (*shared)(Response::error(422, "refused", r.error));
                  });
    if (!queued) {
      count("unavailable");
      (*shared)(unavailable("the store queue is full; retry shortly"));
    }
  }

  // ---- status callbacks --------------------------------------------------------------------
  void handle_status(Request&& req, Respond respond) {
    auto params = authenticated_form(req, status_url, respond);
    if (!params) return;
    auto callback = read_status_callback(*params, req.query_param("m"), account_sid, now_ms());
    if (callback.outcome == StatusCallback::Outcome::invalid) {
      refuse("bad_request", "invalid status callback: " + callback.error, req);
      return respond(Response::error(400, "invalid_argument", callback.error));
    }
    if (callback.outcome == StatusCallback::Outcome::ignore) {
      count("ignored");
      log::debug(kComponent, name, ": status ", callback.twilio_status, " not reported");
      return respond(Response::text(204, ""));
    }
    if (!report_delivery) {
      count("unavailable");
      return respond(unavailable("this build records no delivery reports"));
    }
    auto shared = std::make_shared<Respond>(std::move(respond));
    auto weak = weak_from_this();
    DeliveryReport report = callback.report;
    bool queued = report_delivery(std::move(callback.report), [weak, shared, report](IngestResult r) {
      auto self = weak.lock();
      if (r.committed) {
        if (self) self->count("ok");
        return (*shared)(Response::text(204, ""));
      }
      if (r.retryable) {
        if (self) self->count("unavailable");
        return (*shared)(unavailable("the store is busy; retry shortly"));
      }
      // Unknown message (sent by another system on this account, or pruned): nothing to record,
      // and a retry by Twilio would not change that.
      if (self) {
        self->count("unknown");
        log::info(kComponent, self->name, ": status ", report.status, " for ", report.provider_id,
                  report.message_id.empty() ? "" : " (" + report.message_id + ")", " not recorded: ", r.error);
      }
      (*shared)(Response::text(204, ""));
    });
    if (!queued) {
      count("unavailable");
      (*shared)(unavailable("the store queue is full; retry shortly"));
    }
  }

  // ---- sending -----------------------------------------------------------------------------
  void finish_send(const OutboundMessage& message, SendResult result, const std::function<void(SendResult)>& done) {
    if (result.outcome == SendResult::Outcome::sent) {
      if (!result.provider_id.empty()) own_sids.add(result.provider_id);
      known_unsent.erase(message.id);
      count_send("sent");
      log::info(kComponent, name, ": message ", message.id, " accepted by Twilio as ", result.provider_id);
    } else if (result.outcome == SendResult::Outcome::failed) {
      count_send("failed");
      health.last_error = "message " + message.id + " failed: " + result.error;
      log::warning(kComponent, name, ": message ", message.id, " failed: ", result.error);
    } else {
      // Stays up: trouble reaching the API must not take the instance out of a load balancer
      // (/readyz) that brings the inbound webhooks; the outbox queue gauges show it.
      count_send("retry");
      health.last_error = "message " + message.id + ": " + result.error;
      log::warning(kComponent, name, ": message ", message.id, " will be retried: ", result.error);
    }
    done(std::move(result));
    if (--sends_in_flight == 0 && stopping) finish_stop();
  }

  void send(const OutboundMessage& message, std::function<void(SendResult)> done) {
    if (stopping) {
      SendResult r;
      r.error = "stopping";
      known_unsent.add(message.id);
      return asio::post(io, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
    }
    ++sends_in_flight;
    if (message.attempt > 1 && !known_unsent.contains(message.id)) {
      lookup_then_post(message, std::move(done));
    } else {
      post_message(message, std::move(done));
    }
  }

  // An earlier attempt may have reached Twilio: look for the message before sending it again.
  void lookup_then_post(const OutboundMessage& message, std::function<void(SendResult)> done) {
    auto weak = weak_from_this();
    bool started = client->request(build_lookup_request(message, send_options),
                                   [weak, message, done](net::HttpResponse response) {
                                     auto self = weak.lock();
                                     if (!self) return;
                                     auto found = find_sent_message(
                                         response, message, message.created_at_ms - kLookupSlackMs,
                                         [&self](const std::string& sid) { return self->own_sids.contains(sid); });
                                     if (found.outcome == LookupResult::Outcome::not_found) {
                                       if (self->stopping) {
                                         SendResult r;
                                         r.error = "stopping";
                                         self->known_unsent.add(message.id);
                                         return self->finish_send(message, std::move(r), done);
                                       }
                                       return self->post_message(message, done);
                                     }
                                     SendResult r;
                                     r.provider_code = response.status;
                                     if (found.outcome == LookupResult::Outcome::found) {
                                       r.outcome = SendResult::Outcome::sent;
                                       r.provider_id = found.sid;
                                       log::info(kComponent, self->name, ": message ", message.id,
                                                 " was accepted by an earlier attempt; not sent again");
                                     } else {
                                       r.error = found.error + " (an earlier attempt may have reached Twilio)";
                                     }
                                     self->finish_send(message, std::move(r), done);
                                   });
    if (!started) busy(message, std::move(done));
  }

  void post_message(const OutboundMessage& message, std::function<void(SendResult)> done) {
    auto weak = weak_from_this();
    bool started = client->request(build_send_request(message, send_options),
                                   [weak, message, done](net::HttpResponse response) {
                                     auto self = weak.lock();
                                     if (!self) return;
                                     SendResult r = map_send_response(response);
                                     // Only these are known not to have created a message.
                                     if (r.outcome == SendResult::Outcome::retry &&
                                         (response.connect_failed || response.status == 429)) {
                                       self->known_unsent.add(message.id);
                                     } else {
                                       self->known_unsent.erase(message.id);
                                     }
                                     self->finish_send(message, std::move(r), done);
                                   });
    if (!started) busy(message, std::move(done));
  }

  void busy(const OutboundMessage& message, std::function<void(SendResult)> done) {
    known_unsent.add(message.id);
    auto weak = weak_from_this();
    asio::post(io, [weak, message, done = std::move(done)] {
      SendResult r;
      r.error = "too many requests queued in this connector";
      if (auto self = weak.lock()) return self->finish_send(message, std::move(r), done);
      done(std::move(r));
    });
  }

  void finish_stop() {
    client->stop();
    health = Health{Health::State::stopped, {}};
    if (on_stopped) asio::post(io, std::exchange(on_stopped, nullptr));
  }
};

class TwilioSmsConnector : public Connector {
 public:
  explicit TwilioSmsConnector(std::shared_ptr<State> state) : state_(std::move(state)) {}

  void start() override {
    state_->stopping = false;
    state_->health = Health{Health::State::up, {}};
    log::info(kComponent, state_->name, ": accepting POST ", state_->inbound_path, " and ", state_->status_path,
              "; sending through ", state_->send_options.api_base_url);
  }

  void stop(std::function<void()> done) override {
    // Sends in flight finish first (each bounded by its timeouts): a request cut off after it
    // reached Twilio could not be recorded as sent, and would be sent again.
    state_->stopping = true;
    state_->on_stopped = std::move(done);
    if (state_->sends_in_flight == 0) state_->finish_stop();
  }

  Health health() const override { return state_->health; }

  void add_routes(http::Router& router) override {
    router.add("POST", state_->inbound_path, [state = state_](Request&& req, Respond respond) {
      state->handle_inbound(std::move(req), std::move(respond));
    });
    router.add("POST", state_->status_path, [state = state_](Request&& req, Respond respond) {
      state->handle_status(std::move(req), std::move(respond));
    });
  }

  std::string outbound_channel() const override { return "sms"; }

  std::string prepare(OutboundMessage& message) override {
    return prepare_message(message, state_->send_options, state_->normalizer, state_->region);
  }

  void send(const OutboundMessage& message, std::function<void(SendResult)> done) override {
    state_->send(message, std::move(done));
  }

 private:
  std::shared_ptr<State> state_;
};

std::unique_ptr<Connector> make(const config::ConnectorConfig& c, Context& context, std::string& error) {
  const auto* settings = dynamic_cast<const Settings*>(c.settings.get());
  if (!settings) {
    error = "invalid settings";
    return nullptr;
  }
  if (c.name == "." || c.name == "..") {
    error = "the name \"" + c.name + "\" cannot name a webhook path (/webhooks/<name>); choose another";
    return nullptr;
  }
  std::string url = settings->public_url;
  if (url.empty()) {
    std::string base = context.config ? context.config->server.public_url : std::string();
    if (base.empty()) {
      error = "the URL Twilio signs is unknown: set server.public_url (the daemon's public base URL, e.g. "
              "https://cc.example.com) or public_url in this connector's block";
      return nullptr;
    }
    while (!base.empty() && base.back() == '/') base.pop_back();
    url = base + "/webhooks/" + c.name;
  }
  std::string status = url + "/status";
  auto state = std::make_shared<State>(c, context, *settings, std::move(url), std::move(status));
  return std::make_unique<TwilioSmsConnector>(std::move(state));
}

}  // namespace

void register_twilio_sms() {
  config::register_connector_type("twilio_sms", validate);
  register_factory("twilio_sms", make);
}

}  // namespace omnitrail::connectors::twilio_sms
