// REST handlers. Each one: authenticate, parse and bound the input, submit ONE store job, map
// the job's result to JSON or to {"error":{code,message}}. No SQL here: it lives in timeline/.
#include "daemon/api/rest_api.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "daemon/api/auth.hpp"
#include "daemon/api/json_body.hpp"
#include "daemon/identity/normalizer.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/store/store.hpp"
#include "daemon/timeline/customer_ops.hpp"
#include "daemon/timeline/customer_view.hpp"
#include "daemon/timeline/export.hpp"
#include "daemon/timeline/ingest.hpp"
#include "daemon/timeline/queries.hpp"
#include "daemon/timeline/retention.hpp"
#include "daemon/outbox/messages.hpp"
#include "daemon/outbox/webhook_outbox.hpp"
#include "daemon/util/hmac.hpp"
#include "daemon/screenpop/pop_book.hpp"
#include "daemon/util/log.hpp"

namespace omnitrail::api {

using nlohmann::json;
using http::Request;
using http::Respond;
using http::Response;

struct ApiState {
  std::shared_ptr<const config::Config> config;
  store::Store* store = nullptr;
  metrics::Registry* metrics = nullptr;
  TokenAuthority authority;
  std::unique_ptr<identity::Normalizer> normalizer;
  timeline::IngestSettings ingest;
  CommitListener on_committed;
  CallPlacer place_call;
  std::function<void()> on_outbox;  // webhook rows may have been committed (any thread)
  MessagePreparer prepare_message;
  std::function<void()> on_messages;  // message rows were committed (any thread)

