/*
 * fifo.c: a first-in, first-out eviction policy for distcache, written in C
 * against plugin ABI v1 (plugins/ABI.md) with no libc, to show that the ABI
 * does not depend on Go.
 *
 * Build from the repository root (Debian: apt-get install clang lld):
 *
 *   clang --target=wasm32 -mcpu=mvp -O2 -nostdlib -fno-builtin \
 *     -Wl,--no-entry -Wl,--stack-first -o plugins/fifo-c.wasm policy/fifo-c/fifo.c
 *
 * The exports are named by export_name attributes below; wasm-ld exports the
 * linear memory as "memory" by default. The module has no imports.
 *
 * Behaviour: entries leave in the order they were first inserted. An access
 * changes nothing; an update (or an insert of a known hash) keeps the
 * entry's place and records its new cost; a remove forgets the entry.
 *
 * State: an open-addressing hash table (linear probing, backward-shift
 * deletion) of 2^SLOT_BITS slots maps a hash to its cost and its place in a
 * ring of hashes, oldest first. A remove only clears the table slot; the
 * ring entry it leaves behind is skipped when it reaches the head, and the
 * ring is compacted when it fills up.
 *
 * Limit: at most MAX_ENTRIES (3/4 of the slots: 786,432 with the default
 * SLOT_BITS of 20) entries are tracked; the static state takes about 25 MiB
 * of linear memory, within the host's default 64 MiB cap. Build with
 * -DSLOT_BITS=N to change it. When the table is full, an insert makes the
 * policy give up its oldest entry early: it is remembered (up to MAX_EVENTS
 * of them) and named first at the next eviction, which is where FIFO would
 * have put it anyway. Any entry past that is left to the host, which evicts
 * entries a policy does not name by itself.
 */

typedef unsigned long long u64;
typedef long long i64;
typedef unsigned int u32;
typedef unsigned char u8;

#ifndef SLOT_BITS
#define SLOT_BITS 20
#endif
#define SLOTS (1u << SLOT_BITS)
#define SLOT_MASK (SLOTS - 1u)
#define MAX_ENTRIES (SLOTS / 4u * 3u)
#define RING SLOTS /* a power of two, so u32 positions wrap cleanly */
#define RING_MASK (RING - 1u)
#define MAX_EVENTS 1024

#define OP_ACCESS 1
#define OP_INSERT 2
#define OP_UPDATE 3
#define OP_REMOVE 4

#define EXPORT(name) __attribute__((export_name(#name))) name

/* slot is one entry of the table: its hash, cost and absolute ring
 * position. A ring entry is live only if the table maps its hash to its
 * position. */
struct slot {
	u64 hash;
	u32 cost;
	u32 pos;
};

/* victim is an entry given up early because the table was full. */
struct victim {
	u64 hash;
	u32 cost;
};

static struct slot table[SLOTS];
static u8 used[SLOTS];
static u64 ring[RING];
static u32 head, tail; /* absolute positions; tail - head entries */
static u32 live;       /* entries in the table */

static struct victim early[MAX_EVENTS];
static u32 early_head, early_len;

/* The event buffer: n events of 16 bytes, then victim hashes. */
static u64 buffer[MAX_EVENTS * 2];
static int max_events;

/* home is a hash's first slot. The host's hashes are already mixed; the
 * multiply guards against ones that are not. */
static u32 home(u64 h) {
	return (u32)((h * 0x9E3779B97F4A7C15ull) >> (64 - SLOT_BITS));
}

/* find returns the slot holding h, or SLOTS if there is none. The table is
 * never full, so the probe ends at an empty slot. */
static u32 find(u64 h) {
	u32 i = home(h);
	while (used[i]) {
		if (table[i].hash == h)
			return i;
		i = (i + 1) & SLOT_MASK;
	}
	return SLOTS;
}

/* erase empties slot i and shifts later entries of its probe run back, so
 * lookups need no tombstones. */
static void erase(u32 i) {
	u32 j = i;
	for (;;) {
		j = (j + 1) & SLOT_MASK;
		if (!used[j])
			break;
		u32 k = home(table[j].hash);
		if (((j - k) & SLOT_MASK) >= ((j - i) & SLOT_MASK)) {
			table[i] = table[j];
			i = j;
		}
	}
	used[i] = 0;
	live--;
}

