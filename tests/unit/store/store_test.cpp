// Store: PRAGMAs, group commit, per-job rollback, commit failure, back-pressure, stop() draining,
// readers under WAL, crash recovery — all on real SQLite files.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/store/store.hpp"
#include "temp_dir.hpp"

using namespace omnitrail::store;
using omnitrail::store::testing::TempDir;
using namespace std::chrono_literals;

namespace {

Options options_for(const TempDir& dir) {
  Options options;
  options.path = dir.file("omnitrail.db");
  return options;
}

std::unique_ptr<Store> open_store(const Options& options) {
  auto result = Store::open(options);
  INFO(result.status().to_string());
  REQUIRE(result.ok());
  return std::move(result).value();
}

// Counts callbacks; waits with a deadline so that a bug fails the test instead of hanging it.
class Counter {
 public:
  // Notifies under the lock: the waiter may destroy the Counter as soon as it sees the count.
  void add() {
    std::lock_guard lock(mutex_);
    ++count_;
    cv_.notify_all();
  }
  bool wait_for(int n, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= n; });
  }
  int count() {
    std::lock_guard lock(mutex_);
    return count_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int count_ = 0;
};

// A write (or read) job that holds its thread until released.
struct Gate {
  std::latch started{1};
  std::latch release{1};
  void hold() {
    started.count_down();
    release.wait();
  }
};

void insert_audit(Database& db, const std::string& detail) {
  db.cached("INSERT INTO audit(at, actor, action, detail) VALUES (1, 'test', 'insert', ?1)")
      .bind(1, detail)
      .run();
}

std::int64_t count_audit(const std::string& path, const std::string& where = "1") {
  Database db = Database::open(path, {ConnectionOptions::Mode::read_only});
  return *db.query_value<std::int64_t>("SELECT count(*) FROM audit WHERE " + where);
}

}  // namespace

TEST_CASE("PRAGMAs are really set on the write and read connections", "[store]") {
  TempDir dir;
  Options options = options_for(dir);
  options.busy_timeout = 1234ms;
  const auto [synchronous, expected] = GENERATE(table<Synchronous, std::int64_t>({
      {Synchronous::normal, 1},
      {Synchronous::full, 2},
  }));
  options.synchronous = synchronous;
  auto store = open_store(options);

  std::promise<std::vector<std::string>> written;
  REQUIRE(store->submit_write<std::vector<std::string>>(
      [](WriteContext& w) {
        auto& db = w.db();
        return std::vector<std::string>{
            *db.query_value<std::string>("PRAGMA journal_mode"),
            std::to_string(*db.query_value<std::int64_t>("PRAGMA synchronous")),
            std::to_string(*db.query_value<std::int64_t>("PRAGMA foreign_keys")),
            std::to_string(*db.query_value<std::int64_t>("PRAGMA busy_timeout")),
        };
      },
      [&](Result<std::vector<std::string>> result) { written.set_value(*result); }));
  const auto values = written.get_future().get();
  CHECK(values[0] == "wal");
  CHECK(values[1] == std::to_string(expected));
  CHECK(values[2] == "1");
  CHECK(values[3] == "1234");

  std::promise<std::vector<std::int64_t>> read;
  REQUIRE(store->submit_read<std::vector<std::int64_t>>(
      [](ReadContext& r) {
        auto& db = r.db();
        return std::vector<std::int64_t>{*db.query_value<std::int64_t>("PRAGMA query_only"),
                                         *db.query_value<std::int64_t>("PRAGMA foreign_keys")};
      },
      [&](Result<std::vector<std::int64_t>> result) { read.set_value(*result); }));
  CHECK(read.get_future().get() == std::vector<std::int64_t>{1, 1});

  // WAL is persistent: a fresh connection sees it.
  Database fresh = Database::open(options.path, {ConnectionOptions::Mode::read_only});
  CHECK(*fresh.query_value<std::string>("PRAGMA journal_mode") == "wal");
}

