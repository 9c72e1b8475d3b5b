// phone_webhook and twilio_voice: config blocks, factories and the HTTP handlers that join the
// pure pieces (signatures, forms, events) to the core's ingest. Every answer that tells the sender
// "stored" is sent only after `done` reports the commit; everything before that is either a
// refusal (403/400/422) or "try again" (503 + Retry-After).
#include "connectors/webhooks/webhook_connectors.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "connectors/webhooks/events.hpp"
#include "connectors/webhooks/forms.hpp"
#include "connectors/webhooks/public_url.hpp"
#include "connectors/webhooks/signatures.hpp"
#include "daemon/api/json_body.hpp"
#include "daemon/config/block_reader.hpp"
#include "daemon/config/connector_registry.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/util/log.hpp"

namespace omnitrail::connectors::webhooks {
namespace asio = boost::asio;
using config::Duration;
using http::Request;
using http::Respond;
using http::Response;
using nlohmann::json;

namespace {

constexpr std::string_view kPathPrefix = "/webhooks/";
constexpr std::size_t kMaxRetryAllowances = 10000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t now_unix() { return now_ms() / 1000; }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// ---- settings ---------------------------------------------------------------------------------

struct PhoneWebhookSettings : config::ConnectorSettings {
  std::string path;  // empty: /webhooks/<name>
  config::Secret secret;
  Duration replay_window = std::chrono::minutes(5);
};

struct TwilioVoiceSettings : config::ConnectorSettings {
  std::string path;  // empty: /webhooks/<name>
  config::Secret auth_token;
  std::string account_sid;
  std::string public_url;  // empty: server.public_url + path
  std::string say;
  std::string dial;
};

// A route path the router matches literally: /webhooks/ then segments of URL-safe characters.
std::string check_path(const std::string& path) {
  const std::string hint = " (e.g. /webhooks/pbx)";
  if (path.compare(0, kPathPrefix.size(), kPathPrefix) != 0 || path.size() == kPathPrefix.size()) {
    return "must start with /webhooks/ and name an endpoint under it" + hint;
  }
  if (path.size() > 200) return "must be at most 200 characters";
  if (path.back() == '/') return "must not end with '/'" + hint;
  for (char ch : path) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '/' ||
              ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '@';
    if (!ok) return "may contain only letters, digits, '/', '-', '_', '.', '~' and '@'" + hint;
  }
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    auto segment = std::string_view(path).substr(start, end - start);
    if (segment.empty()) return "must not contain empty segments ('//')";
    if (segment == "." || segment == "..") return "must not contain '.' or '..' segments";
    start = end + 1;
  }
  return {};
}

std::string read_path(config::BlockReader& block) {
  std::string path = block.string("path");
  if (!path.empty()) {
    if (auto problem = check_path(path); !problem.empty()) block.error("path", problem);
  }
  return path;
}

std::shared_ptr<const config::ConnectorSettings> validate_phone_webhook(config::BlockReader& block) {
  auto s = std::make_shared<PhoneWebhookSettings>();
  s->path = read_path(block);
  if (auto secret = block.secret("secret", true)) s->secret = *secret;
  s->replay_window = block.duration("replay_window", s->replay_window, std::chrono::seconds(10), std::chrono::hours(1));
  return s;
}

bool is_hex(std::string_view text) {
  for (char ch : text) {
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'))) return false;
  }
  return true;
}

std::string check_dial(const std::string& dial) {
  if (dial.rfind("client:", 0) == 0) return dial.size() > 7 ? "" : "client: needs a client name (client:reception)";
  if (dial.rfind("sip:", 0) == 0) return dial.size() > 4 ? "" : "sip: needs a URI (sip:reception@pbx.example.com)";
  bool digit = false;
  for (char ch : dial) {
    if (ch >= '0' && ch <= '9') {
      digit = true;
    } else if (ch != '+' && ch != ' ' && ch != '-' && ch != '(' && ch != ')') {
      return "must be client:NAME, sip:URI or a phone number";
    }
  }
  return digit ? "" : "must be client:NAME, sip:URI or a phone number";
}