  explicit ApiState(const config::Config& c) : authority(c) {}
};

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Response from_status(const store::Status& status) {
  using store::StatusCode;
  switch (status.code()) {
    case StatusCode::not_found: return Response::error(404, "not_found", status.message());
    case StatusCode::invalid_argument: return Response::error(400, "invalid_argument", status.message());
    case StatusCode::constraint: return Response::error(409, "conflict", status.message());
    case StatusCode::queue_full:
    case StatusCode::busy:
    case StatusCode::stopped: {
      auto r = Response::error(503, "unavailable", "the store is busy; retry shortly");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    default:
      log::error("api", "store error: ", status.to_string());
      return Response::error(500, "internal", "internal error");
  }
}

Response busy() {
  auto r = Response::error(503, "unavailable", "the store queue is full; retry shortly");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

// Runs `job` on the writer thread; once committed, answers with `to_response(result)`, or with
// `status` and the JSON when no mapping is given.
void write_json(const std::shared_ptr<ApiState>& state, Respond respond, int status,
                std::function<json(store::WriteContext&)> job,
                std::function<Response(const json&)> to_response = {}) {
  auto shared_respond = std::make_shared<Respond>(std::move(respond));
  bool queued = state->store->submit_write<json>(
      std::move(job), [state, shared_respond, status, to_response = std::move(to_response)](store::Result<json> r) {
        if (!r.ok()) return (*shared_respond)(from_status(r.status()));
        if (state->on_outbox && !state->config->webhooks.empty()) state->on_outbox();
        (*shared_respond)(to_response ? to_response(*r) : Response::json(status, dump(*r)));
      });
  if (!queued) (*shared_respond)(busy());
}

void read_json(const std::shared_ptr<ApiState>& state, Respond respond, std::function<json(store::ReadContext&)> job) {
  auto shared_respond = std::make_shared<Respond>(std::move(respond));
  bool queued = state->store->submit_read<json>(std::move(job), [shared_respond](store::Result<json> r) {
    if (!r.ok()) return (*shared_respond)(from_status(r.status()));
    (*shared_respond)(Response::json(200, dump(*r)));
  });
  if (!queued) (*shared_respond)(busy());
}

// Records webhook events inside the caller's write job (same transaction as the change).
void record_events(const ApiState& state, store::WriteContext& w, const std::vector<outbox::WebhookEvent>& events) {
  if (state.config->webhooks.empty()) return;
  outbox::record_webhook_events(w, state.config->webhooks, events, now_ms());
}

enum class Role { agent, admin };

// Wraps a handler with bearer-token authentication and a role check.
http::Handler guarded(std::shared_ptr<ApiState> state, Role role,
                      std::function<void(Request&&, Respond, const Principal&)> handler) {
  return [state, role, handler = std::move(handler)](Request&& request, Respond respond) {
    const std::string* header = request.header("authorization");
    auto principal = header ? state->authority.authenticate(*header) : std::nullopt;
    if (!principal) {
      auto r = Response::error(401, "unauthorized", "a valid bearer token is required");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"omnitrail\"");
      return respond(std::move(r));
    }
    if (role == Role::admin && !principal->is_admin()) {
      return respond(Response::error(403, "forbidden", "this operation needs an admin token"));
    }
    handler(std::move(request), std::move(respond), *principal);
  };
}

// Parses a JSON object body; answers 415/400 itself and returns nullopt on failure.
std::optional<json> json_body(const Request& request, Respond& respond) {
  const std::string* type = request.header("content-type");
  if (!type || type->rfind("application/json", 0) != 0) {
    respond(Response::error(415, "unsupported_media_type", "send the body as application/json"));
    return std::nullopt;
  }
  std::string error;
  auto body = parse_object(request.body, error);
  if (!body) respond(Response::error(400, "invalid_json", error));
  return body;
}

timeline::Actor actor_of(const Principal& p) { return timeline::Actor{p.id, p.role}; }

timeline::ViewOptions view_options(const ApiState& state) {
  timeline::ViewOptions options;
  options.recent_interactions = state.config->screen_pop.recent_interactions;
  options.crm_url_template = state.config->screen_pop.crm_url_template;
  options.repeat_contact_window = state.config->identity.repeat_contact_window;
  options.now_ms = now_ms();
  return options;
}

bool parse_int(const std::string& text, long long min, long long max, long long& out) {
  if (text.empty() || text.size() > 19) return false;
  long long v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    if (v > (max - (c - '0')) / 10) return false;  // beyond max: refused before it can overflow
    v = v * 10 + (c - '0');
  }
  if (v < min || v > max) return false;
  out = v;
  return true;
}

// Query parameter `limit` within [1, max]; answers 400 and returns false when invalid.
bool limit_param(const Request& request, Respond& respond, int fallback, int max, int& out) {
  auto text = request.query_param("limit");
  if (text.empty()) {
    out = fallback;
    return true;
  }
  long long v = 0;
  if (!parse_int(text, 1, max, v)) {
    respond(Response::error(400, "invalid_argument", "limit: must be an integer from 1 to " + std::to_string(max)));
    return false;
  }
  out = static_cast<int>(v);
  return true;
}

std::int64_t id_param(const Request& request, const char* name) {
  long long v = 0;
  if (!parse_int(request.params.at(name), 1, INT64_MAX / 2, v)) return 0;
  return v;
}

void not_found(Respond& respond, const std::string& what) { respond(Response::error(404, "not_found", what)); }

void add_customer_routes(http::Router& router, const std::shared_ptr<ApiState>& s) {
  router.add("GET", "/api/v1/customers/lookup", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal&) {
    auto value = req.query_param("value");
    if (value.empty() || value.size() > 512) {
      return respond(Response::error(400, "invalid_argument", "value: give the phone number, email or id to look up"));
    }
    std::optional<identity::IdentifierKind> kind;
    if (auto k = req.query_param("kind"); !k.empty()) {
      kind = identity::parse_identifier_kind(k);
      if (!kind) return respond(Response::error(400, "invalid_argument", "kind: must be one of external, chat_user, email, phone, visitor"));
    }
    auto region = req.query_param("region");
    auto options = view_options(*s);
    read_json(s, std::move(respond), [s, value, kind, region, options](store::ReadContext& r) {
      json found = timeline::lookup(r.db(), *s->normalizer, value, kind, region);
      json view = timeline::customer_view(r.db(), found.at("customer_id").get<std::string>(), options);
      view["matched"] = found.value("matched", json::object());
      return view;
    });
  }));

  router.add("GET", "/api/v1/customers", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal&) {
    int limit = 0;
    if (!limit_param(req, respond, 20, 100, limit)) return;
    auto q = req.query_param("q");
    if (q.size() > 256) return respond(Response::error(400, "invalid_argument", "q: at most 256 bytes"));
    auto cursor = req.query_param("cursor");
    read_json(s, std::move(respond), [q, limit, cursor](store::ReadContext& r) {
      return timeline::search(r.db(), q, limit, cursor);
    });
  }));

  router.add("GET", "/api/v1/customers/{id}", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal&) {
    auto id = req.params.at("id");
    auto options = view_options(*s);
    read_json(s, std::move(respond), [id, options](store::ReadContext& r) {
      return timeline::customer_view(r.db(), id, options);
    });
  }));

  router.add("PATCH", "/api/v1/customers/{id}", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal& who) {
    auto body = json_body(req, respond);
    if (!body) return;
    std::optional<std::string> display_name;
    json attributes = json::object();
    for (auto it = body->begin(); it != body->end(); ++it) {
      if (it.key() == "display_name") {
        if (!it->is_string() || it->get_ref<const std::string&>().size() > 256) {
          return respond(Response::error(400, "invalid_argument", "display_name: must be a string of at most 256 bytes"));
        }
        display_name = it->get<std::string>();
      } else if (it.key() == "attributes") {
        if (!it->is_object()) return respond(Response::error(400, "invalid_argument", "attributes: must be an object"));
        attributes = *it;
      } else {
        return respond(Response::error(400, "invalid_argument", "unknown field \"" + it.key().substr(0, 64) + "\""));
      }
    }
    auto id = req.params.at("id");
    auto actor = actor_of(who);
    auto options = view_options(*s);
    write_json(s, std::move(respond), 200, [id, attributes, display_name, actor, options](store::WriteContext& w) {
      timeline::set_attributes(w, id, attributes, display_name, actor, options.now_ms);
      return timeline::customer_view(w.db(), id, options);
    });
  }));

  router.add("DELETE", "/api/v1/customers/{id}", guarded(s, Role::admin, [s](Request&& req, Respond respond, const Principal& who) {
    auto id = req.params.at("id");
    auto actor = actor_of(who);
    write_json(s, std::move(respond), 200, [s, id, actor](store::WriteContext& w) {
      // Read before erasing: a merged id erases its survivor's whole group, and every member's
      // id must be announced (receivers may know any of them).
      auto events = s->config->webhooks.empty() ? std::vector<outbox::WebhookEvent>{}
                                                : outbox::erased_events(w.db(), id, now_ms());
      timeline::erase_customer(w, id, actor, now_ms());
      record_events(*s, w, events);
      return json{{"erased", id}};
    });
  }));

  router.add("GET", "/api/v1/customers/{id}/timeline", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal&) {
    timeline::TimelineFilter filter;
    int limit = 0;
    if (!limit_param(req, respond, 50, 200, limit)) return;
    filter.limit = limit;
    filter.cursor = req.query_param("cursor");
    if (auto channels = req.query_param("channel"); !channels.empty()) {
      std::size_t start = 0;
      while (start <= channels.size()) {
        auto comma = channels.find(',', start);
        if (comma == std::string::npos) comma = channels.size();
        auto one = channels.substr(start, comma - start);
        const auto& known = timeline::channels();
        if (std::find(known.begin(), known.end(), one) == known.end()) {
          return respond(Response::error(400, "invalid_argument", "channel: \"" + one.substr(0, 32) +
                                                                      "\" is not one of phone, email, sms, chat, api, note"));
        }
        filter.channels.push_back(one);
        start = comma + 1;
      }
    }
    for (const char* name : {"since", "until"}) {
      auto text = req.query_param(name);
      if (text.empty()) continue;
      auto ms = parse_time_text(text);
      long long raw = 0;
      if (!ms && parse_int(text, 1, INT64_MAX / 2, raw)) ms = raw;
      if (!ms) return respond(Response::error(400, "invalid_argument", std::string(name) + ": must be an RFC 3339 time or milliseconds"));
      if (std::string(name) == "since") filter.since_ms = *ms;
      else filter.until_ms = *ms;
    }
    auto id = req.params.at("id");
    read_json(s, std::move(respond), [id, filter](store::ReadContext& r) { return timeline::timeline(r.db(), id, filter); });
  }));

  router.add("GET", "/api/v1/customers/{id}/export", guarded(s, Role::admin, [s](Request&& req, Respond respond, const Principal&) {
    auto id = req.params.at("id");
    read_json(s, std::move(respond), [id](store::ReadContext& r) { return timeline::export_customer(r.db(), id); });
  }));

  router.add("POST", "/api/v1/customers/{id}/identifiers", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal& who) {
    auto body = json_body(req, respond);
    if (!body) return;
    if (!body->contains("kind") || !(*body)["kind"].is_string() || !body->contains("value") || !(*body)["value"].is_string()) {
      return respond(Response::error(400, "invalid_argument", "kind and value: required strings"));
    }
    auto kind = identity::parse_identifier_kind((*body)["kind"].get<std::string>());
    if (!kind) return respond(Response::error(400, "invalid_argument", "kind: must be one of external, chat_user, email, phone, visitor"));
    auto trust = identity::parse_trust(body->value("trust", std::string("claimed")));
    if (!trust) return respond(Response::error(400, "invalid_argument", "trust: must be claimed or verified"));
    if (*trust == identity::Trust::verified && !who.is_admin()) {
      return respond(Response::error(403, "forbidden", "only admin tokens may add verified identifiers"));
    }
    timeline::IdentifierClaim claim{*kind, (*body)["value"].get<std::string>(), *trust};
    if (claim.raw.size() > 512) return respond(Response::error(400, "invalid_argument", "value: at most 512 bytes"));
    auto id = req.params.at("id");
    auto actor = actor_of(who);
    write_json(
        s, std::move(respond), 201,
        [s, id, claim, actor](store::WriteContext& w) {
          auto added = timeline::add_identifier(w, s->ingest, id, claim, actor, now_ms());
          json out{{"customer_id", id}, {"identity_id", added.identity_id}, {"kind", added.kind},
                   {"key", added.key}, {"created", added.created}};
          // A conflict is committed (its merge suggestion must persist) and answered 409.
          if (added.conflict) out["conflict"] = added.conflict->message();
          if (added.suggestion_id) out["suggestion_id"] = *added.suggestion_id;
          return out;
        },
        [](const json& out) {
          if (out.contains("conflict")) {
            auto r = Response::error(409, "conflict", out["conflict"].get<std::string>());
            auto body = json::parse(r.body);
            if (out.contains("suggestion_id")) body["error"]["suggestion_id"] = out["suggestion_id"];
            r.body = dump(body);
            return r;
          }
          return Response::json(out["created"].get<bool>() ? 201 : 200, dump(out));
        });
  }));

  router.add("DELETE", "/api/v1/customers/{id}/identifiers/{identity_id}",
             guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal& who) {
               auto identity_id = id_param(req, "identity_id");
               if (identity_id == 0) return not_found(respond, "no such identifier");
               auto id = req.params.at("id");
               auto actor = actor_of(who);
               write_json(s, std::move(respond), 200, [id, identity_id, actor](store::WriteContext& w) {
                 timeline::remove_identifier(w, id, identity_id, actor);
                 return json{{"customer_id", id}, {"removed_identity_id", identity_id}};
               });
             }));

  router.add("POST", "/api/v1/customers/{id}/merge", guarded(s, Role::admin, [s](Request&& req, Respond respond, const Principal& who) {
    auto body = json_body(req, respond);
    if (!body) return;
    if (!body->contains("merge_id") || !(*body)["merge_id"].is_string()) {
      return respond(Response::error(400, "invalid_argument", "merge_id: the id of the customer to merge into this one"));
    }
    auto survivor = req.params.at("id");
    auto merged = (*body)["merge_id"].get<std::string>();
    auto actor = actor_of(who);
    auto options = view_options(*s);
    write_json(s, std::move(respond), 200, [s, survivor, merged, actor, options](store::WriteContext& w) {
      auto merge_id = timeline::merge_customers(w, survivor, merged, actor, options.now_ms);
      if (!s->config->webhooks.empty()) {
        auto [survivor_id, merged_id] = outbox::merge_party_ids(w.db(), merge_id);
        record_events(*s, w, {outbox::merged_event(merge_id, survivor_id, merged_id, actor.id, options.now_ms)});
      }
      return json{{"merge", merge_id}, {"customer", timeline::customer_view(w.db(), survivor, options)}};
    });
  }));

  router.add("POST", "/api/v1/merges/{merge_id}/revert", guarded(s, Role::admin, [s](Request&& req, Respond respond, const Principal& who) {
    auto merge_id = id_param(req, "merge_id");
    if (merge_id == 0) return not_found(respond, "no such merge");
    auto actor = actor_of(who);
    write_json(s, std::move(respond), 200, [s, merge_id, actor](store::WriteContext& w) {
      timeline::unmerge(w, merge_id, actor, now_ms());
      if (!s->config->webhooks.empty()) {
        auto [survivor_id, restored_id] = outbox::merge_party_ids(w.db(), merge_id);
        record_events(*s, w, {outbox::unmerged_event(merge_id, survivor_id, restored_id, actor.id, now_ms())});
      }
      return json{{"reverted", merge_id}};
    });
  }));
}

