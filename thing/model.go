package thing

import "encoding/json"

// Context is the value of a Thing Description's "@context" member: a single
// URI, or an array of URIs and prefix-definition objects. Array records
// whether the document used the array form, so a single-element array
// re-serialises as an array.
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type Context struct {
	Entries []ContextEntry
	Array   bool
}

// ContextEntry is one element of a "@context": either a URI or an object
// mapping prefixes (and keywords such as "@language") to values.
// Exactly one of URI and Terms is set.
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type ContextEntry struct {
	URI   string
	Terms map[string]json.RawMessage
}

// Strings is a TD term that may be written as a single string or as an array
// of strings (for example "@type", "security", "op", "scopes", "profile").
// Array records which form the document used, so it survives a round trip.
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type Strings struct {
	Values []string
	Array  bool
}

// MultiLanguage maps language tags (BCP 47) to text, as in "titles" and
// "descriptions".
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type MultiLanguage map[string]string

// Description is a W3C Thing Description 1.1: the metadata and interfaces of
// one Thing. Members the TD 1.1 information model does not define are kept
// in Extensions and written back unchanged.
//
// A Description is plain data; it is not safe to mutate concurrently, but any
// number of goroutines may read one that no one mutates.
type Description struct {
	Context             Context                    // "@context" (required)
	Type                Strings                    // "@type"
	ID                  string                     // "id"
	Title               string                     // "title" (required)
	Titles              MultiLanguage              // "titles"
	Description         string                     // "description"
	Descriptions        MultiLanguage              // "descriptions"
	Version             *VersionInfo               // "version"
	Created             string                     // "created" (xsd:dateTime, kept as written)
	Modified            string                     // "modified" (xsd:dateTime, kept as written)
	Support             string                     // "support"
	Base                string                     // "base"
	Properties          map[string]*Property       // "properties"
	Actions             map[string]*Action         // "actions"
	Events              map[string]*Event          // "events"
	Links               []Link                     // "links"
	Forms               []Form                     // "forms"
	Security            Strings                    // "security" (required)
	SecurityDefinitions map[string]*SecurityScheme // "securityDefinitions" (required)
	Profile             Strings                    // "profile"
	SchemaDefinitions   map[string]*DataSchema     // "schemaDefinitions"
	URIVariables        map[string]*DataSchema     // "uriVariables"
	Extensions          map[string]json.RawMessage // members outside the TD 1.1 model, verbatim

	present presentBits // members present with an empty value
}

// VersionInfo is the "version" member of a Thing Description.
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type VersionInfo struct {
	Instance   string                     // "instance" (required)
	Model      string                     // "model"
	Extensions map[string]json.RawMessage // unknown members, verbatim
}

// DataSchema describes a JSON value: the TD 1.1 DataSchema with every
// subclass keyword (array, boolean, number, integer, object, string, null)
// flattened into one struct. Numeric bounds are pointers so that an absent
// bound differs from zero.
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type DataSchema struct {
	AtType           Strings                // "@type"
	Title            string                 // "title"
	Titles           MultiLanguage          // "titles"
	Description      string                 // "description"
	Descriptions     MultiLanguage          // "descriptions"
	Type             string                 // "type": boolean, integer, number, string, object, array or null
	Const            any                    // "const" (a decoded JSON value; nil when absent)
	HasConst         bool                   // Const was present (it may be JSON null)
	Default          any                    // "default" (a decoded JSON value; nil when absent)
	HasDefault       bool                   // Default was present (it may be JSON null)
	Enum             []any                  // "enum"
	OneOf            []*DataSchema          // "oneOf"
	Unit             string                 // "unit"
	ReadOnly         bool                   // "readOnly" (default false)
	WriteOnly        bool                   // "writeOnly" (default false)
	Format           string                 // "format"
	ContentEncoding  string                 // "contentEncoding"
	ContentMediaType string                 // "contentMediaType"
	Minimum          *float64               // "minimum"
	Maximum          *float64               // "maximum"
	ExclusiveMinimum *float64               // "exclusiveMinimum"
	ExclusiveMaximum *float64               // "exclusiveMaximum"
	MultipleOf       *float64               // "multipleOf"
	MinLength        *int                   // "minLength" (counted in Unicode code points)
	MaxLength        *int                   // "maxLength" (counted in Unicode code points)
	Pattern          string                 // "pattern" (ECMA-262 regular expression)
	Items            *DataSchema            // "items" written as one schema
	TupleItems       []*DataSchema          // "items" written as an array of schemas
	MinItems         *int                   // "minItems"
	MaxItems         *int                   // "maxItems"
	Properties       map[string]*DataSchema // "properties"
	Required         []string               // "required"
	Extensions       map[string]json.RawMessage

	explicit explicitBits // booleans written explicitly (so false re-serialises)
}

