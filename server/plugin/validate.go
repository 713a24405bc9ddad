package plugin

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The exports of ABI version 1.
const (
	exportABIVersion   = "distcache_abi_version"
	exportPolicyInit   = "distcache_policy_init"
	exportPolicyUpdate = "distcache_policy_update"
	exportLoaderAlloc  = "distcache_loader_alloc"
	exportLoaderLoad   = "distcache_loader_load"
)

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// signature is a function's parameter and result types.
type signature struct {
	params, results []api.ValueType
}

func sig(params []api.ValueType, results ...api.ValueType) signature {
	return signature{params: params, results: results}
}

func (s signature) String() string {
	name := func(ts []api.ValueType) string {
		var out []string
		for _, t := range ts {
			out = append(out, api.ValueTypeName(t))
		}
		return strings.Join(out, ", ")
	}
	return fmt.Sprintf("(%s) -> (%s)", name(s.params), name(s.results))
}

// requiredExports are the functions each kind must export.
var requiredExports = map[Kind]map[string]signature{
	KindPolicy: {
		exportABIVersion:   sig(nil, i32),
		exportPolicyInit:   sig([]api.ValueType{i64, i32}, i32),
		exportPolicyUpdate: sig([]api.ValueType{i32, i64, i32}, i32),
	},
	KindLoader: {
		exportABIVersion:  sig(nil, i32),
		exportLoaderAlloc: sig([]api.ValueType{i32}, i32),
		exportLoaderLoad:  sig([]api.ValueType{i32, i32, i32, i32, i32, i32}, i32),
	},
}

// grantedImports are the distcache host functions each kind may import.
var grantedImports = map[Kind][]string{
	KindPolicy: {"log"},
	KindLoader: {"log", "now", "set_value", "set_ttl", "set_error", "sql_query", "sql_dialect", "http_get", "result"},
}

// validate works out the module's kind and checks its exports, memory and
// imports against the ABI.
func validate(c wazero.CompiledModule) (Kind, error) {
	exports := c.ExportedFunctions()
	_, isPolicy := exports[exportPolicyUpdate]
	_, isLoader := exports[exportLoaderLoad]
	var kind Kind
	switch {
	case isPolicy && isLoader:
		return "", fmt.Errorf("exports both %s and %s: a module is a policy or a loader, not both", exportPolicyUpdate, exportLoaderLoad)
	case isPolicy:
		kind = KindPolicy
	case isLoader:
		kind = KindLoader
	default:
		return "", fmt.Errorf("exports neither %s (a policy) nor %s (a loader)", exportPolicyUpdate, exportLoaderLoad)
	}
	if err := checkExports(kind, exports); err != nil {
		return "", err
	}
	if _, ok := c.ExportedMemories()["memory"]; !ok {
		return "", fmt.Errorf("%s module does not export its memory as \"memory\"", kind)
	}
	return kind, checkImports(kind, c.ImportedFunctions())
}

func checkExports(kind Kind, exports map[string]api.FunctionDefinition) error {
	names := make([]string, 0, len(requiredExports[kind]))
	for name := range requiredExports[kind] {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		want := requiredExports[kind][name]
		def, ok := exports[name]
		if !ok {
			return fmt.Errorf("%s module lacks the export %s%s", kind, name, want)
		}
		got := sig(def.ParamTypes(), def.ResultTypes()...)
		if !slices.Equal(got.params, want.params) || !slices.Equal(got.results, want.results) {
			return fmt.Errorf("export %s has type %s, want %s", name, got, want)
		}
	}
	return nil
}

func checkImports(kind Kind, imports []api.FunctionDefinition) error {
	for _, def := range imports {
		module, name, _ := def.Import()
		switch {
		case module == "wasi_snapshot_preview1":
			// Sandboxed: no files, environment, arguments or real clock.
		case module == hostModule && slices.Contains(grantedImports[kind], name):
		default:
			return fmt.Errorf("imports %s.%s, which is not granted to a %s (granted: %s.{%s} and wasi_snapshot_preview1)",
				module, name, kind, hostModule, strings.Join(grantedImports[kind], ","))
		}
	}
	return nil
}
