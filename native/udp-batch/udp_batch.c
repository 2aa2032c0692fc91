// A UDP socket for Node that reads datagrams in batches: recvmmsg(2) into buffers JavaScript owns and one call into
// JavaScript per batch, replies sent with a plain sendto(2). Node's dgram makes a Buffer, an rinfo object and a
// JS call per datagram and a send request with a completion per reply; under a DHCP boot storm that per-datagram
// machinery cost more than the kernel's side of the work (bench/dhcp/README.md, tenth pass).
//
// Linux only. Exports (src/net/udp-batch.ts is the only caller):
//   open(address, port, recvBufferBytes, slots, meta, onBatch) -> handle   throws Error{code, syscall}
//   port(handle) -> number
//   recvBufferBytes(handle) -> number                                     what the kernel granted
//   send(handle, bytes, addressU32, port) -> 0 | errno                     non-blocking, never throws for I/O
//   close(handle)
//   hold(micros), holdTurns()                                            busy polling of this thread's loop (loop_hold.c)
//   BATCH, SLOT_BYTES, META_FIELDS
// `slots` is an ArrayBuffer of BATCH * SLOT_BYTES bytes, datagram i at i * SLOT_BYTES; `meta` an ArrayBuffer of
// BATCH * 5 uint32: length, IPv4 source (host order), source port, flags (1: truncated to SLOT_BYTES), and the
// socket's drop counter when the datagram was queued (SO_RXQ_OVFL; 0 until the kernel has dropped one). onBatch(n)
// is called with the number of datagrams read, or with -errno when recvmmsg failed.
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stdio.h>
#include <unistd.h>
#include "loop_hold.h"

#define BATCH 32
// Larger than any DHCP message on an Ethernet segment (RFC 2131 §2: 576 bytes minimum, 1,500-byte MTU in practice).
#define SLOT_BYTES 4096
#define META_FIELDS 5
#define FLAG_TRUNCATED 1u

typedef struct endpoint {
  int fd;
  uv_poll_t poll;
  napi_env env;
  napi_ref on_batch;
  napi_ref slots_ref;
  napi_ref meta_ref;
  uint8_t *slots;
  uint32_t *meta;
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in from[BATCH];
  // Room for one SO_RXQ_OVFL control message per datagram (the socket's drop counter), aligned for cmsghdr.
  union { char buf[CMSG_SPACE(sizeof(uint32_t))]; struct cmsghdr align; } control[BATCH];
  int open;
  int owners;
  // Registered while the poll handle is open or closing (napi_add_async_cleanup_hook); NULL otherwise.
  napi_async_cleanup_hook_handle cleanup;
} endpoint_t;

#define CHECK(env, call)                                                       \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error((env), NULL, "udp_batch: " #call " failed");            \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

