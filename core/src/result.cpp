// core/src/result.cpp — the "pollux" error category.
#include "pollux/core/result.hpp"

#include <string>

namespace pollux {
namespace {

class PolluxCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "pollux"; }

    std::string message(int value) const override {
        switch (static_cast<Errc>(value)) {
            case Errc::already_registered: return "I/O source already registered with a Registry";
            case Errc::not_registered: return "I/O source not registered with this Registry";
            case Errc::registered_elsewhere: return "I/O source already registered with a different Registry";
            case Errc::waker_exists: return "only a single Waker can be active per Poll";
        }
        return "unknown pollux error";
    }

    std::error_condition default_error_condition(int value) const noexcept override {
        switch (static_cast<Errc>(value)) {
            case Errc::not_registered: return std::errc::no_such_file_or_directory;
            case Errc::already_registered:
            case Errc::registered_elsewhere:
            case Errc::waker_exists: return std::errc::file_exists;
        }
        return {value, *this};
    }
};

}  // namespace

const std::error_category& pollux_category() noexcept {
    static const PolluxCategory category;
    return category;
}

}  // namespace pollux