void add_suggestion_routes(http::Router& router, const std::shared_ptr<ApiState>& s) {
  router.add("GET", "/api/v1/suggestions", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal&) {
    auto status = req.query_param("status", "pending");
    if (status != "pending" && status != "accepted" && status != "rejected") {
      return respond(Response::error(400, "invalid_argument", "status: must be pending, accepted or rejected"));
    }
    int limit = 0;
    if (!limit_param(req, respond, 50, 200, limit)) return;
    auto cursor = req.query_param("cursor");
    read_json(s, std::move(respond), [status, limit, cursor](store::ReadContext& r) {
      return timeline::list_suggestions(r.db(), status, limit, cursor);
    });
  }));
  for (bool accept : {true, false}) {
    router.add("POST", accept ? "/api/v1/suggestions/{id}/accept" : "/api/v1/suggestions/{id}/reject",
               guarded(s, Role::agent, [s, accept](Request&& req, Respond respond, const Principal& who) {
                 auto id = id_param(req, "id");
                 if (id == 0) return not_found(respond, "no such suggestion");
                 auto actor = actor_of(who);
                 write_json(s, std::move(respond), 200, [s, id, accept, actor](store::WriteContext& w) {
                   auto result = timeline::decide_suggestion(w, id, accept, actor, now_ms());
                   if (result && !s->config->webhooks.empty()) {
                     auto [survivor_id, merged_id] = outbox::merge_party_ids(w.db(), *result);
                     record_events(*s, w, {outbox::merged_event(*result, survivor_id, merged_id, actor.id, now_ms())});
                   }
                   json out{{"suggestion", id}, {"status", accept ? "accepted" : "rejected"}};
                   if (result) out["merge"] = *result;
                   return out;
                 });
               }));
  }
}

