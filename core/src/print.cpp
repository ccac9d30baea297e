// core/src/print.cpp — operator<< for Token, Interest and Event.
#include <ostream>

#include "pollux/core/event.hpp"
#include "pollux/core/interest.hpp"
#include "pollux/core/token.hpp"

namespace pollux {

std::ostream& operator<<(std::ostream& os, Token token) { return os << "Token(" << token.value() << ')'; }

std::ostream& operator<<(std::ostream& os, Interest interest) {
    const char* sep = "";
    if (interest.is_readable()) { os << sep << "READABLE"; sep = " | "; }
    if (interest.is_writable()) { os << sep << "WRITABLE"; sep = " | "; }
    if (interest.is_priority()) { os << sep << "PRIORITY"; }
    return os;
}

std::ostream& operator<<(std::ostream& os, const Event& event) {
    os << "Event { token: " << event.token();
    if (event.is_readable()) os << ", readable";
    if (event.is_writable()) os << ", writable";
    if (event.is_error()) os << ", error";
    if (event.is_read_closed()) os << ", read_closed";
    if (event.is_write_closed()) os << ", write_closed";
    if (event.is_priority()) os << ", priority";
    return os << " }";
}

}  // namespace pollux