TEST_CASE("Group commit: concurrent submitters, every done exactly once, after visibility",
          "[store]") {
  TempDir dir;
  Options options = options_for(dir);
  options.max_batch = 64;
  auto store = open_store(options);
  constexpr int threads = 4;
  constexpr int per_thread = 250;
  constexpr int total = threads * per_thread;

  // Hold the writer so that the jobs pile up and must be committed in batches.
  Gate gate;
  REQUIRE(store->submit_write([&](WriteContext&) { gate.hold(); }, {}));
  gate.started.wait();

  std::vector<std::atomic<int>> calls(total);
  std::vector<std::atomic<int>> last_seen(threads);
  for (auto& value : last_seen) value = -1;
  std::atomic<int> invisible{0};
  std::atomic<int> errors{0};
  std::atomic<int> out_of_order{0};
  Counter done;
  std::vector<std::thread> submitters;
  for (int t = 0; t < threads; ++t) {
    submitters.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const int n = t * per_thread + i;
        const std::string detail = "job-" + std::to_string(n);
        const bool accepted = store->submit_write(
            [detail](WriteContext& w) { insert_audit(w.db(), detail); },
            [&, n, t, i, detail](Status status) {
              if (!status.ok()) ++errors;
              if (count_audit(options.path, "detail = '" + detail + "'") != 1) ++invisible;
              if (last_seen[t].exchange(i) >= i) ++out_of_order;
              ++calls[n];
              done.add();
            });
        if (!accepted) ++errors;
      }
    });
  }
  for (auto& thread : submitters) thread.join();
  gate.release.count_down();
  REQUIRE(done.wait_for(total));
  store->stop();

  CHECK(errors == 0);
  CHECK(invisible == 0);
  CHECK(out_of_order == 0);
  int wrong = 0;
  for (auto& value : calls) wrong += value != 1;
  CHECK(wrong == 0);
  CHECK(count_audit(options.path) == total);

  const StoreStats& stats = store->stats();
  CHECK(stats.jobs_committed == total + 1);
  CHECK(stats.jobs_failed == 0);
  CHECK(stats.batches_committed <= total / 64 + 3);  // batched, not one commit per job
  CHECK(stats.batches_committed >= total / 64);
  CHECK(stats.commit_latency_count == stats.batches_committed);
  CHECK(stats.write_queue_depth == 0);
}

TEST_CASE("A failing job rolls back only itself", "[store]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  Gate gate;
  REQUIRE(store->submit_write([&](WriteContext&) { gate.hold(); }, {}));
  gate.started.wait();

  std::vector<Status> results(5);
  Counter done;
  auto record = [&](int i) {
    return [&, i](Status status) {
      results[i] = std::move(status);
      done.add();
    };
  };
  store->submit_write([](WriteContext& w) { insert_audit(w.db(), "a"); }, record(0));
  store->submit_write(
      [](WriteContext& w) {
        insert_audit(w.db(), "b");
        throw StoreError(StatusCode::not_found, "customer c_42 is gone");
      },
      record(1));
  store->submit_write(
      [](WriteContext& w) {
        insert_audit(w.db(), "c");
        throw std::runtime_error("boom");
      },
      record(2));
  store->submit_write(
      [](WriteContext& w) {
        insert_audit(w.db(), "d");
        w.db().exec("INSERT INTO customers(created_at) VALUES (1)");  // NOT NULL updated_at
      },
      record(3));
  store->submit_write([](WriteContext& w) { insert_audit(w.db(), "e"); }, record(4));
  gate.release.count_down();
  REQUIRE(done.wait_for(5));

  CHECK(results[0].ok());
  CHECK(results[1].code() == StatusCode::not_found);
  CHECK(results[1].message() == "customer c_42 is gone");
  CHECK(results[2].code() == StatusCode::internal);
  CHECK_THAT(results[2].message(), Catch::Contains("boom"));
  CHECK(results[3].code() == StatusCode::constraint);
  CHECK(results[4].ok());
  const std::string path = store->options().path;
  CHECK(count_audit(path) == 2);
  CHECK(count_audit(path, "detail IN ('a', 'e')") == 2);
  CHECK(store->stats().batches_committed == 2);  // the gate's batch, then ONE for all five
  CHECK(store->stats().jobs_failed == 3);
}

