// framework/tests/support/counting_alloc.cpp — global operator new/delete replacements
// that count allocations on threads that opted in (see counting_alloc.hpp).
#include "support/counting_alloc.hpp"

#include <cstdlib>
#include <new>

namespace {

thread_local bool t_counting = false;
thread_local std::size_t t_count = 0;

void* counted_alloc(std::size_t size) {
    if (t_counting) ++t_count;
    if (size == 0) size = 1;
    return std::malloc(size);
}

void* counted_aligned_alloc(std::size_t size, std::align_val_t al) {
    if (t_counting) ++t_count;
    std::size_t align = static_cast<std::size_t>(al);
    if (align < sizeof(void*)) align = sizeof(void*);
    if (size == 0) size = 1;
    void* p = nullptr;
    if (::posix_memalign(&p, align, size) != 0) return nullptr;
    return p;
}

}  // namespace

namespace pollux::test {

AllocationCounter::AllocationCounter() noexcept : was_counting_(t_counting), start_(t_count) { t_counting = true; }
AllocationCounter::~AllocationCounter() { t_counting = was_counting_; }
std::size_t AllocationCounter::count() const noexcept { return t_count - start_; }
void AllocationCounter::reset() noexcept { start_ = t_count; }

}  // namespace pollux::test

void* operator new(std::size_t size) {
    if (void* p = counted_alloc(size)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
    if (void* p = counted_alloc(size)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_alloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_alloc(size); }
void* operator new(std::size_t size, std::align_val_t al) {
    if (void* p = counted_aligned_alloc(size, al)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t al) {
    if (void* p = counted_aligned_alloc(size, al)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return counted_aligned_alloc(size, al);
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return counted_aligned_alloc(size, al);
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
