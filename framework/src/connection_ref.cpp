// framework/src/connection_ref.cpp — internal.
#include "pollux/framework/connection_ref.hpp"

#include <utility>
#include <vector>

#include "connection_host.hpp"
#include "pollux/framework/connection.hpp"

namespace pollux::framework {

reactor::Reactor* ConnectionRef::reactor() const noexcept {
    return host_ == nullptr ? nullptr : &host_->reactor();
}

Connection* ConnectionRef::get_in_loop() const noexcept {
    return host_ == nullptr ? nullptr : host_->lookup_in_loop(slot_, generation_);
}

bool ConnectionRef::dispatch(std::move_only_function<void(Connection&)> fn) const {
    if (host_ == nullptr) return false;
    reactor::Reactor& r = host_->reactor();
    if (r.is_in_loop_thread()) {
        Connection* c = get_in_loop();
        if (c == nullptr || !c->is_open()) return false;
        fn(*c);
        return true;
    }
    return r.post([host = host_, slot = slot_, gen = generation_, fn = std::move(fn)]() mutable {
        Connection* c = host->lookup_in_loop(slot, gen);
        if (c != nullptr && c->is_open()) fn(*c);
    });
}

bool ConnectionRef::send(std::span<const std::byte> data) const {
    if (host_ == nullptr) return false;
    if (host_->reactor().is_in_loop_thread()) {
        Connection* c = get_in_loop();
        if (c == nullptr) return false;
        c->send(data);
        return true;
    }
    // A cross-thread send copies once; the copy travels with the task.
    std::vector<std::byte> copy(data.begin(), data.end());
    return host_->reactor().post([host = host_, slot = slot_, gen = generation_, copy = std::move(copy)] {
        if (Connection* c = host->lookup_in_loop(slot, gen)) c->send(std::span<const std::byte>(copy));
    });
}

bool ConnectionRef::send(std::string_view text) const {
    return send(std::as_bytes(std::span(text.data(), text.size())));
}

bool ConnectionRef::close(CloseReason reason) const {
    if (host_ == nullptr) return false;
    if (host_->reactor().is_in_loop_thread()) {
        Connection* c = get_in_loop();
        if (c == nullptr) return false;
        c->close(reason);
        return true;
    }
    return host_->reactor().post([host = host_, slot = slot_, gen = generation_, reason] {
        if (Connection* c = host->lookup_in_loop(slot, gen)) c->close(reason);
    });
}

bool ConnectionRef::abort(CloseReason reason) const {
    if (host_ == nullptr) return false;
    if (host_->reactor().is_in_loop_thread()) {
        Connection* c = get_in_loop();
        if (c == nullptr) return false;
        c->abort(reason);
        return true;
    }
    return host_->reactor().post([host = host_, slot = slot_, gen = generation_, reason] {
        if (Connection* c = host->lookup_in_loop(slot, gen)) c->abort(reason);
    });
}

}  // namespace pollux::framework
