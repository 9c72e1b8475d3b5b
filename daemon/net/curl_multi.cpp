// CurlMulti: curl's multi socket API on an Asio io_context (the shape of curl's
// docs/examples/asiohiper.cpp), with sockets opened and closed through us so their lifetime is ours.
#include <utility>  // Boost 1.74 + GCC 12: Asio's headers need std::exchange declared first.

#include "daemon/net/curl_multi.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "daemon/util/log.hpp"

namespace omnitrail::net {

namespace asio = boost::asio;

namespace {
constexpr std::string_view kComponent = "net.curl";
}  // namespace

void curl_global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    if (!(info->features & CURL_VERSION_ASYNCHDNS)) {
      log::warning(kComponent, "libcurl ", info->version,
                   " has no asynchronous resolver: host name lookups block the io thread");
    }
  });
}

class CurlMulti::Impl : public std::enable_shared_from_this<CurlMulti::Impl> {
 public:
  Impl(asio::io_context& io, std::size_t max_cached_connections)
      : io_(io), timer_(io), max_cached_connections_(std::max<std::size_t>(max_cached_connections, 1)) {
    curl_global_init_once();
  }
  ~Impl() { stop(); }

  bool start(CURL* easy, std::function<void(CURLcode)> done) {
    if (stopped_ || easy == nullptr || !multi_ready()) return false;
    if (running_.count(easy) != 0) return false;
    bool ok = curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &Impl::open_socket) == CURLE_OK;
    ok = ok && curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, static_cast<void*>(this)) == CURLE_OK;
    ok = ok && curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &Impl::close_socket) == CURLE_OK;
    ok = ok && curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, static_cast<void*>(this)) == CURLE_OK;
    if (!ok) return false;
    if (CURLMcode code = curl_multi_add_handle(multi_, easy); code != CURLM_OK) {
      log::warning(kComponent, "curl_multi_add_handle: ", curl_multi_strerror(code));
      return false;
    }
    auto entry = std::make_shared<Entry>();
    entry->done = std::move(done);
    running_.emplace(easy, std::move(entry));
    return true;
  }

  void cancel(CURL* easy) {
    if (auto found = running_.find(easy); found != running_.end()) {
      found->second->cancelled = true;
      running_.erase(found);
      if (multi_ != nullptr) curl_multi_remove_handle(multi_, easy);
    }
    if (auto found = finishing_.find(easy); found != finishing_.end()) {
      found->second->cancelled = true;
      finishing_.erase(found);
    }
  }

  void stop() {
    stopped_ = true;
    auto running = std::move(running_);
    running_.clear();
    for (auto& [easy, entry] : running) {
      entry->cancelled = true;
      curl_multi_remove_handle(multi_, easy);  // may close sockets through close_socket()
    }
    for (auto& [easy, entry] : finishing_) entry->cancelled = true;
    finishing_.clear();
    if (multi_ != nullptr) {
      curl_multi_cleanup(multi_);  // closes cached connections through close_socket()
      multi_ = nullptr;
    }
    for (auto& [fd, watch] : watches_) forget(*watch);
    watches_.clear();
    timer_.cancel();
  }

  std::size_t running() const { return running_.size(); }

 private:
  struct Entry {
    std::function<void(CURLcode)> done;
    bool cancelled = false;
  };

  // One socket curl asked us to watch. Shared with the pending waits, which check `closed` first,
  // so curl closing a socket while a wait is pending is harmless.
  struct Watch {
    explicit Watch(asio::io_context& io) : descriptor(io) {}
    asio::posix::stream_descriptor descriptor;
    bool owned = false;   // opened by open_socket(); closed by close_socket(). Else curl's own fd.
    bool closed = false;  // closed or released: nothing may touch the descriptor any more
    int wanted = 0;       // CURL_POLL_IN / CURL_POLL_OUT bits
    bool read_pending = false;
    bool write_pending = false;
  };

  bool multi_ready() {
    if (multi_ != nullptr) return true;
    multi_ = curl_multi_init();
    if (multi_ == nullptr) return false;
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(max_cached_connections_));
    return true;
  }

  /// Called after every curl_multi_socket_action: posts the finished transfers' callbacks.
  void collect_finished() {
    if (multi_ == nullptr) return;
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      const CURLcode code = message->data.result;  // read before the message is invalidated
      curl_multi_remove_handle(multi_, easy);
      auto found = running_.find(easy);
      if (found == running_.end()) continue;
      std::shared_ptr<Entry> entry = std::move(found->second);
      running_.erase(found);
      finishing_[easy] = entry;
      // Posted, never called from here: a callback may start, cancel or destroy anything.
      asio::post(io_, [weak = weak_from_this(), easy, entry, code] {
        if (entry->cancelled) return;
        auto self = weak.lock();
        if (!self) return;  // destroyed: callbacks are not called
        self->finishing_.erase(easy);
        auto done = std::move(entry->done);
        if (done) done(code);
      });
    }
  }

  // --- curl <-> Asio glue ---------------------------------------------------------------------

  static curl_socket_t open_socket(void* user, curlsocktype purpose, curl_sockaddr* address) {
    auto& self = *static_cast<Impl*>(user);
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
    const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd < 0) return CURL_SOCKET_BAD;
    try {
      if (auto stale = self.watches_.find(fd); stale != self.watches_.end()) {
        // curl closed a descriptor without telling us and the number came back: release the
        // old registration without closing (the number is the new socket's now).
        stale->second->owned = false;
        self.forget(*stale->second);
        self.watches_.erase(stale);
      }
      auto watch = std::make_shared<Watch>(self.io_);
      boost::system::error_code ec;
      watch->descriptor.assign(fd, ec);
      if (ec) {
        ::close(fd);
        return CURL_SOCKET_BAD;
      }
      watch->owned = true;
      self.watches_.emplace(fd, std::move(watch));
      return fd;
    } catch (...) {  // out of memory: never throw through curl
      ::close(fd);
      return CURL_SOCKET_BAD;
    }
  }

  static int close_socket(void* user, curl_socket_t fd) {
    auto& self = *static_cast<Impl*>(user);
    auto found = self.watches_.find(fd);
    if (found == self.watches_.end()) return ::close(fd);
    Watch& watch = *found->second;
    watch.closed = true;
    boost::system::error_code ec;
    watch.descriptor.close(ec);  // pending waits complete with operation_aborted and see `closed`
    self.watches_.erase(found);
    return 0;
  }

  /// Stops watching without touching curl: releases (curl's own fd) or closes (ours).
  void forget(Watch& watch) {
    if (watch.closed) return;
    watch.closed = true;
    boost::system::error_code ec;
    if (watch.owned) {
      watch.descriptor.close(ec);
    } else {
      watch.descriptor.cancel(ec);
      watch.descriptor.release();
    }
  }

  static int on_socket(CURL*, curl_socket_t fd, int what, void* user, void*) {
    try {
      return static_cast<Impl*>(user)->watch_socket(fd, what);
    } catch (...) {  // out of memory: never throw through curl
      return -1;
    }
  }

  int watch_socket(curl_socket_t fd, int what) {
    auto found = watches_.find(fd);
    if (what == CURL_POLL_REMOVE) {
      if (found == watches_.end()) return 0;
      Watch& watch = *found->second;
      watch.wanted = 0;
      if (watch.owned) {
        // Ours stays registered until close_socket(): curl may watch it again (connection reuse).
        boost::system::error_code ec;
        watch.descriptor.cancel(ec);
      } else {
        // curl's own fd (the threaded resolver's wake-up pipe): curl closes it itself next.
        forget(watch);
        watches_.erase(found);
      }
      return 0;
    }
    if (found == watches_.end()) {
      auto watch = std::make_shared<Watch>(io_);
      boost::system::error_code ec;
      watch->descriptor.assign(fd, ec);
      if (ec) {
        log::warning(kComponent, "cannot watch socket ", fd, ": ", ec.message());
        return -1;
      }
      found = watches_.emplace(fd, std::move(watch)).first;
    }
    std::shared_ptr<Watch> watch = found->second;
    const int wanted = what & (CURL_POLL_IN | CURL_POLL_OUT);
    const bool stale_read = watch->read_pending && !(wanted & CURL_POLL_IN);
    const bool stale_write = watch->write_pending && !(wanted & CURL_POLL_OUT);
    watch->wanted = wanted;
    if (stale_read || stale_write) {
      // The aborted waits re-arm whatever is still wanted when they complete.
      boost::system::error_code ec;
      watch->descriptor.cancel(ec);
    }
    arm(watch);
    return 0;
  }

  void arm(const std::shared_ptr<Watch>& watch) {
    if (watch->closed) return;
    if ((watch->wanted & CURL_POLL_IN) && !watch->read_pending) {
      watch->read_pending = true;
      watch->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                                   [weak = weak_from_this(), watch](boost::system::error_code ec) {
                                     watch->read_pending = false;
                                     on_ready(weak, watch, CURL_POLL_IN, ec);
                                   });
    }
    if ((watch->wanted & CURL_POLL_OUT) && !watch->write_pending) {
      watch->write_pending = true;
      watch->descriptor.async_wait(asio::posix::stream_descriptor::wait_write,
                                   [weak = weak_from_this(), watch](boost::system::error_code ec) {
                                     watch->write_pending = false;
                                     on_ready(weak, watch, CURL_POLL_OUT, ec);
                                   });
    }
  }

  static void on_ready(const std::weak_ptr<Impl>& weak, const std::shared_ptr<Watch>& watch,
                       int direction, boost::system::error_code ec) {
    if (watch->closed) return;
    auto self = weak.lock();
    if (!self || self->multi_ == nullptr) return;
    if (ec == asio::error::operation_aborted) {
      self->arm(watch);  // cancelled because curl changed its mind: re-arm what it wants now
      return;
    }
    if (!(watch->wanted & direction)) return;
    const curl_socket_t fd = watch->descriptor.native_handle();
    int flags = ec ? CURL_CSELECT_ERR : (direction == CURL_POLL_IN ? CURL_CSELECT_IN : CURL_CSELECT_OUT);
    self->socket_action(fd, flags);
    // curl may have removed, re-registered or closed the socket meanwhile; an error does not
    // re-arm (it would spin), curl's timeout ends that transfer.
    if (!ec) self->arm(watch);
  }

  static int on_timer(CURLM*, long timeout_ms, void* user) {
    auto& self = *static_cast<Impl*>(user);
    try {
      if (timeout_ms < 0) {
        self.timer_.cancel();
        return 0;
      }
      // Never call curl_multi_socket_action from inside a curl callback: even 0 goes via the loop.
      self.timer_.expires_after(std::chrono::milliseconds(timeout_ms));
      self.timer_.async_wait([weak = self.weak_from_this()](boost::system::error_code ec) {
        if (ec == asio::error::operation_aborted) return;
        auto impl = weak.lock();
        if (!impl || impl->multi_ == nullptr) return;
        impl->socket_action(CURL_SOCKET_TIMEOUT, 0);
      });
      return 0;
    } catch (...) {  // never throw through curl
      return -1;
    }
  }

  void socket_action(curl_socket_t fd, int flags) {
    int running = 0;
    const CURLMcode code = curl_multi_socket_action(multi_, fd, flags, &running);
    if (code != CURLM_OK) log::warning(kComponent, "curl_multi_socket_action: ", curl_multi_strerror(code));
    collect_finished();
  }

  asio::io_context& io_;
  asio::steady_timer timer_;
  std::size_t max_cached_connections_;
  CURLM* multi_ = nullptr;
  bool stopped_ = false;
  std::unordered_map<CURL*, std::shared_ptr<Entry>> running_;
  std::unordered_map<CURL*, std::shared_ptr<Entry>> finishing_;  // done posted, not run yet
  std::unordered_map<curl_socket_t, std::shared_ptr<Watch>> watches_;
};

CurlMulti::CurlMulti(boost::asio::io_context& io, std::size_t max_cached_connections)
    : impl_(std::make_shared<Impl>(io, max_cached_connections)) {}

CurlMulti::~CurlMulti() { impl_->stop(); }

bool CurlMulti::start(CURL* easy, std::function<void(CURLcode)> done) { return impl_->start(easy, std::move(done)); }

void CurlMulti::cancel(CURL* easy) { impl_->cancel(easy); }

void CurlMulti::stop() { impl_->stop(); }

std::size_t CurlMulti::running() const { return impl_->running(); }

}  // namespace omnitrail::net
