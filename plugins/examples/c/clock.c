/*
 * clock.c: the CLOCK eviction policy for distcache, in C with no libc,
 * against plugin ABI v1 (plugins/README.md, "The ABI, version 1").
 *
 * Build (Debian: apt-get install -y clang lld):
 *
 *   clang --target=wasm32 -mcpu=mvp -O2 -nostdlib -fno-builtin \
 *     -Wl,--no-entry -Wl,--stack-first -Wl,--export=distcache_abi_version \
 *     -o clock-c.wasm clock.c
 *
 * It shows both ways to export a function: distcache_abi_version by the
 * linker flag -Wl,--export=distcache_abi_version (the function keeps its C
 * name), the two policy functions by export_name attributes (the C name is
 * free). And it imports the host's log function from module "distcache"
 * with import_module and import_name attributes.
 *
 * Behaviour: CLOCK, as a second-chance FIFO. Entries wait in insertion
 * order; the oldest is evicted unless it was read since it got there, in
 * which case it loses its mark and goes to the newest end. An update (or
 * an insert of a known hash) keeps the entry's place and records its new
 * cost; a remove forgets the entry.
 *
 * State: a node per entry (hash, cost, read mark, links) in an array that
 * starts past the static data (__heap_base) and grows memory a page at a
 * time as it needs more nodes; freed nodes are reused. A fixed table of
 * 2^BUCKET_BITS buckets chains nodes by hash (build with -DBUCKET_BITS=N
 * for a group of millions of entries). When memory cannot grow any more
 * (the host caps it), the policy logs at ERROR and traps: the host then
 * serves the group with its native LRU.
 */

typedef unsigned long long u64;
typedef long long i64;
typedef unsigned int u32;
typedef unsigned char u8;

#ifndef BUCKET_BITS
#define BUCKET_BITS 16
#endif
#define BUCKETS (1u << BUCKET_BITS)
#define MAX_EVENTS 1024
#define PAGE 65536u

#define OP_ACCESS 1
#define OP_INSERT 2
#define OP_UPDATE 3
#define OP_REMOVE 4

/* The host's log function: distcache.log(level, ptr, len). level is
 * slog's: -4 debug, 0 info, 4 warn, 8 error. */
__attribute__((import_module("distcache"), import_name("log")))
void host_log(int level, const char *msg, int len);

static void log_line(int level, const char *msg) {
	int n = 0;
	while (msg[n])
		n++;
	host_log(level, msg, n);
}

/* node is one entry. Node 0 is "none". chain links the nodes of a bucket
 * (and the free nodes); older and newer link the ring. */
struct node {
	u64 hash;
	u32 cost;
	u32 chain;
	u32 older, newer;
	u32 read;
};

extern u8 __heap_base; /* set by wasm-ld: the first byte past the static data */

static struct node *nodes; /* nodes[1 .. made] exist */
static u32 made, free_list;
static u32 oldest, newest; /* the ring: oldest is under the clock's hand */
static u32 buckets[BUCKETS];

/* The event buffer: max_events events of 16 bytes; victims are written
 * over it. 8-byte aligned, as the u64 reads need. */
static u64 buffer[MAX_EVENTS * 2];
static int max_events;

static u32 *bucket(u64 h) {
	return &buckets[(u32)((h * 0x9E3779B97F4A7C15ull) >> (64 - BUCKET_BITS))];
}

static u32 find(u64 h) {
	u32 n = *bucket(h);
	while (n && nodes[n].hash != h)
		n = nodes[n].chain;
	return n;
}

/* new_node returns a free node, growing memory for it if need be. */
static u32 new_node(void) {
	if (free_list) {
		u32 n = free_list;
		free_list = nodes[n].chain;
		return n;
	}
	u32 end = (u32)(__UINTPTR_TYPE__)&nodes[made + 2]; /* past node made+1 */
	if (end > __builtin_wasm_memory_size(0) * PAGE &&
	    __builtin_wasm_memory_grow(0, 1) == (__SIZE_TYPE__)-1) {
		log_line(8, "clock-c: out of memory; the host's native LRU takes over");
		__builtin_trap();
	}
	return ++made;
}

static void link_newest(u32 n) {
	nodes[n].older = newest;
	nodes[n].newer = 0;
	if (newest)
		nodes[newest].newer = n;
	else
		oldest = n;
	newest = n;
}

static void unlink(u32 n) {
	u32 o = nodes[n].older, w = nodes[n].newer;
	if (o)
		nodes[o].newer = w;
	else
		oldest = w;
	if (w)
		nodes[w].older = o;
	else
		newest = o;
}

static void add(u64 h, u32 cost) {
	u32 n = new_node();
	u32 *b = bucket(h);
	nodes[n].hash = h;
	nodes[n].cost = cost;
	nodes[n].read = 0;
	nodes[n].chain = *b;
	*b = n;
	link_newest(n);
}

static void forget(u32 n) {
	u32 *p = bucket(nodes[n].hash);
	while (*p != n)
		p = &nodes[*p].chain;
	*p = nodes[n].chain;
	unlink(n);
	nodes[n].chain = free_list;
	free_list = n;
}

/* apply runs one 16-byte event: hash u64, cost u32, op u8. */
static void apply(const u8 *ev) {
	u64 h = *(const u64 *)ev;
	u32 cost = *(const u32 *)(ev + 8);
	u32 n = find(h);
	switch (ev[12]) {
	case OP_ACCESS:
		if (n)
			nodes[n].read = 1;
		break;
	case OP_INSERT:
	case OP_UPDATE:
		if (n)
			nodes[n].cost = cost;
		else
			add(h, cost);
		break;
	case OP_REMOVE:
		if (n)
			forget(n);
		break;
	default: /* an op this version does not know */
		break;
	}
}

/* Exported by the linker flag -Wl,--export=distcache_abi_version. */
int distcache_abi_version(void) { return 1; }

__attribute__((export_name("distcache_policy_init")))
int policy_init(i64 capacity, int events) {
	(void)capacity; /* CLOCK needs no size: the host asks for room */
	if (events <= 0 || events > MAX_EVENTS)
		return 0; /* refuse to start */
	max_events = events;
	nodes = (struct node *)(((__UINTPTR_TYPE__)&__heap_base + 7) & ~(__UINTPTR_TYPE__)7);
	log_line(0, "clock-c: started");
	return (int)(__UINTPTR_TYPE__)buffer;
}

__attribute__((export_name("distcache_policy_update")))
int policy_update(int n, i64 need, int max_victims) {
	const u8 *ev = (const u8 *)buffer;
	if (n > max_events)
		n = max_events;
	for (int k = 0; k < n; k++)
		apply(ev + 16 * k);
	if (max_victims > max_events)
		max_victims = max_events;
	int count = 0;
	/* Each step evicts or clears a mark: at most two laps of the ring. */
	while (need > 0 && count < max_victims && oldest) {
		u32 v = oldest;
		if (nodes[v].read) {
			nodes[v].read = 0;
			unlink(v);
			link_newest(v);
			continue;
		}
		buffer[count++] = nodes[v].hash;
		need -= nodes[v].cost;
		forget(v); /* the host sends no remove for victims */
	}
	return count;
}
