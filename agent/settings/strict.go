package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// checkKeys closes two holes encoding/json leaves open even with
// DisallowUnknownFields: it matches keys case-insensitively ("LISTEN" sets
// listen) and lets a repeated key silently win ("listen" twice, the second
// one public). A settings file is read by people, diff tools and the tray;
// all of them must see the one value the agent uses. So every key of a
// struct object must be spelled exactly as its field, and no object may
// repeat a key. Type errors are left to the decoder, which reports them
// with a line.
func checkKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := walk(dec, reflect.TypeFor[Settings](), "", 0)
	if errors.Is(err, errSyntax) {
		return nil // the decoder reports syntax errors, with a line
	}
	return err
}

// errSyntax ends the walk at the first malformed token; dec.More would
// otherwise keep reporting another element forever.
var errSyntax = errors.New("syntax")

// maxDepth bounds nesting (the document itself is 4 deep), so a file of
// brackets cannot make the walk recurse millions of times.
const maxDepth = 32

func walk(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: %s: nested more than %d deep", ErrDecode, path, maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return errSyntax
	}
	d, isDelim := tok.(json.Delim)
	if !isDelim || (d != '{' && d != '[') {
		return nil // a scalar, whatever its type
	}
	if d == '[' {
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Slice {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walk(dec, elem, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return errSyntax
		}
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return errSyntax
		}
		key, _ := kt.(string)
		kp := joinPath(path, key)
		if t != nil && t.Kind() == reflect.Map {
			kp = fmt.Sprintf("%s[%q]", path, key)
		}
		if seen[key] {
			return fmt.Errorf("%w: %s: key given twice", ErrDecode, kp)
		}
		seen[key] = true
		var next reflect.Type
		switch {
		case t == nil:
		case t.Kind() == reflect.Map:
			next = t.Elem()
		case t.Kind() == reflect.Struct:
			f, ok := fieldByJSONName(t, key)
			if !ok {
				if g, ok := fieldByFoldedName(t, key); ok {
					return fmt.Errorf("%w: %s: key must be spelled %q", ErrDecode, kp, g)
				}
				// Unknown keys are reported by DisallowUnknownFields.
			}
			next = f
		}
		if err := walk(dec, next, kp, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return errSyntax
	}
	return nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func fieldByJSONName(t reflect.Type, key string) (reflect.Type, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && jsonName(f) == key {
			return f.Type, true
		}
	}
	return nil, false
}

func fieldByFoldedName(t reflect.Type, key string) (string, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && strings.EqualFold(jsonName(f), key) {
			return jsonName(f), true
		}
	}
	return "", false
}