void add_webhook_routes(http::Router& router, const std::shared_ptr<ApiState>& s) {
  router.add("GET", "/api/v1/webhooks/deliveries", guarded(s, Role::admin, [s](Request&& req, Respond respond, const Principal&) {
    auto status = req.query_param("status");
    if (!status.empty() && status != "pending" && status != "sent" && status != "failed" && status != "cancelled") {
      return respond(Response::error(400, "invalid_argument", "status: must be pending, sent, failed or cancelled"));
    }
    auto webhook = req.query_param("webhook");
    if (webhook.size() > 64) return respond(Response::error(400, "invalid_argument", "webhook: at most 64 bytes"));
    int limit = 0;
    if (!limit_param(req, respond, 50, 200, limit)) return;
    long long cursor = 0;
    if (auto text = req.query_param("cursor"); !text.empty() && !parse_int(text, 1, INT64_MAX, cursor)) {
      return respond(Response::error(400, "invalid_argument", "cursor: must be a next_cursor value"));
    }
    read_json(s, std::move(respond), [status, webhook, limit, cursor](store::ReadContext& r) {
      return outbox::list_webhook_deliveries(r.db(), status, webhook, limit, cursor);
    });
  }));
  router.add("POST", "/api/v1/webhooks/deliveries/{id}/retry",
             guarded(s, Role::admin, [s](Request&& req, Respond respond, const Principal&) {
               auto id = id_param(req, "id");
               if (id == 0) return not_found(respond, "no such webhook delivery");
               write_json(s, std::move(respond), 200, [id](store::WriteContext& w) {
                 outbox::retry_webhook_delivery(w, id, now_ms());
                 return json{{"retried", id}, {"status", "pending"}};
               });
             }));
}

