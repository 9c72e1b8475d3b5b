// The merge decision (see rules.hpp for the contract).
#include "daemon/identity/rules.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

namespace omnitrail::identity {

IdentityKey key_of(const Identifier& identifier) { return {identifier.kind, identifier.key}; }

bool is_internal_party(RejectReason reason) noexcept {
  return reason == RejectReason::own_value || reason == RejectReason::internal_extension;
}

std::string_view to_string(DecisionKind kind) noexcept {
  switch (kind) {
    case DecisionKind::create_new: return "create_new";
    case DecisionKind::attach: return "attach";
    case DecisionKind::merge: return "merge";
    case DecisionKind::attach_with_suggestions: return "attach_with_suggestions";
  }
  return "create_new";
}

std::string_view to_string(MergeRule rule) noexcept {
  return rule == MergeRule::tier_a_link ? "tier_a_link" : "verified_email";
}

std::string_view to_string(SuggestionReason reason) noexcept {
  switch (reason) {
    case SuggestionReason::tier_a_conflict: return "tier_a_conflict";
    case SuggestionReason::phone_match: return "phone_match";
    case SuggestionReason::unverified_email: return "unverified_email";
    case SuggestionReason::unverified_tier_a: return "unverified_tier_a";
    case SuggestionReason::limit_exceeded: return "limit_exceeded";
    case SuggestionReason::similar_value: return "similar_value";
    case SuggestionReason::unknown_customer: return "unknown_customer";
  }
  return "phone_match";
}

namespace {

using KeySet = std::set<IdentityKey>;

// Strong identifiers may merge customers: verified tier-A and verified email.
bool is_strong(const ContactIdentifier& c) {
  const auto tier = tier_of(c.identifier.kind);
  return c.trust == Trust::verified && (tier == Tier::A || tier == Tier::B);
}

// How the contact reaches one existing customer.
struct Link {
  KeySet strong;
  KeySet weak;
  Tier best_strong = Tier::D;
  Tier best_weak = Tier::D;
  IdentifierKind best_weak_kind = IdentifierKind::visitor;
};

std::vector<IdentityKey> sorted(const KeySet& keys) { return {keys.begin(), keys.end()}; }

KeySet unite(const KeySet& a, const KeySet& b) {
  KeySet out = a;
  out.insert(b.begin(), b.end());
  return out;
}

class Resolver {
 public:
  explicit Resolver(const ResolveInput& input) : input_(input) {
    for (const auto& facts : input.customers) facts_.emplace(facts.id, &facts);
    fold_duplicates();
  }

  Decision run() {
    classify();
    choose_target();
    attach_unowned();
    suggest_similar();
    report_shared();
    if (decision_.customer == new_customer) decision_.kind = DecisionKind::create_new;
    else if (!decision_.merges.empty()) decision_.kind = DecisionKind::merge;
    else if (!decision_.suggestions.empty()) decision_.kind = DecisionKind::attach_with_suggestions;
    else decision_.kind = DecisionKind::attach;
    return std::move(decision_);
  }

 private:
  // Same kind+key given twice: keep one, with the strongest trust and merged lookups.
  void fold_duplicates() {
    std::map<IdentityKey, std::size_t> seen;
    for (const auto& c : input_.identifiers) {
      auto [it, inserted] = seen.emplace(key_of(c.identifier), contact_.size());
      if (inserted) {
        contact_.push_back(c);
        continue;
      }
      auto& kept = contact_[it->second];
      if (c.trust == Trust::verified) kept.trust = Trust::verified;
      if (!kept.owner) kept.owner = c.owner;
      kept.shared = kept.shared || c.shared;
      kept.sharing_customers.insert(kept.sharing_customers.end(), c.sharing_customers.begin(),
                                    c.sharing_customers.end());
      kept.similar_owners.insert(kept.similar_owners.end(), c.similar_owners.begin(),
                                 c.similar_owners.end());
    }
  }

  const CustomerFacts* facts(CustomerId id) const {
    const auto it = facts_.find(id);
    return it == facts_.end() ? nullptr : it->second;
  }

  // Older customers first; customers without facts after all known ones; then by id.
  auto age_rank(CustomerId id) const {
    const auto* f = facts(id);
    return std::make_tuple(f == nullptr, f ? f->created_at_ms : 0, id);
  }

  void classify() {
    for (const auto& c : contact_) {
      if (c.shared || !c.owner) continue;
      const auto tier = tier_of(c.identifier.kind);
      if (tier == Tier::D) {
        visitor_owners_.insert(*c.owner);
        continue;
      }
      auto& link = links_[*c.owner];
      if (is_strong(c)) {
        link.strong.insert(key_of(c.identifier));
        link.best_strong = std::min(link.best_strong, tier);
      } else {
        link.weak.insert(key_of(c.identifier));
        if (tier < link.best_weak) {
          link.best_weak = tier;
          link.best_weak_kind = c.identifier.kind;
        }
      }
    }
  }