std::shared_ptr<const config::ConnectorSettings> validate_twilio_voice(config::BlockReader& block) {
  auto s = std::make_shared<TwilioVoiceSettings>();
  s->path = read_path(block);
  if (auto token = block.secret("auth_token", true)) s->auth_token = *token;
  s->account_sid = block.string("account_sid");
  if (!s->account_sid.empty() &&
      (s->account_sid.size() != 34 || s->account_sid.rfind("AC", 0) != 0 || !is_hex(s->account_sid.substr(2)))) {
    block.error("account_sid", "must be AC followed by 32 hex digits (the Account SID in the Twilio console)");
  }
  s->public_url = block.string("public_url");
  if (s->public_url.empty()) {
    // Twilio signs the full public URL: without one, no request could ever be verified.
    const auto* so_far = block.context().config_so_far();
    if (so_far && so_far->server.public_url.empty()) {
      block.error("public_url", "the URL Twilio signs is unknown: set server.public_url (e.g. https://cc.example.com) "
                                "or public_url in this block");
    }
  }
  if (!s->public_url.empty()) {
    if (auto problem = check_public_url(s->public_url); !problem.empty()) block.error("public_url", problem);
  }
  if (auto twiml = block.map("twiml")) {
    s->say = twiml->string("say");
    s->dial = twiml->string("dial");
    if (!s->dial.empty()) {
      if (auto problem = check_dial(s->dial); !problem.empty()) twiml->error("dial", problem);
    }
  }
  return s;
}

std::string effective_path(const config::ConnectorConfig& c) {
  std::string path;
  if (const auto* p = dynamic_cast<const PhoneWebhookSettings*>(c.settings.get())) path = p->path;
  if (const auto* t = dynamic_cast<const TwilioVoiceSettings*>(c.settings.get())) path = t->path;
  return path.empty() ? std::string(kPathPrefix) + c.name : path;
}

// Another enabled webhook connector that claims the same path, or "".
std::string path_taken_by(const config::ConnectorConfig& c, const std::string& path, const Context& context) {
  if (!context.config) return {};
  for (const auto& other : context.config->connectors) {
    if (other.name == c.name || !other.enabled) continue;
    if (other.type != "phone_webhook" && other.type != "twilio_voice") continue;
    if (effective_path(other) == path) return other.name;
  }
  return {};
}

// ---- shared state ---------------------------------------------------------------------------------

struct Base {
  Base(const config::ConnectorConfig& c, Context& context, std::string route)
      : io(context.io), metrics(context.metrics), ingest(context.ingest), name(c.name), queue(c.queue),
        region(c.region), path(std::move(route)) {}

  asio::io_context& io;
  metrics::Registry& metrics;
  IngestFunction ingest;
  std::string name;
  std::string queue;
  std::string region;
  std::string path;
  Health health;
  bool stopped = false;
  std::map<std::string, metrics::Counter*> counters;

  void count(const std::string& result) {
    auto it = counters.find(result);
    if (it == counters.end()) {
      auto& counter = metrics.counter("omnitrail_webhook_requests_total",
                                      "Webhook requests received by a connector, by outcome.",
                                      {{"connector", name}, {"result", result}});
      it = counters.emplace(result, &counter).first;
    }
    it->second->inc();
  }

  // A refusal: counted, logged at warning (reason only, never the signature or a secret) and
  // kept as the connector's last_error.
  void refuse(const std::string& result, const std::string& reason, const Request& req) {
    count(result);
    health.last_error = reason;
    log::warning("webhook", name, ": refused a request from ", req.remote_address, ": ", reason);
  }

  MappingOptions mapping() const {
    MappingOptions options;
    options.queue = queue;
    options.region = region;
    options.received_at_ms = now_ms();
    return options;
  }

