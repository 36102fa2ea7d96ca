package jws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/acmegate/acmegate/acme/problem"
)

// MaxDepth is the deepest nesting of objects and arrays [DecodePayload]
// accepts. ACME payloads need four levels at most.
const MaxDepth = 32

// DecodePayload decodes the JSON payload of a verified request into v, which
// must be a non-nil pointer. Unlike encoding/json alone, it refuses with
// malformed (catalogue A12):
//   - a member repeated in any object, at any depth;
//   - a member that matches a field of v only when case is ignored, such as
//     "Identifiers" for "identifiers";
//   - nesting deeper than [MaxDepth], invalid UTF-8, data after the value;
//   - anything but an object when v points to a struct or a map.
//
// Members v does not know are ignored, since clients send extensions.
func DecodePayload(payload []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("jws: DecodePayload needs a non-nil pointer, got %T", v)
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		return problem.New(problem.Malformed, "payload is empty")
	}
	if err := checkJSON(payload, rv.Type()); err != nil {
		return problem.New(problem.Malformed, "payload: %v", err)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return problem.New(problem.Malformed,
				"payload member %q must not be a JSON %s", clip(typeErr.Field), typeErr.Value)
		}
		return problem.New(problem.Malformed, "payload is not valid for this request")
	}
	return nil
}

// checkJSON walks data token by token and refuses duplicate members, case
// variants of the field names of t, nesting deeper than [MaxDepth], invalid
// UTF-8 and trailing data. Errors are safe to show to the client.
func checkJSON(data []byte, t reflect.Type) error {
	if !utf8.Valid(data) {
		return errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers stay text: no float overflow errors here
	w := &walker{dec: dec}

	tok, err := dec.Token()
	if err != nil {
		return errors.New("invalid JSON")
	}
	if k := deref(t); k != nil && (k.Kind() == reflect.Struct || k.Kind() == reflect.Map) &&
		tok != json.Delim('{') {
		return errors.New("a JSON object is required")
	}
	if err := w.value(tok, t, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// walker holds the decoder of one checkJSON call.
type walker struct {
	dec *json.Decoder
}

// value checks the value that starts with tok; t is the Go type it will be
// decoded into, or nil when that is unknown.
func (w *walker) value(tok json.Token, t reflect.Type, depth int) error {
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= MaxDepth {
		return fmt.Errorf("nesting is deeper than %d levels", MaxDepth)
	}
	if delim == '{' {
		return w.object(t, depth+1)
	}
	return w.array(t, depth+1)
}

// object checks the members of an object whose '{' was read.
func (w *walker) object(t reflect.Type, depth int) error {
	seen := make(map[string]struct{})
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return errors.New("invalid JSON")
		}
		key, _ := tok.(string)
		if _, dup := seen[key]; dup {
			return fmt.Errorf("duplicate member %q", clip(key))
		}
		seen[key] = struct{}{}
		child, err := memberType(t, key)
		if err != nil {
			return err
		}
		if tok, err = w.dec.Token(); err != nil {
			return errors.New("invalid JSON")
		}
		if err := w.value(tok, child, depth); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil {
		return errors.New("invalid JSON")
	}
	return nil
}

// array checks the elements of an array whose '[' was read.
func (w *walker) array(t reflect.Type, depth int) error {
	var elem reflect.Type
	if k := deref(t); k != nil && (k.Kind() == reflect.Slice || k.Kind() == reflect.Array) {
		elem = k.Elem()
	}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return errors.New("invalid JSON")
		}
		if err := w.value(tok, elem, depth); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil {
		return errors.New("invalid JSON")
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// deref strips pointers from t. It returns nil when encoding/json will not
// decode t field by field: t is nil, an interface, or has its own
// UnmarshalJSON.
func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface ||
		reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	return t
}

// memberType returns the type that member key of t decodes into. It refuses
// a key that matches a struct field only when case is ignored, because
// encoding/json would accept it silently.
func memberType(t reflect.Type, key string) (reflect.Type, error) {
	t = deref(t)
	switch {
	case t == nil:
		return nil, nil
	case t.Kind() == reflect.Map:
		return t.Elem(), nil
	case t.Kind() != reflect.Struct:
		return nil, nil
	}
	fields := structFields(t)
	if ft, ok := fields[key]; ok {
		return ft, nil
	}
	for name := range fields {
		if strings.EqualFold(name, key) {
			return nil, fmt.Errorf("member %q differs from %q only in case", clip(key), name)
		}
	}
	return nil, nil
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// structFields returns the JSON names of the fields of struct type t, with
// embedded structs flattened as encoding/json does, mapped to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	if cached, ok := fieldCache.Load(t); ok {
		return cached.(map[string]reflect.Type)
	}
	fields := map[string]reflect.Type{}
	collectFields(t, fields, 0)
	fieldCache.Store(t, fields)
	return fields
}

// collectFields adds the fields of t to fields; shallower names win.
func collectFields(t reflect.Type, fields map[string]reflect.Type, level int) {
	if level > MaxDepth {
		return
	}
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			if et := deref(f.Type); et != nil && et.Kind() == reflect.Struct {
				embedded = append(embedded, et)
				continue
			}
			if !f.IsExported() {
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		if _, taken := fields[name]; !taken {
			fields[name] = f.Type
		}
	}
	for _, et := range embedded {
		collectFields(et, fields, level+1)
	}
}
