// weft: tasks, actors and objects for native distributed programs.
//
//   #include <weft/weft.hpp>
//
//   double square(double x) { return x * x; }
//   WEFT_REMOTE(square);
//
//   weft::Task<int> driver(weft::Runtime&) {
//     double y = co_await weft::submit<&square>(3.0);
//     co_return y == 9.0 ? 0 : 1;
//   }
//   int main(int argc, char** argv) { return weft::run(argc, argv, driver); }
#pragma once

#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/timer.hpp"
#include "weft/core/when_all.hpp"
#include "weft/core/when_any.hpp"
#include "weft/error.hpp"
#include "weft/node/node.hpp"
#include "weft/node/run.hpp"
#include "weft/object/object_ref.hpp"
#include "weft/object/put_get.hpp"
#include "weft/object/wait.hpp"
#include "weft/remote/actor.hpp"
#include "weft/remote/actor_pool.hpp"
#include "weft/remote/kv.hpp"
#include "weft/remote/placement_group.hpp"
#include "weft/remote/registry.hpp"
#include "weft/remote/returns.hpp"
#include "weft/remote/submit.hpp"