  static Response unavailable(std::string_view message) {
    auto r = Response::error(503, "unavailable", message);
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
};

// ---- phone_webhook ------------------------------------------------------------------------------

struct PhoneState : Base, std::enable_shared_from_this<PhoneState> {
  PhoneState(const config::ConnectorConfig& c, Context& context, std::string route, const PhoneWebhookSettings& s)
      : Base(c, context, std::move(route)),
        secret(s.secret.value),
        guard(std::chrono::duration_cast<std::chrono::seconds>(s.replay_window).count()) {}

  std::string secret;
  ReplayGuard guard;

  void handle(Request&& req, Respond respond) {
    if (stopped) {
      count("unavailable");
      return respond(unavailable("the connector is stopping; retry shortly"));
    }
    const std::string* header = req.header("x-omnitrail-signature");
    auto check = guard.verify(secret, header ? *header : std::string_view{}, req.body, now_unix());
    if (check != SignatureCheck::ok) {
      std::string reason(to_string(check));
      refuse(reason, "X-Omnitrail-Signature " + reason, req);
      return respond(Response::error(403, "forbidden", "X-Omnitrail-Signature " + reason));
    }
    std::string error;
    auto body = api::parse_object(req.body, error);
    if (!body) {
      refuse("bad_request", "invalid JSON body: " + error, req);
      return respond(Response::error(400, "invalid_json", error));
    }
    auto interaction = cti_event_to_interaction(*body, name, error, mapping());
    if (interaction) {
      if (auto problem = timeline::validate(*interaction); !problem.empty()) {
        interaction.reset();
        error = problem;
      }
    }
    if (!interaction) {
      refuse("bad_request", "invalid event: " + error, req);
      return respond(Response::error(400, "invalid_argument", error));
    }
    submit(std::move(*interaction), req.received_at, std::move(respond));
  }

  void submit(timeline::Interaction in, std::chrono::steady_clock::time_point received_at, Respond respond) {
    auto shared = std::make_shared<Respond>(std::move(respond));
    auto weak = weak_from_this();
    std::string external_id = in.external_id;
    bool queued = ingest && ingest(std::move(in), received_at, [weak, shared, external_id](IngestResult r) {
                    auto self = weak.lock();
                    if (r.committed) {
                      if (self) self->count(r.duplicate ? "duplicate" : "ok");
                      return (*shared)(Response::json(
                          200, dump(json{{"interaction_id", r.interaction_id}, {"duplicate", r.duplicate}})));
                    }
                    if (r.retryable) {
                      if (self) self->count("unavailable");
                      return (*shared)(unavailable("the store is busy; retry shortly"));
                    }
                    if (self) {
                      self->count("refused");
                      self->health.last_error = "interaction " + external_id + " refused: " + r.error;
                      log::warning("webhook", self->name, ": interaction ", external_id, " refused: ", r.error);
                    }
                    (*shared)(Response::error(422, "refused", r.error));
                  });
    if (!queued) {
      count("unavailable");
      (*shared)(unavailable("the store queue is full; retry shortly"));
    }
  }
};

// ---- twilio_voice -------------------------------------------------------------------------------

const char* kEmptyTwiml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n";

Response twiml(std::string body) { return Response::text(200, std::move(body), "text/xml"); }

struct TwilioState : Base, std::enable_shared_from_this<TwilioState> {
  TwilioState(const config::ConnectorConfig& c, Context& context, std::string route, const TwilioVoiceSettings& s,
              std::string url)
      : Base(c, context, std::move(route)),
        auth_token(s.auth_token.value),
        account_sid(s.account_sid),
        signed_url(std::move(url)),
        answer(twiml_answer(s.say, s.dial)) {}

  std::string auth_token;
  std::string account_sid;
  std::string signed_url;  // the URL Twilio calls, without the query
  std::string answer;      // TwiML for the incoming-call request
  SequenceGuard sequence;
  // Callbacks admitted by `sequence` whose ingest failed with "retry": Twilio's retry of the same
  // callback must not be ignored as a stale one. CallSid -> CallStatus values.
  std::map<std::string, std::set<std::string>> retry_allowed;

