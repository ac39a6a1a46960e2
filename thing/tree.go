package thing

import (
	"strconv"
	"strings"
)

// node is a JSON value that keeps member order and number text, for the
// document surgery Thing Models need (placeholders, tm:ref, tm:extends):
// a typed Description cannot hold "{{MAX}}" where a number belongs.
type node struct {
	kind byte   // 'o' object, 'a' array, 's' string, 'n' number, 'b' true/false, 'z' null
	str  string // string value, number text, "true"/"false"
	obj  []member
	arr  []*node
}

type member struct {
	key string
	val *node
}

// parseTree decodes data into a node tree, reporting syntax errors and
// duplicate member names.
func parseTree(data []byte) (*node, error) {
	d := newDecoder(data)
	var n *node
	if err := d.run(func() { n = d.tree() }); err != nil {
		return nil, err
	}
	if len(d.errs) > 0 {
		return nil, joinErrs(d.errs)
	}
	return n, nil
}

func (d *decoder) tree() *node {
	switch c := d.peek(); c {
	case '{':
		d.pos++
		d.enter()
		n := &node{kind: 'o'}
		var names map[string]bool // duplicate detection for big objects
		for first := true; d.next(&first, '}'); {
			k := d.key()
			d.pushKey()
			name := d.keepKey(k)
			var dup bool
			if len(n.obj) >= 16 {
				if names == nil {
					names = make(map[string]bool, 64)
					for _, m := range n.obj {
						names[m.key] = true
					}
				}
				dup = names[name]
				names[name] = true
			} else {
				dup = n.get(name) != nil
			}
			if dup {
				d.failDup()
				d.skip()
			} else {
				n.obj = append(n.obj, member{name, d.tree()})
			}
			d.pop()
		}
		return n
	case '[':
		d.pos++
		d.enter()
		n := &node{kind: 'a'}
		i := 0
		for first := true; d.next(&first, ']'); i++ {
			d.pushIndex(i)
			n.arr = append(n.arr, d.tree())
			d.pop()
		}
		return n
	case '"':
		b, _ := d.rawString()
		return &node{kind: 's', str: d.lastStr(b)}
	case 't', 'f':
		if d.literal() == 't' {
			return &node{kind: 'b', str: "true"}
		}
		return &node{kind: 'b', str: "false"}
	case 'n':
		d.literal()
		return &node{kind: 'z'}
	default:
		return &node{kind: 'n', str: string(d.numberSpan())}
	}
}

func (n *node) get(key string) *node {
	if n == nil || n.kind != 'o' {
		return nil
	}
	for _, m := range n.obj {
		if m.key == key {
			return m.val
		}
	}
	return nil
}

func (n *node) set(key string, v *node) {
	for i := range n.obj {
		if n.obj[i].key == key {
			n.obj[i].val = v
			return
		}
	}
	n.obj = append(n.obj, member{key, v})
}

func (n *node) del(key string) {
	for i := range n.obj {
		if n.obj[i].key == key {
			n.obj = append(n.obj[:i], n.obj[i+1:]...)
			return
		}
	}
}

// clone returns a deep copy.
func (n *node) clone() *node {
	if n == nil {
		return nil
	}
	c := &node{kind: n.kind, str: n.str}
	if n.obj != nil {
		c.obj = make([]member, len(n.obj))
		for i, m := range n.obj {
			c.obj[i] = member{m.key, m.val.clone()}
		}
	}
	if n.arr != nil {
		c.arr = make([]*node, len(n.arr))
		for i, e := range n.arr {
			c.arr[i] = e.clone()
		}
	}
	return c
}

// strings returns the string values of a string-or-array node.
func (n *node) strings() []string {
	switch {
	case n == nil:
		return nil
	case n.kind == 's':
		return []string{n.str}
	case n.kind == 'a':
		var out []string
		for _, e := range n.arr {
			if e.kind == 's' {
				out = append(out, e.str)
			}
		}
		return out
	}
	return nil
}

// lookup resolves a JSON pointer (RFC 6901) within n.
func (n *node) lookup(ptr string) *node {
	if ptr == "" {
		return n
	}
	if ptr[0] != '/' {
		return nil
	}
	cur := n
	for tok := range strings.SplitSeq(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch {
		case cur == nil:
			return nil
		case cur.kind == 'o':
			cur = cur.get(tok)
		case cur.kind == 'a':
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(cur.arr) {
				return nil
			}
			cur = cur.arr[i]
		default:
			return nil
		}
	}
	return cur
}

func (n *node) append(b []byte) []byte {
	switch n.kind {
	case 'o':
		b = append(b, '{')
		for i, m := range n.obj {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m.key)
			b = append(b, ':')
			b = m.val.append(b)
		}
		return append(b, '}')
	case 'a':
		b = append(b, '[')
		for i, e := range n.arr {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.append(b)
		}
		return append(b, ']')
	case 's':
		return appendString(b, n.str)
	case 'z':
		return append(b, "null"...)
	}
	return append(b, n.str...)
}

// equalJSON compares two trees as JSON values (numbers by value, members
// in any order).
func equalJSON(a, b *node) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case 'n':
		fa, ea := strconv.ParseFloat(a.str, 64)
		fb, eb := strconv.ParseFloat(b.str, 64)
		return ea == nil && eb == nil && fa == fb
	case 'o':
		if len(a.obj) != len(b.obj) {
			return false
		}
		for _, m := range a.obj {
			if !equalJSON(m.val, b.get(m.key)) {
				return false
			}
		}
		return true
	case 'a':
		if len(a.arr) != len(b.arr) {
			return false
		}
		for i := range a.arr {
			if !equalJSON(a.arr[i], b.arr[i]) {
				return false
			}
		}
		return true
	}
	return a.str == b.str
}

// nodeOf converts a Go value (as encoding/json would produce, or any value
// Marshal-able by the encoder) to a node.
func nodeOf(v any) (*node, error) {
	e := encoder{}
	e.value(v)
	if e.err != nil {
		return nil, e.err
	}
	return parseTree(e.b)
}
