#pragma once
// The closed-loop run: N client threads, each with its own InferClient, send, wait for the answer, send again,
// until the run's request count or time is used up. Latency is timed per request on the client's thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "infer_client.h"

namespace kiln::loadgen {

struct LoadBounds {
  int64_t requests = 0;  ///< sent in all, across clients; 0: no count bound
  double seconds = 0;    ///< no request is started after this long; 0: no time bound
};

struct LoadResult {
  int64_t answered = 0;  ///< answers that passed every check
  int64_t failed = 0;    ///< error answers, lost requests (broken connection) and answers that failed a check
  std::string first_failure;        ///< what the first failure was, "" when none
  std::vector<double> latencies_ms;  ///< of the answered requests
  double wall_seconds = 0;           ///< from the start (every client connected) to the last answer
  double cpu_seconds = 0;            ///< this process's CPU time (user + system, every thread) over the same span
};

/// `connect` makes one client (called on that client's thread, before the clock starts; a client that cannot
/// connect counts one failed request and sends nothing). Every answer must declare the same outputs as the
/// first one that passed its checks, or it counts as failed.
LoadResult run_load(int clients, const std::function<std::unique_ptr<InferClient>()>& connect, LoadBounds bounds);

}  // namespace kiln::loadgen