/* is_live reports whether the ring entry at absolute position p is current,
 * and returns its slot in *slot. */
static int is_live(u32 p, u32 *slot) {
	u32 i = find(ring[p & RING_MASK]);
	*slot = i;
	return i != SLOTS && table[i].pos == p;
}

/* compact drops stale ring entries, keeping live ones in order. */
static void compact(void) {
	u32 w = head;
	for (u32 r = head; r != tail; r++) {
		u32 i;
		if (!is_live(r, &i))
			continue;
		ring[w & RING_MASK] = ring[r & RING_MASK];
		table[i].pos = w;
		w++;
	}
	tail = w;
}

/* pop_oldest forgets the oldest live entry and returns 1 with it in *v, or
 * returns 0 if there is none. */
static int pop_oldest(struct victim *v) {
	while (head != tail) {
		u32 i;
		int ok = is_live(head, &i);
		head++;
		if (ok) {
			v->hash = table[i].hash;
			v->cost = table[i].cost;
			erase(i);
			return 1;
		}
	}
	return 0;
}

/* give_up_oldest makes room in a full table: the oldest entry is forgotten
 * and queued to be named at the next eviction. */
static void give_up_oldest(void) {
	struct victim v;
	if (!pop_oldest(&v))
		return;
	if (early_len == MAX_EVENTS) { /* drop the oldest; the host copes */
		early_head = (early_head + 1) % MAX_EVENTS;
		early_len--;
	}
	early[(early_head + early_len) % MAX_EVENTS] = v;
	early_len++;
}

/* insert records h with cost, keeping its place if it is already known. */
static void insert(u64 h, u32 cost) {
	u32 i = find(h);
	if (i != SLOTS) {
		table[i].cost = cost;
		return;
	}
	if (live >= MAX_ENTRIES)
		give_up_oldest();
	if (tail - head == RING)
		compact(); /* live < RING, so this frees room */
	i = home(h);
	while (used[i])
		i = (i + 1) & SLOT_MASK;
	used[i] = 1;
	table[i].hash = h;
	table[i].cost = cost;
	table[i].pos = tail;
	ring[tail & RING_MASK] = h;
	tail++;
	live++;
}

static void remove_hash(u64 h) {
	u32 i = find(h);
	if (i != SLOTS)
		erase(i);
}

/* apply runs one 16-byte event: hash u64, cost u32, op u8. */
static void apply(const u8 *ev) {
	u64 h = *(const u64 *)ev;
	u32 cost = *(const u32 *)(ev + 8);
	switch (ev[12]) {
	case OP_INSERT:
	case OP_UPDATE:
		insert(h, cost);
		break;
	case OP_REMOVE:
		remove_hash(h);
		break;
	default: /* access, or an op this version does not know */
		break;
	}
}

/* next_victim takes the next entry to evict: those given up early first
 * (unless inserted again since), then the oldest. */
static int next_victim(struct victim *v) {
	while (early_len > 0) {
		*v = early[early_head];
		early_head = (early_head + 1) % MAX_EVENTS;
		early_len--;
		if (find(v->hash) == SLOTS)
			return 1;
	}
	return pop_oldest(v);
}

int EXPORT(distcache_abi_version)(void) { return 1; }

int EXPORT(distcache_policy_init)(i64 capacity, int events) {
	(void)capacity; /* FIFO needs no size: the host asks for room */
	if (events <= 0 || events > MAX_EVENTS)
		return 0;
	max_events = events;
	return (int)(__UINTPTR_TYPE__)buffer;
}

int EXPORT(distcache_policy_update)(int n, i64 need, int max_victims) {
	const u8 *ev = (const u8 *)buffer;
	if (n > max_events)
		n = max_events;
	for (int k = 0; k < n; k++)
		apply(ev + 16 * k);
	if (need <= 0)
		return 0;
	if (max_victims > max_events)
		max_victims = max_events;
	int count = 0;
	struct victim v;
	while (need > 0 && count < max_victims && next_victim(&v)) {
		buffer[count++] = v.hash;
		need -= v.cost;
	}
	return count;
}
