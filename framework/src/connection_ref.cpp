// framework/src/connection_ref.cpp — internal.
//
// Every call goes through the shared HostAnchor (connection_host.hpp) under a HostUse
// guard: on the owning loop the call acts at once; elsewhere it posts a task that holds
// the anchor (not the host) and takes another HostUse when it runs. So neither the call
// nor its task ever touches a host that has been destroyed.
#include "pollux/framework/connection_ref.hpp"

#include <utility>
#include <vector>

#include "connection_host.hpp"
#include "pollux/framework/connection.hpp"

namespace pollux::framework {

// `fn(Connection*)` runs on the owning loop with the connection, or null if it has
// closed. True when it ran or was queued.
template <class Fn>
bool ConnectionRef::run_or_post(Fn&& fn) const {
    if (anchor_ == nullptr) return false;
    detail::HostUse use(*anchor_);
    ConnectionHost* host = use.get();
    if (host == nullptr) return false;
    reactor::Reactor& r = host->reactor();
    if (r.is_in_loop_thread()) return fn(host->lookup_in_loop(slot_, generation_));
    return r.post([anchor = anchor_, slot = slot_, gen = generation_, fn = std::forward<Fn>(fn)]() mutable {
        detail::HostUse inner(*anchor);
        if (ConnectionHost* h = inner.get()) (void)fn(h->lookup_in_loop(slot, gen));
    });
}

bool ConnectionRef::is_in_loop_thread() const noexcept {
    if (anchor_ == nullptr) return false;
    detail::HostUse use(*anchor_);
    return use.get() != nullptr && use.get()->reactor().is_in_loop_thread();
}

Connection* ConnectionRef::get_in_loop() const noexcept {
    if (anchor_ == nullptr) return nullptr;
    detail::HostUse use(*anchor_);
    return use.get() == nullptr ? nullptr : use.get()->lookup_in_loop(slot_, generation_);
}

bool ConnectionRef::dispatch(std::move_only_function<void(Connection&)> fn) const {
    return run_or_post([fn = std::move(fn)](Connection* c) mutable {
        if (c == nullptr || !c->is_open()) return false;
        fn(*c);
        return true;
    });
}

bool ConnectionRef::send(std::span<const std::byte> data) const {
    if (anchor_ == nullptr) return false;
    if (is_in_loop_thread()) {
        Connection* c = get_in_loop();
        if (c == nullptr) return false;
        c->send(data);
        return true;
    }
    // A cross-thread send copies once; the copy travels with the task.
    return run_or_post([copy = std::vector<std::byte>(data.begin(), data.end())](Connection* c) {
        if (c == nullptr) return false;
        c->send(std::span<const std::byte>(copy));
        return true;
    });
}

bool ConnectionRef::send(std::string_view text) const {
    return send(std::as_bytes(std::span(text.data(), text.size())));
}

bool ConnectionRef::close(CloseReason reason) const {
    return run_or_post([reason](Connection* c) {
        if (c == nullptr) return false;
        c->close(reason);
        return true;
    });
}

bool ConnectionRef::abort(CloseReason reason) const {
    return run_or_post([reason](Connection* c) {
        if (c == nullptr) return false;
        c->abort(reason);
        return true;
    });
}

}  // namespace pollux::framework
