{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["udp_batch.c", "loop_hold.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    }
  ]
}