  void handle(Request&& req, Respond respond) {
    if (stopped) {
      count("unavailable");
      return respond(unavailable("the connector is stopping; retry shortly"));
    }
    const std::string* content_type = req.header("content-type");
    if (!content_type || content_type->rfind("application/x-www-form-urlencoded", 0) != 0) {
      refuse("bad_request", "not a form body (Content-Type application/x-www-form-urlencoded expected)", req);
      return respond(Response::error(415, "unsupported_media_type",
                                     "expected Content-Type: application/x-www-form-urlencoded"));
    }
    std::string error;
    auto params = parse_form(req.body, error);
    if (!params) {
      refuse("bad_request", "invalid form body: " + error, req);
      return respond(Response::error(400, "invalid_form", error));
    }
    const std::string* signature = req.header("x-twilio-signature");
    std::string url = signed_url;
    if (!req.query.empty()) url += "?" + req.query;
    if (!signature || !twilio_valid(auth_token, url, *params, *signature)) {
      refuse("forbidden", signature ? "X-Twilio-Signature mismatch" : "X-Twilio-Signature missing", req);
      return respond(Response::error(403, "forbidden", "invalid X-Twilio-Signature"));
    }
    if (!account_sid.empty()) {
      const std::string* account = form_value(*params, "AccountSid");
      if (!account || *account != account_sid) {
        refuse("forbidden", "AccountSid is not the connector's account_sid", req);
        return respond(Response::error(403, "forbidden", "AccountSid: not accepted by this connector"));
      }
    }
    auto options = mapping();
    options.account_sid = account_sid;
    auto interaction = twilio_voice_to_interaction(*params, name, error, options);
    if (interaction) {
      if (auto problem = timeline::validate(*interaction); !problem.empty()) {
        interaction.reset();
        error = problem;
      }
    }
    if (!interaction) {
      refuse("bad_request", "invalid callback: " + error, req);
      return respond(Response::error(400, "invalid_argument", error));
    }
    const std::string call_sid = *form_value(*params, "CallSid");        // required by the mapping
    const std::string call_status = *form_value(*params, "CallStatus");  // idem
    const auto sequence_number = twilio_sequence_number(*params);
    if (!sequence.admit(call_sid, sequence_number, twilio_status_terminal(call_status)) &&
        !take_retry_allowance(call_sid, call_status)) {
      count("ignored");
      log::debug("webhook", name, ": ignored an out-of-order callback ", call_sid, ":", call_status);
      return respond(twiml(kEmptyTwiml));
    }
    // The incoming-call request (Twilio's voice URL) carries no SequenceNumber; it is answered
    // with the configured TwiML. Status callbacks get an empty document.
    bool incoming = !sequence_number && call_status == "ringing";
    submit(std::move(*interaction), req.received_at, call_sid, call_status, incoming ? answer : kEmptyTwiml,
           std::move(respond));
  }

  bool take_retry_allowance(const std::string& call_sid, const std::string& call_status) {
    auto it = retry_allowed.find(call_sid);
    if (it == retry_allowed.end() || it->second.erase(call_status) == 0) return false;
    if (it->second.empty()) retry_allowed.erase(it);
    return true;
  }

  void allow_retry(const std::string& call_sid, const std::string& call_status) {
    if (retry_allowed.size() >= kMaxRetryAllowances && !retry_allowed.count(call_sid)) {
      retry_allowed.erase(retry_allowed.begin());
    }
    retry_allowed[call_sid].insert(call_status);
  }

