// The embedded store: ONE writer thread that owns the write connection and commits batches of
// write jobs (group commit), and a small pool of reader threads with read-only connections.
//
// Thread contract:
//  - Store's public member functions: any thread, except stop() / the destructor, which must not
//    be called from a job or a callback (they run on the store's own threads and would wait for
//    themselves).
//  - Jobs and their completion callbacks run on the STORE'S threads (the writer thread for writes,
//    a reader thread for reads), never on the caller's. A callback must be short and must not
//    block or throw: the Asio-based callers post the result back to their io_context, e.g.
//    `[ex = ioc.get_executor(), ...](Status s) { asio::post(ex, [..]{ ... }); }`.
//  - WriteContext: writer thread only, valid during the job. ReadContext: that reader thread only,
//    valid during the job.
//
// Overflow policy: both queues are bounded. A full queue makes submit_* return false at once and
// the job is dropped without running and without calling its callback; the caller answers 503 or
// retries later (connectors do not acknowledge their peer, which will redeliver).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "daemon/store/database.hpp"
#include "daemon/store/status.hpp"

namespace omnitrail::store {

/// Tunables of a Store.
struct Options {
  std::string path;  // the SQLite file; its directory must exist
  Synchronous synchronous = Synchronous::normal;
  std::size_t queue_capacity = 10000;  // write jobs waiting; beyond it submit_write() -> false
  std::size_t max_batch = 256;         // write jobs committed together at most
  std::chrono::milliseconds checkpoint_interval{std::chrono::seconds(60)};  // PASSIVE checkpoint
  std::size_t reader_threads = 2;            // read connections / threads (at least 1)
  std::size_t read_queue_capacity = 1024;    // read jobs waiting; beyond it submit_read() -> false
  std::chrono::milliseconds busy_timeout{5000};  // waiting on a lock held by another process
};

/// Counters for /metrics. Each member is an atomic readable from any thread at any time.
struct StoreStats {
  std::atomic<std::uint64_t> write_queue_depth{0};   // write jobs accepted, not yet taken
  std::atomic<std::uint64_t> read_queue_depth{0};    // read jobs accepted, not yet taken
  std::atomic<std::uint64_t> writes_rejected{0};     // submit_write() returned false
  std::atomic<std::uint64_t> reads_rejected{0};      // submit_read() returned false
  std::atomic<std::uint64_t> batches_committed{0};   // successful COMMITs
  std::atomic<std::uint64_t> jobs_committed{0};      // write jobs whose work was committed
  std::atomic<std::uint64_t> jobs_failed{0};         // write jobs that failed (incl. commit failures)
  std::atomic<std::uint64_t> commit_failures{0};     // BEGIN/COMMIT failures (whole batch failed)
  std::atomic<std::uint64_t> commit_latency_us_sum{0};  // BEGIN..COMMIT of committed batches
  std::atomic<std::uint64_t> commit_latency_count{0};
  std::atomic<std::uint64_t> reads_completed{0};
  std::atomic<std::uint64_t> reads_failed{0};
  std::atomic<std::uint64_t> checkpoints{0};         // periodic PASSIVE checkpoints run
  std::atomic<std::uint64_t> callback_exceptions{0}; // callbacks that threw (swallowed; a bug)
};

/// What a write job sees. Writer thread only; valid only during the job.
class WriteContext {
 public:
  /// The write connection, inside the batch transaction and the job's own savepoint. Do not
  /// BEGIN/COMMIT/ROLLBACK: throw StoreError (or any exception) to fail the job instead.
  Database& db() noexcept { return db_; }
  /// A cached prepared statement on the write connection (see Database::cached()).
  Statement& statement(std::string_view sql) { return db_.cached(sql); }

 private:
  friend class Store;
  explicit WriteContext(Database& db) : db_(db) {}
  Database& db_;
};

/// What a read job sees. The reader thread that runs it only; valid only during the job.
class ReadContext {
 public:
  /// A read-only connection (query_only). Each statement sees the last committed state; wrap
  /// several in Transaction(db, Transaction::Kind::deferred) for one consistent snapshot.
  Database& db() noexcept { return db_; }
  /// A cached prepared statement on this reader's connection (see Database::cached()).
  Statement& statement(std::string_view sql) { return db_.cached(sql); }