// ---- outbound messages (docs/messages.md) ----------------------------------------------------

constexpr std::size_t kMaxMessageText = 64 * 1024;

std::string new_message_id() {
  static thread_local std::mt19937_64 random{(static_cast<std::uint64_t>(std::random_device{}()) << 32) ^
                                             std::random_device{}()};
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "m_%016llx", static_cast<unsigned long long>(random()));
  return buffer;
}

// An optional string field of at most `max` bytes; false (and a 400) when it is something else.
bool optional_string(const json& body, const char* name, std::size_t max, std::string& out, Respond& respond) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_string() || it->get_ref<const std::string&>().size() > max) {
    respond(Response::error(400, "invalid_argument",
                            std::string(name) + ": a string of at most " + std::to_string(max) + " bytes"));
    return false;
  }
  out = it->get<std::string>();
  return true;
}

// Commits the outbound interaction and its outbox row (one transaction), then answers.
void queue_prepared_message(const std::shared_ptr<ApiState>& s, connectors::OutboundMessage m,
                            std::string idempotency_key, std::chrono::steady_clock::time_point received_at,
                            std::shared_ptr<Respond> respond) {
  timeline::Interaction in;
  in.channel = m.channel;
  in.direction = "outbound";
  in.kind = m.kind.empty() ? m.channel + ".sent" : m.kind;
  in.occurred_at_ms = m.created_at_ms;
  in.source = m.connector;
  in.external_id = m.external_id.empty() ? m.id : m.external_id;
  m.external_id = in.external_id;
  in.conversation_key = m.conversation_key;
  in.from = m.from;
  in.to = m.to;
  in.agent = m.agent;
  in.subject = m.subject;
  in.text = m.text;
  in.customer_id = m.customer_id;
  json metadata = m.metadata.is_object() ? m.metadata : json::object();
  metadata["delivery"] = json{{"status", "queued"}, {"message_id", m.id}, {"attempts", 0}};
  in.metadata_json = dump(metadata);
  if (auto problem = timeline::validate(in); !problem.empty()) {
    log::warning("api", "connector ", m.connector, " prepared an invalid message: ", problem);
    return (*respond)(Response::error(500, "internal", "the connector prepared an invalid message"));
  }
  auto queued = std::make_shared<json>();
  bool submitted = ingest_async(
      s, std::move(in), received_at,
      [s, respond, queued](store::Result<timeline::IngestOutcome> r) {
        if (!r.ok()) return (*respond)(from_status(r.status()));
        if (s->on_messages) s->on_messages();
        const bool duplicate = queued->value("duplicate", false);
        (*respond)(Response::json(duplicate ? 200 : 202, dump(*queued)));
      },
      [m, key = std::move(idempotency_key), queued](store::WriteContext& w) {
        *queued = outbox::queue_message(w, m, key, now_ms());
      });
  if (!submitted) (*respond)(busy());
}