static napi_value throw_errno (napi_env env, const char *syscall, int err, const char *address, uint32_t port) {
  const char *code = strerrorname_np(err);
  char message[160];
  snprintf(message, sizeof message, "%s %s %s:%u", syscall, code != NULL ? code : "EUNKNOWN", address, port);
  napi_value msg, error, code_value, syscall_value, errno_value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_string_utf8(env, code != NULL ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "code", code_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_throw(env, error);
  return NULL;
}

static void call_on_batch (endpoint_t *ep, int32_t n) {
  napi_env env = ep->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, arg, result;
  if (napi_get_reference_value(env, ep->on_batch, &fn) == napi_ok && fn != NULL &&
      napi_get_global(env, &recv) == napi_ok && napi_create_int32(env, n, &arg) == napi_ok) {
    // make_callback, not call_function: microtasks (the responder's promises) run when the batch returns, as after
    // a dgram 'message' event.
    if (napi_make_callback(env, NULL, recv, fn, 1, &arg, &result) == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

// Reads what the socket has queued (up to BATCH datagrams) and hands it to JavaScript; returns the number of
// datagrams delivered (1 for an error reported), 0 when there was nothing to read.
static int read_batch (endpoint_t *ep) {
  if (!ep->open) return 0;
  for (int i = 0; i < BATCH; i++) {
    ep->msgs[i].msg_hdr.msg_name = &ep->from[i];
    ep->msgs[i].msg_hdr.msg_namelen = sizeof ep->from[i];
    ep->msgs[i].msg_hdr.msg_iov = &ep->iov[i];
    ep->msgs[i].msg_hdr.msg_iovlen = 1;
    ep->msgs[i].msg_hdr.msg_control = ep->control[i].buf;
    ep->msgs[i].msg_hdr.msg_controllen = sizeof ep->control[i].buf;
    ep->msgs[i].msg_hdr.msg_flags = 0;
    ep->msgs[i].msg_len = 0;
  }
  int n;
  do { n = recvmmsg(ep->fd, ep->msgs, BATCH, MSG_DONTWAIT, NULL); } while (n < 0 && errno == EINTR);
  if (n < 0) {
    // EAGAIN: nothing queued (the loop hold polls without waiting for readiness) or a spurious wake-up. Anything
    // else is reported, the socket stays open.
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    call_on_batch(ep, -errno);
    return 1;
  }
  for (int i = 0; i < n; i++) {
    uint32_t *m = ep->meta + i * META_FIELDS;
    m[0] = ep->msgs[i].msg_len;
    m[1] = ntohl(ep->from[i].sin_addr.s_addr);
    m[2] = ntohs(ep->from[i].sin_port);
    m[3] = (ep->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 ? FLAG_TRUNCATED : 0;
    m[4] = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&ep->msgs[i].msg_hdr); c != NULL; c = CMSG_NXTHDR(&ep->msgs[i].msg_hdr, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) memcpy(&m[4], CMSG_DATA(c), sizeof(uint32_t));
    }
  }
  if (n > 0) call_on_batch(ep, n);
  return n;
}

// The loop's hold polls the socket this way between turns (loop_hold.c).
static int poll_batch (void *arg) {
  return read_batch(arg);
}

static void on_readable (uv_poll_t *poll, int status, int events) {
  endpoint_t *ep = poll->data;
  (void)events;
  if (!ep->open) return;
  if (status < 0) { call_on_batch(ep, status); return; }
  read_batch(ep);
}

// The endpoint a call names in its first argument, with its first `want` arguments in argv; NULL (and a pending
// TypeError) when they are not there.
static endpoint_t *endpoint_args (napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want ||
      napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "udp_batch: expected a socket handle and its arguments");
    return NULL;
  }
  return data;
}

static void release (endpoint_t *ep) {
  if (!ep->open) return;
  ep->open = 0;
  loop_hold_remove(ep->env, poll_batch, ep);
  uv_poll_stop(&ep->poll);
  close(ep->fd);
  napi_delete_reference(ep->env, ep->on_batch);
  napi_delete_reference(ep->env, ep->slots_ref);
  napi_delete_reference(ep->env, ep->meta_ref);
}

// Two owners: the JS handle (its finalizer) and the closed poll handle. The memory goes when both let go, so a
// call on a handle kept after close() finds the endpoint closed instead of freed memory.
static void drop_owner (endpoint_t *ep) {
  if (--ep->owners == 0) free(ep);
}

// The poll handle has closed: the thread may now end (and unload this addon) without waiting for it.
static void free_after_close (uv_handle_t *handle) {
  endpoint_t *ep = handle->data;
  if (ep->cleanup != NULL) napi_remove_async_cleanup_hook(ep->cleanup);
  ep->cleanup = NULL;
  drop_owner(ep);
}

static void finalize_handle (napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  drop_owner(data);
}

// Stops reading and closes the socket and its poll handle (free_after_close runs once libuv has closed it).
static void close_endpoint (endpoint_t *ep) {
  if (!ep->open) return;
  release(ep);
  uv_close((uv_handle_t *)&ep->poll, free_after_close);
}

// The worker thread (or the process) goes away with the socket still open: close it. An asynchronous hook, because
// the poll handle's close callback is code of this addon, which Node unloads with a worker's environment: Node
// keeps turning the loop until free_after_close has removed the hook (a synchronous hook left that callback to run
// after the unload: SIGSEGV in uv__finish_close). A socket already closing finishes the hook the same way.
static void cleanup_hook (napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  close_endpoint(arg);
}

static napi_value js_open (napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) { napi_throw_type_error(env, NULL, "open(address, port, recvBufferBytes, slots, meta, onBatch)"); return NULL; }
  char address[64];
  size_t address_len = 0;
  uint32_t port = 0, rcvbuf = 0;
  CHECK(env, napi_get_value_string_utf8(env, argv[0], address, sizeof address, &address_len));
  CHECK(env, napi_get_value_uint32(env, argv[1], &port));
  CHECK(env, napi_get_value_uint32(env, argv[2], &rcvbuf));
  void *slots = NULL, *meta = NULL;
  size_t slots_len = 0, meta_len = 0;
  CHECK(env, napi_get_arraybuffer_info(env, argv[3], &slots, &slots_len));
  CHECK(env, napi_get_arraybuffer_info(env, argv[4], &meta, &meta_len));
  if (slots_len < (size_t)BATCH * SLOT_BYTES || meta_len < (size_t)BATCH * META_FIELDS * sizeof(uint32_t) || port > 65535) {
    napi_throw_range_error(env, NULL, "udp_batch.open: buffers too small or port out of range");
    return NULL;
  }
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, address, &sin.sin_addr) != 1) return throw_errno(env, "bind", EINVAL, address, port);

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno, address, port);
  int one = 1;
  // Replies to clients without an address go to 255.255.255.255 (RFC 2131 §4.1).
  if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) {
    int err = errno; close(fd); return throw_errno(env, "setsockopt", err, address, port);
  }
  // Capped by net.core.rmem_max, as with dgram's recvBufferSize; a failure here is not fatal.
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  // Each datagram then carries the number of datagrams the kernel dropped on this socket so far because its
  // receive buffer was full (socket(7), SO_RXQ_OVFL): the only sign of requests lost before we could read them.
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  // No SO_REUSEADDR: like dgram's exclusive bind, a second DHCP server on the port is an error, not a silent share.
  if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
    int err = errno; close(fd); return throw_errno(env, "bind", err, address, port);
  }

  endpoint_t *ep = calloc(1, sizeof *ep);
  if (ep == NULL) { close(fd); return throw_errno(env, "open", ENOMEM, address, port); }
  ep->fd = fd;
  ep->env = env;
  ep->slots = slots;
  ep->meta = meta;
  for (int i = 0; i < BATCH; i++) {
    ep->iov[i].iov_base = ep->slots + (size_t)i * SLOT_BYTES;
    ep->iov[i].iov_len = SLOT_BYTES;
  }
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &ep->poll, fd) != 0) {
    close(fd); free(ep); napi_throw_error(env, NULL, "udp_batch: cannot poll the socket"); return NULL;
  }
  ep->poll.data = ep;
  napi_create_reference(env, argv[5], 1, &ep->on_batch);
  napi_create_reference(env, argv[3], 1, &ep->slots_ref);
  napi_create_reference(env, argv[4], 1, &ep->meta_ref);
  ep->open = 1;
  uv_poll_start(&ep->poll, UV_READABLE, on_readable);
  // Before the endpoint's cleanup hook: hooks run in reverse order, so at teardown the socket leaves the hold
  // before the hold goes.
  ep->owners = 1;   // the poll handle; the JS handle below is the second
  if (loop_hold_add(env, poll_batch, ep) != 0) {
    close_endpoint(ep);
    napi_throw_error(env, NULL, "udp_batch: too many sockets on this thread");
    return NULL;
  }
  napi_add_async_cleanup_hook(env, cleanup_hook, ep, &ep->cleanup);
  napi_value handle;
  if (napi_create_external(env, ep, finalize_handle, NULL, &handle) != napi_ok) {
    close_endpoint(ep);
    napi_throw_error(env, NULL, "udp_batch: cannot create the handle");
    return NULL;
  }
  ep->owners = 2;
  return handle;
}