  bool has_new_strong_identifier() const {
    return std::any_of(contact_.begin(), contact_.end(), [](const ContactIdentifier& c) {
      return !c.shared && !c.owner && is_strong(c);
    });
  }

  // True when a do-not-merge pair between a and b covers all of `evidence`.
  bool suppressed(CustomerId a, CustomerId b, const KeySet& evidence) const {
    for (const auto& pair : input_.do_not_merge) {
      if (!((pair.a == a && pair.b == b) || (pair.a == b && pair.b == a))) continue;
      if (pair.evidence.empty()) return true;
      const KeySet recorded(pair.evidence.begin(), pair.evidence.end());
      if (std::includes(recorded.begin(), recorded.end(), evidence.begin(), evidence.end())) {
        return true;
      }
    }
    return false;
  }

  void suggest(CustomerId a, std::optional<CustomerId> b, SuggestionReason reason,
               const KeySet& evidence) {
    if (b) {
      if (*b == a || suppressed(a, *b, evidence)) return;
      for (auto& s : decision_.suggestions) {
        if (s.a == a && s.b == b) {  // one suggestion per pair; the first reason stays
          KeySet all(s.evidence.begin(), s.evidence.end());
          all.insert(evidence.begin(), evidence.end());
          s.evidence = sorted(all);
          return;
        }
      }
    }
    decision_.suggestions.push_back({a, b, reason, sorted(evidence)});
  }

  static SuggestionReason weak_reason(const Link& link) {
    switch (tier_of(link.best_weak_kind)) {
      case Tier::A: return SuggestionReason::unverified_tier_a;
      case Tier::B: return SuggestionReason::unverified_email;
      default: return SuggestionReason::phone_match;
    }
  }

  // Tier-A values and identifier counts of the merge group built so far.
  struct GroupState {
    std::map<IdentifierKind, KeySet> tier_a;
    int emails = 0;
    int phones = 0;

    void add(const CustomerFacts& f) {
      for (const auto& key : f.tier_a) tier_a[key.kind].insert(key);
      emails += f.email_count;
      phones += f.phone_count;
    }
  };

  // Why `f` cannot join `group`, or nullopt when it can.
  std::optional<SuggestionReason> merge_obstacle(const GroupState& group,
                                                 const CustomerFacts& f) const {
    std::map<IdentifierKind, KeySet> combined = group.tier_a;
    for (const auto& key : f.tier_a) combined[key.kind].insert(key);
    for (const auto& [kind, keys] : combined) {
      if (static_cast<int>(keys.size()) > input_.limits.tier_a_per_kind) {
        return SuggestionReason::tier_a_conflict;
      }
    }
    if (group.emails + f.email_count > input_.limits.max_emails ||
        group.phones + f.phone_count > input_.limits.max_phones) {
      return SuggestionReason::limit_exceeded;
    }
    return std::nullopt;
  }

  void choose_target() {
    std::vector<CustomerId> strong_owners;
    std::vector<CustomerId> weak_owners;
    for (const auto& [id, link] : links_) {
      (link.strong.empty() ? weak_owners : strong_owners).push_back(id);
    }
    const auto by_strong = [&](CustomerId x, CustomerId y) {
      return std::make_tuple(links_[x].best_strong, age_rank(x)) <
             std::make_tuple(links_[y].best_strong, age_rank(y));
    };
    const auto by_weak = [&](CustomerId x, CustomerId y) {
      return std::make_tuple(links_[x].best_weak, age_rank(x)) <
             std::make_tuple(links_[y].best_weak, age_rank(y));
    };
    std::sort(strong_owners.begin(), strong_owners.end(), by_strong);
    std::sort(weak_owners.begin(), weak_owners.end(), by_weak);

    if (!strong_owners.empty()) {
      merge_strong(strong_owners);
    } else if (!weak_owners.empty()) {
      // A new verified login or email never rides on a phone or a claimed value: that would
      // be a merge on weak evidence. The contact starts its own customer instead.
      decision_.customer = has_new_strong_identifier() ? new_customer : weak_owners.front();
    } else if (!visitor_owners_.empty()) {
      decision_.customer = *std::min_element(
          visitor_owners_.begin(), visitor_owners_.end(),
          [&](CustomerId x, CustomerId y) { return age_rank(x) < age_rank(y); });
      return;
    } else {
      decision_.customer = new_customer;
      return;
    }

    for (CustomerId w : weak_owners) {
      if (w == decision_.customer || group_.contains(w)) continue;
      const auto& link = links_[w];
      suggest(decision_.customer, w, weak_reason(link), link.weak);
    }
  }