void add_message_routes(http::Router& router, const std::shared_ptr<ApiState>& s) {
  router.add("POST", "/api/v1/messages", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal& who) {
    auto body = json_body(req, respond);
    if (!body) return;
    connectors::OutboundMessage m;
    std::string connector, parent;
    if (!optional_string(*body, "customer_id", 64, m.customer_id, respond) ||
        !optional_string(*body, "channel", 16, m.channel, respond) ||
        !optional_string(*body, "text", kMaxMessageText, m.text, respond) ||
        !optional_string(*body, "subject", 998, m.subject, respond) ||
        !optional_string(*body, "to", 320, m.to, respond) ||
        !optional_string(*body, "connector", 128, connector, respond) ||
        !optional_string(*body, "in_reply_to", 64, parent, respond)) {
      return;
    }
    if (m.customer_id.empty()) return respond(Response::error(400, "invalid_argument", "customer_id: required"));
    if (m.channel != "email" && m.channel != "sms" && m.channel != "chat") {
      return respond(Response::error(400, "invalid_argument", "channel: one of email, sms, chat"));
    }
    if (m.text.find_first_not_of(" \t\r\n") == std::string::npos) {
      return respond(Response::error(400, "invalid_argument", "text: required (not only blanks)"));
    }
    std::string key;
    if (const std::string* header = req.header("idempotency-key")) {
      if (header->empty() || header->size() > 200 ||
          std::any_of(header->begin(), header->end(), [](unsigned char c) { return c < 0x21 || c > 0x7e; })) {
        return respond(Response::error(400, "invalid_argument", "Idempotency-Key: 1 to 200 visible ASCII characters"));
      }
      // The same key from the same principal names the same message: a retried request is answered
      // with the message it queued the first time.
      m.id = "m_" + util::hmac_sha256_hex("omnitrail-message-id", who.id + "\n" + *header).substr(0, 16);
      key = "message-key:" + who.id + ":" + *header;
    } else {
      m.id = new_message_id();
      key = "message:" + m.id;
    }
    m.agent = who.id;
    m.created_at_ms = now_ms();
    if (!s->prepare_message) {
      return respond(Response::error(503, "unavailable", "no connector can send messages"));
    }
    auto shared_respond = std::make_shared<Respond>(std::move(respond));
    const auto received_at = req.received_at;
    const auto customer = m.customer_id;
    bool queued = s->store->submit_read<json>(
        [customer, parent](store::ReadContext& r) { return outbox::message_context(r.db(), customer, parent); },
        [s, m = std::move(m), connector, key, received_at, shared_respond](store::Result<json> r) mutable {
          if (!r.ok()) return (*shared_respond)(from_status(r.status()));
          const json& context = *r;
          m.customer_id = context["customer_id"].get<std::string>();
          m.parent = context["parent"];
          if (m.to.empty()) {
            if (m.parent.is_object() && m.parent.value("direction", "") == "inbound" &&
                m.parent.value("channel", "") == m.channel && m.parent["from"]["key"].is_string()) {
              m.to = m.parent["from"]["key"].get<std::string>();
            } else {
              const char* kind = m.channel == "email" ? "email" : "phone";
              if (context["default_to"].contains(kind)) m.to = context["default_to"][kind].get<std::string>();
            }
          }
          if (m.to.empty() && m.channel != "chat") {
            return (*shared_respond)(Response::error(
                400, "invalid_argument", "to: required (the customer has no " +
                                             std::string(m.channel == "email" ? "email address" : "phone number") + ")"));
          }
          s->prepare_message(std::move(m), connector,
                             [s, key, received_at, shared_respond](int status, std::string error,
                                                                     connectors::OutboundMessage prepared) {
                               if (status != 0) {
                                 const char* code = status == 404 ? "not_found" : status == 503 ? "unavailable" : "invalid_argument";
                                 return (*shared_respond)(Response::error(status, code, error));
                               }
                               queue_prepared_message(s, std::move(prepared), key, received_at, shared_respond);
                             });
        });
    if (!queued) (*shared_respond)(busy());
  }));

  router.add("GET", "/api/v1/messages/{id}", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal&) {
    auto id = req.params.at("id");
    read_json(s, std::move(respond), [id](store::ReadContext& r) { return outbox::get_message(r.db(), id); });
  }));

  router.add("GET", "/api/v1/messages", guarded(s, Role::admin, [s](Request&& req, Respond respond, const Principal&) {
    auto status = req.query_param("status");
    if (!status.empty() && status != "queued" && status != "sending" && status != "sent" && status != "delivered" &&
        status != "failed") {
      return respond(Response::error(400, "invalid_argument", "status: one of queued, sending, sent, delivered, failed"));
    }
    int limit = 0;
    if (!limit_param(req, respond, 50, 200, limit)) return;
    long long cursor = 0;
    auto cursor_text = req.query_param("cursor");
    if (!cursor_text.empty() && !parse_int(cursor_text, 1, INT64_MAX / 2, cursor)) {
      return respond(Response::error(400, "invalid_argument", "cursor: a next_cursor of a previous page"));
    }
    auto connector = req.query_param("connector");
    read_json(s, std::move(respond), [status, connector, limit, cursor](store::ReadContext& r) {
      return outbox::list_messages(r.db(), status, connector, limit, cursor);
    });
  }));

  router.add("POST", "/api/v1/messages/{id}/retry", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal&) {
    auto id = req.params.at("id");
    auto shared_respond = std::make_shared<Respond>(std::move(respond));
    bool queued = s->store->submit_write<json>(
        [id](store::WriteContext& w) { return outbox::retry_message(w, id, now_ms()); },
        [s, shared_respond](store::Result<json> r) {
          if (!r.ok()) return (*shared_respond)(from_status(r.status()));
          if (s->on_messages) s->on_messages();
          (*shared_respond)(Response::json(202, dump(*r)));
        });
    if (!queued) (*shared_respond)(busy());
  }));
}

