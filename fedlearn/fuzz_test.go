package fedlearn

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/hearth-wot/hearth/fedlearn/wire"
)

func idxBytes(kind byte, dims []uint32, body []byte) []byte {
	b := []byte{0, 0, kind, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, body...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestReadIDX(t *testing.T) {
	img := idxBytes(0x08, []uint32{2, 2, 2}, []byte{0, 255, 1, 2, 3, 4, 5, 6})
	lbl := idxBytes(0x08, []uint32{2}, []byte{3, 7})
	for _, b := range [][]byte{img, gz(img)} {
		dims, data, err := ReadIDX(bytes.NewReader(b))
		if err != nil || len(dims) != 3 || len(data) != 8 || data[1] != 255 {
			t.Fatalf("ReadIDX: %v %v %v", dims, data, err)
		}
	}
	id, ix, _ := ReadIDX(bytes.NewReader(img))
	ld, lx, _ := ReadIDX(bytes.NewReader(lbl))
	d, err := NewIDXDataset(id, ix, ld, lx, 1.0/255)
	if err != nil || d.Features != 4 || d.Classes != 8 || d.Labels[1] != 7 || d.X[1] != 1 {
		t.Fatalf("dataset %+v, %v", d, err)
	}
	for name, b := range map[string][]byte{
		"magic":     {1, 0, 8, 1, 0, 0, 0, 1, 0},
		"type":      idxBytes(0x07, []uint32{1}, []byte{0}),
		"short":     idxBytes(0x08, []uint32{3}, []byte{1, 2}),
		"long":      idxBytes(0x08, []uint32{1}, []byte{1, 2}),
		"huge":      idxBytes(0x0E, []uint32{1 << 20, 1 << 20}, nil),
		"dims zero": {0, 0, 8, 0},
	} {
		if _, _, err := ReadIDX(bytes.NewReader(b)); !errors.Is(err, ErrData) {
			t.Errorf("%s: err = %v, want ErrData", name, err)
		}
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes(0x08, []uint32{2, 3}, []byte{1, 2, 3, 4, 5, 6}))
	f.Add(idxBytes(0x0D, []uint32{1}, []byte{0, 0, 0x80, 0x3f}))
	f.Add(gz(idxBytes(0x0B, []uint32{2}, []byte{0, 1, 0xff, 0xff})))
	f.Fuzz(func(t *testing.T, b []byte) {
		dims, data, err := ReadIDX(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrData) {
				t.Fatalf("error %v does not wrap ErrData", err)
			}
			return
		}
		n := 1
		for _, d := range dims {
			n *= d
		}
		if n != len(data) {
			t.Fatalf("dims %v but %d elements", dims, len(data))
		}
	})
}

func TestReadCSV(t *testing.T) {
	d, err := ReadCSV(bytes.NewReader([]byte("a,b,label\n1,2,0\n3,4,2\n")), CSVOptions{Header: true})
	if err != nil || d.Len() != 2 || d.Features != 2 || d.Classes != 3 || d.Labels[1] != 2 {
		t.Fatalf("%+v %v", d, err)
	}
	r, err := ReadCSV(bytes.NewReader(gz([]byte("1;2;3\n4;5;6\n"))), CSVOptions{Comma: ';', Targets: []int{0, -1}, Regression: true})
	if err != nil || r.Features != 1 || r.Outputs != 2 || r.Y[2] != 4 || r.Y[3] != 6 || r.X[1] != 5 {
		t.Fatalf("%+v %v", r, err)
	}
	for name, in := range map[string]string{
		"nan":     "1,NaN,0\n",
		"ragged":  "1,2,0\n1,0\n",
		"label":   "1,2,0.5\n",
		"neg":     "1,2,-1\n",
		"empty":   "",
		"word":    "1,x,0\n",
		"maxrows": "1,0\n1,0\n1,0\n",
	} {
		if _, err := ReadCSV(bytes.NewReader([]byte(in)), CSVOptions{MaxRows: 2}); !errors.Is(err, ErrData) {
			t.Errorf("%s: err = %v, want ErrData", name, err)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("1,2,0\n3,4,1\n"), false)
	f.Add([]byte("x,y\n0.5,1e3\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, regression bool) {
		d, err := ReadCSV(bytes.NewReader(b), CSVOptions{Regression: regression, MaxRows: 1000})
		if err != nil {
			if !errors.Is(err, ErrData) {
				t.Fatalf("error %v does not wrap ErrData", err)
			}
			return
		}
		if err := d.Check(); err != nil {
			t.Fatalf("ReadCSV returned an inconsistent dataset: %v", err)
		}
	})
}

func FuzzDecodeCheckpoint(f *testing.F) {
	ck := &checkpoint{round: 3, params: []float64{1, 2, 3}, history: []RoundRecord{{Round: 3, Accepted: 2}}}
	b, err := ck.encode(&FedAdam{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	s := &FedAvgM{}
	s.Apply(1, []float64{0, 0, 0}, []float64{1, 2, 3})
	b2, _ := ck.encode(s)
	f.Add(b2)
	f.Fuzz(func(t *testing.T, b []byte) {
		ck, err := decodeCheckpoint(b)
		if err != nil {
			if !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("error %v does not wrap ErrCheckpoint", err)
			}
			return
		}
		for _, s := range []Strategy{&FedAvgM{}, &FedAdam{}} {
			ck.strategy = "" // exercise the state decoders regardless of type
			if u, ok := s.(interface{ UnmarshalBinary([]byte) error }); ok {
				u.UnmarshalBinary(ck.state)
			}
		}
	})
}

// FuzzClientHandle feeds arbitrary protocol frames to a client, as a
// hostile or broken server might send them.
func FuzzClientHandle(f *testing.F) {
	for _, m := range []*wire.Message{
		{Kind: wire.KindFitRequest, Round: 1, Config: configToWire(TrainConfig{Epochs: 1, LearningRate: 0.1}, 1), Tensors: [][]float64{{1, 2}}},
		{Kind: wire.KindEvaluateRequest, Round: 2, Tensors: [][]float64{{0, 0}}},
		{Kind: wire.KindFitRequest, Config: map[string]any{"epochs": "x", "clip": -1.0}, Tensors: [][]float64{{1}}},
	} {
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	d := synthetic(8, 2, 2, 1)
	tr, err := SoftmaxRegression(2, 2).Trainer(d, 1)
	if err != nil {
		f.Fatal(err)
	}
	c, err := NewClient(tr, ClientConfig{ClipNorm: 5, ShareMetrics: true}) // so that it evaluates too
	if err != nil {
		f.Fatal(err)
	}
	srv, err := NewServer(ServerConfig{Params: make([]float64, 6)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m wire.Message
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		// Keep training cheap per input.
		if e, ok := m.Config[keyEpochs].(int64); ok && e > 3 {
			m.Config[keyEpochs] = int64(3)
		}
		reply, err := c.Handle(context.Background(), &m)
		if err != nil {
			return
		}
		if _, err := reply.MarshalBinary(); err != nil {
			t.Fatalf("client produced an unencodable reply: %v", err)
		}
		// And the server's validation must cope with whatever came back.
		srv.check(int(m.Round), "c", reply, nil)
		srv.check(1, "c", &m, nil)
	})
}

// FuzzDecodePrivacyLog checks that a damaged privacy log never panics,
// that errors wrap ErrCheckpoint, and that what is accepted re-encodes to
// the intact prefix it came from.
func FuzzDecodePrivacyLog(f *testing.F) {
	var b []byte
	for i := range 3 {
		b = privacyEntry{round: i + 1, q: 0.1, z: 1.2}.append(b)
	}
	f.Add(b)
	f.Add(b[:len(b)-3])
	f.Add([]byte("FLDP"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, valid, err := decodePrivacyLog(b)
		if err != nil {
			if !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("error %v does not wrap ErrCheckpoint", err)
			}
			return
		}
		if valid > len(b) || valid%plRecord != 0 || len(entries) != valid/plRecord {
			t.Fatalf("%d entries, %d valid bytes of %d", len(entries), valid, len(b))
		}
		var again []byte
		for _, e := range entries {
			again = e.append(again)
		}
		if !bytes.Equal(again, b[:valid]) {
			t.Fatal("accepted entries do not re-encode to the input")
		}
	})
}
