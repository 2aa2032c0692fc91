// Busy polling of a thread's event loop without JavaScript: after a request, the thread keeps reading its sockets
// for a few hundred microseconds instead of sleeping in epoll_wait, so the next request of a boot storm is read
// without the wake-up of a sleeping thread. src/net/busy-poll.ts does the same from JavaScript with setImmediate,
// and every turn of it allocates (the Immediate, a clock reading, and Node's own check phase, which runs native
// immediates in a callback scope every turn): during a DHCP storm that garbage was two thirds of what the young
// generation had to absorb, so two thirds of the scavenges that paused the thread (bench/dhcp/diagnose.ts,
// 2026-11-25: 580 DISCOVERs per scavenge with it, 1,700 without busy polling).
//
// Here a libuv idle handle does it. While one is active, uv_run polls for I/O with a zero timeout (libuv's
// uv_backend_timeout) and runs the idle callback every turn. The callback, plain C, calls the thread's pollers (each
// a recvmmsg on one socket, udp_batch.c) until one of them delivers a batch or SLICE_NS has passed, then returns to
// the loop; once the hold has run out it stops the handle and the thread sleeps in epoll_wait again. So a held,
// quiet loop turns every SLICE_NS, not every microsecond, and no JavaScript runs until a datagram arrives.
//
// Exports (through udp_batch.c's module; src/net/udp-batch.ts is the only caller):
//   hold(micros)   keep this thread polling at least `micros` µs from now (extends, never shortens; 1 s at most)
//   holdTurns()    idle callbacks run so far on this thread (tests, logs)
// One hold per thread (per napi_env), whatever the sockets: it is the thread that polls.
#include <node_api.h>
#include <uv.h>
#include <stdint.h>
#include <stdlib.h>
#include "loop_hold.h"

// The longest the callback keeps the loop from its other work (timers, messages from other threads) while no
// datagram comes: the other handles of a held loop wait at most this long for their turn.
#define SLICE_NS 50000u
// A thread with no socket of this addon learns of its I/O from the loop's own poll only: turn it every 2 µs.
#define SLICE_NO_POLLERS_NS 2000u
#define MAX_POLLERS 8

typedef struct loop_hold {
  uv_idle_t idle;
  napi_async_cleanup_hook_handle cleanup;
  uint64_t until_ns;
  double turns;
  int count;
  loop_hold_poller fn[MAX_POLLERS];
  void *arg[MAX_POLLERS];
} loop_hold_t;

static inline void cpu_relax (void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void on_idle (uv_idle_t *idle) {
  loop_hold_t *h = idle->data;
  uint64_t now = uv_hrtime();
  if (now >= h->until_ns) { uv_idle_stop(idle); return; }
  h->turns++;
  uint64_t slice = h->count > 0 ? SLICE_NS : SLICE_NO_POLLERS_NS;
  uint64_t end = now + slice < h->until_ns ? now + slice : h->until_ns;
  for (;;) {
    // A poller that delivered ran JavaScript, which may have closed sockets (changing the list) or extended the
    // hold: back to the loop at once, which also runs what the delivery set in motion (timers, other handles).
    for (int i = 0; i < h->count; i++) if (h->fn[i](h->arg[i]) > 0) return;
    if (h->count == 0) cpu_relax();
    if (uv_hrtime() >= end) return;
  }
}

// A hold whose cleanup hook could not be registered: closed at once, nothing to remove.
static void free_unregistered (uv_handle_t *handle) {
  free(handle->data);
}

// The idle handle has closed: the thread may now end (and unload this addon) without waiting for it.
static void free_after_close (uv_handle_t *handle) {
  loop_hold_t *h = handle->data;
  napi_remove_async_cleanup_hook(h->cleanup);
  free(h);
}

// The thread (or the process) goes away: the idle handle is closed. Asynchronous, as udp_batch.c's sockets: the close
// callback is code of this addon, which Node unloads with a worker's environment once the hook is removed. The
// sockets' own hooks ran before (hooks run in reverse order of registration, and the hold is made before the first
// socket registers), so no socket is left to leave the hold.
static void cleanup_hook (napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  loop_hold_t *h = arg;
  h->count = 0;
  uv_idle_stop(&h->idle);
  uv_close((uv_handle_t *)&h->idle, free_after_close);
}

static loop_hold_t *existing (napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return data;
}

// This thread's hold, made on first use: an unreferenced idle handle (it never keeps a thread alive by itself).
static loop_hold_t *hold_of (napi_env env) {
  loop_hold_t *h = existing(env);
  if (h != NULL) return h;
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  h = calloc(1, sizeof *h);
  if (h == NULL) return NULL;
  if (uv_idle_init(loop, &h->idle) != 0) { free(h); return NULL; }
  h->idle.data = h;
  uv_unref((uv_handle_t *)&h->idle);
  if (napi_add_async_cleanup_hook(env, cleanup_hook, h, &h->cleanup) != napi_ok) {
    uv_close((uv_handle_t *)&h->idle, free_unregistered);
    return NULL;
  }
  if (napi_set_instance_data(env, h, NULL, NULL) != napi_ok) {
    cleanup_hook(h->cleanup, h);
    return NULL;
  }
  return h;
}

int loop_hold_add (napi_env env, loop_hold_poller fn, void *arg) {
  loop_hold_t *h = hold_of(env);
  if (h == NULL || h->count == MAX_POLLERS) return -1;
  h->fn[h->count] = fn;
  h->arg[h->count] = arg;
  h->count++;
  return 0;
}

void loop_hold_remove (napi_env env, loop_hold_poller fn, void *arg) {
  loop_hold_t *h = existing(env);
  if (h == NULL) return;
  for (int i = 0; i < h->count; i++) {
    if (h->fn[i] != fn || h->arg[i] != arg) continue;
    h->count--;
    h->fn[i] = h->fn[h->count];
    h->arg[i] = h->arg[h->count];
    return;
  }
}

napi_value loop_hold_js_hold (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype type;
  double micros = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_typeof(env, argv[0], &type) != napi_ok || type != napi_number ||
      napi_get_value_double(env, argv[0], &micros) != napi_ok) {
    napi_throw_type_error(env, NULL, "hold(micros): expected a number");
    return NULL;
  }
  if (!(micros > 0)) return NULL;
  if (micros > 1e6) micros = 1e6;   // a second at most: a hold is for the next request, not for ever
  loop_hold_t *h = hold_of(env);
  if (h == NULL) { napi_throw_error(env, NULL, "udp_batch: cannot make the loop hold"); return NULL; }
  uint64_t until = uv_hrtime() + (uint64_t)(micros * 1000);
  if (until > h->until_ns) h->until_ns = until;
  if (!uv_is_active((uv_handle_t *)&h->idle)) uv_idle_start(&h->idle, on_idle);
  return NULL;
}

napi_value loop_hold_js_turns (napi_env env, napi_callback_info info) {
  (void)info;
  loop_hold_t *h = existing(env);
  napi_value out;
  if (napi_create_double(env, h != NULL ? h->turns : 0, &out) != napi_ok) return NULL;
  return out;
}
