// Package thing implements the W3C Web of Things Thing Description 1.1
// (https://www.w3.org/TR/wot-thing-description11/): the information model
// as Go types, JSON decoding and encoding that keeps every extension,
// validation with JSON-pointer errors, the spec's defaults, form and URI
// template resolution, validation of values against data schemas, a
// builder, and Thing Models.
//
// The package is pure data: it does no I/O of its own. Where a Thing Model
// names other documents, the caller supplies a Loader.
//
// # Parsing and inspecting
//
// Parse decodes and validates a Thing Description in one call:
//
//	td, err := thing.Parse(data)
//	if err != nil {
//		// errors.Is(err, thing.ErrInvalid); each problem is a *thing.ValidationError
//	}
//	p := td.Properties["brightness"]
//	f := p.FormFor(thing.OpWriteProperty) // default ops applied
//	u, err := td.ResolveForm(f, p.URIVariables, map[string]any{"level": 3})
//
// Decoding reads straight into the model: term names are case-sensitive,
// duplicate member names are errors (encoding/json would silently keep the
// last one), and members the model does not define ("htv:methodName",
// "saref:...", ...) are kept verbatim in Extensions wherever they appear. A
// UTF-8 byte order mark is tolerated. json.Marshal of a Description writes
// a TD again, extensions included; string-or-array terms keep their form,
// and defaults are never added: an absent contentType stays absent, while
// methods such as Form.EffectiveContentType, Property.DefaultOps and
// SecurityScheme.EffectiveIn answer what the spec says it means.
//
// json.Unmarshal into a Description decodes without validating; use Parse
// (or Validate afterwards) for documents from elsewhere.
//
// # Validation
//
// Validate reports every violation at once, as an errors.Join of
// *ValidationError whose Path is a JSON pointer:
//
//	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
//		var ve *thing.ValidationError
//		if errors.As(e, &ve) {
//			fmt.Println(ve.Path, ve.Msg)
//		}
//	}
//
// It checks everything the official TD 1.1 JSON Schema checks, and what the
// schema cannot: security names that exist (at the Thing level, in forms
// and in combo schemes), op values legal for each affordance kind, at most
// one link with rel "type", API keys placed in the URI that the href
// template has a variable for, well-formed language tags in titles and
// descriptions, and duplicate member names. Warnings (legal but probably
// unintended, such as an enum next to a const, an array schema without
// items, a readOnly property with a writeproperty form) are a separate
// channel: Description.Warnings. Options{Lenient: true} accepts forms whose
// response lacks contentType, as some deployed TDs have.
//
// Where Hearth is deliberately stricter than the official JSON Schema
// (the differential test against the schema checks that these are the
// only differences):
//
//   - a member name repeated in one object is an error (ErrDuplicateMember);
//     input that is not UTF-8 or nests deeper than 512 levels is rejected;
//   - security names (Thing-level, in forms, in combo schemes) and
//     additionalResponses schema names must be defined;
//   - an "in": "uri" API key needs its variable in the href template;
//   - at most one link has rel "type";
//   - keys of titles and descriptions must be well-formed BCP 47 tags;
//   - an empty title, an empty "@context" array and a form response with
//     "contentType": "" are errors (the last one not with Lenient);
//   - "id" must be an absolute RFC 3986 URI (the schema library accepts
//     whatever Go's url.Parse does, spaces included);
//   - members the schema leaves untyped must have their TD 1.1 types:
//     "pattern" (the schema does not list it), "properties" of any data
//     schema, "contentEncoding" and "contentMediaType" of a property, and
//     the version's "model";
//   - counts (minLength, maxItems, ...) must fit in 53 bits.
//
// Numbers beyond the float64 range are read as the largest finite float64.
//
// # Building
//
// Builder writes a TD in Go; schema helpers chain:
//
//	td, err := thing.New("urn:example:lamp", "Lamp").
//		Base("http://lamp.local/").
//		Property("on", thing.Boolean().Observable()).
//		Property("brightness", thing.Integer().Range(0, 100).Unit("percent")).
//		Action("fade", thing.NewAction().Input(thing.Integer().Range(0, 100))).
//		Event("overheated", thing.NewEvent().Data(thing.Number().Unit("celsius"))).
//		Build()
//
// Affordances get one form each unless given explicit ones; the Thing
// gets a nosec scheme unless Security is called. Build validates.
//
// # Values
//
// Compile prepares a DataSchema for checking values; the compiled Schema
// is immutable, safe for concurrent use, and meant to be kept:
//
//	s, err := thing.Compile(&p.DataSchema)
//	err = s.ValidateJSON(body) // raw request bodies, no decoding first
//	err = s.Validate(v)        // values decoded by encoding/json
//
// A scalar check costs well under a microsecond and no allocations. Errors
// are *ValueError (errors.Is(err, thing.ErrInvalidValue)). Patterns are
// ECMA-262; Hearth translates them for Go's RE2 (line terminators for ".",
// Unicode white space for \s, \u escapes) and Compile reports what RE2
// cannot do (lookaround, backreferences) with ErrPattern.
//
// # Forms and URI templates
//
// Description.ResolveForm turns a form into a request URL: the href is
// expanded as an RFC 6570 URI template first, with uriVariables from the
// Thing and the affordance (the affordance's win), and only then resolved
// against base (or the URL the TD was retrieved from, see
// Description.ResolveFormFrom). ExpandTemplate and TemplateVariables work
// on templates directly.
//
// # Thing Models
//
// ParseModel reads a Thing Model (a document typed "tm:ThingModel") and
// validates it by the TD 1.1 rules for models (placeholders may stand for
// any value; title, security and forms may be absent). Model.Resolve
// merges "tm:extends" parents and inlines "tm:ref" imports, fetching
// through the Loader the caller passes (MapLoader, LoaderFunc, or one
// backed by an HTTP client); without one nothing is fetched.
// Model.Instantiate makes a Thing Description: placeholders replaced,
// optional affordances kept only when asked for, forms and a nosec scheme
// added where the model has none:
//
//	m, err := thing.ParseModel(data)
//	td, err := m.WithURL(modelURL).Instantiate(ctx, thing.Instance{
//		ID:           "urn:dev:thermostat-7",
//		Placeholders: map[string]any{"MAX": 35},
//		Loader:       loader,
//	})
//
// CheckModel verifies that a TD conforms to the Thing Model its "type" link
// names (errors.Is(err, thing.ErrNotConforming)); a model the loader
// cannot find gives an error matching ErrNotFound, which a processor
// reports as a warning.
//
// # Concurrency
//
// Descriptions and DataSchemas are plain data: safe for concurrent
// reads, not for concurrent mutation. A compiled Schema and a Model are
// immutable and safe for concurrent use; Loaders may be called
// concurrently. Builders are not safe for
// concurrent use.
package thing
