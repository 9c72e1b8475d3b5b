// Writer thread with group commit, reader pool, bounded queues; see store.hpp.
#include "daemon/store/store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/store/migrations.hpp"

namespace omnitrail::store {
namespace {

using Clock = std::chrono::steady_clock;

struct WriteItem {
  WriteJob job;
  Done done;
};

struct ReadItem {
  ReadJob job;
  Done done;
};

// Runs `job`, turning whatever it throws into a Status.
template <class Job, class Context>
Status invoke_job(Job& job, Context& context, const char* what) {
  try {
    job(context);
    return {};
  } catch (const StoreError& error) {
    return error.status();
  } catch (const std::exception& error) {
    return Status(StatusCode::internal, std::string(what) + " threw: " + error.what());
  } catch (...) {
    return Status(StatusCode::internal, std::string(what) + " threw a non-standard exception");
  }
}

void invoke_done(const Done& done, Status status, StoreStats& stats) {
  if (!done) return;
  try {
    done(std::move(status));
  } catch (...) {
    stats.callback_exceptions.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

struct Store::Impl {
  Impl(const Options& options, StoreStats& stats) : options(options), stats(stats) {}

  void writer_loop();
  void run_batch(std::vector<WriteItem>& batch);
  void checkpoint(const char* mode) noexcept;
  void checkpointer_loop();
  void reader_loop(Database& db);
  bool on_store_thread() const;

  const Options options;
  StoreStats& stats;

  Database writer_db;
  std::vector<Database> reader_dbs;  // one per reader thread, indexed like `readers`

  std::mutex write_mutex;
  std::condition_variable write_cv;
  std::deque<WriteItem> write_queue;
  bool accepting_writes = true;
  bool writer_exit = false;  // set once nothing can be added any more: drain and leave

  std::mutex read_mutex;
  std::condition_variable read_cv;
  std::deque<ReadItem> read_queue;
  bool accepting_reads = true;

  std::thread writer;
  std::vector<std::thread> readers;

  // Checkpoints run on their own thread and connection, never inside the writer's COMMIT:
  // SQLite's automatic checkpoint (every 1000 WAL frames, with an fsync of the WAL and of the
  // database) ran in the committing thread and held back every commit callback behind it (the
  // pop of a ringing call among them). The writer's WAL hook asks for one when the WAL holds
  // kCheckpointFrames frames; the checkpoint_interval timer runs one in any case.
  static constexpr int kCheckpointFrames = 1000;
  Database checkpoint_db;
  std::thread checkpointer;
  std::mutex checkpoint_mutex;
  std::condition_variable checkpoint_cv;
  bool checkpoint_wanted = false;
  bool checkpoint_exit = false;
  static int on_wal_commit(void* self, sqlite3*, const char*, int frames) {
    if (frames >= kCheckpointFrames) {
      auto* impl = static_cast<Impl*>(self);
      {
        std::lock_guard lock(impl->checkpoint_mutex);
        impl->checkpoint_wanted = true;
      }
      impl->checkpoint_cv.notify_one();
    }
    return SQLITE_OK;
  }
  void stop_checkpointer() {
    {
      std::lock_guard lock(checkpoint_mutex);
      checkpoint_exit = true;
    }
    checkpoint_cv.notify_all();
    if (checkpointer.joinable()) checkpointer.join();
    checkpoint_db = Database();
  }

  // flock() on `<path>.lock`, held while the store is open: a second omnitraild on the same
  // database would run the same connectors and deliver the same webhooks twice.
  int lock_fd = -1;
  void unlock() noexcept {
    if (lock_fd >= 0) ::close(lock_fd);  // closing releases the flock
    lock_fd = -1;
  }
  ~Impl() { unlock(); }

  std::mutex stop_mutex;
  bool stopped = false;
};

// ---- writer ---------------------------------------------------------------------------------

void Store::Impl::checkpointer_loop() {
  const bool periodic = options.checkpoint_interval.count() > 0;
  auto next_checkpoint = Clock::now() + options.checkpoint_interval;
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mutex);
      auto ready = [this] { return checkpoint_wanted || checkpoint_exit; };
      if (periodic) {
        checkpoint_cv.wait_until(lock, next_checkpoint, ready);
      } else {
        checkpoint_cv.wait(lock, ready);
      }
      if (checkpoint_exit) return;
      const bool due = checkpoint_wanted || (periodic && Clock::now() >= next_checkpoint);
      checkpoint_wanted = false;
      if (!due) continue;
    }
    try {
      Statement statement = checkpoint_db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
      while (statement.step()) {
      }
    } catch (const StoreError&) {
      // Busy (another checkpoint, a long reader): the next request or interval retries.
    }
    stats.checkpoints.fetch_add(1, std::memory_order_relaxed);
    next_checkpoint = Clock::now() + options.checkpoint_interval;
  }
}

void Store::Impl::writer_loop() {
  std::vector<WriteItem> batch;
  batch.reserve(std::min<std::size_t>(options.max_batch, 1024));
  for (;;) {
    {
      std::unique_lock lock(write_mutex);
      auto ready = [this] { return !write_queue.empty() || writer_exit; };
      write_cv.wait(lock, ready);
      if (write_queue.empty() && writer_exit) break;
      while (!write_queue.empty() && batch.size() < options.max_batch) {
        batch.push_back(std::move(write_queue.front()));
        write_queue.pop_front();
      }
      stats.write_queue_depth.store(write_queue.size(), std::memory_order_relaxed);
    }
    if (!batch.empty()) {
      run_batch(batch);
      batch.clear();
    }
  }
  // Clean close: fold the WAL into the database and truncate it (readers are closed by now).
  checkpoint("TRUNCATE");
  writer_db = Database();
}

void Store::Impl::checkpoint(const char* mode) noexcept {
  try {
    Statement statement = writer_db.prepare(std::string("PRAGMA wal_checkpoint(") + mode + ")");
    while (statement.step()) {
    }
  } catch (const StoreError&) {
    // A checkpoint that cannot complete now (a long reader) is retried at the next interval.
  }
}

// Group commit: one transaction for the batch, one SAVEPOINT per job so that a failing job undoes
// only its own work. If SQLite aborts the whole transaction (disk full, I/O error), the jobs run so
// far in it are lost too: they get the error and the remaining jobs go on in a new transaction.
void Store::Impl::run_batch(std::vector<WriteItem>& batch) {
  Database& db = writer_db;
  const std::size_t count = batch.size();
  std::vector<Status> results(count);
  std::size_t segment_begin = 0;  // first job of the open transaction
  std::optional<Transaction> transaction;
  auto started = Clock::now();

  auto begin = [&](std::size_t from) {
    try {
      started = Clock::now();
      transaction.emplace(db, Transaction::Kind::immediate);
      segment_begin = from;
      return true;
    } catch (const StoreError& error) {
      for (std::size_t j = from; j < count; ++j) results[j] = error.status();
      stats.commit_failures.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  };
  // The open transaction is gone (SQLite aborted it, or a savepoint could not be undone):
  // everything done in it since `segment_begin` shares `cause`.
  auto abandon = [&](std::size_t upto, const Status& cause) {
    transaction.reset();  // ROLLBACK when SQLite did not already
    const Status lost(cause.ok() ? StatusCode::internal : cause.code(),
                      "the batch transaction was aborted: " + cause.message(), cause.sqlite_code());
    for (std::size_t j = segment_begin; j < upto; ++j) {
      if (results[j].ok()) results[j] = lost;
    }
  };

  if (begin(0)) {
    for (std::size_t i = 0; i < count; ++i) {
      Status& status = results[i];
      bool poisoned = false;
      try {
        db.cached("SAVEPOINT omnitrail_job").run();  // prepared once: one per write job
      } catch (const StoreError& error) {
        status = error.status();
        poisoned = true;
      }
      if (!poisoned) {
        WriteContext context(db);
        status = invoke_job(batch[i].job, context, "write job");
        db.reset_cached();
        if (status.ok()) {
          try {
            db.cached("RELEASE omnitrail_job").run();
          } catch (const StoreError& error) {
            status = error.status();
          }
        }
        if (!status.ok() && db.in_transaction()) {
          try {
            db.exec("ROLLBACK TO omnitrail_job; RELEASE omnitrail_job");
          } catch (const StoreError&) {
            poisoned = true;  // its partial work must not be committed with the others
          }
        }
      }
      if (poisoned || !db.in_transaction()) {
        if (status.ok()) status = Status(StatusCode::internal, "the job ended the transaction");
        abandon(i + 1, status);
        if (i + 1 < count && !begin(i + 1)) break;
      }
    }
    if (transaction) {
      try {
        transaction->commit();
        const auto micros =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
        stats.batches_committed.fetch_add(1, std::memory_order_relaxed);
        stats.commit_latency_us_sum.fetch_add(static_cast<std::uint64_t>(micros),
                                              std::memory_order_relaxed);
        stats.commit_latency_count.fetch_add(1, std::memory_order_relaxed);
      } catch (const StoreError& error) {
        stats.commit_failures.fetch_add(1, std::memory_order_relaxed);
        abandon(count, error.status());
      }
      transaction.reset();
    }
  }

  const auto committed = static_cast<std::uint64_t>(
      std::count_if(results.begin(), results.end(), [](const Status& s) { return s.ok(); }));
  stats.jobs_committed.fetch_add(committed, std::memory_order_relaxed);
  stats.jobs_failed.fetch_add(count - committed, std::memory_order_relaxed);
  for (std::size_t i = 0; i < count; ++i) {
    invoke_done(batch[i].done, std::move(results[i]), stats);
  }
}

// ---- readers --------------------------------------------------------------------------------

void Store::Impl::reader_loop(Database& db) {
  for (;;) {
    ReadItem item;
    {
      std::unique_lock lock(read_mutex);
      read_cv.wait(lock, [this] { return !read_queue.empty() || !accepting_reads; });
      if (read_queue.empty()) break;  // not accepting and drained
      item = std::move(read_queue.front());
      read_queue.pop_front();
      stats.read_queue_depth.store(read_queue.size(), std::memory_order_relaxed);
    }
    ReadContext context(db);
    Status status = invoke_job(item.job, context, "read job");
    db.reset_cached();  // an unfinished statement would pin its snapshot and stall checkpoints
    if (db.in_transaction()) {
      try {
        db.exec("ROLLBACK");
      } catch (const StoreError&) {
      }
    }
    (status.ok() ? stats.reads_completed : stats.reads_failed)
        .fetch_add(1, std::memory_order_relaxed);
    invoke_done(item.done, std::move(status), stats);
  }
  db = Database();
}

bool Store::Impl::on_store_thread() const {
  const auto self = std::this_thread::get_id();
  if (writer.get_id() == self) return true;
  return std::any_of(readers.begin(), readers.end(),
                     [self](const std::thread& t) { return t.get_id() == self; });
}

// ---- Store ----------------------------------------------------------------------------------

Store::Store(const Options& options) : options_(options) {}

Store::~Store() { stop(); }

Result<std::unique_ptr<Store>> Store::open(const Options& options) {
  if (options.path.empty() || options.path == ":memory:") {
    return Status(StatusCode::invalid_argument, "storage path must name a file");
  }
  if (options.queue_capacity == 0 || options.max_batch == 0 || options.reader_threads == 0 ||
      options.read_queue_capacity == 0) {
    return Status(StatusCode::invalid_argument,
                  "queue_capacity, max_batch, reader_threads and read_queue_capacity must be >= 1");
  }
  std::unique_ptr<Store> store(new Store(options));
  try {
    store->impl_ = std::make_unique<Impl>(store->options_, store->stats_);
    Impl& impl = *store->impl_;
    const std::string lock_path = options.path + ".lock";
    impl.lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (impl.lock_fd < 0) {
      return Status(StatusCode::io_error, "cannot open store '" + options.path + "': cannot create its lock file '" +
                                              lock_path + "': " + std::strerror(errno));
    }
    if (::flock(impl.lock_fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      if (error == EWOULDBLOCK) {
        return Status(StatusCode::busy, "cannot open store '" + options.path +
                                            "': another omnitraild (or tool) holds its lock '" + lock_path +
                                            "'; stop it first, or point storage.sqlite_path at another file");
      }
      return Status(StatusCode::io_error, "cannot open store '" + options.path + "': cannot lock '" + lock_path +
                                              "': " + std::strerror(error));
    }
    impl.writer_db = Database::open(
        options.path, {ConnectionOptions::Mode::read_write_create, options.busy_timeout});
    impl.writer_db.configure_writer(options.synchronous);
    store->schema_version_ = migrate(impl.writer_db);
    // No checkpoint inside COMMIT: the checkpointer thread does them (see Impl).
    sqlite3_wal_hook(impl.writer_db.handle(), &Impl::on_wal_commit, &impl);
    impl.checkpoint_db = Database::open(options.path, {ConnectionOptions::Mode::read_write, options.busy_timeout});

    impl.reader_dbs.reserve(options.reader_threads);
    for (std::size_t i = 0; i < options.reader_threads; ++i) {
      Database reader =
          Database::open(options.path, {ConnectionOptions::Mode::read_only, options.busy_timeout});
      reader.configure_reader();
      impl.reader_dbs.push_back(std::move(reader));
    }

    impl.writer = std::thread([&impl] { impl.writer_loop(); });
    impl.checkpointer = std::thread([&impl] { impl.checkpointer_loop(); });
    impl.readers.reserve(options.reader_threads);
    for (std::size_t i = 0; i < options.reader_threads; ++i) {
      impl.readers.emplace_back([&impl, i] { impl.reader_loop(impl.reader_dbs[i]); });
    }
  } catch (const StoreError& error) {
    const Status& status = error.status();
    return Status(status.code(), "cannot open store '" + options.path + "': " + status.message(),
                  status.sqlite_code());
  } catch (const std::exception& error) {
    return Status(StatusCode::internal,
                  "cannot open store '" + options.path + "': " + error.what());
  }
  return store;
}

bool Store::submit_write(WriteJob job, Done done) {
  if (!job) return false;
  {
    std::lock_guard lock(impl_->write_mutex);
    if (!impl_->accepting_writes || impl_->write_queue.size() >= options_.queue_capacity) {
      stats_.writes_rejected.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    impl_->write_queue.push_back(WriteItem{std::move(job), std::move(done)});
    stats_.write_queue_depth.store(impl_->write_queue.size(), std::memory_order_relaxed);
  }
  impl_->write_cv.notify_one();
  return true;
}

bool Store::submit_read(ReadJob job, Done done) {
  if (!job) return false;
  {
    std::lock_guard lock(impl_->read_mutex);
    if (!impl_->accepting_reads || impl_->read_queue.size() >= options_.read_queue_capacity) {
      stats_.reads_rejected.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    impl_->read_queue.push_back(ReadItem{std::move(job), std::move(done)});
    stats_.read_queue_depth.store(impl_->read_queue.size(), std::memory_order_relaxed);
  }
  impl_->read_cv.notify_one();
  return true;
}

void Store::stop() {
  if (!impl_) return;
  Impl& impl = *impl_;
  std::lock_guard stop_guard(impl.stop_mutex);
  if (impl.stopped) return;

  // No new work from now on; already accepted jobs still run.
  {
    std::lock_guard lock(impl.write_mutex);
    impl.accepting_writes = false;
  }
  {
    std::lock_guard lock(impl.read_mutex);
    impl.accepting_reads = false;
  }
  impl.read_cv.notify_all();
  if (impl.on_store_thread()) return;  // contract violation: cannot wait for ourselves

  // Readers first, so that the writer's final TRUNCATE checkpoint finds no open snapshot, and
  // no checkpoint of the checkpointer's competes with it.
  for (std::thread& reader : impl.readers) {
    if (reader.joinable()) reader.join();
  }
  impl.stop_checkpointer();
  {
    std::lock_guard lock(impl.write_mutex);
    impl.writer_exit = true;
  }
  impl.write_cv.notify_all();
  if (impl.writer.joinable()) impl.writer.join();
  impl.reader_dbs.clear();
  impl.writer_db = Database();  // when the writer thread never started
  impl.unlock();
  impl.stopped = true;
}

}  // namespace omnitrail::store