void add_interaction_routes(http::Router& router, const std::shared_ptr<ApiState>& s) {
  router.add("POST", "/api/v1/interactions", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal& who) {
    auto body = json_body(req, respond);
    if (!body) return;
    std::string error;
    auto interaction = interaction_from_json(*body, error);
    if (!interaction) return respond(Response::error(400, "invalid_argument", error));
    interaction->source = "api";
    if (!who.is_admin()) {
      for (const auto& claim : interaction->customer_identifiers) {
        if (claim.trust == identity::Trust::verified) {
          return respond(Response::error(403, "forbidden", "only admin tokens may assert verified identifiers"));
        }
      }
    }
    if (interaction->channel == "note") {
      if (interaction->customer_id.empty()) {
        return respond(Response::error(400, "invalid_argument", "customer_id: required for a note"));
      }
      if (interaction->agent.empty()) interaction->agent = who.id;
    }
    if (auto problem = timeline::validate(*interaction); !problem.empty()) {
      return respond(Response::error(400, "invalid_argument", problem));
    }
    auto shared_respond = std::make_shared<Respond>(std::move(respond));
    bool queued = ingest_async(
        s, std::move(*interaction), req.received_at, [shared_respond](store::Result<timeline::IngestOutcome> r) {
          if (!r.ok()) return (*shared_respond)(from_status(r.status()));
          const auto& o = *r;
          json out{{"interaction_id", o.interaction_id},
                   {"customer_id", o.customer_id.empty() ? json(nullptr) : json(o.customer_id)},
                   {"conversation_id", o.conversation_id.empty() ? json(nullptr) : json(o.conversation_id)},
                   {"duplicate", o.duplicate},
                   {"customer_created", o.customer_created},
                   {"merged_customer_ids", o.merged_customer_ids},
                   {"suggestion_ids", o.suggestion_ids},
                   {"shared_candidate_customer_ids", o.shared_candidate_customer_ids},
                   {"internal", o.internal},
                   {"text_truncated", o.text_truncated}};
          (*shared_respond)(Response::json(o.duplicate ? 200 : 201, dump(out)));
        });
    if (!queued) (*shared_respond)(busy());
  }));

  router.add("POST", "/api/v1/calls", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal& who) {
    auto body = json_body(req, respond);
    if (!body) return;
    const config::AgentConfig* agent = nullptr;
    for (const auto& a : s->config->agents) {
      if (a.id == who.id) agent = &a;
    }
    if (!agent || agent->extensions.empty()) {
      return respond(Response::error(403, "forbidden", "click-to-call needs an agent token of an agent with an extension"));
    }
    auto number = body->value("number", json());
    if (!number.is_string() || number.get_ref<const std::string&>().empty() ||
        number.get_ref<const std::string&>().size() > 64) {
      return respond(Response::error(400, "invalid_argument", "number: the customer's phone number (a string)"));
    }
    auto connector = body->value("connector", json(""));
    if (!connector.is_string()) return respond(Response::error(400, "invalid_argument", "connector: a connector name"));
    auto normalized = s->normalizer->phone(number.get<std::string>(), body->value("region", std::string()));
    if (!normalized.ok()) {
      return respond(Response::error(400, "invalid_argument", "number: " + normalized.text()));
    }
    const auto& key = normalized.identifier().key;
    if (key.find(";ext=") != std::string::npos) {
      return respond(Response::error(400, "invalid_argument", "number: extensions cannot be dialled"));
    }
    static std::atomic<std::uint64_t> counter{0};
    const auto request_id = "call-" + std::to_string(now_ms()) + "-" + std::to_string(++counter);
    if (!s->place_call ||
        !s->place_call(connector.get<std::string>(), request_id, agent->id, agent->extensions.front(), key)) {
      auto r = Response::error(503, "unavailable", "no phone connector can place calls right now");
      r.headers.emplace_back("Retry-After", "5");
      return respond(std::move(r));
    }
    respond(Response::json(202, dump(json{{"request_id", request_id}, {"number", key}, {"extension", agent->extensions.front()}})));
  }));

  router.add("GET", "/api/v1/interactions/{id}", guarded(s, Role::agent, [s](Request&& req, Respond respond, const Principal&) {
    auto id = req.params.at("id");
    read_json(s, std::move(respond), [id](store::ReadContext& r) { return timeline::get_interaction(r.db(), id); });
  }));

  router.add("POST", "/api/v1/admin/retention", guarded(s, Role::admin, [s](Request&&, Respond respond, const Principal&) {
    auto shared_respond = std::make_shared<Respond>(std::move(respond));
    run_retention(s, [shared_respond](long long deleted) {
      if (deleted < 0) return (*shared_respond)(Response::error(503, "unavailable", "retention could not run; see the log"));
      (*shared_respond)(Response::json(200, dump(json{{"deleted_interactions", deleted}})));
    });
  }));
}

}  // namespace

std::shared_ptr<ApiState> make_api_state(std::shared_ptr<const config::Config> config, store::Store& store,
                                         metrics::Registry& metrics) {
  auto state = std::make_shared<ApiState>(*config);
  state->config = config;
  state->store = &store;
  state->metrics = &metrics;
  identity::NormalizeOptions options;
  options.default_region = config->identity.default_region;
  options.blocked_values = config->identity.blocked_values;
  options.own_numbers = config->identity.own_numbers;
  options.own_addresses = config->identity.own_addresses;
  for (const auto& agent : config->agents) {
    options.internal_extensions.insert(options.internal_extensions.end(), agent.extensions.begin(), agent.extensions.end());
  }
  state->normalizer = std::make_unique<identity::Normalizer>(options);
  state->ingest.normalizer = state->normalizer.get();
  state->ingest.limits.max_emails = config->identity.max_emails;
  state->ingest.limits.max_phones = config->identity.max_phones;
  state->ingest.shared_threshold = config->identity.shared_threshold;
  state->ingest.shared_values = config->identity.shared_values;
  state->ingest.max_text_bytes = config->storage.max_text_bytes;
  return state;
}

void set_commit_listener(ApiState& state, CommitListener listener) { state.on_committed = std::move(listener); }

