#include "batcher.h"

#include <fmt/format.h>

#include <cstring>

#include "serve_error.h"

namespace kiln::serve {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t micros(Clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

// What must agree for two requests to share a batch: everything but the first dim of each input.
std::string signature_of(const NamedTensors& feeds, const std::vector<std::string>& outputs) {
  std::string key;
  for (const auto& [name, t] : feeds) {
    key += fmt::format("{}:{}:", name, static_cast<int>(t.dtype()));
    for (size_t d = 1; d < t.rank(); ++d) key += fmt::format("{},", t.dims()[d]);
    key += ';';
  }
  for (const std::string& o : outputs) key += o + ';';
  return key;
}

// Rows [first, first + count) of `t` along its first dim, copied.
Tensor rows_of(const Tensor& t, int64_t first, int64_t count) {
  std::vector<int64_t> dims = t.dims();
  const int64_t row = dims[0] == 0 ? 0 : t.numel() / dims[0];
  dims[0] = count;
  Tensor out(t.dtype(), dims);
  if (t.dtype() == DType::kString) {
    for (int64_t i = 0; i < count * row; ++i) out.data<std::string>()[i] = t.data<std::string>()[first * row + i];
  } else if (count * row > 0) {  // an empty tensor has no storage: memcpy from null is undefined
    const size_t bytes = static_cast<size_t>(row) * dtype_size(t.dtype());
    std::memcpy(out.raw_data(), static_cast<const char*>(t.raw_data()) + static_cast<size_t>(first) * bytes,
                static_cast<size_t>(count) * bytes);
  }
  return out;
}

// The requests' tensors named `name` stacked along the first dim.
Tensor stacked(const std::vector<const Tensor*>& parts, int64_t total_rows) {
  std::vector<int64_t> dims = parts.front()->dims();
  dims[0] = total_rows;
  Tensor out(parts.front()->dtype(), dims);
  if (out.dtype() == DType::kString) {
    int64_t at = 0;
    for (const Tensor* p : parts)
      for (const std::string& s : p->span<std::string>()) out.data<std::string>()[at++] = s;
  } else {
    char* dst = static_cast<char*>(out.raw_data());
    for (const Tensor* p : parts) {
      const size_t bytes = static_cast<size_t>(p->numel()) * dtype_size(p->dtype());
      if (bytes) std::memcpy(dst, p->raw_data(), bytes);
      dst += bytes;
    }
  }
  return out;
}

}  // namespace

Batcher::Batcher(const Session& session, BatchingConfig config, int64_t instances,
                 std::chrono::milliseconds test_run_delay, std::string model_name, ModelMetrics& metrics)
    : session_(session), config_(config), test_run_delay_(test_run_delay), model_name_(std::move(model_name)),
      metrics_(metrics) {
  for (int64_t i = 0; i < instances; ++i) threads_.emplace_back([this] { schedule(); });
}

Batcher::~Batcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  arrived_.notify_all();
  for (std::thread& t : threads_) t.join();
}

NamedTensors Batcher::run(NamedTensors feeds, std::vector<std::string> output_names) {
  Pending p;
  p.rows = feeds.front().second.dims().at(0);
  p.signature = signature_of(feeds, output_names);
  p.feeds = std::move(feeds);
  p.output_names = std::move(output_names);
  p.queued = Clock::now();
  std::future<NamedTensors> result = p.result.get_future();
  {
    std::lock_guard lock(mutex_);
    if (config_.max_queue_size > 0 && static_cast<int64_t>(queue_.size()) >= config_.max_queue_size)
      throw ServeError(Status::kUnavailable, fmt::format("model '{}' has {} requests waiting, its max_queue_size; "
                                                         "retry later", model_name_, queue_.size()));
    queue_.push_back(std::move(p));
  }
  arrived_.notify_all();  // the gathering thread waits on the rows, the others on the queue
  return result.get();
}

void Batcher::schedule() {
  std::unique_lock lock(mutex_);
  for (;;) {
    arrived_.wait(lock, [&] { return (stopping_ && queue_.empty()) || (!queue_.empty() && !gathering_); });
    if (queue_.empty()) return;  // stopping, nothing left
    gathering_ = true;
    // The oldest request opens a batch; it waits until the batch is full or its delay has passed.
    const auto deadline = queue_.front().queued + config_.max_queue_delay;
    const auto rows_ready = [&] {
      int64_t rows = 0;
      for (const Pending& p : queue_)
        if (p.signature == queue_.front().signature) rows += p.rows;
      return rows >= config_.max_batch_size;
    };
    arrived_.wait_until(lock, deadline, [&] { return stopping_ || rows_ready(); });
    std::vector<Pending> batch;
    int64_t rows = 0;
    const std::string signature = queue_.front().signature;
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->signature == signature && rows + it->rows <= config_.max_batch_size) {
        rows += it->rows;
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    gathering_ = false;
    lock.unlock();
    arrived_.notify_all();  // another scheduling thread may gather the next batch while this one runs
    execute(batch);
    lock.lock();
  }
}

void Batcher::execute(std::vector<Pending>& batch) {
  const auto start = Clock::now();
  for (const Pending& p : batch) metrics_.queue_us.fetch_add(micros(start - p.queued), std::memory_order_relaxed);
  try {
    NamedTensors feeds;
    int64_t total = 0;
    for (const Pending& p : batch) total += p.rows;
    if (batch.size() == 1) {
      feeds = std::move(batch.front().feeds);
    } else {
      for (size_t i = 0; i < batch.front().feeds.size(); ++i) {
        std::vector<const Tensor*> parts;
        for (const Pending& p : batch) parts.push_back(&p.feeds[i].second);
        feeds.emplace_back(batch.front().feeds[i].first, stacked(parts, total));
      }
    }
    RunOptions options;
    options.output_names = batch.front().output_names;
    metrics_.exec_count.fetch_add(1, std::memory_order_relaxed);
    if (test_run_delay_.count() > 0) std::this_thread::sleep_for(test_run_delay_);
    NamedTensors outputs = session_.run(feeds, options);
    if (batch.size() == 1) {
      batch.front().result.set_value(std::move(outputs));
      return;
    }
    for (const auto& [name, t] : outputs)
      if (!t.is_tensor() || t.rank() == 0 || t.dims()[0] != total)
        throw ServeError(Status::kInternal,
                         fmt::format("model '{}' is configured for batching but its output '{}' does not have the "
                                     "batch ({}) as its first dim; remove max_batch_size from its config.json",
                                     model_name_, name, total));
    int64_t first = 0;
    for (Pending& p : batch) {
      NamedTensors mine;
      for (const auto& [name, t] : outputs) mine.emplace_back(name, rows_of(t, first, p.rows));
      first += p.rows;
      p.result.set_value(std::move(mine));
    }
  } catch (...) {
    for (Pending& p : batch) {
      try {
        p.result.set_exception(std::current_exception());
      } catch (const std::future_error&) {
        // this request already has its result
      }
    }
  }
}

}  // namespace kiln::serve
