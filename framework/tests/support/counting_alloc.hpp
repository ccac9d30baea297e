// framework/tests/support/counting_alloc.hpp — counts heap allocations, opt-in.
//
// counting_alloc.cpp replaces the global operator new/delete (every form) for the whole
// framework_tests binary. The replacements forward to malloc/free and count a call
// only on a thread that has an `AllocationCounter` alive, so other tests and threads
// are unaffected:
//
//     pollux::test::AllocationCounter allocs;
//     ... code under test ...
//     EXPECT_EQ(allocs.count(), 0u);
//
// Only the calling thread's allocations count. Keep gtest assertions outside the
// counted region (they may allocate).
#pragma once

#include <cstddef>

namespace pollux::test {

class AllocationCounter {
public:
    AllocationCounter() noexcept;
    ~AllocationCounter();
    AllocationCounter(const AllocationCounter&) = delete;
    AllocationCounter& operator=(const AllocationCounter&) = delete;

    // operator new calls on this thread since construction (or the last reset).
    std::size_t count() const noexcept;
    void reset() noexcept;

private:
    bool was_counting_;
    std::size_t start_;
};

}  // namespace pollux::test