TEST_CASE("A failing COMMIT fails every job of the batch", "[store]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  Gate gate;
  REQUIRE(store->submit_write([&](WriteContext&) { gate.hold(); }, {}));
  gate.started.wait();

  std::vector<Status> results(3);
  Counter done;
  auto record = [&](int i) {
    return [&, i](Status status) {
      results[i] = std::move(status);
      done.add();
    };
  };
  store->submit_write([](WriteContext& w) { insert_audit(w.db(), "a"); }, record(0));
  // A deferred foreign-key violation passes the job's savepoint and fails only at COMMIT.
  store->submit_write(
      [](WriteContext& w) {
        w.db().exec("PRAGMA defer_foreign_keys = ON");
        w.db().exec(
            "INSERT INTO identities(customer_id, kind, key, raw, trust, source, first_seen, "
            "last_seen) VALUES (999, 'email', 'x@example.com', 'x@example.com', 'claimed', 't', "
            "1, 1)");
      },
      record(1));
  store->submit_write([](WriteContext& w) { insert_audit(w.db(), "c"); }, record(2));
  gate.release.count_down();
  REQUIRE(done.wait_for(3));

  for (const Status& status : results) {
    CHECK(status.code() == StatusCode::constraint);
  }
  const std::string path = store->options().path;
  CHECK(count_audit(path) == 0);
  CHECK(store->stats().commit_failures == 1);

  // The store goes on.
  std::promise<Status> after;
  store->submit_write([](WriteContext& w) { insert_audit(w.db(), "later"); },
                      [&](Status status) { after.set_value(status); });
  CHECK(after.get_future().get().ok());
  CHECK(count_audit(path) == 1);
}

TEST_CASE("A full write queue refuses at once (back-pressure)", "[store]") {
  TempDir dir;
  Options options = options_for(dir);
  options.queue_capacity = 4;
  auto store = open_store(options);
  Gate gate;
  REQUIRE(store->submit_write([&](WriteContext&) { gate.hold(); }, {}));
  gate.started.wait();  // the writer holds the gate job; the queue is empty again

  Counter done;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    REQUIRE(store->submit_write([i](WriteContext& w) { insert_audit(w.db(), std::to_string(i)); },
                                [&](Status status) {
                                  ok += status.ok();
                                  done.add();
                                }));
  }
  CHECK(store->stats().write_queue_depth == 4);
  bool rejected_done_called = false;
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(store->submit_write([](WriteContext&) {},
                                  [&](Status) { rejected_done_called = true; }));
  CHECK(std::chrono::steady_clock::now() - start < 100ms);
  CHECK(store->stats().writes_rejected == 1);

  gate.release.count_down();
  REQUIRE(done.wait_for(4));
  CHECK(ok == 4);
  store->stop();
  CHECK_FALSE(rejected_done_called);
  CHECK(count_audit(options.path) == 4);
}

TEST_CASE("stop() finishes every accepted job, then refuses new ones", "[store]") {
  TempDir dir;
  Options options = options_for(dir);
  options.max_batch = 7;
  auto store = open_store(options);
  Gate gate;
  REQUIRE(store->submit_write([&](WriteContext&) { gate.hold(); }, {}));
  gate.started.wait();

  std::atomic<int> ok{0};
  for (int i = 0; i < 100; ++i) {
    REQUIRE(store->submit_write([i](WriteContext& w) { insert_audit(w.db(), std::to_string(i)); },
                                [&](Status status) { ok += status.ok(); }));
  }
  std::atomic<int> reads{0};
  for (int i = 0; i < 10; ++i) {
    REQUIRE(store->submit_read([](ReadContext&) {}, [&](Status status) { reads += status.ok(); }));
  }
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    gate.release.count_down();
  });
  store->stop();  // blocks until the gate opens and the queue is drained
  releaser.join();

  CHECK(ok == 100);
  CHECK(reads == 10);
  CHECK(count_audit(options.path) == 100);
  CHECK_FALSE(store->submit_write([](WriteContext&) {}, {}));
  CHECK_FALSE(store->submit_read([](ReadContext&) {}));
  store->stop();  // idempotent

  // The clean close checkpointed the WAL away.
  const std::string wal = options.path + "-wal";
  CHECK((!std::filesystem::exists(wal) || std::filesystem::file_size(wal) == 0));
}

