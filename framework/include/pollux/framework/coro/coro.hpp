// pollux/framework/coro/coro.hpp — public: the whole coroutine flavour (docs/coroutines.md).
#pragma once

#include "pollux/framework/coro/cancel.hpp"
#include "pollux/framework/coro/reactor_ops.hpp"
#include "pollux/framework/coro/readiness.hpp"
#include "pollux/framework/coro/socket.hpp"
#include "pollux/framework/coro/stream.hpp"
#include "pollux/framework/coro/task.hpp"
#include "pollux/framework/coro/when_all.hpp"
