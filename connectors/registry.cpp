#include "connectors/registry.hpp"

#include <map>
#include <mutex>

#include "connectors/asterisk_ami/ami_connector.hpp"
#include "connectors/connector.hpp"
#include "connectors/imap_smtp/imap_connector.hpp"
#include "connectors/kannel/kannel_connector.hpp"
#include "connectors/twilio_sms/twilio_sms_connector.hpp"
#include "connectors/webchat/webchat_connector.hpp"
#include "connectors/webhooks/webhook_connectors.hpp"

namespace omnitrail::connectors {
namespace {

std::mutex& factories_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, Factory>& factories() {
  static std::map<std::string, Factory> f;
  return f;
}

}  // namespace

const char* to_string(Health::State state) {
  switch (state) {
    case Health::State::starting: return "starting";
    case Health::State::up: return "up";
    case Health::State::degraded: return "degraded";
    case Health::State::down: return "down";
    case Health::State::stopped: return "stopped";
  }
  return "unknown";
}

void register_factory(const std::string& type, Factory factory) {
  std::lock_guard lock(factories_mutex());
  factories()[type] = std::move(factory);
}

const Factory* find_factory(const std::string& type) {
  std::lock_guard lock(factories_mutex());
  auto it = factories().find(type);
  return it == factories().end() ? nullptr : &it->second;
}

void register_all() {
  // Each connector type registers its config validator and its factory here.
  ami::register_asterisk_ami();
  imap_smtp::register_imap_smtp();
  kannel::register_kannel();
  twilio_sms::register_twilio_sms();
  webhooks::register_webhook_connectors();
  webchat::register_webchat();
}

}  // namespace omnitrail::connectors
