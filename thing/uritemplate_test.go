package thing_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/hearth-wot/hearth/thing"
)

// TestExpandTemplateRFC6570 runs the examples of RFC 6570 section 3.2.
func TestExpandTemplateRFC6570(t *testing.T) {
	vars := map[string]any{
		"count": []string{"one", "two", "three"}, "dom": []string{"example", "com"}, "dub": "me/too",
		"hello": "Hello World!", "half": "50%", "var": "value", "who": "fred", "base": "http://example.com/home/",
		"path": "/foo/bar", "list": []string{"red", "green", "blue"},
		"keys": [][2]string{{"semi", ";"}, {"dot", "."}, {"comma", ","}},
		"v":    "6", "x": "1024", "y": "768", "empty": "", "empty_keys": [][2]string{}, "undef": nil,
	}
	cases := map[string]string{
		"{count}": "one,two,three", "{count*}": "one,two,three", "{/count}": "/one,two,three", "{/count*}": "/one/two/three",
		"{;count}": ";count=one,two,three", "{;count*}": ";count=one;count=two;count=three",
		"{?count}": "?count=one,two,three", "{?count*}": "?count=one&count=two&count=three", "{&count*}": "&count=one&count=two&count=three",
		"{var}": "value", "{hello}": "Hello%20World%21", "{half}": "50%25", "O{empty}X": "OX", "O{undef}X": "OX",
		"{x,y}": "1024,768", "{x,hello,y}": "1024,Hello%20World%21,768", "?{x,empty}": "?1024,", "?{x,undef}": "?1024",
		"?{undef,y}": "?768", "{var:3}": "val", "{var:30}": "value", "{list}": "red,green,blue", "{list*}": "red,green,blue",
		"{keys}": "semi,%3B,dot,.,comma,%2C", "{keys*}": "semi=%3B,dot=.,comma=%2C",
		"{+var}": "value", "{+hello}": "Hello%20World!", "{+half}": "50%25", "{base}index": "http%3A%2F%2Fexample.com%2Fhome%2Findex",
		"{+base}index": "http://example.com/home/index", "O{+empty}X": "OX", "O{+undef}X": "OX", "{+path}/here": "/foo/bar/here",
		"here?ref={+path}": "here?ref=/foo/bar", "up{+path}{var}/here": "up/foo/barvalue/here", "{+x,hello,y}": "1024,Hello%20World!,768",
		"{+path,x}/here": "/foo/bar,1024/here", "{+path:6}/here": "/foo/b/here", "{+list}": "red,green,blue", "{+list*}": "red,green,blue",
		"{+keys}": "semi,;,dot,.,comma,,", "{+keys*}": "semi=;,dot=.,comma=,",
		"{#var}": "#value", "{#hello}": "#Hello%20World!", "{#half}": "#50%25", "foo{#empty}": "foo#", "foo{#undef}": "foo",
		"{#x,hello,y}": "#1024,Hello%20World!,768", "{#path,x}/here": "#/foo/bar,1024/here", "{#path:6}/here": "#/foo/b/here",
		"{#list}": "#red,green,blue", "{#list*}": "#red,green,blue", "{#keys}": "#semi,;,dot,.,comma,,", "{#keys*}": "#semi=;,dot=.,comma=,",
		"{.who}": ".fred", "{.who,who}": ".fred.fred", "{.half,who}": ".50%25.fred", "www{.dom*}": "www.example.com", "X{.var}": "X.value",
		"X{.empty}": "X.", "X{.undef}": "X", "X{.var:3}": "X.val", "X{.list}": "X.red,green,blue", "X{.list*}": "X.red.green.blue",
		"X{.keys}": "X.semi,%3B,dot,.,comma,%2C", "X{.keys*}": "X.semi=%3B.dot=..comma=%2C", "X{.empty_keys}": "X", "X{.empty_keys*}": "X",
		"{/who}": "/fred", "{/who,who}": "/fred/fred", "{/half,who}": "/50%25/fred", "{/who,dub}": "/fred/me%2Ftoo", "{/var}": "/value",
		"{/var,empty}": "/value/", "{/var,undef}": "/value", "{/var,x}/here": "/value/1024/here", "{/var:1,var}": "/v/value",
		"{/list}": "/red,green,blue", "{/list*}": "/red/green/blue", "{/list*,path:4}": "/red/green/blue/%2Ffoo",
		"{/keys}": "/semi,%3B,dot,.,comma,%2C", "{/keys*}": "/semi=%3B/dot=./comma=%2C",
		"{;who}": ";who=fred", "{;half}": ";half=50%25", "{;empty}": ";empty", "{;v,empty,who}": ";v=6;empty;who=fred",
		"{;v,bar,who}": ";v=6;who=fred", "{;x,y}": ";x=1024;y=768", "{;x,y,empty}": ";x=1024;y=768;empty", "{;x,y,undef}": ";x=1024;y=768",
		"{;hello:5}": ";hello=Hello", "{;list}": ";list=red,green,blue", "{;list*}": ";list=red;list=green;list=blue",
		"{;keys}": ";keys=semi,%3B,dot,.,comma,%2C", "{;keys*}": ";semi=%3B;dot=.;comma=%2C",
		"{?who}": "?who=fred", "{?half}": "?half=50%25", "{?x,y}": "?x=1024&y=768", "{?x,y,empty}": "?x=1024&y=768&empty=",
		"{?x,y,undef}": "?x=1024&y=768", "{?var:3}": "?var=val", "{?list}": "?list=red,green,blue", "{?list*}": "?list=red&list=green&list=blue",
		"{?keys}": "?keys=semi,%3B,dot,.,comma,%2C", "{?keys*}": "?semi=%3B&dot=.&comma=%2C",
		"{&who}": "&who=fred", "{&half}": "&half=50%25", "?fixed=yes{&x}": "?fixed=yes&x=1024", "{&x,y,empty}": "&x=1024&y=768&empty=",
		"{&var:3}": "&var=val", "{&list}": "&list=red,green,blue", "{&list*}": "&list=red&list=green&list=blue",
		"{&keys}": "&keys=semi,%3B,dot,.,comma,%2C", "{&keys*}": "&semi=%3B&dot=.&comma=%2C",
	}
	for tmpl, want := range cases {
		got, err := thing.ExpandTemplate(tmpl, vars)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", tmpl, got, err, want)
		}
	}
}

func TestExpandTemplateErrors(t *testing.T) {
	for _, tmpl := range []string{"{", "}", "{}", "{!x}", "{a b}", "{x:0}", "{x:10000}", "{x:y}", "{.}", "{x}{", "{x*:3}"} {
		if _, err := thing.ExpandTemplate(tmpl, nil); !errors.Is(err, thing.ErrTemplate) {
			t.Errorf("%q: want ErrTemplate, got %v", tmpl, err)
		}
	}
	if _, err := thing.ExpandTemplate("{list:2}", map[string]any{"list": []string{"a"}}); !errors.Is(err, thing.ErrTemplate) {
		t.Errorf("prefix on a list: %v", err)
	}
	// Non-ASCII literals and values are percent-encoded as UTF-8.
	got, err := thing.ExpandTemplate("/café/{x}", map[string]any{"x": "é"})
	if err != nil || got != "/caf%C3%A9/%C3%A9" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestTemplateVariables(t *testing.T) {
	got, err := thing.TemplateVariables("https://example.com/{secClientID}/status/{secKey}/{?lat,long}{&lat}")
	if err != nil || !slices.Equal(got, []string{"secClientID", "secKey", "lat", "long"}) {
		t.Errorf("got %v, %v", got, err)
	}
}
