// Package resp serves a node's cache over the Redis protocol (RESP2), so
// that redis-cli, go-redis and other Redis clients can read and write it.
//
// Every data command is made into the CacheService or AdminService call
// it stands for and served by the node's own HTTP handler, in process, as
// the raw /kv path is: the same validation, value limit, tokens, rate
// limits, read-through loading and routing to each key's owner.
//
// The subset: PING, ECHO, GET, SET (EX, PX), DEL, EXISTS, MGET, MSET,
// EXPIRE, PEXPIRE, TTL, PTTL, INFO, and what clients send on connect:
// HELLO (protocol 2; HELLO 3 is refused with NOPROTO, so clients fall
// back to RESP2), AUTH, CLIENT SETNAME/GETNAME/SETINFO/ID, SELECT 0,
// COMMAND (COUNT, DOCS, INFO) and QUIT. Anything else is
// "ERR unknown command".
//
// A key names its group by a prefix: "users:42" is key "42" of group
// "users" when the node serves a group called "users"; any other key,
// colon or not, is a key of the default group (see [SplitKey]).
package resp
