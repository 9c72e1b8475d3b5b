// A store callback that continues on the io thread: the dispatchers' store jobs finish on a store
// thread, and their state may only be touched (or destroyed) on the io thread. The weak pointer is
// locked THERE, so a dispatcher destroyed meanwhile is simply not called.
// Include only in translation units that already use Asio.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "daemon/store/store.hpp"

namespace omnitrail::outbox {

/// `f(self, result)` on `io` for a store job's Result<T>, if `weak` still lives.
template <class T, class Self, class F>
std::function<void(store::Result<T>)> on_io(boost::asio::io_context& io, std::weak_ptr<Self> weak, F f) {
  return [weak = std::move(weak), &io, f = std::move(f)](store::Result<T> result) mutable {
    boost::asio::post(io, [weak, f = std::move(f), result = std::move(result)]() mutable {
      if (auto self = weak.lock()) f(*self, std::move(result));
    });
  };
}

}  // namespace omnitrail::outbox