 private:
  friend class Store;
  explicit ReadContext(Database& db) : db_(db) {}
  Database& db_;
};

using WriteJob = std::function<void(WriteContext&)>;
using ReadJob = std::function<void(ReadContext&)>;
/// Completion of a job, called exactly once for every ACCEPTED job, on a store thread.
using Done = std::function<void(Status)>;

class Store {
 public:
  /// Opens (creating if needed) the database at options.path, applies its PRAGMAs and pending
  /// migrations (one transaction), opens the read connections and starts the threads.
  /// Errors (never throws): io_error (cannot open / not writable), corrupt (not a database),
  /// schema_too_new, not_our_database, invalid_argument (bad options). Any thread.
  static Result<std::unique_ptr<Store>> open(const Options& options);

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  /// stop()s. Not from a store thread.
  ~Store();

  /// Queues a write job. The writer takes up to max_batch queued jobs, runs each inside its own
  /// SAVEPOINT within ONE transaction, and COMMITs once. A job fails by throwing: only its
  /// savepoint is rolled back and its `done` gets the error (StoreError's Status, or `internal`
  /// with what() for other exceptions); the other jobs of the batch are unaffected.
  /// `done` (may be empty) is called in submission order ONLY AFTER the COMMIT that holds the
  /// job's work succeeded (ok: durable per Options::synchronous, visible to every new read), or
  /// with the error when the job, BEGIN or COMMIT failed (then nothing of the job persisted).
  /// Returns false immediately, without ever calling `done`, when the queue is full
  /// (StoreStats::writes_rejected), the store is stopping, or `job` is empty. Any thread,
  /// including a callback (e.g. to chain a follow-up write).
  bool submit_write(WriteJob job, Done done);

  /// Like submit_write(), for a job computing a value: `done` receives the value, or the error.
  /// The value exists only once the commit succeeded. T is given explicitly:
  /// `store.submit_write<std::int64_t>([](WriteContext& w) { ...; return id; }, on_id);`
  template <class T>
  bool submit_write(std::function<T(WriteContext&)> job, std::function<void(Result<T>)> done);

  /// Queues a read job on the reader pool. `done` (may be empty) gets ok, or the error the job
  /// threw. Returns false immediately when the read queue is full or the store is stopping.
  /// Any thread.
  bool submit_read(ReadJob job, Done done = {});

  /// Like submit_read(), for a job computing a value. T is given explicitly.
  template <class T>
  bool submit_read(std::function<T(ReadContext&)> job, std::function<void(Result<T>)> done);

  /// Stops accepting jobs, finishes every accepted job (reads, then writes, calling their
  /// callbacks), runs a TRUNCATE checkpoint and closes the connections. Idempotent; blocks until
  /// done. Not from a store thread (a job or a callback).
  void stop();

  /// Counters; any thread.
  const StoreStats& stats() const noexcept { return stats_; }
  /// Schema version after migration; any thread.
  int schema_version() const noexcept { return schema_version_; }
  /// The options it was opened with; any thread.
  const Options& options() const noexcept { return options_; }

 private:
  struct Impl;
  explicit Store(const Options& options);

  Options options_;
  int schema_version_ = 0;
  StoreStats stats_;
  std::unique_ptr<Impl> impl_;
};

// ---- template implementations ---------------------------------------------------------------

template <class T>
bool Store::submit_write(std::function<T(WriteContext&)> job, std::function<void(Result<T>)> done) {
  static_assert(!std::is_void_v<T>, "use the non-template submit_write for jobs without a value");
  auto slot = std::make_shared<std::optional<T>>();
  return submit_write(
      [slot, job = std::move(job)](WriteContext& context) { slot->emplace(job(context)); },
      [slot, done = std::move(done)](Status status) {
        if (!done) return;
        if (!status.ok()) {
          done(Result<T>(std::move(status)));
        } else {
          done(Result<T>(std::move(**slot)));
        }
      });
}

template <class T>
bool Store::submit_read(std::function<T(ReadContext&)> job, std::function<void(Result<T>)> done) {
  static_assert(!std::is_void_v<T>, "use the non-template submit_read for jobs without a value");
  auto slot = std::make_shared<std::optional<T>>();
  return submit_read(
      [slot, job = std::move(job)](ReadContext& context) { slot->emplace(job(context)); },
      [slot, done = std::move(done)](Status status) {
        if (!done) return;
        if (!status.ok()) {
          done(Result<T>(std::move(status)));
        } else {
          done(Result<T>(std::move(**slot)));
        }
      });
}

}  // namespace omnitrail::store