static napi_value js_port (napi_env env, napi_callback_info info) {
  napi_value argv[1];
  endpoint_t *ep = endpoint_args(env, info, 1, argv);
  if (ep == NULL) return NULL;
  struct sockaddr_in sin;
  socklen_t len = sizeof sin;
  napi_value out;
  if (!ep->open || getsockname(ep->fd, (struct sockaddr *)&sin, &len) < 0) { napi_get_undefined(env, &out); return out; }
  CHECK(env, napi_create_uint32(env, ntohs(sin.sin_port), &out));
  return out;
}

// The receive buffer the kernel granted (twice what was asked, capped by net.core.rmem_max; socket(7)).
static napi_value js_recv_buffer_bytes (napi_env env, napi_callback_info info) {
  napi_value argv[1];
  endpoint_t *ep = endpoint_args(env, info, 1, argv);
  if (ep == NULL) return NULL;
  int size = 0;
  socklen_t len = sizeof size;
  napi_value out;
  if (!ep->open || getsockopt(ep->fd, SOL_SOCKET, SO_RCVBUF, &size, &len) < 0) { napi_get_undefined(env, &out); return out; }
  CHECK(env, napi_create_int32(env, size, &out));
  return out;
}

static napi_value js_send (napi_env env, napi_callback_info info) {
  napi_value argv[4];
  endpoint_t *ep = endpoint_args(env, info, 4, argv);
  if (ep == NULL) return NULL;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  uint32_t address = 0, port = 0;
  // The data pointer napi gives for a typed array already includes its byte offset (a Buffer pool slice).
  CHECK(env, napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL));
  CHECK(env, napi_get_value_uint32(env, argv[2], &address));
  CHECK(env, napi_get_value_uint32(env, argv[3], &port));
  int result = EBADF;
  if (ep->open && type == napi_uint8_array) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)port);
    to.sin_addr.s_addr = htonl(address);
    ssize_t sent;
    do { sent = sendto(ep->fd, data, length, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to); } while (sent < 0 && errno == EINTR);
    result = sent < 0 ? errno : 0;
  }
  napi_value out;
  CHECK(env, napi_create_int32(env, result, &out));
  return out;
}