TEST_CASE("submit_write<T> hands the value over only after the commit", "[store]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  std::promise<Result<std::int64_t>> created;
  REQUIRE(store->submit_write<std::int64_t>(
      [](WriteContext& w) {
        w.statement("INSERT INTO customers(created_at, updated_at) VALUES (?1, ?1)")
            .bind(1, unix_millis_now())
            .run();
        return w.db().last_insert_rowid();
      },
      [&](Result<std::int64_t> result) { created.set_value(std::move(result)); }));
  auto result = created.get_future().get();
  REQUIRE(result.ok());
  CHECK(*result == 1);

  std::promise<Result<std::int64_t>> failed;
  REQUIRE(store->submit_write<std::int64_t>(
      [](WriteContext&) -> std::int64_t { throw StoreError(StatusCode::busy, "later"); },
      [&](Result<std::int64_t> r) { failed.set_value(std::move(r)); }));
  auto failure = failed.get_future().get();
  CHECK_FALSE(failure.ok());
  CHECK(failure.status().code() == StatusCode::busy);
}

TEST_CASE("Readers run in parallel and never wait for an open write transaction", "[store]") {
  TempDir dir;
  Options options = options_for(dir);
  options.reader_threads = 2;
  auto store = open_store(options);

  // A write job that has inserted a row but not committed holds the writer.
  std::latch inserted{1};
  std::latch release{1};
  std::promise<Status> write_done;
  REQUIRE(store->submit_write(
      [&](WriteContext& w) {
        insert_audit(w.db(), "pending");
        inserted.count_down();
        release.wait();
      },
      [&](Status status) { write_done.set_value(status); }));
  inserted.wait();

  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  Counter done;
  std::vector<std::int64_t> seen(2, -1);
  for (int i = 0; i < 2; ++i) {
    REQUIRE(store->submit_read<std::int64_t>(
        [&](ReadContext& r) {
          const int now = ++in_flight;
          int expected = max_in_flight.load();
          while (now > expected && !max_in_flight.compare_exchange_weak(expected, now)) {
          }
          std::this_thread::sleep_for(150ms);
          --in_flight;
          return *r.db().query_value<std::int64_t>("SELECT count(*) FROM audit");
        },
        [&, i](Result<std::int64_t> result) {
          seen[i] = result.ok() ? *result : -2;
          done.add();
        }));
  }
  REQUIRE(done.wait_for(2, 5s));  // would time out if reads waited for the writer
  CHECK(max_in_flight == 2);
  CHECK(seen == std::vector<std::int64_t>{0, 0});  // the uncommitted row is invisible
  release.count_down();
  CHECK(write_done.get_future().get().ok());

  std::promise<Result<std::int64_t>> after;
  store->submit_read<std::int64_t>(
      [](ReadContext& r) {
        return r.statement("SELECT count(*) FROM audit WHERE detail = ?1")
            .bind(1, "pending")
            .step()
            ? 1
            : 0;
      },
      [&](Result<std::int64_t> result) { after.set_value(std::move(result)); });
  CHECK(*after.get_future().get() == 1);

  // Read jobs fail individually and cannot write.
  std::promise<Status> failed;
  store->submit_read([](ReadContext& r) { insert_audit(r.db(), "no"); },
                     [&](Status status) { failed.set_value(status); });
  const Status failure = failed.get_future().get();
  CHECK_FALSE(failure.ok());
  CHECK(store->stats().reads_failed == 1);
}