void set_call_placer(ApiState& state, CallPlacer placer) { state.place_call = std::move(placer); }

void set_outbox_listener(ApiState& state, std::function<void()> listener) { state.on_outbox = std::move(listener); }

void set_message_preparer(ApiState& state, MessagePreparer preparer) { state.prepare_message = std::move(preparer); }

void set_message_listener(ApiState& state, std::function<void()> listener) { state.on_messages = std::move(listener); }

bool record_pop_delivered(const std::shared_ptr<ApiState>& s, const std::string& agent_id, const json& pop) {
  if (s->config->webhooks.empty()) return true;
  auto event = outbox::pop_delivered_event(agent_id, pop, now_ms());
  bool wanted = false;
  for (const auto& w : s->config->webhooks) wanted = wanted || outbox::wants(w, event);
  if (!wanted) return true;
  return s->store->submit_write(
      [s, event](store::WriteContext& w) { record_events(*s, w, {event}); },
      [s](store::Status status) {
        if (status.ok() && s->on_outbox) s->on_outbox();
      });
}

bool ingest_async(const std::shared_ptr<ApiState>& s, timeline::Interaction interaction,
                  std::chrono::steady_clock::time_point received_at,
                  std::function<void(store::Result<timeline::IngestOutcome>)> done,
                  std::function<void(store::WriteContext&)> in_transaction) {
  auto in = std::make_shared<const timeline::Interaction>(std::move(interaction));
  auto& ingested = s->metrics->counter("omnitrail_interactions_ingested_total", "Interactions stored, by source.",
                                       {{"source", in->source}});
  auto& duplicates = s->metrics->counter("omnitrail_interactions_duplicate_total",
                                         "Interactions received again (same source and external_id), by source.",
                                         {{"source", in->source}});
  auto view = std::make_shared<std::shared_ptr<json>>();  // writer thread only
  return s->store->submit_write<timeline::IngestOutcome>(
      [s, in, view, in_transaction = std::move(in_transaction)](store::WriteContext& w) {
        const auto now = now_ms();
        auto outcome = timeline::ingest(w, s->ingest, *in, now);
        if (in_transaction) in_transaction(w);
        if (!outcome.duplicate) record_events(*s, w, outbox::events_for_ingest(*in, outcome, now));
        // A new ringing pop is latency-critical: read its customer view here, in the same
        // transaction (it sees exactly what is being committed), instead of after the commit on
        // a reader thread (two thread hand-offs more). A view that cannot be read here is read
        // the usual way; it never fails the ingest.
        if (s->on_committed && !outcome.duplicate && !outcome.customer_id.empty() && !in->ends_conversation &&
            screenpop::classify(in->channel, in->kind) == screenpop::TriggerKind::ring) {
          try {
            *view = std::make_shared<json>(timeline::customer_view(w.db(), outcome.customer_id, view_options(*s)));
          } catch (const std::exception& e) {
            log::debug("screenpop", "view for ", outcome.customer_id, " deferred to a reader: ", e.what());
          }
        }
        return outcome;
      },
      [s, in, view, received_at, done = std::move(done), &ingested, &duplicates](store::Result<timeline::IngestOutcome> r) {
        if (r.ok()) {
          (r->duplicate ? duplicates : ingested).inc();
          if (!r->duplicate && s->on_outbox && !s->config->webhooks.empty()) s->on_outbox();
          if (s->on_committed) s->on_committed(*in, *r, received_at, std::move(*view));
        }
        if (done) done(std::move(r));
      });
}

void add_routes(http::Router& router, std::shared_ptr<ApiState> state) {
  router.add("GET", "/api/v1/openapi.json", [](Request&&, Respond respond) {
    respond(Response::json(200, openapi_document()));
  });
  add_customer_routes(router, state);
  add_message_routes(router, state);
  add_suggestion_routes(router, state);
  add_interaction_routes(router, state);
  add_webhook_routes(router, state);
}

void run_retention(const std::shared_ptr<ApiState>& state, std::function<void(long long)> done) {
  const auto days = state->config->storage.retention_days;
  constexpr std::size_t batch = 5000;
  struct Loop : std::enable_shared_from_this<Loop> {
    std::shared_ptr<ApiState> state;
    std::map<std::string, int> days;
    std::function<void(long long)> done;
    long long total = 0;
    void step() {
      auto self = shared_from_this();
      bool queued = state->store->submit_write<std::size_t>(
          [self](store::WriteContext& w) { return timeline::apply_retention(w, self->days, now_ms(), batch); },
          [self](store::Result<std::size_t> r) {
            if (!r.ok()) {
              log::error("retention", "pass failed: ", r.status().to_string());
              return self->done(-1);
            }
            self->total += static_cast<long long>(*r);
            if (*r >= batch) return self->step();  // more to delete: another bounded batch
            if (self->total > 0) log::info("retention", "deleted ", self->total, " interaction(s) past retention");
            self->done(self->total);
          });
      if (!queued) done(-1);
    }
  };
  auto loop = std::make_shared<Loop>();
  loop->state = state;
  loop->days = days;
  loop->done = std::move(done);
  loop->step();
}

}  // namespace omnitrail::api