static napi_value js_close (napi_env env, napi_callback_info info) {
  napi_value argv[1];
  endpoint_t *ep = endpoint_args(env, info, 1, argv);
  if (ep == NULL) return NULL;
  close_endpoint(ep);
  return NULL;
}

static napi_value js_errname (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t err = 0;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(env, napi_get_value_int32(env, argv[0], &err));
  const char *name = strerrorname_np(err < 0 ? -err : err);
  CHECK(env, napi_create_string_utf8(env, name != NULL ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &out));
  return out;
}

NAPI_MODULE_INIT () {
  napi_property_descriptor props[] = {
    { "open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL },
    { "port", NULL, js_port, NULL, NULL, NULL, napi_default, NULL },
    { "recvBufferBytes", NULL, js_recv_buffer_bytes, NULL, NULL, NULL, napi_default, NULL },
    { "send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL },
    { "errname", NULL, js_errname, NULL, NULL, NULL, napi_default, NULL },
    { "hold", NULL, loop_hold_js_hold, NULL, NULL, NULL, napi_default, NULL },
    { "holdTurns", NULL, loop_hold_js_turns, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_value batch, slot, fields;
  napi_create_uint32(env, BATCH, &batch);
  napi_create_uint32(env, SLOT_BYTES, &slot);
  napi_create_uint32(env, META_FIELDS, &fields);
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_set_named_property(env, exports, "BATCH", batch);
  napi_set_named_property(env, exports, "SLOT_BYTES", slot);
  napi_set_named_property(env, exports, "META_FIELDS", fields);
  return exports;
}
