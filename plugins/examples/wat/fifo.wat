;; fifo.wat: a first-in, first-out eviction policy for distcache, written
;; by hand in the WebAssembly text format against plugin ABI v1
;; (plugins/README.md, "The ABI, version 1").
;;
;; Build (Debian: apt-get install -y wabt):
;;
;;   wat2wasm --debug-names -o fifo-wat.wasm fifo.wat
;;
;; --debug-names keeps the $names below in the module's "name" section, so
;; a trap's stack trace in the node's log names $forget, not func[7].
;;
;; Behaviour: entries leave in the order they were first inserted. An
;; access changes nothing; an update (or an insert of a known hash) keeps
;; the entry's place and records its new cost; a remove forgets the entry.
;;
;; State: a node per entry in an array that grows memory a page at a time
;; as it needs more nodes (freed nodes are reused), linked oldest to newest
;; in a list and chained by hash in a fixed table of 65,536 buckets. When
;; memory cannot grow any more (the host caps it), the policy logs at ERROR
;; and traps: the host then serves the group with its native LRU.
;;
;; Memory layout, in bytes:
;;   0x00000  the log message, 57 bytes
;;   0x00400  the event buffer: 1024 events of 16 bytes (hash u64, cost
;;            u32, op u8, 3 zero bytes); victims (u64) are written over it
;;   0x04400  the buckets: 65,536 i32 node numbers (0: none)
;;   0x44400  the nodes, 24 bytes each, node n at 0x44400 + 24n (node 0 is
;;            "none"): hash i64 at +0, cost i32 at +8, chain i32 at +12
;;            (the next node of the bucket, or of the free list), older i32
;;            at +16 and newer i32 at +20 (the list)
(module
  ;; distcache.log(level, ptr, len): a line in the node's log at slog's
  ;; level (-4 debug, 0 info, 4 warn, 8 error).
  (import "distcache" "log" (func $log (param i32 i32 i32)))

  ;; 5 pages hold everything up to the first nodes; the host may grow it
  ;; up to the policy's memory cap.
  (memory (export "memory") 5)
  (data (i32.const 0) "fifo-wat: out of memory; the host's native LRU takes over")

  (global $BUF i32 (i32.const 0x400))
  (global $BUCKETS i32 (i32.const 0x4400))
  (global $NODES i32 (i32.const 0x44400))
  (global $MAX_EVENTS i32 (i32.const 1024))

  (global $max_events (mut i32) (i32.const 0)) ;; what the host asked for
  (global $oldest (mut i32) (i32.const 0))     ;; the list's ends
  (global $newest (mut i32) (i32.const 0))
  (global $free (mut i32) (i32.const 0))       ;; freed nodes, through chain
  (global $made (mut i32) (i32.const 0))       ;; nodes 1..made exist

  ;; $node returns the address of node $n.
  (func $node (param $n i32) (result i32)
    (i32.add (global.get $NODES) (i32.mul (local.get $n) (i32.const 24))))

  ;; $bucket returns the address of the bucket of hash $h: the top 16 bits
  ;; of a multiplicative hash.
  (func $bucket (param $h i64) (result i32)
    (i32.add (global.get $BUCKETS)
      (i32.shl
        (i32.wrap_i64
          (i64.shr_u (i64.mul (local.get $h) (i64.const 0x9E3779B97F4A7C15)) (i64.const 48)))
        (i32.const 2))))

  ;; $find returns the node of hash $h, or 0.
  (func $find (param $h i64) (result i32)
    (local $n i32)
    (local.set $n (i32.load (call $bucket (local.get $h))))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (br_if $done (i64.eq (i64.load (call $node (local.get $n))) (local.get $h)))
        (local.set $n (i32.load offset=12 (call $node (local.get $n))))
        (br $next)))
    (local.get $n))

  ;; $new_node returns a free node, growing memory by a page for it if
  ;; need be; it logs and traps when memory cannot grow.
  (func $new_node (result i32)
    (local $n i32)
    (if (global.get $free)
      (then
        (local.set $n (global.get $free))
        (global.set $free (i32.load offset=12 (call $node (local.get $n))))
        (return (local.get $n))))
    (local.set $n (i32.add (global.get $made) (i32.const 1)))
    ;; The page of the node's last byte must exist.
    (if (i32.ge_u
          (i32.shr_u (i32.add (call $node (local.get $n)) (i32.const 23)) (i32.const 16))
          (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
          (then
            (call $log (i32.const 8) (i32.const 0) (i32.const 57))
            (unreachable)))))
    (global.set $made (local.get $n))
    (local.get $n))

  ;; $add tracks a new entry of hash $h at the newest end.
  (func $add (param $h i64) (param $cost i32)
    (local $n i32) (local $a i32) (local $b i32)
    (local.set $n (call $new_node))
    (local.set $a (call $node (local.get $n)))
    (local.set $b (call $bucket (local.get $h)))
    (i64.store (local.get $a) (local.get $h))
    (i32.store offset=8 (local.get $a) (local.get $cost))
    (i32.store offset=12 (local.get $a) (i32.load (local.get $b)))
    (i32.store (local.get $b) (local.get $n))
    (i32.store offset=16 (local.get $a) (global.get $newest))
    (i32.store offset=20 (local.get $a) (i32.const 0))
    (if (global.get $newest)
      (then (i32.store offset=20 (call $node (global.get $newest)) (local.get $n)))
      (else (global.set $oldest (local.get $n))))
    (global.set $newest (local.get $n)))

  ;; $forget unlinks node $n from its bucket and from the list, and frees it.
  (func $forget (param $n i32)
    (local $a i32) (local $p i32) (local $older i32) (local $newer i32)
    (local.set $a (call $node (local.get $n)))
    ;; $p is the address of the link that points at $n.
    (local.set $p (call $bucket (i64.load (local.get $a))))
    (block $found
      (loop $next
        (br_if $found (i32.eq (i32.load (local.get $p)) (local.get $n)))
        (local.set $p (i32.add (call $node (i32.load (local.get $p))) (i32.const 12)))
        (br $next)))
    (i32.store (local.get $p) (i32.load offset=12 (local.get $a)))
    (local.set $older (i32.load offset=16 (local.get $a)))
    (local.set $newer (i32.load offset=20 (local.get $a)))
    (if (local.get $older)
      (then (i32.store offset=20 (call $node (local.get $older)) (local.get $newer)))
      (else (global.set $oldest (local.get $newer))))
    (if (local.get $newer)
      (then (i32.store offset=16 (call $node (local.get $newer)) (local.get $older)))
      (else (global.set $newest (local.get $older))))
    (i32.store offset=12 (local.get $a) (global.get $free))
    (global.set $free (local.get $n)))

  ;; $apply runs the event at address $ev. Ops: 1 access, 2 insert,
  ;; 3 update, 4 remove; an access (or an unknown op) changes nothing.
  (func $apply (param $ev i32)
    (local $h i64) (local $op i32) (local $n i32)
    (local.set $h (i64.load (local.get $ev)))
    (local.set $op (i32.load8_u offset=12 (local.get $ev)))
    (local.set $n (call $find (local.get $h)))
    (if (i32.or (i32.eq (local.get $op) (i32.const 2)) (i32.eq (local.get $op) (i32.const 3)))
      (then
        (if (local.get $n)
          (then (i32.store offset=8 (call $node (local.get $n)) (i32.load offset=8 (local.get $ev))))
          (else (call $add (local.get $h) (i32.load offset=8 (local.get $ev)))))))
    (if (i32.and (i32.eq (local.get $op) (i32.const 4)) (i32.ne (local.get $n) (i32.const 0)))
      (then (call $forget (local.get $n)))))

  (func $abi_version (export "distcache_abi_version") (result i32)
    (i32.const 1))

  ;; distcache_policy_init returns the event buffer, or 0 (refuse to
  ;; start) for a max_events it has no room for. FIFO needs no capacity:
  ;; the host asks for room.
  (func $init (export "distcache_policy_init") (param $capacity i64) (param $max_events i32) (result i32)
    (if (i32.or (i32.le_s (local.get $max_events) (i32.const 0))
                (i32.gt_s (local.get $max_events) (global.get $MAX_EVENTS)))
      (then (return (i32.const 0))))
    (global.set $max_events (local.get $max_events))
    (global.get $BUF))

  ;; distcache_policy_update applies the $n events in the buffer, then
  ;; names the oldest entries until their costs cover $need, writing their
  ;; hashes over the buffer and forgetting them.
  (func $update (export "distcache_policy_update") (param $n i32) (param $need i64) (param $max_victims i32) (result i32)
    (local $i i32) (local $count i32) (local $v i32)
    (if (i32.gt_u (local.get $n) (global.get $max_events))
      (then (local.set $n (global.get $max_events))))
    (block $applied
      (loop $next
        (br_if $applied (i32.ge_u (local.get $i) (local.get $n)))
        (call $apply (i32.add (global.get $BUF) (i32.shl (local.get $i) (i32.const 4))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (if (i32.gt_u (local.get $max_victims) (global.get $max_events))
      (then (local.set $max_victims (global.get $max_events))))
    (block $done
      (loop $next
        (br_if $done (i64.le_s (local.get $need) (i64.const 0)))
        (br_if $done (i32.ge_u (local.get $count) (local.get $max_victims)))
        (local.set $v (global.get $oldest))
        (br_if $done (i32.eqz (local.get $v)))
        (i64.store
          (i32.add (global.get $BUF) (i32.shl (local.get $count) (i32.const 3)))
          (i64.load (call $node (local.get $v))))
        (local.set $need
          (i64.sub (local.get $need)
            (i64.extend_i32_u (i32.load offset=8 (call $node (local.get $v))))))
        (call $forget (local.get $v)) ;; the host sends no remove for victims
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (br $next)))
    (local.get $count)))
