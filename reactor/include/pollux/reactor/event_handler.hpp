// pollux/reactor/event_handler.hpp — public.
//
// The user-visible callback types of a Reactor, in one place:
//
//   EventHandler  receives the readiness events of one registration (on the loop thread).
//   Task          a unit of work posted to, deferred on, or scheduled by a reactor.
//
// Handlers are plain objects the user owns; the reactor stores only a pointer in its
// registration table. The contract that makes this safe:
//
// * `on_event` runs on the reactor's loop thread, never concurrently with itself or with
//   any other handler of the same reactor.
// * After `Reactor::deregister_in_loop(src, id)` returns, the handler behind `id` gets no
//   further call — not even for an event already fetched in the current poll batch. So a
//   handler may be destroyed right after it is deregistered. If the handler is the one
//   currently running (it deregistered itself), it must not touch `this` after
//   `delete this`; the idiomatic way is `reactor.defer_in_loop([p]{ delete p; })`, which
//   runs once the current batch has been dispatched.
// * Edge-triggered: on a readable event, read until WouldBlock (see pollux/core/poll.hpp).
// * The destructor is protected and non-virtual (no deletion through EventHandler*), so
//   mark concrete handlers `final` (or give them a virtual destructor) to keep
//   -Wnon-virtual-dtor quiet.
//
// A Task is `std::move_only_function<void()>`. It stores callables of up to 24 bytes
// (three pointers; e.g. a lambda capturing `this` and a `std::unique_ptr`) inline, so
// posting such a task does not allocate. Larger captures allocate once per task.
#pragma once

#include <functional>

#include "pollux/core/event.hpp"

namespace pollux::reactor {

class EventHandler {
public:
    // Called for each event of the registration, on the loop thread. `ev.token()` is the
    // packed RegistrationId (see registration_table.hpp).
    virtual void on_event(const Event& ev) = 0;

protected:
    EventHandler() = default;
    EventHandler(const EventHandler&) = default;
    EventHandler& operator=(const EventHandler&) = default;
    // Not deleted through an EventHandler*: the user owns the concrete object.
    ~EventHandler() = default;
};

// Work for a reactor. Moved, never copied; called at most once (timers created by
// `run_every_in_loop` call theirs repeatedly).
using Task = std::move_only_function<void()>;

}  // namespace pollux::reactor
