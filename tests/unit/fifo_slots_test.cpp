// serve/fifo_slots.h: at most N holders at once, served in arrival order, a freed slot handed to the first waiter.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "serve/fifo_slots.h"

using kiln::serve::FifoSlots;

namespace {

// Waits until `n` threads are queued for a slot.
void wait_for_queue(FifoSlots& fifo, size_t n) {
  while (fifo.waiting() != n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TEST(FifoSlots, NeverMoreHoldersThanSlots) {
  for (int slots : {1, 2, 3}) {
    FifoSlots fifo(slots);
    std::atomic<int> holding{0}, most{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 200; ++i) {
          fifo.acquire();
          const int now = holding.fetch_add(1) + 1;
          int seen = most.load();
          while (now > seen && !most.compare_exchange_weak(seen, now)) {
          }
          std::this_thread::yield();
          holding.fetch_sub(1);
          fifo.release();
        }
      });
    for (std::thread& t : threads) t.join();
    EXPECT_LE(most.load(), slots);
    EXPECT_GE(most.load(), 1);
  }
}

TEST(FifoSlots, WaitersAreServedInArrivalOrder) {
  FifoSlots fifo(1);
  fifo.acquire();  // held by the test: everyone below queues
  std::mutex order_mutex;
  std::vector<int> order;
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      fifo.acquire();
      {
        std::lock_guard lock(order_mutex);
        order.push_back(t);
      }
      fifo.release();
    });
    wait_for_queue(fifo, static_cast<size_t>(t) + 1);  // thread t is queued before thread t + 1 starts
  }
  fifo.release();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST(FifoSlots, AFreeSlotIsTakenAtOnceAndAFreedOneGoesToTheWaiter) {
  FifoSlots fifo(2);
  fifo.acquire();
  fifo.acquire();  // both held
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    fifo.acquire();
    got = true;
  });
  wait_for_queue(fifo, 1);
  EXPECT_FALSE(got.load());
  fifo.release();  // handed to the waiter
  waiter.join();
  EXPECT_TRUE(got.load());
  // The waiter holds the slot it was handed, the test the other: a third acquire must wait.
  std::atomic<bool> third{false};
  std::thread late([&] {
    fifo.acquire();
    third = true;
    fifo.release();
  });
  wait_for_queue(fifo, 1);
  EXPECT_FALSE(third.load());
  fifo.release();
  late.join();
  EXPECT_TRUE(third.load());
  fifo.release();
}

}  // namespace
