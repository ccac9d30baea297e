// pollux/core/core.hpp — public. The whole core layer in one include.
#pragma once

#include "pollux/core/event.hpp"
#include "pollux/core/events.hpp"
#include "pollux/core/interest.hpp"
#include "pollux/core/io_slice.hpp"
#include "pollux/core/io_source.hpp"
#include "pollux/core/log.hpp"
#include "pollux/core/owned_fd.hpp"
#include "pollux/core/pipe.hpp"
#include "pollux/core/poll.hpp"
#include "pollux/core/registry.hpp"
#include "pollux/core/result.hpp"
#include "pollux/core/source.hpp"
#include "pollux/core/source_fd.hpp"
#include "pollux/core/token.hpp"
#include "pollux/core/waker.hpp"
