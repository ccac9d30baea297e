// samples/http_server/fuzz/http_fuzz.cpp — libFuzzer target for the HTTP protocol layer.
//
// The input's first byte picks how the rest is cut into pieces (a different cut per
// value); the pieces reach an http::Session the way a connection delivers them (what it
// did not consume stays, new bytes are appended), with small limits so the fuzzer also
// reaches 413/431 and the request cap. Then the header deadline fires. Checked on every
// input: no crash, no sanitizer report, nothing consumed that was not there, every
// output starts with a status line, and nothing is answered after a closing response.
//
//   clang++-19 build: samples/http_server/CMakeLists.txt adds http_fuzz when the
//   compiler takes -fsanitize=fuzzer (the clang preset); run
//   build/clang/samples/http_server/http_fuzz samples/http_server/fuzz/corpus
//       -dict=samples/http_server/fuzz/http.dict -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http_session.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void check_output(std::string_view out) {
    if (out.empty()) return;
    check(out.starts_with("HTTP/1.1 "));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t cut = data[0];
    const std::string_view wire(reinterpret_cast<const char*>(data + 1), size - 1);

    using namespace pollux::samples::http;
    SessionConfig config;
    config.limits.max_head = 512;
    config.limits.max_body = 4096;
    config.max_requests = 1 + cut % 7;
    Session session(config);
    static const Stamp stamp;
    std::string pending;
    std::string out;
    bool closed = false;
    std::size_t at = 0;
    std::size_t step = 1 + (cut % 13);
    while (at < wire.size()) {
        const std::size_t n = step < wire.size() - at ? step : wire.size() - at;
        pending.append(wire.substr(at, n));
        at += n;
        step = 1 + ((step * 7 + cut) % 61);
        out.clear();
        const Outcome o = session.on_input(pending, stamp, out);
        check(o.consumed <= pending.size());
        check_output(out);
        if (closed) check(out.empty());  // nothing after a closing response
        pending.erase(0, o.consumed);
        if (o.close) closed = true;
    }
    out.clear();
    const Outcome o = session.on_header_timeout(stamp, out);
    check(o.close);
    if (!closed) check_output(out);
    return 0;
}
