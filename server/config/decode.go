package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error describes one problem in a config file. [Load] and [Parse] return
// it (possibly wrapped) for every problem in the file's content.
type Error struct {
	// File names the file, as given to [Load] or [Parse].
	File string
	// Line is the 1-based line of the problem, or 0 if unknown.
	Line int
	// Field is the path of the field at fault, such as groups[1].capacity;
	// empty for problems of the whole file.
	Field string
	// Problem says what is wrong.
	Problem string
}

// Error formats e as "FILE:LINE: FIELD: PROBLEM", leaving out the parts
// that are empty or 0.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Load reads the groups file at path, then strictly decodes, defaults and
// validates it as [Parse] does. A file that cannot be read is an error
// wrapping the [os.ReadFile] error, which names the path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse strictly decodes, defaults and validates the groups file data;
// name names the file in errors. It stops at the first problem and returns
// it as an [*Error].
func Parse(name string, data []byte) (*File, error) {
	root, err := parseDocument(name, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: name, lines: map[string]int{}}
	f := &File{}
	if err := d.decode(root, "", reflect.ValueOf(f).Elem()); err != nil {
		return nil, err
	}
	if err := validate(checker{file: name, lines: d.lines, top: root.Line}, f); err != nil {
		return nil, err
	}
	return f, nil
}

// parseDocument parses data as exactly one YAML document holding a
// mapping, and returns that mapping.
func parseDocument(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, next yaml.Node
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return nil, syntaxError(name, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].ShortTag() == "!!null" {
		return nil, &Error{File: name, Line: 1, Field: "groups", Problem: "is required (the file is empty)"}
	}
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &Error{File: name, Line: next.Line,
			Problem: "holds more than one YAML document; want exactly one"}
	case err != io.EOF:
		return nil, syntaxError(name, err)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: name, Line: root.Line,
			Problem: "must be a mapping with a groups list, not " + describe(root)}
	}
	return root, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// syntaxError turns a yaml parser error into an *Error with its line.
func syntaxError(name string, err error) *Error {
	e := &Error{File: name, Problem: "is not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Problem = "is not valid YAML: " + m[2]
	}
	return e
}

// decoder strictly decodes yaml nodes into the File structs by reflection,
// so each error carries its field path and line. (yaml.v3's KnownFields
// applies to a Decoder only, not to Node.Decode, and its type errors name
// a line but not a field; walking the nodes gives both.)
type decoder struct {
	file string
	// lines maps each field path decoded to the line of its key (or item).
	lines map[string]int
}

// defaulter is a struct that has defaults, set before it is decoded.
type defaulter interface{ setDefaults() }

// decode decodes n into out, a settable value; a null node leaves out as is.
func (d *decoder) decode(n *yaml.Node, path string, out reflect.Value) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	switch out.Kind() {
	case reflect.Pointer:
		v := reflect.New(out.Type().Elem())
		if err := d.decode(n, path, v.Elem()); err != nil {
			return err
		}
		out.Set(v)
		return nil
	case reflect.Slice:
		return d.sequence(n, path, out)
	case reflect.Struct:
		return d.mapping(n, path, out)
	case reflect.Map:
		return d.stringMap(n, path, out)
	}
	return d.scalar(n, path, out)
}

// stringMap decodes the mapping n into the map[string]string out,
// rejecting repeated keys.
func (d *decoder) stringMap(n *yaml.Node, path string, out reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return d.fail(notA(n, "a mapping"), path)
	}
	m := reflect.MakeMapWithSize(out.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		field := path + "." + key.Value
		if first, dup := d.lines[field]; dup {
			return &Error{File: d.file, Line: key.Line, Field: field,
				Problem: fmt.Sprintf("is repeated (first at line %d)", first)}
		}
		d.lines[field] = key.Line
		v := reflect.New(out.Type().Elem()).Elem()
		if err := d.scalar(value, field, v); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(key.Value), v)
	}
	out.Set(m)
	return nil
}

