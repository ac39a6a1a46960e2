package wire

import "encoding/binary"

// AdvertSize is the size of a device's advertised service data.
const AdvertSize = 6

// Advert is the service data a device advertises while its commissioning
// window is open: the advert format, the range of protocol versions it
// speaks, and the 12-bit discriminator from its setup payload, which lets a
// commissioner pick the device whose label the user scanned without trying
// the code on every device in range. It carries no identifier beyond the
// discriminator, and only while the window is open. It is plain data,
// safe for concurrent use.
type Advert struct {
	MinVersion, MaxVersion uint8
	Discriminator          uint16
}

// advertFormat is the first byte of the service data.
const advertFormat = 1

// Append encodes a.
func (a Advert) Append(b []byte) []byte {
	b = append(b, advertFormat, 0)
	b = binary.BigEndian.AppendUint16(b, a.Discriminator&0x0fff)
	return append(b, a.MinVersion, a.MaxVersion)
}

// ParseAdvert decodes service data; ok is false if it is not a Hearth
// advert this package understands. Longer data is accepted (later formats
// may append fields).
func ParseAdvert(b []byte) (a Advert, ok bool) {
	if len(b) < AdvertSize || b[0] != advertFormat {
		return Advert{}, false
	}
	a.Discriminator = binary.BigEndian.Uint16(b[2:4]) & 0x0fff
	a.MinVersion, a.MaxVersion = b[4], b[5]
	if a.MinVersion > a.MaxVersion {
		return Advert{}, false
	}
	return a, true
}