  void merge_strong(const std::vector<CustomerId>& owners) {
    const CustomerId primary = owners.front();
    std::vector<CustomerId> members{primary};
    std::vector<std::pair<CustomerId, SuggestionReason>> refused;
    GroupState state;
    const auto* primary_facts = facts(primary);
    if (primary_facts) state.add(*primary_facts);

    for (std::size_t i = 1; i < owners.size(); ++i) {
      const CustomerId candidate = owners[i];
      const auto* f = facts(candidate);
      if (!primary_facts || !f) {
        refused.emplace_back(candidate, SuggestionReason::unknown_customer);
        continue;
      }
      const bool blocked = std::any_of(members.begin(), members.end(), [&](CustomerId m) {
        return suppressed(m, candidate, unite(links_[m].strong, links_[candidate].strong));
      });
      if (blocked) continue;  // an agent already said no on this evidence
      if (auto obstacle = merge_obstacle(state, *f)) {
        refused.emplace_back(candidate, *obstacle);
        continue;
      }
      members.push_back(candidate);
      state.add(*f);
    }

    CustomerId survivor = *std::min_element(
        members.begin(), members.end(),
        [&](CustomerId x, CustomerId y) { return age_rank(x) < age_rank(y); });
    if (input_.preferred_survivor &&
        std::find(members.begin(), members.end(), *input_.preferred_survivor) != members.end()) {
      survivor = *input_.preferred_survivor;
    }
    decision_.customer = survivor;
    group_.insert(members.begin(), members.end());
    group_state_ = state;

    const auto& survivor_link = links_[survivor];
    for (CustomerId m : members) {
      if (m == survivor) continue;
      const auto& link = links_[m];
      const bool both_tier_a = link.best_strong == Tier::A && survivor_link.best_strong == Tier::A;
      decision_.merges.push_back({survivor, m,
                                  both_tier_a ? MergeRule::tier_a_link : MergeRule::verified_email,
                                  sorted(unite(link.strong, survivor_link.strong))});
    }
    for (const auto& [candidate, reason] : refused) {
      const auto& link = links_[candidate];
      suggest(survivor, candidate, reason, unite(link.strong, link.weak));
    }
  }

  // Unowned, unshared identifiers go to the target, strongest first, within the limits.
  void attach_unowned() {
    std::vector<const ContactIdentifier*> pending;
    for (const auto& c : contact_) {
      if (!c.shared && !c.owner) pending.push_back(&c);
    }
    std::stable_sort(pending.begin(), pending.end(), [](const auto* x, const auto* y) {
      return std::make_tuple(tier_of(x->identifier.kind), x->trust != Trust::verified) <
             std::make_tuple(tier_of(y->identifier.kind), y->trust != Trust::verified);
    });

    GroupState target;
    if (!group_.empty()) {
      target = group_state_;
    } else if (const auto* f = facts(decision_.customer)) {
      target.add(*f);
    }
    const CustomerId customer = decision_.customer;
    for (const auto* c : pending) {
      const auto key = key_of(c->identifier);
      switch (c->identifier.kind) {
        case IdentifierKind::external:
        case IdentifierKind::chat_user: {
          auto& held = target.tier_a[key.kind];
          if (static_cast<int>(held.size()) >= input_.limits.tier_a_per_kind) {
            suggest(customer, std::nullopt, SuggestionReason::tier_a_conflict, {key});
            continue;
          }
          held.insert(key);
          break;
        }
        case IdentifierKind::email:
          if (target.emails >= input_.limits.max_emails) {
            suggest(customer, std::nullopt, SuggestionReason::limit_exceeded, {key});
            continue;
          }
          ++target.emails;
          break;
        case IdentifierKind::phone:
          if (target.phones >= input_.limits.max_phones) {
            suggest(customer, std::nullopt, SuggestionReason::limit_exceeded, {key});
            continue;
          }
          ++target.phones;
          break;
        case IdentifierKind::visitor: break;
      }
      decision_.attach.push_back({c->identifier, c->trust});
    }
  }

  void suggest_similar() {
    for (const auto& c : contact_) {
      if (c.shared) continue;
      for (CustomerId other : c.similar_owners) {
        if (other == decision_.customer || group_.contains(other) || other == c.owner) continue;
        suggest(decision_.customer, other, SuggestionReason::similar_value, {key_of(c.identifier)});
      }
    }
  }

  void report_shared() {
    for (const auto& c : contact_) {
      if (!c.shared) continue;
      std::set<CustomerId> customers(c.sharing_customers.begin(), c.sharing_customers.end());
      if (c.owner) customers.insert(*c.owner);
      decision_.shared.push_back({key_of(c.identifier), {customers.begin(), customers.end()}});
    }
  }

  const ResolveInput& input_;
  std::map<CustomerId, const CustomerFacts*> facts_;
  std::vector<ContactIdentifier> contact_;
  std::map<CustomerId, Link> links_;
  std::set<CustomerId> visitor_owners_;
  std::set<CustomerId> group_;  // merge group (survivor included) when there was one
  GroupState group_state_;
  Decision decision_;
};

}  // namespace

Decision resolve(const ResolveInput& input) { return Resolver(input).run(); }

}  // namespace omnitrail::identity
