package plugin

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// guestPages is the memory of the fuzz guest: one 64 KiB page, no growth.
const guestPages = 1

// guestImports are the host functions the fuzz guest imports from
// distcache, each re-exported under its own name with the same
// parameters, and their signatures (i32 params; 1 if it returns an i32).
var guestImports = []struct {
	name    string
	params  int
	results int
}{
	{"set_value", 2, 0},
	{"set_error", 2, 0},
	{"log", 3, 0},
	{"sql_query", 4, 1},
	{"http_get", 2, 1},
	{"result", 2, 1},
}

// FuzzGuestMemory calls each host function that reads or writes guest
// memory with any pointer and length from a real module with one page of
// memory: a range inside the memory is read (or written) exactly, one
// outside traps the guest's call with an error, and the host never panics
// out of the call or reads past the memory.
func FuzzGuestMemory(f *testing.F) {
	f.Add(uint8(0), uint32(0), uint32(5), uint32(0), uint32(0), []byte("hello"))
	f.Add(uint8(0), uint32(65531), uint32(5), uint32(0), uint32(0), []byte("edge"))
	f.Add(uint8(0), uint32(65532), uint32(5), uint32(0), uint32(0), []byte("past"))
	f.Add(uint8(1), uint32(1<<32-1), uint32(1), uint32(0), uint32(0), []byte{})
	f.Add(uint8(1), uint32(1), uint32(1<<32-1), uint32(0), uint32(0), []byte{})
	f.Add(uint8(2), uint32(10), uint32(3), uint32(1), uint32(0), []byte("log line"))
	f.Add(uint8(3), uint32(0), uint32(8), uint32(8), uint32(9), []byte(`SELECT 1["a",1,null]`))
	f.Add(uint8(3), uint32(0), uint32(8), uint32(65535), uint32(2), []byte(`SELECT 1[]`))
	f.Add(uint8(3), uint32(0), uint32(8), uint32(8), uint32(19), []byte(`SELECT 1[{"$b64":"AAEC"},1.5]`))
	f.Add(uint8(4), uint32(0), uint32(14), uint32(0), uint32(0), []byte("http://x.test/"))
	f.Add(uint8(5), uint32(65530), uint32(100), uint32(0), uint32(0), []byte{})
	f.Add(uint8(5), uint32(65536), uint32(0), uint32(0), uint32(0), []byte{})
	ctx := context.Background()
	rt, err := NewRuntime(ctx, Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.rt.InstantiateWithConfig(ctx, guestModule(), wazero.NewModuleConfig().WithName("fuzz-guest"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which uint8, ptr, n, p2, n2 uint32, content []byte) {
		mem := mod.Memory()
		fill := bytes.Repeat(append(content, 0xa5), 1+guestPages*65536/(len(content)+1))
		if !mem.Write(0, fill[:guestPages*65536]) {
			t.Fatal("cannot fill the guest's memory")
		}
		snapshot, _ := mem.Read(0, guestPages*65536)
		snapshot = bytes.Clone(snapshot)
		checkRead(t, mod, ptr, n, snapshot)

		imp := guestImports[int(which)%len(guestImports)]
		args := []uint64{uint64(ptr), uint64(n), uint64(p2), uint64(n2)}
		if imp.name == "log" {
			args[0], args[1], args[2] = uint64(p2), uint64(ptr), uint64(n) // level, ptr, n
		}
		s := &callState{plugin: "fuzz", pending: []byte("pending result")}
		_, err := mod.ExportedFunction(imp.name).Call(withCallState(ctx, s), args[:imp.params]...)
		in := inside(ptr, n)
		switch imp.name {
		case "sql_query":
			in = in && (n2 == 0 || inside(p2, n2))
		case "result":
			in = n == 0 || inside(ptr, min(n, uint32(len("pending result"))))
		}
		if in != (err == nil) {
			t.Fatalf("%s(%d, %d, %d, %d): error %v; the range is inside the memory: %v", imp.name, ptr, n, p2, n2, err, in)
		}
		if err != nil {
			return
		}
		switch imp.name {
		case "set_value":
			if !s.hasValue || !bytes.Equal(s.value, snapshot[ptr:ptr+n]) {
				t.Fatalf("set_value(%d, %d) stored %q", ptr, n, s.value)
			}
		case "set_error":
			if s.errMsg != string(snapshot[ptr:ptr+n]) {
				t.Fatalf("set_error(%d, %d) stored %q", ptr, n, s.errMsg)
			}
		}
	})
}

// checkRead calls read directly: a range inside the memory is a view of
// exactly those bytes, one outside panics with an error.
func checkRead(t *testing.T, m api.Module, ptr, n uint32, want []byte) {
	t.Helper()
	b, panicked := readSafely(m, ptr, n)
	switch {
	case inside(ptr, n) && (panicked != nil || !bytes.Equal(b, want[ptr:ptr+n])):
		t.Fatalf("read(%d, %d) = %d bytes, panic %v", ptr, n, len(b), panicked)
	case !inside(ptr, n) && panicked == nil:
		t.Fatalf("read(%d, %d) outside the memory returned %d bytes", ptr, n, len(b))
	case panicked != nil && !isError(panicked):
		t.Fatalf("read(%d, %d) panicked with %T, not an error", ptr, n, panicked)
	}
}

func readSafely(m api.Module, ptr, n uint32) (b []byte, panicked any) {
	defer func() { panicked = recover() }()
	return read(m, ptr, n), nil
}

func isError(v any) bool { _, ok := v.(error); return ok }

// inside reports whether [ptr, ptr+n) is within the guest's memory.
func inside(ptr, n uint32) bool { return uint64(ptr)+uint64(n) <= guestPages*65536 }

// guestModule assembles the fuzz guest: it imports guestImports from
// distcache, exports each under its name as a function that passes its
// parameters on, and exports one page of memory that cannot grow.
func guestModule() []byte {
	var types, imports, funcs, exports, code []byte
	for i, imp := range guestImports {
		types = append(types, 0x60, byte(imp.params))
		for range imp.params {
			types = append(types, 0x7f) // i32
		}
		types = append(types, byte(imp.results))
		if imp.results == 1 {
			types = append(types, 0x7f)
		}
		imports = append(imports, wasmName(hostModule)...)
		imports = append(imports, wasmName(imp.name)...)
		imports = append(imports, 0x00, byte(i)) // a function of type i
		funcs = append(funcs, byte(i))
		exports = append(exports, wasmName(imp.name)...)
		exports = append(exports, 0x00, byte(len(guestImports)+i)) // the function after the imports
		var body []byte
		body = append(body, 0x00) // no locals
		for p := range imp.params {
			body = append(body, 0x20, byte(p)) // local.get p
		}
		body = append(body, 0x10, byte(i), 0x0b) // call i; end
		code = append(code, byte(len(body)))
		code = append(code, body...)
	}
	exports = append(exports, wasmName("memory")...)
	exports = append(exports, 0x02, 0x00) // memory 0
	n := byte(len(guestImports))
	out := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	out = wasmSection(out, 1, append([]byte{n}, types...))
	out = wasmSection(out, 2, append([]byte{n}, imports...))
	out = wasmSection(out, 3, append([]byte{n}, funcs...))
	out = wasmSection(out, 5, []byte{1, 0x01, guestPages, guestPages}) // one memory, min = max
	out = wasmSection(out, 7, append([]byte{n + 1}, exports...))
	out = wasmSection(out, 10, append([]byte{n}, code...))
	return out
}

// wasmName encodes a name (shorter than 128 bytes) as wasm does.
func wasmName(s string) []byte { return append([]byte{byte(len(s))}, s...) }

// wasmSection appends a section of id with content (shorter than 2¹⁴
// bytes, in a two-byte LEB128 size) to out.
func wasmSection(out []byte, id byte, content []byte) []byte {
	size := binary.AppendUvarint(nil, uint64(len(content)))
	return append(append(append(out, id), size...), content...)
}