  void submit(timeline::Interaction in, std::chrono::steady_clock::time_point received_at, const std::string& call_sid,
              const std::string& call_status, std::string body, Respond respond) {
    auto shared = std::make_shared<Respond>(std::move(respond));
    auto weak = weak_from_this();
    std::string external_id = in.external_id;
    bool queued = ingest && ingest(std::move(in), received_at,
                                   [weak, shared, external_id, call_sid, call_status, body](IngestResult r) {
                                     auto self = weak.lock();
                                     if (r.committed) {
                                       if (self) self->count(r.duplicate ? "duplicate" : "ok");
                                       return (*shared)(twiml(body));
                                     }
                                     if (r.retryable) {
                                       if (self) {
                                         self->count("unavailable");
                                         self->allow_retry(call_sid, call_status);
                                       }
                                       return (*shared)(unavailable("the store is busy; retry shortly"));
                                     }
                                     if (self) {
                                       self->count("refused");
                                       self->health.last_error = "interaction " + external_id + " refused: " + r.error;
                                       log::warning("webhook", self->name, ": interaction ", external_id,
                                                    " refused: ", r.error);
                                     }
                                     (*shared)(Response::error(422, "refused", r.error));
                                   });
    if (!queued) {
      count("unavailable");
      allow_retry(call_sid, call_status);
      (*shared)(unavailable("the store queue is full; retry shortly"));
    }
  }
};

// ---- the connector ---------------------------------------------------------------------------------

template <typename State>
class WebhookConnector : public Connector {
 public:
  explicit WebhookConnector(std::shared_ptr<State> state) : state_(std::move(state)) {}

  void start() override {
    state_->stopped = false;
    state_->health.state = Health::State::up;
    log::info("webhook", state_->name, ": accepting POST ", state_->path);
  }

  void stop(std::function<void()> done) override {
    // Passive: nothing to close. Requests already handed to the store still get their answer
    // (the callbacks hold the responder); new ones get 503 until the route is gone.
    state_->stopped = true;
    state_->health.state = Health::State::stopped;
    asio::post(state_->io, std::move(done));
  }

  Health health() const override { return state_->health; }

  void add_routes(http::Router& router) override {
    router.add("POST", state_->path, [state = state_](Request&& req, Respond respond) {
      state->handle(std::move(req), std::move(respond));
    });
  }

 private:
  std::shared_ptr<State> state_;
};

// The connector's webhook path; "" with `error` set when it is invalid or another connector has it.
std::string claim_path(const config::ConnectorConfig& c, Context& context, std::string& error) {
  std::string path = effective_path(c);
  if (auto problem = check_path(path); !problem.empty()) {
    error = "path " + path + ": " + problem;
    return {};
  }
  if (auto other = path_taken_by(c, path, context); !other.empty()) {
    error = "path " + path + " is also used by connector " + other + " (set a different path)";
    return {};
  }
  return path;
}

std::unique_ptr<Connector> make_phone_webhook(const config::ConnectorConfig& c, Context& context, std::string& error) {
  const auto* settings = dynamic_cast<const PhoneWebhookSettings*>(c.settings.get());
  if (!settings) {
    error = "invalid settings";
    return nullptr;
  }
  std::string path = claim_path(c, context, error);
  if (path.empty()) return nullptr;
  auto state = std::make_shared<PhoneState>(c, context, path, *settings);
  return std::make_unique<WebhookConnector<PhoneState>>(std::move(state));
}

std::unique_ptr<Connector> make_twilio_voice(const config::ConnectorConfig& c, Context& context, std::string& error) {
  const auto* settings = dynamic_cast<const TwilioVoiceSettings*>(c.settings.get());
  if (!settings) {
    error = "invalid settings";
    return nullptr;
  }
  std::string path = claim_path(c, context, error);
  if (path.empty()) return nullptr;
  std::string url = settings->public_url;
  if (url.empty()) {
    std::string base = context.config ? context.config->server.public_url : std::string();
    if (base.empty()) {
      error = "the URL Twilio signs is unknown: set server.public_url (the daemon's public base URL, e.g. "
              "https://cc.example.com) or public_url in this connector's block";
      return nullptr;
    }
    url = base + path;
  }
  auto state = std::make_shared<TwilioState>(c, context, path, *settings, std::move(url));
  return std::make_unique<WebhookConnector<TwilioState>>(std::move(state));
}

}  // namespace

void register_webhook_connectors() {
  config::register_connector_type("phone_webhook", validate_phone_webhook);
  register_factory("phone_webhook", make_phone_webhook);
  config::register_connector_type("twilio_voice", validate_twilio_voice);
  register_factory("twilio_voice", make_twilio_voice);
}

}  // namespace omnitrail::connectors::webhooks
