// Busy polling of the calling thread's event loop (loop_hold.c), exported through udp_batch.c's module.
#ifndef LOOP_HOLD_H
#define LOOP_HOLD_H
#include <node_api.h>

// Reads what a socket has queued, delivers it, and returns how many datagrams (or errors) it delivered; 0 when
// there was nothing to read.
typedef int (*loop_hold_poller) (void *arg);

// While the loop is held, the hold calls each poller of its thread over and over between two turns of the loop,
// instead of turning the loop to learn from epoll that a socket is readable (udp_batch.c registers its sockets).
int loop_hold_add (napi_env env, loop_hold_poller fn, void *arg);
void loop_hold_remove (napi_env env, loop_hold_poller fn, void *arg);

napi_value loop_hold_js_hold (napi_env env, napi_callback_info info);
napi_value loop_hold_js_turns (napi_env env, napi_callback_info info);

#endif