// Property is a TD 1.1 PropertyAffordance: a readable, writable or
// observable state of a Thing. Its data schema members (type, minimum, ...)
// are written at the same level as its forms, as the TD does.
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type Property struct {
	DataSchema                          // the property's schema, title and description
	Forms        []Form                 // "forms" (required)
	URIVariables map[string]*DataSchema // "uriVariables"
	Observable   bool                   // "observable" (default false)

	explicitObservable bool
}

// Action is a TD 1.1 ActionAffordance: a function of a Thing that may
// change its state or take time.
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type Action struct {
	Type         Strings                // "@type"
	Title        string                 // "title"
	Titles       MultiLanguage          // "titles"
	Description  string                 // "description"
	Descriptions MultiLanguage          // "descriptions"
	Forms        []Form                 // "forms" (required)
	URIVariables map[string]*DataSchema // "uriVariables"
	Input        *DataSchema            // "input"
	Output       *DataSchema            // "output"
	Safe         bool                   // "safe" (default false)
	Idempotent   bool                   // "idempotent" (default false)
	Synchronous  *bool                  // "synchronous" (no default: unknown when nil)
	Extensions   map[string]json.RawMessage

	explicit explicitBits
}

// Event is a TD 1.1 EventAffordance: a source of asynchronous notifications.
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type Event struct {
	Type         Strings                // "@type"
	Title        string                 // "title"
	Titles       MultiLanguage          // "titles"
	Description  string                 // "description"
	Descriptions MultiLanguage          // "descriptions"
	Forms        []Form                 // "forms" (required)
	URIVariables map[string]*DataSchema // "uriVariables"
	Subscription *DataSchema            // "subscription"
	Data         *DataSchema            // "data"
	DataResponse *DataSchema            // "dataResponse"
	Cancellation *DataSchema            // "cancellation"
	Extensions   map[string]json.RawMessage
}

// Form is a TD 1.1 hypermedia control: how to perform one or more
// operations on a Thing or affordance.
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type Form struct {
	Href                string                     // "href" (required; may be a URI template)
	ContentType         string                     // "contentType" (default application/json)
	ContentCoding       string                     // "contentCoding"
	Subprotocol         string                     // "subprotocol"
	Security            Strings                    // "security"
	Scopes              Strings                    // "scopes"
	Response            *ExpectedResponse          // "response"
	AdditionalResponses []AdditionalResponse       // "additionalResponses"
	Op                  Strings                    // "op" (defaults depend on the affordance kind)
	Extensions          map[string]json.RawMessage // e.g. "htv:methodName", "mqv:topic"
}

// ExpectedResponse is a form's "response" member.
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type ExpectedResponse struct {
	ContentType string // "contentType" (required unless parsing leniently)
	Extensions  map[string]json.RawMessage
}

// AdditionalResponse is one entry of a form's "additionalResponses".
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type AdditionalResponse struct {
	Success     *bool  // "success" (default false)
	ContentType string // "contentType" (defaults to the form's)
	Schema      string // "schema": a name in the Thing's schemaDefinitions
	Extensions  map[string]json.RawMessage
}

// Link is a TD 1.1 web link.
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type Link struct {
	Href       string  // "href" (required)
	Type       string  // "type": media type hint
	Rel        string  // "rel"
	Anchor     string  // "anchor"
	Sizes      string  // "sizes"
	Hreflang   Strings // "hreflang"
	Extensions map[string]json.RawMessage

	hasSizes bool // "sizes" was present (it may be "")
}

// SecurityScheme is a TD 1.1 security scheme. Scheme names which one it is:
// nosec, auto, combo, basic, digest, apikey, bearer, psk, oauth2, or a
// prefixed extension scheme (for example "ace:ACESecurityScheme"). Members
// that do not belong to Scheme are left empty.
//
// Like all model types it is plain data: safe for concurrent reads, not
// for concurrent mutation.
type SecurityScheme struct {
	Type          Strings       // "@type"
	Scheme        string        // "scheme" (required)
	Description   string        // "description"
	Descriptions  MultiLanguage // "descriptions"
	Proxy         string        // "proxy"
	In            string        // "in": header, query, body, cookie, uri or auto (basic, digest, apikey, bearer)
	Name          string        // "name" (basic, digest, apikey, bearer)
	Qop           string        // "qop" (digest; default auth)
	Authorization string        // "authorization" (bearer, oauth2)
	Alg           string        // "alg" (bearer; default ES256)
	Format        string        // "format" (bearer; default jwt)
	Identity      string        // "identity" (psk)
	Token         string        // "token" (oauth2)
	Refresh       string        // "refresh" (oauth2)
	Scopes        Strings       // "scopes" (oauth2)
	Flow          string        // "flow" (oauth2: code, client, device)
	OneOf         []string      // "oneOf" (combo)
	AllOf         []string      // "allOf" (combo)
	Extensions    map[string]json.RawMessage

	present uint32 // scheme-specific string members present (they may be ""), by member bit
}