TEST_CASE("A full read queue refuses at once", "[store]") {
  TempDir dir;
  Options options = options_for(dir);
  options.reader_threads = 1;
  options.read_queue_capacity = 2;
  auto store = open_store(options);
  Gate gate;
  REQUIRE(store->submit_read([&](ReadContext&) { gate.hold(); }));
  gate.started.wait();
  CHECK(store->submit_read([](ReadContext&) {}));
  CHECK(store->submit_read([](ReadContext&) {}));
  CHECK_FALSE(store->submit_read([](ReadContext&) {}));
  CHECK(store->stats().reads_rejected == 1);
  gate.release.count_down();
  store->stop();  // before `gate` goes out of scope
}

TEST_CASE("Periodic checkpoints run on the checkpointer thread", "[store]") {
  TempDir dir;
  Options options = options_for(dir);
  options.checkpoint_interval = 20ms;
  auto store = open_store(options);
  Counter done;
  for (int i = 0; i < 10; ++i) {
    store->submit_write([i](WriteContext& w) { insert_audit(w.db(), std::to_string(i)); },
                        [&](Status) { done.add(); });
  }
  REQUIRE(done.wait_for(10));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (store->stats().checkpoints < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(store->stats().checkpoints >= 2);
}

TEST_CASE("A growing WAL is checkpointed off the writer, without waiting for the interval", "[store]") {
  TempDir dir;
  Options options = options_for(dir);
  options.checkpoint_interval = std::chrono::hours(1);
  auto store = open_store(options);
  Counter done;
  const std::string big(64 * 1024, 'x');  // ~16 pages per job: 1,000 WAL frames after ~60 jobs
  for (int i = 0; i < 120; ++i) {
    store->submit_write([&big](WriteContext& w) { insert_audit(w.db(), big); }, [&](Status) { done.add(); });
  }
  REQUIRE(done.wait_for(120));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (store->stats().checkpoints < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(store->stats().checkpoints >= 1);
  // The WAL's frames reached the database file: a fresh connection reads every row.
  store->stop();
  auto db = Database::open(options.path);
  CHECK(db.query_value<std::int64_t>("SELECT count(*) FROM audit WHERE length(detail) = 65536").value_or(0) == 120);
}

TEST_CASE("Invalid options are refused", "[store]") {
  TempDir dir;
  Options options = options_for(dir);
  options.max_batch = 0;
  auto store = Store::open(options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::invalid_argument);
  options = options_for(dir);
  options.path = ":memory:";
  CHECK(Store::open(options).status().code() == StatusCode::invalid_argument);
}

TEST_CASE("A crash mid-stream keeps every acknowledged commit", "[store]") {
  TempDir dir;
  const Options options = options_for(dir);
  constexpr int jobs = 400;
  constexpr int crash_after = 150;

  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Child: write a stream of rows and die without any cleanup after `crash_after` acks.
    close(fds[0]);
    Options child_options = options;
    child_options.max_batch = 8;
    child_options.checkpoint_interval = 0ms;  // leave everything in the WAL
    auto opened = Store::open(child_options);
    if (!opened.ok()) _exit(2);
    auto& store = *opened;
    std::atomic<int> acked{0};
    for (int i = 0; i < jobs; ++i) {
      store->submit_write([i](WriteContext& w) { insert_audit(w.db(), std::to_string(i)); },
                          [&acked, i, fd = fds[1]](Status status) {
                            if (!status.ok()) _exit(3);
                            if (write(fd, &i, sizeof i) != sizeof i) _exit(4);
                            if (++acked == crash_after) _exit(0);
                          });
    }
    std::this_thread::sleep_for(30s);  // never reached in practice
    _exit(5);
  }
  close(fds[1]);
  std::vector<int> acknowledged;
  int value = 0;
  while (read(fds[0], &value, sizeof value) == static_cast<ssize_t>(sizeof value)) {
    acknowledged.push_back(value);
  }
  close(fds[0]);
  int wstatus = 0;
  REQUIRE(waitpid(child, &wstatus, 0) == child);
  REQUIRE(WIFEXITED(wstatus));
  REQUIRE(WEXITSTATUS(wstatus) == 0);
  REQUIRE(acknowledged.size() == static_cast<std::size_t>(crash_after));
  // The crash left a WAL behind: recovery is really exercised.
  REQUIRE(std::filesystem::exists(options.path + "-wal"));
  CHECK(std::filesystem::file_size(options.path + "-wal") > 0);

  auto store = open_store(options);
  std::promise<Result<std::vector<std::int64_t>>> rows;
  store->submit_read<std::vector<std::int64_t>>(
      [](ReadContext& r) {
        std::vector<std::int64_t> out;
        Statement& statement = r.statement("SELECT CAST(detail AS INTEGER) FROM audit");
        while (statement.step()) out.push_back(statement.column<std::int64_t>(0));
        out.push_back(-1);  // sentinel: integrity result follows
        out.push_back(*r.db().query_value<std::string>("PRAGMA integrity_check") == "ok");
        return out;
      },
      [&](Result<std::vector<std::int64_t>> result) { rows.set_value(std::move(result)); });
  auto result = rows.get_future().get();
  REQUIRE(result.ok());
  std::vector<std::int64_t> found = *result;
  CHECK(found.back() == 1);  // integrity ok
  found.resize(found.size() - 2);
  std::sort(found.begin(), found.end());
  CHECK(found.size() >= acknowledged.size());
  int missing = 0;
  for (int i : acknowledged) missing += !std::binary_search(found.begin(), found.end(), i);
  CHECK(missing == 0);
  // Committed rows are whole batches: nothing half-written, no duplicates.
  CHECK(std::adjacent_find(found.begin(), found.end()) == found.end());
}

TEST_CASE("A write lock held by another process fails the batch with busy and the store goes on",
          "[store]") {
  TempDir dir;
  Options options = options_for(dir);
  options.busy_timeout = 50ms;
  auto store = open_store(options);
  Database intruder = Database::open(options.path);
  intruder.exec("PRAGMA busy_timeout = 0");
  std::optional<Transaction> lock_holder;
  lock_holder.emplace(intruder, Transaction::Kind::immediate);

  std::promise<Status> blocked;
  REQUIRE(store->submit_write([](WriteContext& w) { insert_audit(w.db(), "x"); },
                              [&](Status status) { blocked.set_value(status); }));
  const Status status = blocked.get_future().get();
  CHECK(status.code() == StatusCode::busy);
  CHECK(store->stats().commit_failures == 1);

  lock_holder.reset();  // the other process lets go
  std::promise<Status> chained;
  // A callback may submit a follow-up write (it runs on the writer thread).
  REQUIRE(store->submit_write([](WriteContext& w) { insert_audit(w.db(), "first"); },
                              [&](Status first) {
                                if (!first.ok()) {
                                  chained.set_value(first);
                                  return;
                                }
                                const bool accepted = store->submit_write(
                                    [](WriteContext& w) { insert_audit(w.db(), "second"); },
                                    [&](Status second) { chained.set_value(second); });
                                if (!accepted) chained.set_value(Status(StatusCode::queue_full, ""));
                              }));
  CHECK(chained.get_future().get().ok());
  CHECK(count_audit(options.path) == 2);
}

TEST_CASE("one store per database file: a second open is refused until the first stops", "[store][lock]") {
  TempDir dir;
  const Options options = options_for(dir);
  auto first = open_store(options);
  auto second = Store::open(options);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::busy);
  CHECK_THAT(second.status().message(), Catch::Contains("another omnitraild"));
  CHECK_THAT(second.status().message(), Catch::Contains("omnitrail.db.lock"));
  first->stop();
  auto third = Store::open(options);  // released by stop(), not only by the destructor
  INFO(third.status().to_string());
  CHECK(third.ok());
}