// mapping decodes the mapping n into the struct out, rejecting unknown
// and repeated fields.
func (d *decoder) mapping(n *yaml.Node, path string, out reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return d.fail(notA(n, "a mapping"), path)
	}
	if df, ok := out.Addr().Interface().(defaulter); ok {
		df.setDefaults()
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		field := key.Value
		if path != "" {
			field = path + "." + key.Value
		}
		idx, known := fieldIndex(out.Type(), key.Value)
		if !known {
			return &Error{File: d.file, Line: key.Line, Field: field, Problem: fmt.Sprintf(
				"unknown field %q (known: %s)", key.Value, strings.Join(fieldNames(out.Type()), ", "))}
		}
		if first, dup := d.lines[field]; dup {
			return &Error{File: d.file, Line: key.Line, Field: field,
				Problem: fmt.Sprintf("is repeated (first at line %d)", first)}
		}
		d.lines[field] = key.Line
		if err := d.decode(value, field, out.Field(idx)); err != nil {
			return err
		}
	}
	return nil
}

// sequence decodes the sequence n into the slice out.
func (d *decoder) sequence(n *yaml.Node, path string, out reflect.Value) error {
	if n.Kind != yaml.SequenceNode {
		return d.fail(notA(n, "a list"), path)
	}
	s := reflect.MakeSlice(out.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		if err := d.decode(item, p, s.Index(i)); err != nil {
			return err
		}
	}
	out.Set(s)
	return nil
}

// scalar decodes the scalar n into out with out's UnmarshalYAML method
// (Bytes, Duration), or else with yaml's own rules for strings, bools and
// numbers.
func (d *decoder) scalar(n *yaml.Node, path string, out reflect.Value) error {
	if u, ok := out.Addr().Interface().(yaml.Unmarshaler); ok {
		var e *Error
		if err := u.UnmarshalYAML(n); errors.As(err, &e) {
			return d.fail(e, path)
		} else if err != nil {
			return fmt.Errorf("%s:%d: %s: %w", d.file, n.Line, path, err)
		}
		return nil
	}
	want := "a string"
	switch out.Kind() {
	case reflect.Bool:
		want = "true or false"
	case reflect.Int:
		want = "an integer"
	case reflect.Float64:
		want = "a number"
	}
	if n.Kind != yaml.ScalarNode {
		return d.fail(notA(n, want), path)
	}
	err := n.Decode(out.Addr().Interface())
	// yaml truncates a float decoded into an int (1.5 becomes 1).
	if err != nil || out.Kind() == reflect.Int && n.ShortTag() != "!!int" {
		return d.fail(&Error{Line: n.Line, Problem: fmt.Sprintf("%q is not %s", n.Value, want)}, path)
	}
	return nil
}

// fail completes e with the file name and field path.
func (d *decoder) fail(e *Error, path string) *Error {
	e.File, e.Field = d.file, path
	return e
}

// fieldIndex returns the index of the field of struct type t that the
// yaml key name decodes into.
func fieldIndex(t reflect.Type, name string) (int, bool) {
	for i, n := range fieldNames(t) {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

// fieldNames returns the yaml keys of the fields of struct type t, in
// field order; every field of the config structs has a yaml tag.
func fieldNames(t reflect.Type) []string {
	names := make([]string, t.NumField())
	for i := range names {
		names[i], _, _ = strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
	}
	return names
}

// Check fills the defaults of a File built in code (a zero policy, load
// timeout or loader table, as a groups file leaves them out) and validates
// it as [Parse] validates a file; name names it in errors.
func Check(name string, f *File) error {
	for i := range f.Groups {
		g := &f.Groups[i]
		if g.Policy == "" {
			g.Policy = defaultPolicy
		}
		if g.LoadTimeout == 0 {
			g.LoadTimeout = defaultLoadTimeout
		}
		if l := g.Loader; l != nil && l.Kind != kindWasm {
			d := Loader{}
			d.setDefaults()
			if l.Table == "" {
				l.Table = d.Table
			}
			if l.KeyColumn == "" {
				l.KeyColumn = d.KeyColumn
			}
			if l.ValueColumn == "" {
				l.ValueColumn = d.ValueColumn
			}
		}
	}
	return validate(checker{file: name}, f)
}
